"""ECS services on a real agent and the real Docker Engine: self-healing, rolling deployments, the circuit
breaker with rollback, deletion, and a server killed mid-rollout.

One server (healthy-after shortened to 2 s, as a server setting allows) and one agent serve the module;
each test uses its own service and task definition family. ``services-stable`` is botocore's own waiter
(the aws CLI's ``ecs wait services-stable``), polled every second instead of every 15.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    TASK_ARN_LABEL,
    AgentProcess,
    all_connected,
    containers,
    push_busybox,
    remove_containers,
    require_docker,
    unique_suffix,
)
from tests.integration.conftest import (
    ROOT_KEY_ID,
    ROOT_SECRET,
    Keys,
    ServerProcess,
    free_port,
    make_client,
    run_aws,
)
from tests.polling import wait_until

DEADLINE_S = 90.0
HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
HEALTH = {
    "command": ["CMD-SHELL", "wget -qO- http://127.0.0.1:8080/ >/dev/null"],
    "interval": 5,
    "timeout": 2,
    "retries": 2,
    "startPeriod": 1,
}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_docker()
    base = tmp_path_factory.mktemp("ecs-services")
    server = ServerProcess(
        base / "server",
        extra_env={"DOCKYARD_SERVICE_HEALTHY_AFTER_S": "2", "DOCKYARD_SERVICE_RESYNC_S": "2"},
    )
    server.data_dir.mkdir()
    server.start()
    keys = Keys(ROOT_KEY_ID, ROOT_SECRET)
    ecs = make_client(server, "ecs", keys)
    cluster = ecs.create_cluster(clusterName=f"svc-{unique_suffix()}")["cluster"]
    image = push_busybox(server.endpoint, keys, base / "docker-config", f"busybox-{unique_suffix()}")
    agent = AgentProcess(server, keys, cluster["clusterName"], base / "agent")
    agent.start("--metadata-port", str(free_port()), "--container-stop-timeout", "2")
    try:
        wait_until(
            lambda: all_connected(ecs, cluster["clusterName"], agent),
            deadline_s=DEADLINE_S,
            what="the agent to connect",
            interval_s=0.1,
        )
        yield {
            "server": server,
            "keys": keys,
            "ecs": ecs,
            "cluster": cluster["clusterName"],
            "image": image,
            "agent": agent,
            "base": base,
        }
    finally:
        agent.stop()
        server.stop()
        remove_containers(CLUSTER_LABEL, cluster["clusterArn"])


def _definition(host: dict[str, Any], family: str, *, image: str | None = None, health: bool = True) -> str:
    container: dict[str, Any] = {
        "name": "web",
        "image": image or host["image"],
        "essential": True,
        "memory": 32,
        "command": HTTPD,
        "portMappings": [{"containerPort": 8080, "hostPort": 0}],
    }
    if health:
        container["healthCheck"] = HEALTH
    response = host["ecs"].register_task_definition(family=family, containerDefinitions=[container])
    return str(response["taskDefinition"]["taskDefinitionArn"])


def _service(host: dict[str, Any], name: str) -> dict[str, Any]:
    described = host["ecs"].describe_services(cluster=host["cluster"], services=[name])
    return dict(described["services"][0])


def _wait_stable(host: dict[str, Any], name: str) -> dict[str, Any]:
    waiter = host["ecs"].get_waiter("services_stable")
    waiter.wait(
        cluster=host["cluster"], services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": int(DEADLINE_S)}
    )
    return _service(host, name)


def _service_tasks(host: dict[str, Any], name: str) -> list[dict[str, Any]]:
    ecs = host["ecs"]
    arns = ecs.list_tasks(cluster=host["cluster"], serviceName=name)["taskArns"]
    return ecs.describe_tasks(cluster=host["cluster"], tasks=arns)["tasks"] if arns else []


def _events(service: dict[str, Any]) -> list[str]:
    return [e["message"] for e in service["events"]]


def _wait_for_event(host: dict[str, Any], name: str, message: str) -> None:
    """Until ``message`` is the service's newest event."""
    wait_until(
        lambda: _events(_service(host, name))[:1] == [message],
        deadline_s=DEADLINE_S,
        what=f"the event {message!r}",
        interval_s=0.5,
    )


