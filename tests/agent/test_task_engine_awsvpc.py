"""awsvpc tasks on the fake runtime: the subnet's network, the pause container first and last, never
reported, adopted after a restart; its death stops the task; runsc when asked; the metadata's view."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent import container_specs
from dockyard.agent.fake_runtime import FakeProgram
from dockyard.agent.metadata import container_json
from dockyard.agent.pause_image import PAUSE_IMAGE
from dockyard.agent.runtime import ContainerSpec
from tests.agent.test_task_engine import (
    IMAGE,
    INSTANCE,
    CountingRuntime,
    Env,
    container,
    program_for,
    task,
    wait_until,
)

SUBNET = "subnet-0abc"
ENI = {
    "attachmentId": "a1b2c3",
    "networkInterfaceId": "eni-0123",
    "privateIPv4Address": "10.222.0.10",
    "macAddress": "02:42:0a:de:00:0a",
    "subnetId": SUBNET,
    "subnetCidr": "10.222.0.0/24",
    "subnetGateway": "10.222.0.1",
    "privateDnsName": "ip-10-222-0-10.ec2.internal",
}
NETWORK = f"dockyard-{SUBNET}"


class EventRuntime(CountingRuntime):
    """The counting fake, also recording the order of stops and removals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[tuple[str, str]] = []
        self._events_lock = threading.Lock()

    def stop(self, container_id: str, timeout_s: int | None = None) -> None:
        with self._events_lock:
            self.events.append(("stop", container_id))
        super().stop(container_id, timeout_s)

    def remove(self, container_id: str) -> None:
        with self._events_lock:
            self.events.append(("remove", container_id))
        super().remove(container_id)


def _env(
    tmp_path: Path, runtimes: tuple[str, ...] = ("runc", "runsc"), *, nests: bool = False, quota: bool = False
) -> Env:
    runtime = EventRuntime(
        images=[IMAGE],
        pullable=[IMAGE],
        program_for=program_for,
        runtimes=runtimes,
        nests_cgroups=nests,
        quota_storage=quota,
    )
    return Env(tmp_path, runtime=runtime)


@pytest.fixture
def aenv(tmp_path: Path) -> Any:
    environment = _env(tmp_path)
    yield environment
    for engine in environment.engines:
        engine.close()


