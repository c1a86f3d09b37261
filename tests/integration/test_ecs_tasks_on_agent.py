"""Tasks on a real agent and the real Docker Engine: the acceptance path of ECS on your own hosts.

One server and one agent serve the module; each test uses its own task definition family, and every
container the agent made is removed at the end (by its cluster label).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    TASK_ARN_LABEL,
    AgentProcess,
    all_connected,
    containers,
    describe_task,
    push_busybox,
    remove_containers,
    require_docker,
    serve_httpd_with_the_aws_cli,
    unique_suffix,
    wait_for_status,
)
from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, Keys, ServerProcess, free_port, make_client
from tests.polling import wait_until

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server, a cluster, a busybox image in its registry and an agent joined to the cluster."""
    require_docker()
    base = tmp_path_factory.mktemp("ecs-host")
    server = ServerProcess(base / "server")
    server.data_dir.mkdir()
    server.start()
    keys = Keys(ROOT_KEY_ID, ROOT_SECRET)
    ecs = make_client(server, "ecs", keys)
    cluster = ecs.create_cluster(clusterName=f"hosts-{unique_suffix()}")["cluster"]
    image = push_busybox(server.endpoint, keys, base / "docker-config", f"busybox-{unique_suffix()}")
    agent = AgentProcess(server, keys, cluster["clusterName"], base / "agent")
    agent.start("--metadata-port", str(free_port()))
    try:
        wait_until(
            lambda: all_connected(ecs, cluster["clusterName"], agent),
            deadline_s=DEADLINE_S,
            what="the agent to connect",
            interval_s=0.1,
        )
        yield {"server": server, "keys": keys, "ecs": ecs, "cluster": cluster, "image": image, "agent": agent}
    finally:
        agent.stop()
        server.stop()
        remove_containers(CLUSTER_LABEL, cluster["clusterArn"])


def _register(ecs: Any, family: str, container: dict[str, Any], **task: Any) -> str:
    """Register a one-container task definition; its ARN."""
    definition = {"name": "main", "essential": True, "memory": 64, **container}
    response = ecs.register_task_definition(family=family, containerDefinitions=[definition], **task)
    return str(response["taskDefinition"]["taskDefinitionArn"])


def _run(host: dict[str, Any], definition: str, count: int = 1) -> list[str]:
    response = host["ecs"].run_task(
        cluster=host["cluster"]["clusterName"], taskDefinition=definition, count=count
    )
    assert response["failures"] == []
    return [t["taskArn"] for t in response["tasks"]]


def test_httpd_on_a_dynamic_port_from_run_task_to_stop_task_with_the_aws_cli(
    host: dict[str, Any], tmp_path: Path
) -> None:
    server: ServerProcess = host["server"]
    env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    serve_httpd_with_the_aws_cli(env, host["cluster"]["clusterName"], host["image"])