def _cli_env(host: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": host["server"].endpoint,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }


def test_a_killed_container_is_replaced_and_the_service_is_stable_again(
    host: dict[str, Any], tmp_path: Path
) -> None:
    name = f"heal-{unique_suffix()}"
    definition = _definition(host, name)
    env = _cli_env(host, tmp_path)
    run_aws(
        env,
        "ecs",
        "create-service",
        "--cluster",
        host["cluster"],
        "--service-name",
        name,
        "--task-definition",
        definition,
        "--desired-count",
        "3",
    )
    service = _wait_stable(host, name)
    assert service["runningCount"] == 3
    run_aws(env, "ecs", "wait", "services-stable", "--cluster", host["cluster"], "--services", name)
    steady = f"(service {name}) has reached a steady state."
    _wait_for_event(host, name, steady)  # the deployment completes once the tasks pass their health checks
    victim = _service_tasks(host, name)[0]
    (container,) = containers(TASK_ARN_LABEL, victim["taskArn"])
    subprocess.run(["docker", "kill", container["Id"]], check=True, capture_output=True)

    def replaced() -> bool:
        tasks = _service_tasks(host, name)
        return len(tasks) == 3 and victim["taskArn"] not in {t["taskArn"] for t in tasks}

    wait_until(replaced, deadline_s=DEADLINE_S, what="the killed task to be replaced", interval_s=0.2)
    _wait_stable(host, name)
    _wait_for_event(host, name, steady)
    events = _events(_service(host, name))
    assert any(e.startswith(f"(service {name}) has started 1 tasks: (task ") for e in events), events
    assert events.count(steady) == 2, events  # once after creation, once after the replacement
    # A killed container is stopped, not unhealthy (Docker marks it unhealthy all the same).
    assert not any("unhealthy" in e for e in events), events


def test_a_rolling_update_keeps_two_healthy_tasks_and_completes(host: dict[str, Any]) -> None:
    name = f"roll-{unique_suffix()}"
    first = _definition(host, name)
    ecs = host["ecs"]
    ecs.create_service(
        cluster=host["cluster"],
        serviceName=name,
        taskDefinition=first,
        desiredCount=3,
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
    )
    _wait_stable(host, name)
    _wait_for_event(host, name, f"(service {name}) has reached a steady state.")
    second = _definition(host, name)
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        sampler = make_client(host["server"], "ecs", host["keys"])
        while not done.is_set():
            arns = sampler.list_tasks(cluster=host["cluster"], serviceName=name)["taskArns"]
            tasks = sampler.describe_tasks(cluster=host["cluster"], tasks=arns)["tasks"] if arns else []
            samples.append(
                sum(1 for t in tasks if t["lastStatus"] == "RUNNING" and t["healthStatus"] == "HEALTHY")
            )
            done.wait(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        ecs.update_service(cluster=host["cluster"], service=name, taskDefinition=second)
        _wait_stable(host, name)
        _wait_for_event(host, name, f"(service {name}) has reached a steady state.")
        service = _service(host, name)
    finally:
        done.set()
        sampler.join()
    assert len(samples) > 10 and min(samples) >= 2, samples
    assert [(d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]] == [
        (second, "COMPLETED")
    ]
    tasks = _service_tasks(host, name)
    assert len(tasks) == 3 and {t["taskDefinitionArn"] for t in tasks} == {second}


def test_a_bad_image_trips_the_circuit_breaker_and_rolls_back(host: dict[str, Any]) -> None:
    name = f"breaker-{unique_suffix()}"
    good = _definition(host, name)
    ecs = host["ecs"]
    ecs.create_service(
        cluster=host["cluster"],
        serviceName=name,
        taskDefinition=good,
        desiredCount=3,
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    _wait_stable(host, name)
    _wait_for_event(host, name, f"(service {name}) has reached a steady state.")
    stable = _service(host, name)
    good_deployment = stable["deployments"][0]["id"]
    registry = host["image"].split("/", 1)[0]
    bad = _definition(host, name, image=f"{registry}/does-not-exist-{unique_suffix()}:nope")
    ecs.update_service(cluster=host["cluster"], service=name, taskDefinition=bad)

    def rolled_back() -> bool:
        deployments = _service(host, name)["deployments"]
        return any(d["taskDefinition"] == bad and d["rolloutState"] == "FAILED" for d in deployments)

    wait_until(rolled_back, deadline_s=DEADLINE_S, what="the circuit breaker to trip", interval_s=0.5)
    service = _wait_stable(host, name)
    assert [(d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]] == [(good, "COMPLETED")]
    assert {t["taskDefinitionArn"] for t in _service_tasks(host, name)} == {good}
    events = _events(service)
    assert any(e.endswith("deployment failed: tasks failed to start.") for e in events), events
    assert f"(service {name}) rolling back to deployment {good_deployment}." in events


def test_delete_service_force_leaves_nothing_running(host: dict[str, Any], tmp_path: Path) -> None:
    name = f"delete-{unique_suffix()}"
    definition = _definition(host, name, health=False)
    ecs = host["ecs"]
    ecs.create_service(cluster=host["cluster"], serviceName=name, taskDefinition=definition, desiredCount=2)
    _wait_stable(host, name)
    arns = [t["taskArn"] for t in _service_tasks(host, name)]
    env = _cli_env(host, tmp_path)
    run_aws(env, "ecs", "delete-service", "--cluster", host["cluster"], "--service", name, "--force")
    wait_until(
        lambda: _service(host, name)["status"] == "INACTIVE",
        deadline_s=DEADLINE_S,
        what="the service to become INACTIVE",
        interval_s=0.2,
    )
    for arn in arns:
        assert [c for c in containers(TASK_ARN_LABEL, arn) if c["State"]["Running"]] == []
    listed = ecs.list_services(cluster=host["cluster"])["serviceArns"]
    assert _service(host, name)["serviceArn"] not in listed


def test_a_rollout_survives_kill_9_of_the_server(host: dict[str, Any]) -> None:
    """Last in the module: it restarts the shared server."""
    name = f"crash-{unique_suffix()}"
    first = _definition(host, name, health=False)
    ecs = host["ecs"]
    ecs.create_service(
        cluster=host["cluster"],
        serviceName=name,
        taskDefinition=first,
        desiredCount=3,
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 134},
    )
    _wait_for_event(host, name, f"(service {name}) has reached a steady state.")
    second = _definition(host, name, health=False)
    primary = ecs.update_service(cluster=host["cluster"], service=name, taskDefinition=second)["service"]
    new_id = primary["deployments"][0]["id"]

    def started_by_new() -> list[str]:
        listed = []
        for status in ("RUNNING", "STOPPED"):
            listed += ecs.list_tasks(cluster=host["cluster"], startedBy=new_id, desiredStatus=status)[
                "taskArns"
            ]
        return listed

    # maximumPercent 134 lets one new task start at a time: the rollout takes several steps.
    wait_until(lambda: len(started_by_new()) >= 1, deadline_s=DEADLINE_S, what="the rollout to begin")
    server: ServerProcess = host["server"]
    server.kill()
    server.start()
    wait_until(
        lambda: all_connected(ecs, host["cluster"], host["agent"]),
        deadline_s=DEADLINE_S,
        what="the agent to reconnect",
        interval_s=0.2,
    )
    _wait_for_event(host, name, f"(service {name}) has reached a steady state.")
    service = _service(host, name)
    assert [(d["id"], d["rolloutState"]) for d in service["deployments"]] == [(new_id, "COMPLETED")]
    tasks = _service_tasks(host, name)
    assert len(tasks) == 3 and {t["taskDefinitionArn"] for t in tasks} == {second}
    assert len(started_by_new()) == 3  # no duplicate replacement was started
