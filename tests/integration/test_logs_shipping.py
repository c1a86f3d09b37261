"""Container output shipped over an agent's push channel into CloudWatch Logs, against a real server: a
real PushChannel (the fake agent's) sends PutLogEventsRequest frames; boto3 reads the events back.

Stored in the task's own account, only for a task on the sender's instance, the group created only when
asked, and exactly once: a resend of lines already stored (an agent killed before saving its cursor) is
counted as duplicates and changes nothing, whatever the batches' boundaries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name
from tests.integration.fake_agent import FakeAgent, FakeAgents, fake_agents
from tests.integration.test_push_channel import Cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("shipping"))
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def agents() -> Iterator[FakeAgents]:
    with fake_agents() as agents:
        yield agents


def run_task(server: ServerProcess, keys: Keys, agents: FakeAgents) -> tuple[str, FakeAgent, Cluster]:
    ecs = make_client(server, "ecs", keys)
    cluster = Cluster(ecs)
    instance = cluster.register()
    agent = agents.connect(server, keys, cluster.arn, instance)
    family = unique_name("fam")
    ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "web", "image": "busybox", "memory": 64}]
    )
    (task,) = ecs.run_task(cluster=cluster.name, taskDefinition=family)["tasks"]
    return str(task["taskArn"]), agent, cluster


def batch(
    task_arn: str, group: str, lines: range, *, create: bool = True, base_ns: int = 0
) -> dict[str, Any]:
    """Lines numbered ``lines``; two lines per Docker timestamp, so ordinals matter."""
    base_ns = base_ns or time.time_ns()
    events = []
    for n in lines:
        ns = base_ns + (n // 2) * 1_000_000
        events.append({"timestamp": ns // 1_000_000, "message": f"line {n}", "position": [ns, n % 2]})
    return {
        "taskArn": task_arn,
        "containerName": "web",
        "logGroupName": group,
        "logStreamName": f"app/web/{task_arn.rsplit('/', 1)[-1]}",
        "createGroup": create,
        "events": events,
    }


def read_all(logs: Any, group: str, stream: str) -> list[str]:
    answer = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in answer["events"]]


def test_shipped_lines_are_stored_once_in_the_tasks_account(
    server: ServerProcess, agents: FakeAgents
) -> None:
    keys = server.create_key(unique_name("user"))
    task_arn, agent, _cluster = run_task(server, keys, agents)
    group = f"/ecs/{unique_name('g')}"
    base_ns = time.time_ns()

    first = agent.channel.put_log_events(batch(task_arn, group, range(0, 6), base_ns=base_ns))
    assert first is not None and "error" not in first, first
    assert (first["stored"], first["duplicates"]) == (6, 0)

    # The agent died before saving its cursor: it re-reads and sends lines 0-9 in one batch.
    again = agent.channel.put_log_events(batch(task_arn, group, range(0, 10), base_ns=base_ns))
    assert again is not None and (again["stored"], again["duplicates"]) == (4, 6), again

    logs = make_client(server, "logs", keys)
    stream = batch(task_arn, group, range(0))["logStreamName"]
    assert read_all(logs, group, stream) == [f"line {n}" for n in range(10)]
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["logGroupName"] == group

    other = make_client(server, "logs", server.create_key(unique_name("other")))
    assert other.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_a_missing_group_is_refused_unless_its_creation_is_asked(
    server: ServerProcess, agents: FakeAgents
) -> None:
    keys = server.create_key(unique_name("user"))
    task_arn, agent, _cluster = run_task(server, keys, agents)
    answer = agent.channel.put_log_events(batch(task_arn, f"/ecs/{unique_name('g')}", range(3), create=False))
    assert answer is not None
    assert answer["error"] == {
        "code": "ResourceNotFoundException",
        "message": "The specified log group does not exist.",
    }


def test_an_agent_cannot_ship_for_a_task_elsewhere(server: ServerProcess, agents: FakeAgents) -> None:
    keys = server.create_key(unique_name("user"))
    task_arn, _agent, cluster = run_task(server, keys, agents)
    intruder = agents.connect(server, keys, cluster.arn, cluster.register())
    answer = intruder.channel.put_log_events(batch(task_arn, "/ecs/stolen", range(3)))
    assert answer is not None and answer["error"]["code"] == "AccessDeniedException", answer
    logs = make_client(server, "logs", keys)
    assert logs.describe_log_groups(logGroupNamePrefix="/ecs/stolen")["logGroups"] == []


def test_awslogs_region_picks_the_region_of_the_group(server: ServerProcess, agents: FakeAgents) -> None:
    keys = server.create_key(unique_name("user"))
    task_arn, agent, _cluster = run_task(server, keys, agents)
    group = f"/ecs/{unique_name('g')}"
    answer = agent.channel.put_log_events({**batch(task_arn, group, range(2)), "region": "eu-west-1"})
    assert answer is not None and answer.get("stored") == 2, answer
    assert make_client(server, "logs", keys, region="eu-west-1").describe_log_groups(
        logGroupNamePrefix=group
    )["logGroups"]
    assert make_client(server, "logs", keys).describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    bad = agent.channel.put_log_events({**batch(task_arn, group, range(2, 3)), "region": "moon"})
    assert bad is not None and bad["error"]["code"] == "InvalidParameterException", bad
