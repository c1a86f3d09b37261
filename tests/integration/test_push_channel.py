"""The agents' push channel against a real server: a real PushChannel with a recording handler, boto3 on
the side. Payloads within a deadline of RunTask/StopTask, agentConnected, state reports, disconnection
and reconnection, resends, stop verification, health, refusals, and a server killed -9 under a channel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from dockyard.agent.channel import signed_headers, websocket_url
from dockyard.core import agent_protocol as protocol
from tests.integration.conftest import REGION, Keys, ServerProcess, make_client, unique_name
from tests.integration.fake_agent import FakeAgents, RecordingHandler, agent_connected, fake_agents
from tests.polling import wait_until

HEARTBEAT_S = 0.5
PUSH_DEADLINE_S = 5.0
STATE_DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def channel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of our own: short heartbeats, so silence is detected within seconds."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("push"), extra_env={"DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S)}
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def keys(channel_server: ServerProcess) -> Keys:
    return channel_server.create_key(unique_name("user"))


@pytest.fixture
def ecs(channel_server: ServerProcess, keys: Keys) -> Any:
    return make_client(channel_server, "ecs", keys)


@pytest.fixture
def agents() -> Iterator[FakeAgents]:
    with fake_agents() as agents:
        yield agents


class Cluster:
    def __init__(self, ecs: Any) -> None:
        self.ecs = ecs
        created = ecs.create_cluster(clusterName=unique_name())["cluster"]
        self.name, self.arn = str(created["clusterName"]), str(created["clusterArn"])

    def register(self, cpu: int = 2048, memory: int = 4096) -> str:
        instance = self.ecs.register_container_instance(
            cluster=self.name,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
            ],
            versionInfo={"agentVersion": "0.1.0"},
        )["containerInstance"]
        return str(instance["containerInstanceArn"])

    def describe(self, task_arn: str) -> dict[str, Any]:
        task: dict[str, Any] = self.ecs.describe_tasks(cluster=self.name, tasks=[task_arn])["tasks"][0]
        return task

    def instance(self, arn: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ecs.describe_container_instances(
            cluster=self.name, containerInstances=[arn]
        )["containerInstances"][0]
        return found


@pytest.fixture
def cluster(ecs: Any) -> Cluster:
    return Cluster(ecs)


def register_definition(ecs: Any, family: str, **extra: Any) -> None:
    containers = [
        {
            "name": "app",
            "image": "busybox:1.36",
            "cpu": 128,
            "memory": 256,
            "command": ["sleep", "600"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            **extra,
        },
        {"name": "sidecar", "image": "busybox:1.36", "memory": 64, "essential": False},
    ]
    ecs.register_task_definition(
        family=family, containerDefinitions=containers, volumes=[{"name": "data", "host": {}}]
    )


def wait_for_payload(handler: RecordingHandler, task_arn: str, desired: str) -> dict[str, Any]:
    wait_until(
        lambda: bool(handler.received(task_arn, desired)),
        deadline_s=PUSH_DEADLINE_S,
        what=f"a {desired} payload for {task_arn}",
        interval_s=0.005,
    )
    return dict(handler.received(task_arn, desired)[0])


def test_run_task_is_pushed_at_once_and_stop_task_too(
    channel_server: ServerProcess, keys: Keys, ecs: Any, cluster: Cluster, agents: FakeAgents
) -> None:
    instance = cluster.register()
    assert cluster.instance(instance)["agentConnected"] is False
    family = unique_name("td")
    register_definition(ecs, family)
    never_connected = ecs.run_task(cluster=cluster.name, taskDefinition=family)
    assert never_connected["failures"] == [{"arn": instance, "reason": "AGENT"}]
    agent = agents.connect(channel_server, keys, cluster.arn, instance)
    assert cluster.instance(instance)["agentConnected"] is True

    started = time.monotonic()
    task = ecs.run_task(
        cluster=cluster.name,
        taskDefinition=family,
        overrides={
            "containerOverrides": [
                {
                    "name": "app",
                    "command": ["echo", "hi"],
                    "environment": [{"name": "B", "value": "override"}, {"name": "C", "value": "3"}],
                    "memoryReservation": 128,
                }
            ]
        },
        tags=[{"key": "team", "value": "core"}],
    )["tasks"][0]
    payload = wait_for_payload(agent.handler, task["taskArn"], "RUNNING")
    assert time.monotonic() - started < PUSH_DEADLINE_S

    assert payload["clusterArn"] == cluster.arn
    assert (payload["family"], payload["version"], payload["launchType"]) == (family, "1", "EC2")
    assert (payload["networkMode"], payload["volumes"]) == ("bridge", [{"name": "data", "host": {}}])
    assert payload["tags"] == [{"key": "team", "value": "core"}]
    app, sidecar = payload["containers"]
    assert app["command"] == ["echo", "hi"] and app["memoryReservation"] == 128 and app["memory"] == 256
    assert app["environment"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "override"},
        {"name": "C", "value": "3"},
    ]
    assert app["portMappings"][0]["hostPort"] == 8080
    by_name = {c["name"]: c["containerArn"] for c in task["containers"]}
    assert (app["containerArn"], sidecar["containerArn"]) == (by_name["app"], by_name["sidecar"])
    assert sidecar["essential"] is False

    ecs.stop_task(cluster=cluster.name, task=task["taskArn"], reason="enough")
    stopping = wait_for_payload(agent.handler, task["taskArn"], "STOPPED")
    assert stopping["containers"][0]["command"] == ["echo", "hi"]
    assert agent.channel.connections == 1


def test_state_changes_reach_describe_tasks(
    channel_server: ServerProcess, keys: Keys, ecs: Any, cluster: Cluster, agents: FakeAgents
) -> None:
    instance = cluster.register(cpu=1024, memory=2048)
    agents.connect(channel_server, keys, cluster.arn, instance)
    family = unique_name("td")
    register_definition(ecs, family, portMappings=[])
    arns = [t["taskArn"] for t in ecs.run_task(cluster=cluster.name, taskDefinition=family, count=3)["tasks"]]
    assert cluster.instance(instance)["remainingResources"][0]["integerValue"] == 1024 - 3 * 128

    binding = {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080, "protocol": "tcp"}
    ack = ecs.submit_task_state_change(
        cluster=cluster.name,
        task=arns[0],
        status="RUNNING",
        containers=[
            {
                "containerName": "app",
                "status": "RUNNING",
                "runtimeId": "abc123",
                "networkBindings": [binding],
            },
            {"containerName": "sidecar", "status": "RUNNING", "runtimeId": "def456"},
        ],
    )
    assert ack["acknowledgment"] == "ACK"
    running = cluster.describe(arns[0])
    assert running["lastStatus"] == "RUNNING" and "startedAt" in running
    app = next(c for c in running["containers"] if c["name"] == "app")
    assert (app["lastStatus"], app["runtimeId"], app["networkBindings"]) == ("RUNNING", "abc123", [binding])

    ecs.submit_task_state_change(
        cluster=cluster.name,
        task=arns[0],
        status="STOPPED",
        reason="Essential container in task exited",
        containers=[
            {"containerName": "app", "status": "STOPPED", "exitCode": 3, "reason": "boom"},
            {"containerName": "sidecar", "status": "STOPPED", "exitCode": 0},
        ],
    )
    stopped = cluster.describe(arns[0])
    assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert (stopped["stopCode"], stopped["stoppedReason"]) == (
        "EssentialContainerExited",
        "Essential container in task exited",
    )
    exits = {c["name"]: (c["lastStatus"], c.get("exitCode"), c.get("reason")) for c in stopped["containers"]}
    assert exits == {"app": ("STOPPED", 3, "boom"), "sidecar": ("STOPPED", 0, None)}

    ecs.submit_task_state_change(
        cluster=cluster.name,
        task=arns[1],
        status="STOPPED",
        reason="CannotPullContainerError: pull access denied",
    )
    assert cluster.describe(arns[1])["stopCode"] == "TaskFailedToStart"

    ecs.stop_task(cluster=cluster.name, task=arns[2])
    ecs.submit_container_state_change(
        cluster=cluster.name, task=arns[2], containerName="app", status="STOPPED", exitCode=137
    )
    app = next(c for c in cluster.describe(arns[2])["containers"] if c["name"] == "app")
    assert (app["lastStatus"], app["exitCode"]) == ("STOPPED", 137)
    ecs.submit_task_state_change(
        cluster=cluster.name, task=arns[2], status="STOPPED", reason="Essential container in task exited"
    )
    user_stopped = cluster.describe(arns[2])
    assert (user_stopped["stopCode"], user_stopped["stoppedReason"]) == (
        "UserInitiated",
        "Task stopped by user",
    )
    # Every reservation is credited back once the agent reported STOPPED.
    assert cluster.instance(instance)["remainingResources"][0]["integerValue"] == 1024

    other = make_client(channel_server, "ecs", channel_server.create_key(unique_name("user")))
    other.create_cluster(clusterName=cluster.name)
    with pytest.raises(other.exceptions.InvalidParameterException):
        other.submit_task_state_change(cluster=cluster.name, task=arns[0], status="RUNNING")


def test_disconnect_reconnect_and_resend(
    channel_server: ServerProcess, keys: Keys, ecs: Any, cluster: Cluster, agents: FakeAgents
) -> None:
    instance = cluster.register()
    first = agents.connect(channel_server, keys, cluster.arn, instance)
    family = unique_name("td")
    register_definition(ecs, family, portMappings=[])
    kept, stopped = (
        t["taskArn"] for t in ecs.run_task(cluster=cluster.name, taskDefinition=family, count=2)["tasks"]
    )
    wait_for_payload(first.handler, kept, "RUNNING")

    first.close()
    wait_until(
        lambda: not agent_connected(ecs, cluster.name, instance),
        deadline_s=STATE_DEADLINE_S,
        what="agentConnected=false after the channel closed",
    )
    refused = ecs.run_task(cluster=cluster.name, taskDefinition=family)
    assert refused["tasks"] == []
    assert refused["failures"] == [{"arn": instance, "reason": "AGENT"}]
    ecs.stop_task(cluster=cluster.name, task=stopped)  # while no agent listens

    # A new channel gets everything the instance should know, the unacked STOPPED included; its first
    # apply fails (not acked), so the server sends it again without a reconnect.
    handler = RecordingHandler(fail_applies=1)
    second = agents.connect(channel_server, keys, cluster.arn, instance, handler=handler)
    wait_for_payload(handler, kept, "RUNNING")
    wait_for_payload(handler, stopped, "STOPPED")
    wait_until(
        lambda: len(handler.received(kept)) >= 2,
        deadline_s=STATE_DEADLINE_S,
        what="the unacked payload sent again",
    )
    assert second.channel.connections == 1
    # Once acked, nothing is sent again: the count stays put over two manifest rounds. The server sends
    # its payloads before the manifest of the same round, so each manifest closes a full re-check.
    wait_for_manifests(handler, 1)
    count = len(handler.received(kept))
    wait_for_manifests(handler, 2)
    assert len(handler.received(kept)) == count


def wait_for_manifests(handler: RecordingHandler, more: int) -> None:
    """Wait until ``more`` task manifests beyond those seen so far have arrived."""
    with handler.lock:
        start = handler.manifests
    wait_until(
        lambda: handler.manifests >= start + more,
        deadline_s=STATE_DEADLINE_S,
        what=f"{more} more task manifests",
    )


def test_manifest_confirms_stopping_an_unknown_task(
    channel_server: ServerProcess, keys: Keys, ecs: Any, cluster: Cluster, agents: FakeAgents
) -> None:
    instance = cluster.register()
    unknown = f"arn:aws:ecs:{REGION}:{keys.account_id}:task/{cluster.name}/{'0' * 32}"
    handler = RecordingHandler()
    agent = agents.connect(channel_server, keys, cluster.arn, instance, handler=handler)
    family = unique_name("td")
    register_definition(ecs, family)
    known = ecs.run_task(cluster=cluster.name, taskDefinition=family)["tasks"][0]["taskArn"]
    wait_for_payload(handler, known, "RUNNING")
    with handler.lock:
        handler.local_tasks |= {known, unknown}
    wait_until(
        lambda: bool(handler.stopped), deadline_s=STATE_DEADLINE_S, what="a confirmed stop verification"
    )
    confirmed, reason = handler.stopped[0]
    assert confirmed == [unknown] and reason
    assert agent.channel.is_connected


def test_published_health_sets_task_health(
    channel_server: ServerProcess, keys: Keys, ecs: Any, cluster: Cluster, agents: FakeAgents
) -> None:
    instance = cluster.register()
    agent = agents.connect(channel_server, keys, cluster.arn, instance)
    family = unique_name("td")
    check = {"command": ["CMD", "true"], "interval": 5, "timeout": 2, "retries": 1}
    register_definition(ecs, family, healthCheck=check)
    task = ecs.run_task(cluster=cluster.name, taskDefinition=family)["tasks"][0]["taskArn"]
    assert cluster.describe(task)["healthStatus"] == "UNKNOWN"

    agent.channel.publish_health(task, {"app": "HEALTHY", "sidecar": "UNKNOWN"})
    wait_until(
        lambda: cluster.describe(task)["healthStatus"] == "HEALTHY",
        deadline_s=STATE_DEADLINE_S,
        what="task health HEALTHY",
    )
    health = {c["name"]: c["healthStatus"] for c in cluster.describe(task)["containers"]}
    assert health == {"app": "HEALTHY", "sidecar": "UNKNOWN"}
    agent.channel.publish_health(task, {"app": "UNHEALTHY"})
    wait_until(
        lambda: cluster.describe(task)["healthStatus"] == "UNHEALTHY",
        deadline_s=STATE_DEADLINE_S,
        what="task health UNHEALTHY",
    )


def raw_connect(server: ServerProcess, keys: Keys, cluster_arn: str, instance_arn: str, **kwargs: Any) -> Any:
    url = websocket_url(
        server.endpoint,
        {"clusterArn": cluster_arn, "containerInstanceArn": instance_arn, "agentVersion": "t", "seqNum": "0"},
    )
    headers = signed_headers(url, Credentials(keys.access_key_id, keys.secret_access_key), REGION)
    return connect(url, additional_headers=headers, open_timeout=5, **kwargs)


def test_refusals(channel_server: ServerProcess, keys: Keys, cluster: Cluster) -> None:
    instance = cluster.register()
    with pytest.raises(InvalidStatus) as bad_secret:
        raw_connect(channel_server, Keys(keys.access_key_id, "wrong-secret"), cluster.arn, instance)
    assert bad_secret.value.response.status_code == 403
    assert b"InvalidSignatureException" in bad_secret.value.response.body

    url = websocket_url(
        channel_server.endpoint, {"clusterArn": cluster.arn, "containerInstanceArn": instance}
    )
    with pytest.raises(InvalidStatus) as unsigned:
        connect(url, open_timeout=5)
    assert unsigned.value.response.status_code == 403

    stranger = channel_server.create_key(unique_name("user"))
    with pytest.raises(InvalidStatus) as other_account:
        raw_connect(channel_server, stranger, cluster.arn, instance)
    assert other_account.value.response.status_code == 400
    assert cluster.instance(instance)["agentConnected"] is False

    cluster.ecs.deregister_container_instance(cluster=cluster.name, containerInstance=instance)
    with pytest.raises(InvalidStatus) as inactive:
        raw_connect(channel_server, keys, cluster.arn, instance)
    assert inactive.value.response.status_code == 400


def test_newer_session_replaces_older_and_silence_disconnects(
    channel_server: ServerProcess, keys: Keys, cluster: Cluster
) -> None:
    instance = cluster.register()
    with (
        raw_connect(channel_server, keys, cluster.arn, instance) as older,
        raw_connect(channel_server, keys, cluster.arn, instance) as newer,
    ):
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                older.recv(timeout=STATE_DEADLINE_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
        assert cluster.instance(instance)["agentConnected"] is True
        # The newer session never answers heartbeats: after DEAD_AFTER_HEARTBEATS intervals the server
        # closes it and the instance counts as disconnected.
        seen: list[str] = []
        with pytest.raises(ConnectionClosed) as silent:
            while True:
                frame = newer.recv(timeout=STATE_DEADLINE_S)
                seen.append(protocol.decode(frame, protocol.SERVER_MESSAGES)[0])
        assert silent.value.rcvd is not None and silent.value.rcvd.code == 4001
        assert protocol.HEARTBEAT in seen and protocol.TASK_MANIFEST in seen
    wait_until(
        lambda: not agent_connected(cluster.ecs, cluster.name, instance),
        deadline_s=STATE_DEADLINE_S,
        what="agentConnected=false after silence",
    )


def test_channel_reconnects_after_the_server_is_killed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, extra_env={"DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S)})
    server.start()
    try:
        keys = server.create_key(unique_name("user"))
        ecs = make_client(server, "ecs", keys)
        cluster = Cluster(ecs)
        instance = cluster.register()
        with fake_agents() as agents:
            agent = agents.connect(server, keys, cluster.arn, instance)
            family = unique_name("td")
            register_definition(ecs, family)
            task = ecs.run_task(cluster=cluster.name, taskDefinition=family)["tasks"][0]["taskArn"]
            wait_for_payload(agent.handler, task, "RUNNING")

            server.kill()
            wait_until(
                lambda: not agent.channel.is_connected, deadline_s=STATE_DEADLINE_S, what="channel lost"
            )
            server.start()
            wait_until(
                lambda: agent.channel.connections == 2 and agent.channel.is_connected,
                deadline_s=30.0,
                what="the channel reconnected by itself",
            )
            wait_until(
                lambda: agent_connected(ecs, cluster.name, instance),
                deadline_s=STATE_DEADLINE_S,
                what="agentConnected after the restart",
            )
            # The new server process re-sends what the instance should run.
            wait_until(
                lambda: len(agent.handler.received(task, "RUNNING")) >= 2,
                deadline_s=PUSH_DEADLINE_S,
                what="the task re-sent after the restart",
            )
        wait_until(
            lambda: not agent_connected(ecs, cluster.name, instance),
            deadline_s=STATE_DEADLINE_S,
            what="agentConnected=false once the channel stopped",
        )
    finally:
        server.stop()
