"""``dockyard agent`` against a real server: it registers this host, and keeps its ARN across a kill -9."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard import __version__
from dockyard.agent.host import parse_meminfo_mib
from tests.integration.agents import AgentProcess
from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name
from tests.integration.images import docker_available
from tests.polling import wait_until

DEADLINE_S = 30.0


@pytest.fixture
def agent(server: ServerProcess, account_keys: Keys, tmp_path: Path) -> Iterator[AgentProcess]:
    if not docker_available():
        pytest.fail("the Docker Engine is not running: scripts/setup installs and starts it")
    ecs = make_client(server, "ecs", account_keys)
    cluster = ecs.create_cluster(clusterName=unique_name("agent"))["cluster"]["clusterName"]
    process = AgentProcess(server, account_keys, cluster, tmp_path / "agent-data")
    process.data_dir.mkdir()
    yield process
    process.stop()


def instances(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    described: list[dict[str, Any]] = ecs.describe_container_instances(
        cluster=cluster, containerInstances=arns
    )["containerInstances"]
    return described


def attributes_of(instance: dict[str, Any]) -> dict[str, str | None]:
    return {a["name"]: a.get("value") for a in instance["attributes"]}


def test_agent_registers_and_keeps_its_arn_across_kill_9(
    agent: AgentProcess, server: ServerProcess, account_keys: Keys
) -> None:
    ecs = make_client(server, "ecs", account_keys)
    agent.start("--availability-zone", "us-east-1b", "--attribute", "stack=prod", "--attribute", "run=1")

    seen: list[dict[str, Any]] = []

    def registered(run: str) -> bool:
        agent.assert_running()
        seen[:] = instances(ecs, agent.cluster)
        return len(seen) == 1 and attributes_of(seen[0]).get("run") == run

    wait_until(lambda: registered("1"), deadline_s=DEADLINE_S, what="the agent to register", interval_s=0.2)
    first = seen[0]
    resources = {r["name"]: r for r in first["registeredResources"]}
    assert resources["CPU"]["integerValue"] == len(os.sched_getaffinity(0)) * 1024
    memory = parse_meminfo_mib(Path("/proc/meminfo").read_text()) - 256
    assert resources["MEMORY"]["integerValue"] == memory
    assert sorted(resources["PORTS"]["stringSetValue"]) == sorted(["22", "2375", "2376", "51678", "51679"])
    assert resources["PORTS_UDP"]["stringSetValue"] == []
    attributes = attributes_of(first)
    assert attributes["ecs.os-type"] == "linux"
    assert attributes["ecs.availability-zone"] == "us-east-1b"
    assert attributes["ecs.cpu-architecture"] in {"x86_64", "arm64"}
    assert attributes["stack"] == "prod"
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.17" in attributes
    assert "ecs.capability.container-health-check" in attributes
    assert first["versionInfo"]["agentVersion"] == __version__
    assert first["versionInfo"]["dockerVersion"].startswith("DockerVersion: ")
    assert first["status"] == "ACTIVE"

    state_file = agent.data_dir / "agent-state.json"
    wait_until(state_file.exists, deadline_s=DEADLINE_S, what="the agent's state file")
    wait_until(lambda: "poll endpoint" in agent.log(), deadline_s=DEADLINE_S, what="DiscoverPollEndpoint")
    wait_until(lambda: "status ACTIVE" in agent.log(), deadline_s=DEADLINE_S, what="a heartbeat")

    agent.kill()
    agent.start("--availability-zone", "us-east-1b", "--attribute", "stack=prod", "--attribute", "run=2")
    wait_until(
        lambda: registered("2"), deadline_s=DEADLINE_S, what="the agent to re-register", interval_s=0.2
    )
    again = seen[0]
    assert again["containerInstanceArn"] == first["containerInstanceArn"]
    assert again["ec2InstanceId"] == first["ec2InstanceId"]
    assert again["version"] > first["version"]
    assert ecs.list_container_instances(cluster=agent.cluster)["containerInstanceArns"] == [
        first["containerInstanceArn"]
    ]
    assert first["containerInstanceArn"] in state_file.read_text()

    # SIGTERM is a graceful shutdown: exit status 0, promptly.
    assert agent.process is not None
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(timeout=10) == 0, agent.log()
