"""Several hosts, one cluster: agents, each in its own network namespace with its own IP, join one cluster
and tasks land on all of them; a task bigger than any host is refused with RESOURCE:MEMORY; a DAEMON
service follows hosts as they join and drain.

The namespaces hang off a test bridge in the root namespace; the server listens on all addresses so the
agents reach it on the bridge's IP while the Docker Engine (in the root namespace) pulls from
``localhost:<port>``. Every address used is on this machine.
"""

from __future__ import annotations

import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    AgentProcess,
    push_busybox,
    remove_containers,
    require_docker,
    wait_for_status,
)
from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, Keys, ServerProcess, make_client
from tests.polling import wait_until

DEADLINE_S = 120.0
SUBNET = "10.231.{net}.{host}"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Network:
    """A bridge with the root namespace at ``.1`` and one namespace per host at ``.2``, ``.3`` …"""

    tag: str
    net: int
    namespaces: list[str]

    @property
    def bridge(self) -> str:
        return f"dyk{self.tag}"

    def address(self, host: int) -> str:
        return SUBNET.format(net=self.net, host=host)

    def create(self, hosts: int) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for index in range(hosts):
            namespace, veth = f"dyk{self.tag}h{index}", f"dyk{self.tag}v{index}"
            ip("netns", "add", namespace)
            self.namespaces.append(namespace)
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            ip("link", "set", veth, "master", self.bridge, "up")
            inside = ("netns", "exec", namespace, "ip")
            ip(*inside, "addr", "add", f"{self.address(index + 2)}/24", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")
            ip(*inside, "route", "add", "default", "via", self.address(1))

    def delete(self) -> None:
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)


def _network(hosts: int) -> Iterator[Network]:
    tag = uuid.uuid4().hex[:4]
    net = Network(tag, 100 + int(tag, 16) % 100, [])
    try:
        net.create(hosts=hosts)
        yield net
    finally:
        net.delete()


@pytest.fixture
def network() -> Iterator[Network]:
    yield from _network(2)


@pytest.fixture
def network3() -> Iterator[Network]:
    yield from _network(3)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "server", host="0.0.0.0")  # the bridge and loopback
    proc.data_dir.mkdir()
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def test_two_agents_in_two_namespaces_share_twenty_tasks(
    network: Network, server: ServerProcess, tmp_path: Path
) -> None:
    require_docker()
    keys = Keys(ROOT_KEY_ID, ROOT_SECRET)
    ecs = make_client(server, "ecs", keys)
    cluster = ecs.create_cluster(clusterName=f"two-hosts-{network.tag}")["cluster"]
    image = push_busybox(server.endpoint, keys, tmp_path / "docker-config", f"busybox-{network.tag}")
    agents = _agents(server, keys, cluster["clusterName"], network, tmp_path)
    try:
        for index, agent in enumerate(agents):
            agent.start(
                "--metadata-address",
                network.address(index + 2),
                "--availability-zone",
                f"us-east-1{'ab'[index]}",
            )
        _run_twenty_tasks_on_both(ecs, cluster, image, agents)
    finally:
        for agent in agents:
            agent.stop()
        remove_containers(CLUSTER_LABEL, cluster["clusterArn"])


def _run_twenty_tasks_on_both(
    ecs: Any, cluster: dict[str, Any], image: str, agents: list[AgentProcess]
) -> None:
    name = cluster["clusterName"]
    instances: list[dict[str, Any]] = []

    def both_connected() -> bool:
        for agent in agents:
            agent.assert_running()
        arns = ecs.list_container_instances(cluster=name)["containerInstanceArns"]
        if len(arns) != 2:
            return False
        instances[:] = ecs.describe_container_instances(cluster=name, containerInstances=arns)[
            "containerInstances"
        ]
        return all(i["agentConnected"] for i in instances)

    wait_until(both_connected, deadline_s=DEADLINE_S, what="both agents to connect", interval_s=0.2)
    zones = {
        next(a["value"] for a in i["attributes"] if a["name"] == "ecs.availability-zone") for i in instances
    }
    assert zones == {"us-east-1a", "us-east-1b"}

    family = f"spread-{cluster['clusterName']}"
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": "main", "image": image, "memory": 16, "command": ["sleep", "3600"], "stopTimeout": 1}
        ],
    )
    tasks: list[str] = []
    for _ in range(2):
        ran = ecs.run_task(
            cluster=name,
            taskDefinition=family,
            count=10,
            placementStrategy=[{"type": "spread", "field": "instanceId"}],
        )
        assert ran["failures"] == []
        tasks += [t["taskArn"] for t in ran["tasks"]]
    running = wait_for_status(ecs, name, tasks, "RUNNING", deadline_s=DEADLINE_S, agents=agents)
    per_instance = Counter(t["containerInstanceArn"] for t in running)
    assert per_instance == {i["containerInstanceArn"]: 10 for i in instances}

    largest = max(
        next(r["integerValue"] for r in i["remainingResources"] if r["name"] == "MEMORY") for i in instances
    )
    ecs.register_task_definition(
        family=f"{family}-huge",
        containerDefinitions=[{"name": "main", "image": image, "memory": largest + 1024}],
    )
    refused = ecs.run_task(cluster=name, taskDefinition=f"{family}-huge")
    assert refused["tasks"] == []
    assert {f["reason"] for f in refused["failures"]} == {"RESOURCE:MEMORY"}

    for arn in tasks:
        ecs.stop_task(cluster=name, task=arn)
    wait_for_status(ecs, name, tasks, "STOPPED", deadline_s=DEADLINE_S, agents=agents)


