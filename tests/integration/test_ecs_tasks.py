"""ECS tasks through boto3 against a real server: RunTask placement on registered (fake) instances, each
with a fake agent holding its push channel (only connected instances take tasks), StopTask,
DescribeTasks, ListTasks, and the counts and remaining resources they change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import REGION, Keys, ServerProcess, make_client, unique_name
from tests.integration.fake_agent import FakeAgents, fake_agents


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def register_instance(ecs: Any, cluster: str, *, cpu: int, memory: int, zone: str) -> str:
    instance = ecs.register_container_instance(
        cluster=cluster,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "51678", "51679"]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        versionInfo={"agentVersion": "1.80.0", "dockerVersion": "DockerVersion: 25.0.3"},
        attributes=[
            {"name": "ecs.os-type", "value": "linux"},
            {"name": "ecs.cpu-architecture", "value": "x86_64"},
            {"name": "ecs.availability-zone", "value": zone},
        ],
    )["containerInstance"]
    return str(instance["containerInstanceArn"])


def remaining(ecs: Any, cluster: str, arn: str) -> dict[str, Any]:
    instance = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"
    ][0]
    resources = {r["name"]: r for r in instance["remainingResources"]}
    return {
        "CPU": resources["CPU"]["integerValue"],
        "MEMORY": resources["MEMORY"]["integerValue"],
        "PORTS": sorted(resources["PORTS"]["stringSetValue"]),
        "running": instance["runningTasksCount"],
        "pending": instance["pendingTasksCount"],
    }


def definition(ecs: Any, family: str, **container: Any) -> str:
    spec = {"name": "app", "image": "busybox:1.36", "cpu": 128, "memory": 256, **container}
    response = ecs.register_task_definition(family=family, containerDefinitions=[spec])
    return str(response["taskDefinition"]["taskDefinitionArn"])


@dataclass
class Hosts:
    """Registers instances and connects a fake agent to each, as placement requires."""

    ecs: Any
    server: ServerProcess
    keys: Keys
    agents: FakeAgents

    def register(self, cluster: str, *, cpu: int, memory: int, zone: str) -> str:
        arn = register_instance(self.ecs, cluster, cpu=cpu, memory=memory, zone=zone)
        cluster_arn = f"arn:aws:ecs:{REGION}:{self.keys.account_id}:cluster/{cluster}"
        self.agents.connect(self.server, self.keys, cluster_arn, arn)
        return arn


@pytest.fixture
def hosts(ecs: Any, server: ServerProcess, account_keys: Keys) -> Iterator[Hosts]:
    with fake_agents() as agents:
        yield Hosts(ecs, server, account_keys, agents)


@pytest.fixture
def cluster(ecs: Any) -> str:
    return str(ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterName"])


def test_run_tasks_spread_over_instances_and_debit_them(
    ecs: Any, cluster: str, account_keys: Keys, hosts: Hosts
) -> None:
    big = hosts.register(cluster, cpu=4096, memory=8192, zone="us-east-1a")
    small = hosts.register(cluster, cpu=2048, memory=4096, zone="us-east-1b")
    family = unique_name("td")
    definition(ecs, family)
    spread = [{"type": "spread", "field": "instanceId"}]

    tasks: list[dict[str, Any]] = []
    for _ in range(2):
        response = ecs.run_task(
            cluster=cluster, taskDefinition=family, count=10, placementStrategy=spread, startedBy="me"
        )
        assert response["failures"] == []
        tasks += response["tasks"]

    assert len(tasks) == 20
    by_instance = Counter(t["containerInstanceArn"] for t in tasks)
    assert by_instance == {big: 10, small: 10}
    task = tasks[0]
    account = account_keys.account_id
    assert task["taskArn"].startswith(f"arn:aws:ecs:us-east-1:{account}:task/{cluster}/")
    assert len(task["taskArn"].rsplit("/", 1)[1]) == 32
    assert task["clusterArn"] == f"arn:aws:ecs:us-east-1:{account}:cluster/{cluster}"
    assert task["taskDefinitionArn"].endswith(f":task-definition/{family}:1")
    assert (task["lastStatus"], task["desiredStatus"]) == ("PENDING", "RUNNING")
    assert task["launchType"] == "EC2" and task["version"] == 1
    assert task["group"] == f"family:{family}" and task["startedBy"] == "me"
    assert isinstance(task["createdAt"], datetime)
    assert task["availabilityZone"] in ("us-east-1a", "us-east-1b")
    container = task["containers"][0]
    assert (container["name"], container["image"], container["lastStatus"]) == (
        "app",
        "busybox:1.36",
        "PENDING",
    )
    assert (container["cpu"], container["memory"]) == ("128", "256")
    assert container["taskArn"] == task["taskArn"] and container["healthStatus"] == "UNKNOWN"
    assert container["containerArn"].startswith(f"arn:aws:ecs:us-east-1:{account}:container/{cluster}/")

    assert remaining(ecs, cluster, big) == {
        "CPU": 4096 - 10 * 128,
        "MEMORY": 8192 - 10 * 256,
        "PORTS": ["22", "51678", "51679"],
        "running": 0,
        "pending": 10,
    }
    assert remaining(ecs, cluster, small)["MEMORY"] == 4096 - 10 * 256
    described = ecs.describe_clusters(clusters=[cluster])["clusters"][0]
    assert (described["pendingTasksCount"], described["runningTasksCount"]) == (20, 0)


def test_placement_failures(ecs: Any, cluster: str, hosts: Hosts) -> None:
    family = unique_name("td")
    definition(ecs, family, memory=100_000)
    empty = ecs.run_task(cluster=cluster, taskDefinition=family)
    assert empty["tasks"] == []
    assert [f["reason"] for f in empty["failures"]] == ["No Container Instances were found in your cluster."]
    assert empty["failures"][0]["arn"].endswith(f":cluster/{cluster}")

    first = hosts.register(cluster, cpu=2048, memory=4096, zone="us-east-1a")
    second = hosts.register(cluster, cpu=1024, memory=2048, zone="us-east-1b")
    failed = ecs.run_task(cluster=cluster, taskDefinition=family, count=2)
    assert failed["tasks"] == []
    assert sorted((f["arn"], f["reason"]) for f in failed["failures"]) == sorted(
        [(first, "RESOURCE:MEMORY"), (second, "RESOURCE:MEMORY")]
    )
    assert remaining(ecs, cluster, first)["MEMORY"] == 4096

    ports = unique_name("td")
    definition(ecs, ports, portMappings=[{"containerPort": 80, "hostPort": 8080}])
    placed = ecs.run_task(cluster=cluster, taskDefinition=ports, count=3)
    assert len(placed["tasks"]) == 2
    assert {f["reason"] for f in placed["failures"]} == {"RESOURCE:PORTS"}
    assert "8080" in remaining(ecs, cluster, first)["PORTS"]


def test_errors(ecs: Any, cluster: str) -> None:
    family = unique_name("td")
    definition(ecs, family)
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(cluster=unique_name(), taskDefinition=family)
    assert error_of(excinfo)[0] == "ClusterNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(cluster=cluster, taskDefinition=unique_name("nope"))
    assert error_of(excinfo) == ("InvalidParameterException", "TaskDefinition not found.")
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(cluster=cluster, taskDefinition=family, launchType="FARGATE")
    assert error_of(excinfo)[0] == "ClientException"
    assert error_of(excinfo)[1] == "Task definition does not support launch_type FARGATE."
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(cluster=cluster, taskDefinition=family, count=11)
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(
            cluster=cluster,
            taskDefinition=family,
            overrides={"containerOverrides": [{"name": "ghost", "memory": 1}]},
        )
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.stop_task(cluster=cluster, task="0" * 32)
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_overrides_change_the_reservation(ecs: Any, cluster: str, hosts: Hosts) -> None:
    instance = hosts.register(cluster, cpu=2048, memory=4096, zone="us-east-1a")
    family = unique_name("td")
    definition(ecs, family)
    overrides = {"containerOverrides": [{"name": "app", "cpu": 512, "memoryReservation": 100}]}
    task = ecs.run_task(cluster=cluster, taskDefinition=family, overrides=overrides)["tasks"][0]
    assert task["overrides"]["containerOverrides"][0]["cpu"] == 512
    assert task["containers"][0]["memoryReservation"] == "100"
    left = remaining(ecs, cluster, instance)
    assert (left["CPU"], left["MEMORY"]) == (2048 - 512, 4096 - 100)


def test_stop_describe_and_list(ecs: Any, cluster: str, hosts: Hosts) -> None:
    instance = hosts.register(cluster, cpu=4096, memory=8192, zone="us-east-1a")
    family, other = unique_name("td"), unique_name("td")
    definition(ecs, family)
    definition(ecs, other)
    tasks = ecs.run_task(
        cluster=cluster, taskDefinition=family, count=5, tags=[{"key": "team", "value": "a"}]
    )["tasks"]
    ecs.run_task(cluster=cluster, taskDefinition=other, startedBy="ci")
    arns = sorted(t["taskArn"] for t in tasks)

    stopped = ecs.stop_task(cluster=cluster, task=arns[0].rsplit("/", 1)[1], reason="done")["task"]
    assert (stopped["desiredStatus"], stopped["lastStatus"]) == ("STOPPED", "PENDING")
    assert (stopped["stoppedReason"], stopped["stopCode"]) == ("done", "UserInitiated")
    assert isinstance(stopped["stoppingAt"], datetime)
    again = ecs.stop_task(cluster=cluster, task=arns[1])["task"]
    assert again["stoppedReason"] == "Task stopped by user"

    described = ecs.describe_tasks(cluster=cluster, tasks=[arns[0], arns[2], "f" * 32], include=["TAGS"])
    assert [t["taskArn"] for t in described["tasks"]] == [arns[0], arns[2]]
    assert described["tasks"][0]["desiredStatus"] == "STOPPED"
    assert described["tasks"][1]["tags"] == [{"key": "team", "value": "a"}]
    assert described["failures"] == [{"arn": described["failures"][0]["arn"], "reason": "MISSING"}]
    assert described["failures"][0]["arn"].endswith(f":task/{cluster}/{'f' * 32}")

    running = ecs.list_tasks(cluster=cluster)["taskArns"]
    assert len(running) == 4 and arns[0] not in running
    assert sorted(ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]) == arns[:2]
    assert len(ecs.list_tasks(cluster=cluster, family=family)["taskArns"]) == 3
    assert len(ecs.list_tasks(cluster=cluster, startedBy="ci")["taskArns"]) == 1
    assert len(ecs.list_tasks(cluster=cluster, containerInstance=instance)["taskArns"]) == 4
    assert ecs.list_tasks(cluster=cluster, launchType="FARGATE")["taskArns"] == []

    pages, token = [], None
    while True:
        page = ecs.list_tasks(cluster=cluster, maxResults=3, **({"nextToken": token} if token else {}))
        pages.append(page["taskArns"])
        token = page.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 1]
    assert sorted(arn for page in pages for arn in page) == sorted(running)
    # A stopped task the agent never picked up still holds its reservation until the agent reports it.
    assert remaining(ecs, cluster, instance)["pending"] == 6


def test_another_account_sees_nothing(ecs: Any, cluster: str, server: ServerProcess, hosts: Hosts) -> None:
    hosts.register(cluster, cpu=2048, memory=4096, zone="us-east-1a")
    family = unique_name("td")
    definition(ecs, family)
    arn = ecs.run_task(cluster=cluster, taskDefinition=family)["tasks"][0]["taskArn"]

    other = make_client(server, "ecs", server.create_key(unique_name("user")))
    other.create_cluster(clusterName=cluster)
    assert other.list_tasks(cluster=cluster)["taskArns"] == []
    assert other.describe_tasks(cluster=cluster, tasks=[arn])["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as excinfo:
        other.stop_task(cluster=cluster, task=arn)
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        other.run_task(cluster=cluster, taskDefinition=family)
    assert error_of(excinfo)[0] == "InvalidParameterException"
    assert other.describe_clusters(clusters=[cluster])["clusters"][0]["pendingTasksCount"] == 0