def test_a_container_reads_its_task_from_the_metadata_endpoint(host: dict[str, Any]) -> None:
    cluster = host["cluster"]["clusterName"]
    definition = _register(
        host["ecs"],
        f"meta-{unique_suffix()}",
        {
            "image": host["image"],
            "command": ["sh", "-c", 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"'],
        },
    )
    (task_arn,) = _run(host, definition)
    (task,) = wait_for_status(host["ecs"], cluster, [task_arn], "STOPPED", deadline_s=DEADLINE_S)
    assert task["containers"][0]["exitCode"] == 0, task
    logs = subprocess.run(
        ["docker", "logs", task["containers"][0]["runtimeId"]], capture_output=True, text=True, check=True
    ).stdout
    metadata = json.loads(logs)
    assert metadata["TaskARN"] == task_arn
    assert metadata["Cluster"] == host["cluster"]["clusterArn"]
    assert metadata["Containers"][0]["Name"] == "main"


def test_an_essential_container_exiting_with_3_stops_the_task(host: dict[str, Any]) -> None:
    cluster = host["cluster"]["clusterName"]
    definition = _register(
        host["ecs"], f"exit3-{unique_suffix()}", {"image": host["image"], "command": ["sh", "-c", "exit 3"]}
    )
    (task_arn,) = _run(host, definition)
    (task,) = wait_for_status(host["ecs"], cluster, [task_arn], "STOPPED", deadline_s=DEADLINE_S)
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["containers"][0]["exitCode"] == 3


def test_an_image_that_does_not_exist_stops_the_task_with_cannot_pull(host: dict[str, Any]) -> None:
    cluster = host["cluster"]["clusterName"]
    missing = host["image"].rsplit(":", 1)[0] + "-missing:v1"
    definition = _register(host["ecs"], f"nopull-{unique_suffix()}", {"image": missing})
    (task_arn,) = _run(host, definition)
    (task,) = wait_for_status(host["ecs"], cluster, [task_arn], "STOPPED", deadline_s=DEADLINE_S)
    assert task["stoppedReason"].startswith("CannotPullContainerError"), task
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError")
    assert task["stopCode"] == "TaskFailedToStart"
    assert containers(TASK_ARN_LABEL, task_arn) == []


def test_kill_9_the_agent_then_restart_it_adopts_its_containers(host: dict[str, Any]) -> None:
    ecs, agent = host["ecs"], host["agent"]
    cluster = host["cluster"]["clusterName"]
    definition = _register(
        host["ecs"],
        f"adopt-{unique_suffix()}",
        {"image": host["image"], "command": ["sleep", "3600"], "stopTimeout": 1},
    )
    keep, stop = _run(host, definition, count=2)
    wait_for_status(ecs, cluster, [keep, stop], "RUNNING", deadline_s=DEADLINE_S, agents=[agent])
    before = {arn: [c["Id"] for c in containers(TASK_ARN_LABEL, arn)] for arn in (keep, stop)}
    instance_arn = describe_task(ecs, cluster, keep)["containerInstanceArn"]

    agent.kill()
    wait_until(
        lambda: not all_connected(ecs, cluster, None), deadline_s=DEADLINE_S, what="agentConnected=false"
    )
    ecs.stop_task(cluster=cluster, task=stop, reason="while the agent was away")
    assert describe_task(ecs, cluster, stop)["lastStatus"] == "RUNNING"
    agent.start("--metadata-port", str(free_port()))
    wait_until(lambda: all_connected(ecs, cluster, agent), deadline_s=DEADLINE_S, what="the agent to return")

    (stopped,) = wait_for_status(ecs, cluster, [stop], "STOPPED", deadline_s=DEADLINE_S, agents=[agent])
    assert stopped["stoppedReason"] == "while the agent was away"
    kept = describe_task(ecs, cluster, keep)
    assert kept["lastStatus"] == "RUNNING" and kept["containerInstanceArn"] == instance_arn
    assert [c["Id"] for c in containers(TASK_ARN_LABEL, keep)] == before[keep]
    assert [c["Id"] for c in containers(TASK_ARN_LABEL, stop)] == before[stop]
    ecs.stop_task(cluster=cluster, task=keep)
    wait_for_status(ecs, cluster, [keep], "STOPPED", deadline_s=DEADLINE_S, agents=[agent])


def test_kill_9_the_server_then_restart_it_loses_nothing(host: dict[str, Any]) -> None:
    ecs, agent, server = host["ecs"], host["agent"], host["server"]
    cluster = host["cluster"]["clusterName"]
    definition = _register(
        host["ecs"],
        f"survive-{unique_suffix()}",
        {"image": host["image"], "command": ["sleep", "3600"], "stopTimeout": 1},
    )
    tasks = _run(host, definition, count=2)
    wait_for_status(ecs, cluster, tasks, "RUNNING", deadline_s=DEADLINE_S, agents=[agent])

    server.kill()
    server.start()
    wait_until(
        lambda: all_connected(ecs, cluster, agent), deadline_s=DEADLINE_S, what="the agent to reconnect"
    )
    again = wait_for_status(ecs, cluster, tasks, "RUNNING", deadline_s=DEADLINE_S, agents=[agent])
    assert {t["taskArn"] for t in again} == set(tasks)
    for arn in tasks:
        assert len(containers(TASK_ARN_LABEL, arn)) == 1
    (fresh,) = _run(host, definition)
    wait_for_status(ecs, cluster, [fresh], "RUNNING", deadline_s=DEADLINE_S, agents=[agent])
    for arn in [*tasks, fresh]:
        ecs.stop_task(cluster=cluster, task=arn)
    wait_for_status(ecs, cluster, [*tasks, fresh], "STOPPED", deadline_s=DEADLINE_S, agents=[agent])


def test_host_network_mode_binds_the_container_port_on_the_host(host: dict[str, Any]) -> None:
    cluster = host["cluster"]["clusterName"]
    port = free_port()
    definition = _register(
        host["ecs"],
        f"hostmode-{unique_suffix()}",
        {
            "image": host["image"],
            "command": ["httpd", "-f", "-p", str(port), "-h", "/www"],
            "portMappings": [{"containerPort": port, "protocol": "tcp"}],
            "stopTimeout": 1,
        },
        networkMode="host",
    )
    (task_arn,) = _run(host, definition)
    (task,) = wait_for_status(host["ecs"], cluster, [task_arn], "RUNNING", deadline_s=DEADLINE_S)
    assert task["containers"][0]["networkBindings"] == [
        {"bindIP": "0.0.0.0", "containerPort": port, "hostPort": port, "protocol": "tcp"}
    ]
    (docker_container,) = containers(TASK_ARN_LABEL, task_arn)
    assert docker_container["HostConfig"]["NetworkMode"] == "host"
    page = httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=5)
    assert page.status_code == 200
    host["ecs"].stop_task(cluster=cluster, task=task_arn)
    wait_for_status(host["ecs"], cluster, [task_arn], "STOPPED", deadline_s=DEADLINE_S)