def _agents(
    server: ServerProcess, keys: Keys, cluster: str, network: Network, tmp_path: Path
) -> list[AgentProcess]:
    endpoint = f"http://{network.address(1)}:{server.port}"
    return [
        AgentProcess(
            server,
            keys,
            cluster,
            tmp_path / f"agent-{index}",
            endpoint=endpoint,
            prefix=("ip", "netns", "exec", namespace),
        )
        for index, namespace in enumerate(network.namespaces)
    ]


def test_a_daemon_service_follows_hosts_joining_and_draining(
    network3: Network, server: ServerProcess, tmp_path: Path
) -> None:
    require_docker()
    keys = Keys(ROOT_KEY_ID, ROOT_SECRET)
    ecs = make_client(server, "ecs", keys)
    cluster = ecs.create_cluster(clusterName=f"daemon-{network3.tag}")["cluster"]
    name = cluster["clusterName"]
    image = push_busybox(server.endpoint, keys, tmp_path / "docker-config", f"busybox-{network3.tag}")
    agents = _agents(server, keys, name, network3, tmp_path)

    def daemon_instances() -> list[str]:
        arns = ecs.list_tasks(cluster=name, serviceName="node-agent")["taskArns"]
        tasks = ecs.describe_tasks(cluster=name, tasks=arns)["tasks"] if arns else []
        return sorted(t["containerInstanceArn"] for t in tasks if t["lastStatus"] == "RUNNING")

    def instances() -> list[dict[str, Any]]:
        arns = ecs.list_container_instances(cluster=name)["containerInstanceArns"]
        return (
            ecs.describe_container_instances(cluster=name, containerInstances=arns)["containerInstances"]
            if arns
            else []
        )

    def connected(count: int) -> bool:
        found = instances()
        return len(found) == count and all(i["agentConnected"] for i in found)

    try:
        for index, agent in enumerate(agents[:2]):
            agent.start("--metadata-address", network3.address(index + 2), "--container-stop-timeout", "1")
        wait_until(lambda: connected(2), deadline_s=DEADLINE_S, what="two agents to connect", interval_s=0.2)
        ecs.register_task_definition(
            family="node-agent",
            containerDefinitions=[
                {"name": "main", "image": image, "memory": 16, "command": ["sleep", "3600"]}
            ],
        )
        ecs.create_service(
            cluster=name, serviceName="node-agent", taskDefinition="node-agent", schedulingStrategy="DAEMON"
        )
        wait_until(lambda: len(daemon_instances()) == 2, deadline_s=DEADLINE_S, what="a daemon on each host")
        assert daemon_instances() == sorted(i["containerInstanceArn"] for i in instances())

        agents[2].start("--metadata-address", network3.address(4), "--container-stop-timeout", "1")
        wait_until(lambda: connected(3), deadline_s=DEADLINE_S, what="the third agent", interval_s=0.2)
        wait_until(
            lambda: len(daemon_instances()) == 3, deadline_s=DEADLINE_S, what="a daemon on the new host"
        )

        drained = instances()[0]["containerInstanceArn"]
        ecs.update_container_instances_state(cluster=name, containerInstances=[drained], status="DRAINING")
        wait_until(
            lambda: len(daemon_instances()) == 2,
            deadline_s=DEADLINE_S,
            what="the drained host's daemon to stop",
        )
        assert drained not in daemon_instances()
        service = ecs.describe_services(cluster=name, services=["node-agent"])["services"][0]
        assert service["desiredCount"] == 2 and service["schedulingStrategy"] == "DAEMON"
    finally:
        for agent in agents:
            agent.stop()
        remove_containers(CLUSTER_LABEL, cluster["clusterArn"])
