"""Effective pod requests (scheduling/requests.py): init containers, sidecars, overhead, non-zero."""

from __future__ import annotations

from dockyard.control.kube.scheduling.requests import pod_requests


def container(cpu: str | None = None, memory: str | None = None, **extra: object) -> dict[str, object]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests}, **extra}


def test_containers_are_summed_exactly_then_rounded_once() -> None:
    requests = pod_requests({"containers": [container("0.5m"), container("0.5m")]})
    assert requests.milli_cpu == 1  # kube adds Quantities, then takes MilliValue


def test_init_containers_count_as_max_of_init_and_sum_of_containers() -> None:
    spec = {
        "initContainers": [container("2", "1Gi"), container("500m", "3Gi")],
        "containers": [container("1", "1Gi"), container("500m", "512Mi")],
    }
    requests = pod_requests(spec)
    assert requests.milli_cpu == 2000
    assert requests.memory == 3 * 2**30


def test_sidecars_add_to_the_containers_and_to_later_init_containers() -> None:
    spec = {
        "initContainers": [
            container("100m", "100Mi", restartPolicy="Always"),
            container("1", "1Gi"),
        ],
        "containers": [container("200m", "200Mi")],
    }
    requests = pod_requests(spec)
    assert requests.milli_cpu == 1100  # init peak: the sidecar and the second init container
    assert requests.memory == 2**30 + 100 * 2**20


def test_overhead_is_added() -> None:
    spec = {"containers": [container("250m", "64Mi")], "overhead": {"cpu": "250m", "memory": "120Mi"}}
    requests = pod_requests(spec)
    assert (requests.milli_cpu, requests.memory) == (500, 184 * 2**20)


def test_non_zero_requests_default_missing_cpu_and_memory() -> None:
    requests = pod_requests({"containers": [container(), container("300m")]})
    assert (requests.milli_cpu, requests.memory) == (300, 0)
    assert requests.non_zero_milli_cpu == 400
    assert requests.non_zero_memory == 400 * 2**20
    assert not requests.empty


def test_limits_stand_in_for_missing_requests_and_extended_resources_count() -> None:
    spec = {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "example.com/gpu": "2"}}}]}
    requests = pod_requests(spec)
    assert requests.milli_cpu == 1000
    assert requests.scalar == {"example.com/gpu": 2}


def test_a_pod_requesting_nothing_is_empty() -> None:
    assert pod_requests({"containers": [{"name": "c"}]}).empty
