"""Table output: HumanDuration, kubectl's pod STATUS logic, column shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.control.kube import tables

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (5, "5s"),
        (119, "119s"),
        (182, "3m2s"),
        (300, "5m"),
        (600, "10m"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (10 * 3600, "10h"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (9 * 86400, "9d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def _pod(status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "web", "creationTimestamp": "2026-12-07T11:55:00Z", **meta},
        "spec": {"containers": [{"name": "c"}]},
        "status": status,
    }


def _container(state: dict[str, Any], ready: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": "c", "state": state, "ready": ready, "restartCount": 0, **extra}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"phase": "Pending"}, "Pending"),
        (
            {
                "phase": "Pending",
                "containerStatuses": [_container({"waiting": {"reason": "ContainerCreating"}})],
            },
            "ContainerCreating",
        ),
        ({"phase": "Running", "containerStatuses": [_container({"running": {}}, ready=True)]}, "Running"),
        (
            {
                "phase": "Succeeded",
                "containerStatuses": [_container({"terminated": {"reason": "Completed"}})],
            },
            "Completed",
        ),
        (
            {
                "phase": "Running",
                "containerStatuses": [_container({"waiting": {"reason": "CrashLoopBackOff"}})],
            },
            "CrashLoopBackOff",
        ),
        (
            {
                "phase": "Failed",
                "containerStatuses": [_container({"terminated": {"reason": "Error", "exitCode": 1}})],
            },
            "Error",
        ),
        (
            {"phase": "Failed", "containerStatuses": [_container({"terminated": {"exitCode": 3}})]},
            "ExitCode:3",
        ),
    ],
)
def test_pod_status(status: dict[str, Any], expected: str) -> None:
    assert tables.pod_status(_pod(status)) == expected


def test_deleting_running_pod_is_terminating() -> None:
    pod = _pod({"phase": "Running"}, deletionTimestamp="2026-12-07T11:59:00Z")
    assert tables.pod_status(pod) == "Terminating"


def test_init_container_progress() -> None:
    pod = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [_container({"waiting": {"reason": "PodInitializing"}})],
        }
    )
    pod["spec"]["initContainers"] = [{"name": "c"}]
    assert tables.pod_status(pod) == "Init:0/1"


def test_pod_row_with_restarts_ago() -> None:
    container = _container(
        {"running": {}},
        ready=True,
        restartCount=2,
        lastState={"terminated": {"finishedAt": "2026-12-07T11:55:00Z"}},
    )
    pod = _pod({"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [container]})
    assert tables.row_cells(pod, NOW) == [
        "web",
        "1/1",
        "Running",
        "2 (5m ago)",
        "5m",
        "10.0.0.5",
        "<none>",
        "<none>",
        "<none>",
    ]


def test_pod_table_shape() -> None:
    doc = tables.table("Pod", [_pod({"phase": "Pending"})], NOW, resource_version="7")
    assert doc["kind"] == "Table"
    assert doc["apiVersion"] == "meta.k8s.io/v1"
    names = [(c["name"], c["priority"]) for c in doc["columnDefinitions"]]
    assert names[:5] == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0)]
    assert {p for _, p in names[5:]} == {1}
    assert doc["columnDefinitions"][0]["format"] == "name"
    assert doc["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert doc["metadata"] == {"resourceVersion": "7"}


def test_deployment_and_default_rows() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "web", "creationTimestamp": "2026-12-07T10:00:00Z"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert tables.row_cells(deployment, NOW) == ["web", "2/3", 3, 2, "120m"]
    lease = {"kind": "EndpointSlice", "metadata": {"name": "n1"}}
    assert tables.row_cells(lease, NOW) == ["n1", "<unknown>"]
    assert [c.name for c in tables.columns("EndpointSlice")] == ["Name", "Age"]


def test_service_row() -> None:
    service = {
        "kind": "Service",
        "metadata": {"name": "web", "creationTimestamp": "2026-12-07T11:59:50Z"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.100.0.10", "ports": [{"port": 80, "protocol": "TCP"}]},
    }
    assert tables.row_cells(service, NOW) == ["web", "ClusterIP", "10.100.0.10", "<none>", "80/TCP", "10s"]


def test_job_row() -> None:
    job = {
        "kind": "Job",
        "metadata": {"name": "pi", "creationTimestamp": "2026-12-07T11:50:00Z"},
        "spec": {"completions": 1},
        "status": {
            "succeeded": 1,
            "startTime": "2026-12-07T11:50:00Z",
            "completionTime": "2026-12-07T11:50:12Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert tables.row_cells(job, NOW) == ["pi", "Complete", "1/1", "12s", "10m"]


def test_endpoints_and_lease_rows() -> None:
    endpoints = {
        "kind": "Endpoints",
        "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}],
    }
    assert tables.row_cells(endpoints, NOW)[1] == "10.0.0.1:80,10.0.0.2:80"
    lease = {"kind": "Lease", "metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
    assert tables.row_cells(lease, NOW) == ["n1", "n1", "<unknown>"]


def test_event_row() -> None:
    event = {
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "type": "Normal",
        "reason": "Scheduled",
        "involvedObject": {"kind": "Pod", "name": "web"},
        "source": {"component": "default-scheduler"},
        "message": "Successfully assigned default/web to n1",
        "lastTimestamp": "2026-12-07T11:59:30Z",
        "firstTimestamp": "2026-12-07T11:59:30Z",
        "count": 1,
    }
    cells = tables.row_cells(event, NOW)
    assert cells[:4] == ["30s", "Normal", "Scheduled", "pod/web"]
    assert cells[6] == "Successfully assigned default/web to n1"
    assert [c.priority for c in tables.columns("Event")] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]
