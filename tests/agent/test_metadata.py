"""The task metadata endpoint v4: pure rendering, the HTTP server over a fake source, and a real container
reading it through Docker's bridge gateway."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.agent.metadata import (
    BridgeGatewayError,
    MetadataServer,
    bridge_gateway,
    container_json,
    gateway_from_network,
    metadata_uri,
    respond,
    rfc3339,
    task_cpu_vcpus,
    task_json,
    task_memory_mib,
    task_stats_json,
)
from dockyard.agent.task_facts import ContainerFacts, TaskFacts
from tests.agent.conftest import RUN_LABEL

TASK_ARN = "arn:aws:ecs:us-east-1:000000000000:task/default/8f03e41243824aea923aca126495f665"
CLUSTER_ARN = "arn:aws:ecs:us-east-1:000000000000:cluster/default"
CREATED = datetime(2020, 10, 2, 0, 15, 7, 620912, tzinfo=UTC)
STARTED = datetime(2020, 10, 2, 0, 15, 8, tzinfo=UTC)
DOCKER_ID = "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66"
STATS = {"read": "2020-10-02T00:51:13.410254284Z", "cpu_stats": {"online_cpus": 2}, "memory_stats": {}}


def web_container(**overrides: Any) -> ContainerFacts:
    values: dict[str, Any] = {
        "name": "web",
        "container_arn": "arn:aws:ecs:us-east-1:000000000000:container/default/8f03e412/1a2b",
        "image": "localhost:4566/web:v1",
        "docker_id": DOCKER_ID,
        "docker_name": "ecs-web-3-web-cca48e8dcadd97805600",
        "image_id": "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553",
        "labels": {"com.amazonaws.ecs.cluster": "default", "com.amazonaws.ecs.task-arn": TASK_ARN},
        "desired_status": "RUNNING",
        "known_status": "RUNNING",
        "cpu": 10,
        "memory": 128,
        "created_at": CREATED,
        "started_at": STARTED,
        "finished_at": None,
        "exit_code": None,
        "health_status": None,
        "network_mode": "bridge",
        "ipv4_addresses": ("172.17.0.2",),
        "ports": ({"containerPort": 80, "hostPort": 32768, "bindIP": "0.0.0.0", "protocol": "tcp"},),
        "metadata_token": "tok-web",
    }
    values.update(overrides)
    return ContainerFacts(**values)


def sidecar() -> ContainerFacts:
    return web_container(
        name="sidecar",
        container_arn="arn:aws:ecs:us-east-1:000000000000:container/default/8f03e412/3c4d",
        docker_id=None,
        docker_name=None,
        image_id=None,
        labels={},
        known_status="PENDING",
        cpu=0,
        memory=None,
        created_at=None,
        started_at=None,
        ipv4_addresses=(),
        ports=(),
        metadata_token="tok-sidecar",
    )


def a_task(**overrides: Any) -> TaskFacts:
    values: dict[str, Any] = {
        "cluster_arn": CLUSTER_ARN,
        "task_arn": TASK_ARN,
        "family": "web",
        "revision": "3",
        "desired_status": "RUNNING",
        "known_status": "RUNNING",
        "cpu": "256",
        "memory": "512",
        "availability_zone": "us-east-1a",
        "launch_type": "EC2",
        "containers": (web_container(), sidecar()),
        "pull_started_at": datetime(2020, 10, 2, 0, 15, 6, 123000, tzinfo=UTC),
        "pull_stopped_at": datetime(2020, 10, 2, 0, 15, 7, tzinfo=UTC),
        "tags": {"team": "web"},
    }
    values.update(overrides)
    return TaskFacts(**values)


class FakeSource:
    def __init__(self, *tasks: TaskFacts, stats: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.tasks = list(tasks)
        self.stats = dict(stats or {})

    def find_by_token(self, token: str) -> tuple[TaskFacts, ContainerFacts] | None:
        for task in self.tasks:
            for container in task.containers:
                if container.metadata_token == token:
                    return task, container
        return None

    def container_stats(self, docker_id: str) -> Mapping[str, Any] | None:
        return self.stats.get(docker_id)


# --- rendering -----------------------------------------------------------------------------------------


def test_timestamps_are_utc_rfc3339_with_go_style_fractions() -> None:
    assert rfc3339(CREATED) == "2020-10-02T00:15:07.620912Z"
    assert rfc3339(STARTED) == "2020-10-02T00:15:08Z"
    assert rfc3339(datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)) == "2020-01-01T00:00:00.5Z"
    plus_two = timezone(timedelta(hours=2))
    assert rfc3339(datetime(2020, 1, 1, 2, 0, 0, tzinfo=plus_two)) == "2020-01-01T00:00:00Z"
    assert rfc3339(datetime(2020, 1, 1)) == "2020-01-01T00:00:00Z"  # naive is UTC


def test_container_json_has_the_real_agents_fields() -> None:
    assert container_json(web_container()) == {
        "DockerId": DOCKER_ID,
        "Name": "web",
        "DockerName": "ecs-web-3-web-cca48e8dcadd97805600",
        "Image": "localhost:4566/web:v1",
        "ImageID": "sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553",
        "Ports": [{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 32768, "HostIp": "0.0.0.0"}],
        "Labels": {"com.amazonaws.ecs.cluster": "default", "com.amazonaws.ecs.task-arn": TASK_ARN},
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 10, "Memory": 128},
        "CreatedAt": "2020-10-02T00:15:07.620912Z",
        "StartedAt": "2020-10-02T00:15:08Z",
        "Type": "NORMAL",
        "ContainerARN": "arn:aws:ecs:us-east-1:000000000000:container/default/8f03e412/1a2b",
        "Networks": [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}],
    }


def test_a_container_not_yet_created_renders_empty_ids_and_omits_what_it_lacks() -> None:
    body = container_json(sidecar())
    assert (body["DockerId"], body["DockerName"], body["ImageID"]) == ("", "", "")
    assert body["Limits"] == {"CPU": 2, "Memory": 0}  # below 2 CPU units Docker gets 2 shares
    for absent in ("Ports", "Labels", "CreatedAt", "StartedAt", "FinishedAt", "ExitCode", "Health"):
        assert absent not in body
    assert body["Networks"] == [{"NetworkMode": "bridge"}]


def test_a_stopped_container_with_a_health_check() -> None:
    finished = datetime(2020, 10, 2, 0, 20, tzinfo=UTC)
    body = container_json(
        web_container(known_status="STOPPED", exit_code=0, finished_at=finished, health_status="UNHEALTHY")
    )
    assert body["KnownStatus"] == "STOPPED"
    assert body["ExitCode"] == 0
    assert body["FinishedAt"] == "2020-10-02T00:20:00Z"
    assert body["Health"] == {"status": "UNHEALTHY"}
    assert list(body).index("ExitCode") < list(body).index("Limits")


def test_task_json() -> None:
    body = task_json(a_task())
    assert {k: v for k, v in body.items() if k != "Containers"} == {
        "Cluster": CLUSTER_ARN,
        "TaskARN": TASK_ARN,
        "Family": "web",
        "Revision": "3",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 0.25, "Memory": 512},
        "PullStartedAt": "2020-10-02T00:15:06.123Z",
        "PullStoppedAt": "2020-10-02T00:15:07Z",
        "AvailabilityZone": "us-east-1a",
        "LaunchType": "EC2",
    }
    assert [c["Name"] for c in body["Containers"]] == ["web", "sidecar"]
    assert body["Containers"][0] == container_json(web_container())
    assert "TaskTags" not in body
    assert task_json(a_task(), with_tags=True)["TaskTags"] == {"team": "web"}
    assert task_json(a_task(tags={}), with_tags=True)["TaskTags"] == {}


def test_task_limits_are_omitted_without_task_level_resources() -> None:
    body = task_json(a_task(cpu=None, memory=None, pull_started_at=None, pull_stopped_at=None))
    assert "Limits" not in body and "PullStartedAt" not in body and "PullStoppedAt" not in body
    assert task_json(a_task(cpu="1024", memory=None))["Limits"] == {"CPU": 1}
    stopped = task_json(a_task(execution_stopped_at=STARTED, known_status="STOPPED"))
    assert stopped["ExecutionStoppedAt"] == "2020-10-02T00:15:08Z"


@pytest.mark.parametrize(
    ("cpu", "vcpus"),
    [("256", 0.25), ("1024", 1.0), ("1 vCPU", 1.0), ("0.5 vcpu", 0.5), ("0", None), ("", None), ("x", None)],
)
def test_task_cpu(cpu: str, vcpus: float | None) -> None:
    assert task_cpu_vcpus(cpu) == vcpus


@pytest.mark.parametrize(("memory", "mib"), [("512", 512), ("2 GB", 2048), ("0.5GB", 512), ("", None)])
def test_task_memory(memory: str, mib: int | None) -> None:
    assert task_memory_mib(memory) == mib


def test_task_stats_map_docker_ids_and_skip_containers_not_created() -> None:
    source = FakeSource(a_task(), stats={DOCKER_ID: STATS})
    assert task_stats_json(a_task(), source) == {DOCKER_ID: STATS}
    assert task_stats_json(a_task(), FakeSource(a_task())) == {DOCKER_ID: None}


def test_metadata_uri() -> None:
    assert metadata_uri("172.17.0.1", 51679, "abc") == "http://172.17.0.1:51679/v4/abc"
    assert metadata_uri("fd00::1", 80, "abc") == "http://[fd00::1]:80/v4/abc"


def test_routing() -> None:
    source = FakeSource(a_task(), stats={DOCKER_ID: STATS})
    assert respond(source, "/v4/tok-web") == (200, container_json(web_container()))
    assert respond(source, "/v4/tok-sidecar/task") == (200, task_json(a_task()))
    assert respond(source, "/v4/tok-web/task?x=1") == (200, task_json(a_task()))
    assert respond(source, "/v4/tok-web/taskWithTags")[1]["TaskTags"] == {"team": "web"}
    assert respond(source, "/v4/tok-web/stats") == (200, STATS)
    assert respond(source, "/v4/tok-web/task/stats") == (200, {DOCKER_ID: STATS})
    status, reason = respond(source, "/v4/tok-sidecar/stats")
    assert status == 404 and reason.startswith("V4 container stats handler: ")
    status, reason = respond(source, "/v4/nope/task")
    assert status == 404 and reason.startswith("V4 task metadata handler: ")
    assert respond(source, "/v4/tok-web/other") == (404, "404 page not found\n")
    assert respond(source, "/v3/tok-web") == (404, "404 page not found\n")


def test_gateway_from_network() -> None:
    assert gateway_from_network(
        {"IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}}
    ) == ("172.17.0.1")
    ipv6_first = {
        "IPAM": {"Config": [{"Subnet": "fd00::/64", "Gateway": "fd00::1"}, {"Gateway": "10.9.0.1"}]}
    }
    assert gateway_from_network(ipv6_first) == "10.9.0.1"
    assert gateway_from_network({"IPAM": {"Config": [{"Subnet": "10.200.0.0/24"}]}}) == "10.200.0.1"
    assert gateway_from_network({"IPAM": {"Config": None}}) is None
    assert gateway_from_network({}) is None


# --- the HTTP server -----------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[MetadataServer]:
    source = FakeSource(a_task(), stats={DOCKER_ID: STATS})
    with MetadataServer(source, "127.0.0.1", 0) as metadata:
        yield metadata


def test_server_serves_every_route(server: MetadataServer) -> None:
    assert server.host == "127.0.0.1" and server.port > 0
    uri = server.uri_for("tok-web")
    assert uri == f"http://127.0.0.1:{server.port}/v4/tok-web"
    with httpx.Client() as client:
        container = client.get(uri)
        assert container.status_code == 200
        assert container.headers["content-type"] == "application/json"
        assert container.json() == container_json(web_container())
        assert client.get(f"{uri}/task").json() == task_json(a_task())
        assert client.get(f"{uri}/taskWithTags").json()["TaskTags"] == {"team": "web"}
        assert client.get(f"{uri}/stats").json() == STATS
        assert client.get(f"{uri}/task/stats").json() == {DOCKER_ID: STATS}


def test_server_errors(server: MetadataServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        unknown = client.get("/v4/nope")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/json"
        assert unknown.json().startswith("V4 container metadata handler: ")
        assert client.get("/v4/nope/task/stats").json().startswith("V4 task stats handler: ")
        other = client.get("/v2/metadata")
        assert (other.status_code, other.text) == (404, "404 page not found\n")
        for method in ("POST", "PUT", "DELETE", "HEAD"):
            refused = client.request(method, "/v4/tok-web/task")
            assert refused.status_code == 405, method
            assert refused.headers["allow"] == "GET"


def test_server_close_releases_the_port() -> None:
    metadata = MetadataServer(FakeSource(), "127.0.0.1", 0)
    metadata.start()
    port = metadata.port
    metadata.close()
    metadata.close()  # twice is fine
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v4/x", timeout=2)
    again = MetadataServer(FakeSource(), "127.0.0.1", port)  # the same port binds again
    again.start()
    again.close()


class BrokenSource(FakeSource):
    def find_by_token(self, token: str) -> tuple[TaskFacts, ContainerFacts] | None:
        raise RuntimeError("engine bug")


def test_a_failing_source_is_a_500_not_a_dropped_connection() -> None:
    with MetadataServer(BrokenSource(), "127.0.0.1", 0) as metadata:
        response = httpx.get(metadata.uri_for("x"), timeout=5)
    assert response.status_code == 500
    assert response.json() == "failed to get metadata"


# --- a real container reads it -------------------------------------------------------------------------


def test_a_container_reads_its_task_through_the_bridge_gateway(docker_image: str) -> None:
    gateway = bridge_gateway()
    assert gateway.count(".") == 3
    task = a_task(containers=(web_container(metadata_token="tok-real"), sidecar()))
    run_id = uuid.uuid4().hex[:12]
    name = f"dockyard-test-metadata-{run_id}"
    with MetadataServer(FakeSource(task), gateway, 0) as metadata:
        uri = metadata.uri_for("tok-real")
        try:
            result = subprocess.run(
                [
                    *("docker", "run", "--name", name, "--label", f"{RUN_LABEL}={run_id}"),
                    *("-e", f"ECS_CONTAINER_METADATA_URI_V4={uri}", docker_image),
                    *("sh", "-c", 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"'),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == task_json(task)
    assert json.loads(result.stdout)["Containers"][0]["Name"] == "web"


def test_bridge_gateway_without_docker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BridgeGatewayError, match="unreachable"):
        bridge_gateway(str(tmp_path / "no-docker.sock"))
