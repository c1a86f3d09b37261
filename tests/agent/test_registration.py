"""Registration logic with an injected clock, rng and a fake ECS client: no server, no sleeping."""

from __future__ import annotations

import argparse
import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from dockyard import __version__
from dockyard.agent.config import AgentSettings, Attribute, add_arguments, load_agent_settings
from dockyard.agent.host import (
    EngineVersion,
    HostFacts,
    build_registration,
    docker_api_capabilities,
    outbound_address,
    parse_meminfo_mib,
)
from dockyard.agent.main import AgentDeps, run
from dockyard.agent.registration import Backoff, Registrar, Retrier, Stopped, is_retryable
from dockyard.agent.state import AgentState, StateStore
from dockyard.agent.task_host import Joined, cluster_arn_of

CLUSTER = "web"
PREFIX = f"arn:aws:ecs:us-east-1:000000000000:container-instance/{CLUSTER}/"
ENGINE = EngineVersion(version="20.10.24", api_version="1.41", min_api_version="1.12")
HOST = HostFacts(cores=2, memory_total_mib=4024, machine="x86_64")


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "RegisterContainerInstance",
    )


def connection_error() -> EndpointConnectionError:
    return EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


class FakeEcs:
    """Like the server: a known ARN re-registers in place; an unknown one is InvalidParameterException."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.known: set[str] = set()
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def register_container_instance(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)
        arn = kwargs.get("containerInstanceArn")
        if arn is not None and arn not in self.known:
            raise client_error("InvalidParameterException")
        if arn is None:
            arn = f"{PREFIX}{next(self._ids):032x}"
            self.known.add(arn)
        return {"containerInstance": {"containerInstanceArn": arn, "status": "ACTIVE"}}

    def discover_poll_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        return {"endpoint": "http://poll.example/"}

    def describe_container_instances(self, **kwargs: Any) -> dict[str, Any]:
        arn = kwargs["containerInstances"][0]
        found = [{"containerInstanceArn": arn, "status": "ACTIVE"}] if arn in self.known else []
        return {"containerInstances": found, "failures": []}

    def submit_task_state_change(self, **kwargs: Any) -> dict[str, Any]:
        return {"acknowledgment": "ACK"}

    def create_cluster(self, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError(f"unexpected CreateCluster {kwargs}")


class FakeTime:
    """Records the waits instead of waiting; ``stop_after`` waits report a shutdown."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.waits: list[float] = []
        self.stop_after = stop_after

    def sleep(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.stop_after is not None and len(self.waits) >= self.stop_after


def settings(tmp_path: Path, **overrides: Any) -> AgentSettings:
    return AgentSettings(endpoint="http://127.0.0.1:4566", cluster=CLUSTER, data_dir=tmp_path, **overrides)


def registrar(
    tmp_path: Path, ecs: FakeEcs, clock: FakeTime, rng: Callable[[], float] = lambda: 0.5
) -> Registrar:
    return Registrar(
        client=ecs,
        cluster=CLUSTER,
        endpoint="http://127.0.0.1:4566",
        store=StateStore(tmp_path / "agent-state.json"),
        retrier=Retrier(sleep=clock.sleep, rng=rng),
    )


# --- backoff --------------------------------------------------------------------------------------------


def test_backoff_doubles_from_250ms_to_a_two_minute_cap() -> None:
    backoff = Backoff(lambda: 0.5)  # 0.5: no jitter either way
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays == [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 120, 120, 120]
    backoff.reset()
    assert backoff.next_delay() == 0.25


def test_backoff_jitter_is_twenty_percent_either_way_and_never_exceeds_the_cap() -> None:
    low, high = Backoff(lambda: 0.0), Backoff(lambda: 0.999999)
    assert low.next_delay() == pytest.approx(0.2)
    assert high.next_delay() == pytest.approx(0.3, rel=1e-5)
    for _ in range(20):
        assert high.next_delay() <= 120


def test_retryable_errors() -> None:
    assert is_retryable(connection_error())
    assert is_retryable(ReadTimeoutError(endpoint_url="http://x"))
    assert is_retryable(client_error("ServerException", 500))
    assert is_retryable(client_error("ThrottlingException"))
    assert not is_retryable(client_error("ClusterNotFoundException"))
    assert not is_retryable(client_error("UnrecognizedClientException", 403))
    assert not is_retryable(ValueError("bug"))


def test_connection_errors_are_retried_on_the_backoff_schedule(tmp_path: Path) -> None:
    ecs = FakeEcs(failures=[connection_error() for _ in range(4)])
    clock = FakeTime()
    instance = registrar(tmp_path, ecs, clock).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert clock.waits == [0.25, 0.5, 1, 2]
    assert len(ecs.calls) == 5
    assert instance["containerInstanceArn"] == f"{PREFIX}{1:032x}"


def test_shutdown_during_backoff_stops_retrying(tmp_path: Path) -> None:
    ecs = FakeEcs(failures=[connection_error() for _ in range(100)])
    clock = FakeTime(stop_after=3)
    with pytest.raises(Stopped):
        registrar(tmp_path, ecs, clock).register(
            build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
        )
    assert len(ecs.calls) == 3
    assert not (tmp_path / "agent-state.json").exists()


def test_a_client_error_is_not_retried(tmp_path: Path) -> None:
    ecs = FakeEcs(failures=[client_error("ClusterNotFoundException")])
    clock = FakeTime()
    with pytest.raises(ClientError):
        registrar(tmp_path, ecs, clock).register(
            build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
        )
    assert clock.waits == []


# --- registration and re-registration --------------------------------------------------------------------


def test_first_registration_persists_the_arn_and_restart_reuses_it(tmp_path: Path) -> None:
    ecs = FakeEcs()
    registration = build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    first = registrar(tmp_path, ecs, FakeTime()).register(registration)
    assert "containerInstanceArn" not in ecs.calls[0]
    store = StateStore(tmp_path / "agent-state.json")
    assert store.load() == AgentState(CLUSTER, first["containerInstanceArn"], "http://127.0.0.1:4566")

    again = registrar(tmp_path, ecs, FakeTime()).register(registration)  # a restarted agent
    assert again["containerInstanceArn"] == first["containerInstanceArn"]
    assert ecs.calls[1]["containerInstanceArn"] == first["containerInstanceArn"]
    assert ecs.calls[1]["cluster"] == CLUSTER
    assert len(ecs.known) == 1


@pytest.mark.parametrize("code", ["InvalidParameterException", "ClientException"])
def test_an_unknown_arn_falls_back_to_a_fresh_registration(tmp_path: Path, code: str) -> None:
    stale = f"{PREFIX}{'f' * 32}"
    store = StateStore(tmp_path / "agent-state.json")
    store.save(AgentState(CLUSTER, stale))
    ecs = FakeEcs(failures=[client_error(code)])
    instance = registrar(tmp_path, ecs, FakeTime()).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert [c.get("containerInstanceArn") for c in ecs.calls] == [stale, None]
    assert instance["containerInstanceArn"] != stale
    assert store.load() == AgentState(CLUSTER, instance["containerInstanceArn"], "http://127.0.0.1:4566")


def test_state_for_another_cluster_is_not_reused(tmp_path: Path) -> None:
    StateStore(tmp_path / "agent-state.json").save(AgentState("other", "arn:…/other/x"))
    ecs = FakeEcs()
    registrar(tmp_path, ecs, FakeTime()).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert "containerInstanceArn" not in ecs.calls[0]
    state = StateStore(tmp_path / "agent-state.json").load()
    assert state is not None and state.cluster == CLUSTER


class FakeEcsWithClusters(FakeEcs):
    """Also knows which clusters exist: registering into a missing one is ClusterNotFoundException."""

    def __init__(self, clusters: set[str], failures: list[Exception] | None = None) -> None:
        super().__init__(failures)
        self.clusters = set(clusters)
        self.created: list[str] = []

    def register_container_instance(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["cluster"] not in self.clusters:
            self.calls.append(kwargs)
            raise client_error("ClusterNotFoundException")
        return super().register_container_instance(**kwargs)

    def create_cluster(self, **kwargs: Any) -> dict[str, Any]:
        if self.failures:
            raise self.failures.pop(0)
        self.created.append(kwargs["clusterName"])
        self.clusters.add(kwargs["clusterName"])
        return {"cluster": {"clusterName": kwargs["clusterName"], "status": "ACTIVE"}}


def registrar_for(cluster: str, tmp_path: Path, ecs: FakeEcs, clock: FakeTime) -> Registrar:
    return Registrar(
        client=ecs,
        cluster=cluster,
        endpoint="http://127.0.0.1:4566",
        store=StateStore(tmp_path / "agent-state.json"),
        retrier=Retrier(sleep=clock.sleep, rng=lambda: 0.5),
    )


def test_the_default_cluster_is_created_when_missing(tmp_path: Path) -> None:
    ecs = FakeEcsWithClusters(set())
    instance = registrar_for("default", tmp_path, ecs, FakeTime()).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert ecs.created == ["default"]
    assert [c["cluster"] for c in ecs.calls] == ["default", "default"]
    assert instance["containerInstanceArn"] in ecs.known
    state = StateStore(tmp_path / "agent-state.json").load()
    assert state is not None and state.cluster == "default"


def test_create_cluster_is_retried_like_any_call(tmp_path: Path) -> None:
    ecs = FakeEcsWithClusters(set())
    clock = FakeTime()
    registrar_for("default", tmp_path, ecs, clock).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert clock.waits == []
    ecs = FakeEcsWithClusters(set())
    original = ecs.create_cluster
    failures = [connection_error(), connection_error()]

    def flaky_create(**kwargs: Any) -> dict[str, Any]:
        if failures:
            raise failures.pop(0)
        return original(**kwargs)

    ecs.create_cluster = flaky_create  # type: ignore[method-assign]
    registrar_for("default", tmp_path / "b", ecs, clock).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert clock.waits == [0.25, 0.5]
    assert ecs.created == ["default"]


def test_a_stale_arn_in_a_deleted_default_cluster_registers_afresh_after_creating_it(tmp_path: Path) -> None:
    stale = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/" + "f" * 32
    StateStore(tmp_path / "agent-state.json").save(AgentState("default", stale))
    ecs = FakeEcsWithClusters(set())
    instance = registrar_for("default", tmp_path, ecs, FakeTime()).register(
        build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
    )
    assert ecs.created == ["default"]
    assert [c.get("containerInstanceArn") for c in ecs.calls] == [stale, stale, None]
    assert instance["containerInstanceArn"] != stale


def test_only_the_default_cluster_is_created(tmp_path: Path) -> None:
    ecs = FakeEcsWithClusters(set())
    with pytest.raises(ClientError, match="ClusterNotFoundException"):
        registrar_for("web", tmp_path, ecs, FakeTime()).register(
            build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
        )
    assert ecs.created == []
    assert len(ecs.calls) == 1


def test_the_default_cluster_is_created_once_even_if_registering_still_fails(tmp_path: Path) -> None:
    class NeverThere(FakeEcsWithClusters):
        def create_cluster(self, **kwargs: Any) -> dict[str, Any]:
            self.created.append(kwargs["clusterName"])  # pretends, but the cluster stays missing
            return {"cluster": {"clusterName": kwargs["clusterName"]}}

    ecs = NeverThere(set())
    with pytest.raises(ClientError, match="ClusterNotFoundException"):
        registrar_for("default", tmp_path, ecs, FakeTime()).register(
            build_registration(settings(tmp_path), HOST, ENGINE, "us-east-1")
        )
    assert ecs.created == ["default"]
    assert len(ecs.calls) == 2


# --- what is registered ----------------------------------------------------------------------------------


def test_registration_reports_resources_attributes_and_versions(tmp_path: Path) -> None:
    custom = (Attribute("stack", "prod"), Attribute("ecs.availability-zone", "eu-west-1c"))
    registration = build_registration(settings(tmp_path, attributes=custom), HOST, ENGINE, "eu-west-1")
    api = registration.to_api()
    assert api["totalResources"] == [
        {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 4024 - 256},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "2376", "51678", "51679"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]
    attributes = {a["name"]: a.get("value") for a in api["attributes"]}
    assert attributes["ecs.os-type"] == "linux"
    assert attributes["ecs.cpu-architecture"] == "x86_64"
    assert attributes["ecs.availability-zone"] == "eu-west-1c"  # the custom value wins, once
    assert [a["name"] for a in api["attributes"]].count("ecs.availability-zone") == 1
    assert attributes["stack"] == "prod"
    for capability in (
        "com.amazonaws.ecs.capability.docker-remote-api.1.17",
        "com.amazonaws.ecs.capability.docker-remote-api.1.41",
        "com.amazonaws.ecs.capability.logging-driver.json-file",
        "com.amazonaws.ecs.capability.ecr-auth",
        "ecs.capability.container-health-check",
    ):
        assert capability in attributes and attributes[capability] is None
    assert api["versionInfo"] == {"agentVersion": __version__, "dockerVersion": "DockerVersion: 20.10.24"}


def test_default_zone_and_arm_architecture(tmp_path: Path) -> None:
    registration = build_registration(
        settings(tmp_path, reserved_memory_mib=0), HostFacts(4, 1000, "aarch64"), ENGINE, "us-west-2"
    )
    attributes = {a.name: a.value for a in registration.attributes}
    assert attributes["ecs.availability-zone"] == "us-west-2a"
    assert attributes["ecs.cpu-architecture"] == "arm64"
    assert registration.resource("CPU")["integerValue"] == 4096
    assert registration.resource("MEMORY")["integerValue"] == 1000


def test_registered_resources_can_be_overridden_to_overcommit(tmp_path: Path) -> None:
    registration = build_registration(
        settings(tmp_path, cpu_units=51200, memory_mib=110_000), HOST, ENGINE, "us-east-1"
    )
    assert registration.resource("CPU")["integerValue"] == 51200
    assert registration.resource("MEMORY")["integerValue"] == 110_000


def test_offered_runtimes_are_the_engines_or_those_named(tmp_path: Path) -> None:
    engine = EngineVersion("20.10.24", "1.41", "1.12", runtimes=("runc", "runsc"))

    def offered(**overrides: Any) -> set[str]:
        registration = build_registration(settings(tmp_path, **overrides), HOST, engine, "us-east-1")
        return {a.name for a in registration.attributes if a.name.startswith("dockyard.oci-runtime.")}

    assert offered() == {"dockyard.oci-runtime.runc", "dockyard.oci-runtime.runsc"}
    assert offered(oci_runtimes=("runc",)) == {"dockyard.oci-runtime.runc"}
    with pytest.raises(ValueError, match="OCI runtime kata is not one of the engine's"):
        offered(oci_runtimes=("kata",))


def test_a_provisioned_pool_host_marks_itself_with_its_address(tmp_path: Path) -> None:
    def attributes(address: str | None, **overrides: Any) -> dict[str, str | None]:
        registration = build_registration(
            settings(tmp_path, **overrides), HOST, ENGINE, "us-east-1", address=address
        )
        return {a.name: a.value for a in registration.attributes}

    provisioned = attributes("10.0.0.7", provisioned=True)
    assert provisioned["dockyard.pool.provisioned"] == "true"
    assert provisioned["dockyard.host.address"] == "10.0.0.7"
    assert "dockyard.host.address" not in attributes(None, provisioned=True)
    plain = attributes("10.0.0.7")
    assert "dockyard.pool.provisioned" not in plain and "dockyard.host.address" not in plain


def test_outbound_address_is_the_source_address_towards_the_endpoint() -> None:
    assert outbound_address("http://127.0.0.1:4566") == "127.0.0.1"
    assert outbound_address("not a url") is None


def test_too_much_reserved_memory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved memory"):
        build_registration(settings(tmp_path, reserved_memory_mib=4096), HOST, ENGINE, "us-east-1")


def test_docker_api_capabilities_follow_the_engine() -> None:
    def versions(api: str, minimum: str) -> list[str]:
        names = docker_api_capabilities(EngineVersion("x", api, minimum))
        return [n.rsplit("docker-remote-api.", 1)[1] for n in names]

    assert versions("1.41", "1.12") == [f"1.{m}" for m in range(17, 42)]
    assert versions("1.44", "1.24") == [f"1.{m}" for m in range(24, 42)]  # never past what we speak
    assert versions("1.30", "1.12") == [f"1.{m}" for m in range(17, 31)]


def test_meminfo() -> None:
    assert parse_meminfo_mib("MemTotal:        8048576 kB\nMemFree: 1 kB\n") == 7859
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo_mib("MemFree: 1 kB\n")


# --- settings --------------------------------------------------------------------------------------------


def parse(argv: list[str], environ: dict[str, str]) -> AgentSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load_agent_settings(parser.parse_args(argv), environ)


def test_flags_over_env_over_defaults() -> None:
    environ = {
        "DOCKYARD_AGENT_ENDPOINT": "http://env:1",
        "DOCKYARD_AGENT_CLUSTER": "from-env",
        "DOCKYARD_AGENT_RESERVED_MEMORY": "512",
        "DOCKYARD_AGENT_ATTRIBUTES": "a=1,b",
    }
    from_env = parse([], environ)
    assert (from_env.endpoint, from_env.cluster, from_env.reserved_memory_mib) == (
        "http://env:1",
        "from-env",
        512,
    )
    assert from_env.attributes == (Attribute("a", "1"), Attribute("b"))
    assert from_env.heartbeat_interval_s == 30.0

    flags = parse(["--cluster", "flag", "--attribute", "x=y=z", "--reserved-memory", "0"], environ)
    assert (flags.endpoint, flags.cluster, flags.reserved_memory_mib) == ("http://env:1", "flag", 0)
    assert flags.attributes == (Attribute("x", "y=z"),)


def test_provisioned_is_a_fargate_flag_also_read_from_the_env() -> None:
    flagged = parse(["--endpoint", "http://x", "--fargate", "--provisioned"], {})
    assert flagged.provisioned and flagged.cluster == "fargate"
    from_env = parse(
        [],
        {
            "DOCKYARD_AGENT_ENDPOINT": "http://x",
            "DOCKYARD_AGENT_FARGATE": "1",
            "DOCKYARD_AGENT_PROVISIONED": "1",
        },
    )
    assert from_env.provisioned and from_env.cluster == "fargate"
    assert not parse(["--endpoint", "http://x", "--fargate"], {}).provisioned


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint", "http://x", "--cluster", "c", "--provisioned"], "--fargate"),
        (["--cluster", "c"], "--endpoint"),
        (["--endpoint", "http://x"], "--cluster"),
        (["--endpoint", "x:1", "--cluster", "c"], "http"),
        (["--endpoint", "http://x", "--cluster", "c", "--attribute", "=v"], "attribute"),
        (["--endpoint", "http://x", "--cluster", "c", "--reserved-memory", "-1"], "negative"),
    ],
)
def test_invalid_settings(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(argv, {})


# --- the run loop ----------------------------------------------------------------------------------------


def test_run_registers_heartbeats_and_stops(tmp_path: Path) -> None:
    ecs = FakeEcs()
    stop = threading.Event()
    described: list[str] = []
    original = ecs.describe_container_instances

    def describe(**kwargs: Any) -> dict[str, Any]:
        described.append(kwargs["containerInstances"][0])
        if len(described) == 3:
            stop.set()
        return original(**kwargs)

    ecs.describe_container_instances = describe  # type: ignore[method-assign]
    hosts: list[RecordingTaskHost] = []

    def task_host(_settings: AgentSettings, joined: Joined, _client: Any) -> RecordingTaskHost:
        hosts.append(RecordingTaskHost(joined))
        return hosts[-1]

    deps = AgentDeps(
        client_factory=lambda _endpoint, _region: (ecs, "us-east-1"),
        engine_probe=lambda _socket: ENGINE,
        host_probe=lambda: HOST,
        task_host=task_host,
    )
    assert run(settings(tmp_path, heartbeat_interval_s=0.001), stop, deps) == 0
    state = StateStore(tmp_path / "agent-state.json").load()
    assert state is not None
    assert described == [state.container_instance_arn] * 3
    (host,) = hosts
    assert host.closed
    assert host.joined.container_instance_arn == state.container_instance_arn
    assert host.joined.cluster_arn == cluster_arn_of(state.container_instance_arn)
    assert host.joined.cluster_arn.endswith(":cluster/" + host.joined.cluster)


@pytest.mark.parametrize("provisioned", [True, False])
def test_a_retired_provisioned_host_exits_0_and_any_other_registers_again(
    tmp_path: Path, provisioned: bool
) -> None:
    ecs = FakeEcs()
    stop = threading.Event()
    original = ecs.describe_container_instances
    described: list[str] = []

    def describe(**kwargs: Any) -> dict[str, Any]:
        described.append(kwargs["containerInstances"][0])
        if len(described) == 1:  # the server deregistered the instance
            arn = kwargs["containerInstances"][0]
            return {"containerInstances": [{"containerInstanceArn": arn, "status": "INACTIVE"}]}
        stop.set()
        return original(**kwargs)

    ecs.describe_container_instances = describe  # type: ignore[method-assign]
    hosts: list[RecordingTaskHost] = []

    def task_host(_settings: AgentSettings, joined: Joined, _client: Any) -> RecordingTaskHost:
        hosts.append(RecordingTaskHost(joined))
        return hosts[-1]

    deps = AgentDeps(
        client_factory=lambda _endpoint, _region: (ecs, "us-east-1"),
        engine_probe=lambda _socket: ENGINE,
        host_probe=lambda: HOST,
        address_probe=lambda _endpoint: "10.1.2.3",
        task_host=task_host,
    )
    options = settings(tmp_path, heartbeat_interval_s=0.001, provisioned=provisioned)
    assert run(options, stop, deps) == 0
    registered = [a["value"] for a in ecs.calls[0]["attributes"] if a["name"] == "dockyard.host.address"]
    assert registered == (["10.1.2.3"] if provisioned else [])
    assert all(h.closed for h in hosts)
    if provisioned:
        assert len(described) == 1 and len(hosts) == 1 and len(ecs.calls) == 1
    else:
        assert len(hosts) == 2 and len(ecs.calls) == 2  # registered again (the fake takes the old ARN)


class RecordingTaskHost:
    def __init__(self, joined: Joined) -> None:
        self.joined = joined
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_cluster_arn_of_a_container_instance() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0123abcd"
    assert cluster_arn_of(arn) == "arn:aws:ecs:us-east-1:123456789012:cluster/prod"


def test_run_exits_1_when_the_cluster_does_not_exist(tmp_path: Path) -> None:
    ecs = FakeEcs(failures=[client_error("ClusterNotFoundException")])
    deps = AgentDeps(
        client_factory=lambda _endpoint, _region: (ecs, "us-east-1"),
        engine_probe=lambda _socket: ENGINE,
        host_probe=lambda: HOST,
    )
    assert run(settings(tmp_path), threading.Event(), deps) == 1