def test_a_docker_health_check_gates_depends_on_healthy_and_shows_in_describe_tasks(
    host: dict[str, Any],
) -> None:
    ecs = host["ecs"]
    cluster = host["cluster"]["clusterName"]
    response = ecs.register_task_definition(
        family=f"healthy-{unique_suffix()}",
        containerDefinitions=[
            {
                "name": "db",
                "image": host["image"],
                "memory": 32,
                "command": ["sh", "-c", "touch /tmp/ready; exec sleep 3600"],
                "healthCheck": {
                    "command": ["CMD-SHELL", "test -f /tmp/ready"],
                    "interval": 5,
                    "timeout": 2,
                    "retries": 2,
                },
                "stopTimeout": 1,
            },
            {
                "name": "app",
                "image": host["image"],
                "memory": 32,
                "command": ["sleep", "3600"],
                "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
                "stopTimeout": 1,
            },
        ],
    )
    (task_arn,) = _run(host, response["taskDefinition"]["taskDefinitionArn"])
    wait_for_status(ecs, cluster, [task_arn], "RUNNING", deadline_s=DEADLINE_S)
    wait_until(
        lambda: describe_task(ecs, cluster, task_arn)["healthStatus"] == "HEALTHY",
        deadline_s=DEADLINE_S,
        what="the task to be HEALTHY",
    )
    health = {c["name"]: c["healthStatus"] for c in describe_task(ecs, cluster, task_arn)["containers"]}
    assert health == {"db": "HEALTHY", "app": "UNKNOWN"}
    inspected = {
        c["Config"]["Labels"]["com.amazonaws.ecs.container-name"]: c["State"]
        for c in containers(TASK_ARN_LABEL, task_arn)
    }
    # Docker runs the first check one interval (5 s) after db starts; app waits for it.
    app_started, db_started = (datetime.fromisoformat(inspected[n]["StartedAt"][:19]) for n in ("app", "db"))
    assert app_started - db_started >= timedelta(seconds=4)
    ecs.stop_task(cluster=cluster, task=task_arn)
    wait_for_status(ecs, cluster, [task_arn], "STOPPED", deadline_s=DEADLINE_S)