def awsvpc_task(task_id: str, *containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return task(
        task_id,
        *containers,
        networkMode="awsvpc",
        networkInterface=dict(ENI),
        **{"launchType": "FARGATE", **fields},
    )


def _specs(env: Env) -> list[ContainerSpec]:
    runtime = env.runtime
    assert isinstance(runtime, EventRuntime)
    return list(runtime.created_specs)


def _pause(env: Env, arn: str) -> str:
    found = [s.id for s in env.containers(arn) if s.image == PAUSE_IMAGE]
    assert len(found) == 1, found
    return found[0]


def test_the_pause_container_comes_first_and_the_containers_join_it(aenv: Env) -> None:
    engine = aenv.engine()
    web = container("web", portMappings=[{"containerPort": 80, "hostPort": 80}])
    payload = awsvpc_task("a1", web, container("sidecar"))
    engine.apply([payload])

    report = aenv.wait_status(payload["taskArn"], "RUNNING")

    assert aenv.runtime.networks() == {
        NETWORK: ("10.222.0.0/24", "10.222.0.1", {"com.dockyard.subnet": SUBNET})
    }
    pause, *others = _specs(aenv)
    assert pause.image == PAUSE_IMAGE and pause.runtime == "runc"
    assert pause.network is not None
    assert (pause.network.network, pause.network.ipv4_address, pause.network.mac_address) == (
        NETWORK,
        "10.222.0.10",
        "02:42:0a:de:00:0a",
    )
    assert pause.labels[container_specs.LABEL_CONTAINER_NAME] == "~internal~ecs~pause"
    assert pause.labels[container_specs.LABEL_TASK_ARN] == payload["taskArn"]
    assert pause.labels[container_specs.LABEL_INSTANCE] == INSTANCE
    pause_id = _pause(aenv, payload["taskArn"])
    assert {s.labels[container_specs.LABEL_CONTAINER_NAME] for s in others} == {"web", "sidecar"}
    assert all(s.network_container == pause_id and s.port_bindings == () for s in others)
    assert all(s.runtime is None for s in others)  # no containerRuntime asked: the engine's default
    assert {c.container_name for c in report.containers} == {"web", "sidecar"}  # the pause is not reported
    assert all(c.network_bindings == () for c in report.containers)


def test_stopping_removes_the_pause_container_after_the_containers(aenv: Env) -> None:
    engine = aenv.engine()
    payload = awsvpc_task("a2", container("web"), container("sidecar"))
    arn = payload["taskArn"]
    engine.apply([payload])
    aenv.wait_status(arn, "RUNNING")
    pause_id = _pause(aenv, arn)
    container_ids = {s.id for s in aenv.containers(arn)} - {pause_id}

    engine.apply([{**payload, "desiredStatus": "STOPPED"}])
    report = aenv.wait_status(arn, "STOPPED")

    runtime = aenv.runtime
    assert isinstance(runtime, EventRuntime)
    assert runtime.inspect(pause_id) is None
    assert {c.container_name for c in report.containers} == {"web", "sidecar"}
    stops = [i for i, (what, cid) in enumerate(runtime.events) if what == "stop" and cid in container_ids]
    removal = runtime.events.index(("remove", pause_id))
    assert len(stops) == 2 and max(stops) < removal
    assert all(s.status == "exited" for s in aenv.containers(arn))


def test_the_pause_container_dying_stops_the_task(aenv: Env) -> None:
    engine = aenv.engine()
    payload = awsvpc_task("a3", container("web"))
    arn = payload["taskArn"]
    engine.apply([payload])
    aenv.wait_status(arn, "RUNNING")

    aenv.runtime.exit(_pause(aenv, arn), 137)
    report = aenv.wait_status(arn, "STOPPED")

    assert report.reason is not None and report.reason.startswith("ResourceInitializationError: ")
    assert "pause container exited" in report.reason


def test_a_pause_container_that_cannot_start_stops_the_task_before_its_containers_start(
    tmp_path: Path,
) -> None:
    def failing_pause(spec: ContainerSpec) -> FakeProgram:
        if spec.image == PAUSE_IMAGE:
            return FakeProgram(start_error="failed to set up the veth pair")
        return program_for(spec)

    runtime = EventRuntime(images=[IMAGE], pullable=[IMAGE], program_for=failing_pause, runtimes=("runc",))
    env = Env(tmp_path, runtime=runtime)
    engine = env.engine()
    try:
        payload = awsvpc_task("a9", container("web"))
        engine.apply([payload])
        report = env.wait_status(payload["taskArn"], "STOPPED")
        assert report.reason == (
            "ResourceInitializationError: starting the pause container: failed to set up the veth pair"
        )
        assert all(s.status != "running" for s in env.containers(payload["taskArn"]))
    finally:
        engine.close()


def test_a_restart_adopts_the_pause_container(aenv: Env) -> None:
    first = aenv.engine()
    payload = awsvpc_task("a4", container("web"))
    arn = payload["taskArn"]
    first.apply([payload])
    aenv.wait_status(arn, "RUNNING")
    ids = {s.id for s in aenv.containers(arn)}
    first.close()

    second = aenv.engine()
    wait_until(lambda: aenv.reporter.statuses(arn) == ["RUNNING", "RUNNING"], "RUNNING re-reported")
    aenv.settle_runner(arn)
    assert {s.id for s in aenv.containers(arn)} == ids  # nothing created twice, nothing reaped
    assert sum(s.image == PAUSE_IMAGE for s in _specs(aenv)) == 1

    pause_id = _pause(aenv, arn)
    second.apply([{**payload, "desiredStatus": "STOPPED"}])
    aenv.wait_status(arn, "STOPPED")
    assert aenv.runtime.inspect(pause_id) is None


def test_a_pause_container_of_an_unknown_task_is_reaped(aenv: Env) -> None:
    first = aenv.engine()
    payload = awsvpc_task("a5", container("web"))
    first.apply([payload])
    aenv.wait_status(payload["taskArn"], "RUNNING")
    first.close()
    (aenv.tmp_path / "tasks-i-1.json").unlink()

    aenv.engine()
    wait_until(lambda: aenv.containers(payload["taskArn"]) == [], "reaped")


def test_runsc_is_used_when_asked_and_offered(aenv: Env) -> None:
    engine = aenv.engine()
    payload = awsvpc_task("a6", container("web"), containerRuntime="runsc")
    engine.apply([payload])
    aenv.wait_status(payload["taskArn"], "RUNNING")

    by_name = aenv.by_name(payload["taskArn"])
    assert by_name["web"].runtime == "runsc"
    assert by_name["~internal~ecs~pause"].runtime == "runc"


def test_runsc_asked_but_missing_falls_back_to_runc_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = _env(tmp_path, runtimes=("runc",))
    engine = env.engine()
    try:
        with caplog.at_level(logging.WARNING, logger="dockyard.agent.tasks"):
            payloads = [awsvpc_task(f"b{i}", container("web"), containerRuntime="runsc") for i in range(2)]
            payloads[1]["networkInterface"] = {**ENI, "privateIPv4Address": "10.222.0.11"}
            engine.apply(payloads)
            for payload in payloads:
                env.wait_status(payload["taskArn"], "RUNNING")
        assert all(env.by_name(p["taskArn"])["web"].runtime == "runc" for p in payloads)
        warnings = [r for r in caplog.records if "weaker isolation" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        engine.close()


def test_a_fargate_tasks_containers_share_its_pause_containers_cgroup_limited_to_the_task(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, nests=True)
    engine = env.engine()
    try:
        payload = awsvpc_task("c1", container("web"), container("sidecar"), cpu="512", memory="1024")
        engine.apply([payload])
        env.wait_status(payload["taskArn"], "RUNNING")
        pause, *others = _specs(env)
        assert (pause.memory_bytes, pause.nano_cpus) == (1024 * 1024 * 1024, 500_000_000)
        pause_id = _pause(env, payload["taskArn"])
        assert [s.cgroup_parent for s in others] == [f"/docker/{pause_id}"] * 2
        assert pause.cgroup_parent is None
    finally:
        engine.close()


def test_without_nested_cgroups_each_container_alone_has_the_tasks_limits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = _env(tmp_path, nests=False)
    engine = env.engine()
    try:
        with caplog.at_level(logging.WARNING, logger="dockyard.agent.tasks"):
            payload = awsvpc_task("c2", container("web"), cpu="256", memory="512")
            engine.apply([payload])
            env.wait_status(payload["taskArn"], "RUNNING")
        _pause_spec, web = _specs(env)
        assert web.cgroup_parent is None
        assert (web.memory_bytes, web.nano_cpus) == (512 * 1024 * 1024, 250_000_000)
        assert any("cannot nest cgroups" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


@pytest.mark.parametrize("quota", [True, False], ids=["quota-driver", "overlay2-on-ext4"])
def test_ephemeral_storage_is_capped_where_the_driver_can(
    tmp_path: Path, quota: bool, caplog: pytest.LogCaptureFixture
) -> None:
    env = _env(tmp_path, quota=quota)
    engine = env.engine()
    try:
        with caplog.at_level(logging.WARNING, logger="dockyard.agent.tasks"):
            payload = awsvpc_task("c4", container("web"), cpu="256", memory="512", ephemeralStorageGiB=20)
            engine.apply([payload])
            env.wait_status(payload["taskArn"], "RUNNING")
        _pause_spec, web = _specs(env)
        assert web.storage_size_gib == (20 if quota else None)
        assert any("ephemeral storage is not enforced" in r.getMessage() for r in caplog.records) is not quota
    finally:
        engine.close()


def test_an_ec2_awsvpc_task_gets_no_task_cgroup(tmp_path: Path) -> None:
    env = _env(tmp_path, nests=True)
    engine = env.engine()
    try:
        payload = awsvpc_task("c3", container("web"), launchType="EC2", memory="512")
        engine.apply([payload])
        env.wait_status(payload["taskArn"], "RUNNING")
        pause, web = _specs(env)
        assert (pause.memory_bytes, pause.nano_cpus, web.cgroup_parent) == (None, None, None)
    finally:
        engine.close()


@pytest.mark.parametrize(
    "interface",
    [None, {**ENI, "subnetCidr": None}, {**ENI, "privateIPv4Address": ""}],
    ids=["no-interface", "no-cidr", "no-address"],
)
def test_an_incomplete_interface_stops_the_task(aenv: Env, interface: dict[str, Any] | None) -> None:
    engine = aenv.engine()
    payload = awsvpc_task("a7", container("web"))
    payload["networkInterface"] = interface
    engine.apply([payload])

    report = aenv.wait_status(payload["taskArn"], "STOPPED")

    assert report.reason is not None and report.reason.startswith("ResourceInitializationError: ")
    assert _specs(aenv) == []


def test_a_subnet_that_overlaps_another_network_stops_the_task(aenv: Env) -> None:
    aenv.runtime.ensure_network("someone-else", "10.222.0.0/16", "10.222.0.1", {})
    engine = aenv.engine()
    payload = awsvpc_task("a8", container("web"))
    engine.apply([payload])

    report = aenv.wait_status(payload["taskArn"], "STOPPED")

    assert report.reason == "ResourceInitializationError: Pool overlaps with other one on this address space"


def test_metadata_shows_the_awsvpc_network(aenv: Env) -> None:
    engine = aenv.engine()
    payload = awsvpc_task("a9", container("web"))
    engine.apply([payload])
    aenv.wait_status(payload["taskArn"], "RUNNING")
    web = next(s for s in _specs(aenv) if s.labels[container_specs.LABEL_CONTAINER_NAME] == "web")
    token = web.env[container_specs.METADATA_ENV].rsplit("/", 1)[-1]

    found = engine.find_by_token(token)

    assert found is not None
    assert container_json(found[1])["Networks"] == [
        {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": ["10.222.0.10"],
            "AttachmentIndex": 0,
            "MACAddress": "02:42:0a:de:00:0a",
            "IPv4SubnetCIDRBlock": "10.222.0.0/24",
            "PrivateDNSName": "ip-10-222-0-10.ec2.internal",
            "SubnetGatewayIpv4Address": "10.222.0.1/24",
        }
    ]
