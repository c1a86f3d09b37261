"""A task's output in CloudWatch Logs through the awslogs driver, as a new user meets it: a task definition
with ``logConfiguration.logDriver = awslogs`` on a real agent and the real Docker Engine, the lines read
back with boto3 (get-log-events, filter-log-events); every line exactly once across a kill -9 of the
agent in the middle of the output; in non-blocking mode, the agent reads on while the server is away and
keeps what fits its max-buffer-size."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
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
    wait_for_status,
)
from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, Keys, ServerProcess, free_port, make_client
from tests.integration.test_logs_api import Tail, logs_client
from tests.polling import wait_until

DEADLINE_S = 60.0
# 1,000 numbered lines: every 7th says ERROR, every 11th is JSON with a latency, every 13th says "x".
PRINT_1000 = (
    "i=1; while [ $i -le 1000 ]; do "
    'if [ $((i % 11)) -eq 0 ]; then echo "{\\"n\\": $i, \\"latency\\": $((i % 200))}"; '
    'elif [ $((i % 7)) -eq 0 ]; then echo "line $i ERROR a"; '
    'elif [ $((i % 13)) -eq 0 ]; then echo "line $i x b"; '
    'else echo "line $i"; fi; i=$((i + 1)); done; sleep 3600'
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_docker()
    base = tmp_path_factory.mktemp("awslogs")
    server = ServerProcess(base / "server")
    server.data_dir.mkdir()
    server.start()
    keys = Keys(ROOT_KEY_ID, ROOT_SECRET)
    ecs = make_client(server, "ecs", keys)
    cluster = ecs.create_cluster(clusterName=f"logs-{unique_suffix()}")["cluster"]
    image = push_busybox(server.endpoint, keys, base / "docker-config", f"busybox-{unique_suffix()}")
    agent = AgentProcess(server, keys, cluster["clusterName"], base / "agent")
    agent.start("--metadata-port", str(free_port()))
    try:
        wait_until(
            lambda: all_connected(ecs, cluster["clusterName"], agent), deadline_s=DEADLINE_S, what="the agent"
        )
        yield {
            "server": server,
            "ecs": ecs,
            "logs": logs_client(server, keys),
            "cluster": cluster["clusterName"],
            "image": image,
            "agent": agent,
        }
    finally:
        agent.stop()
        server.stop()
        remove_containers(CLUSTER_LABEL, cluster["clusterArn"])


def run(host: dict[str, Any], command: str, group: str, options: Mapping[str, str] | None = None) -> str:
    family = f"logs-{uuid.uuid4().hex[:6]}"
    host["ecs"].register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "web",
                "image": host["image"],
                "memory": 64,
                "command": ["sh", "-c", command],
                "stopTimeout": 1,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": group,
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "prefix",
                        "awslogs-create-group": "true",
                        **(options or {}),
                    },
                },
            }
        ],
    )
    (task,) = host["ecs"].run_task(cluster=host["cluster"], taskDefinition=family)["tasks"]
    return str(task["taskArn"])


def stream_of(task_arn: str) -> str:
    """ECS's stream name for the task's container ``web`` under the prefix ``prefix``."""
    return f"prefix/web/{task_arn.rsplit('/', 1)[-1]}"


def numbered_slowly(word: str, count: int) -> str:
    """A command printing ``<word> 1`` … ``<word> <count>``, 50 lines every 0.1 s, then sleeping."""
    return (
        f'i=1; while [ $i -le {count} ]; do echo "{word} $i"; [ $((i % 50)) -eq 0 ] && sleep 0.1; '
        "i=$((i + 1)); done; sleep 3600"
    )


def all_events(logs: Any, group: str, stream: str) -> list[str]:
    messages: list[str] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, **kwargs)
        messages += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def count_of(logs: Any, group: str, stream: str) -> int:
    try:
        return len(all_events(logs, group, stream))
    except logs.exceptions.ResourceNotFoundException:
        return 0


def filtered(logs: Any, group: str, pattern: str) -> list[str]:
    found: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern}
    while True:
        page = logs.filter_log_events(**kwargs)
        found += [e["message"] for e in page["events"]]
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def expected_line(i: int) -> str:
    if i % 11 == 0:
        return json.dumps({"n": i, "latency": i % 200})
    if i % 7 == 0:
        return f"line {i} ERROR a"
    if i % 13 == 0:
        return f"line {i} x b"
    return f"line {i}"


def test_a_tasks_1000_lines_in_order_and_filtered(host: dict[str, Any]) -> None:
    group = f"/ecs/{uuid.uuid4().hex[:8]}"
    task_arn = run(host, PRINT_1000, group)
    stream = stream_of(task_arn)
    logs = host["logs"]
    wait_until(lambda: count_of(logs, group, stream) >= 1000, deadline_s=DEADLINE_S, what="1,000 lines")
    lines = [expected_line(i) for i in range(1, 1001)]
    assert all_events(logs, group, stream) == lines

    assert filtered(logs, group, '"ERROR"') == [m for m in lines if "ERROR" in m]
    assert filtered(logs, group, "?a ?b") == [m for m in lines if "a" in m or "b" in m]
    assert filtered(logs, group, "line -x") == [m for m in lines if "line" in m and "x" not in m]
    assert filtered(logs, group, "{ $.latency > 100 }") == [
        m for m in lines if m.startswith("{") and json.loads(m)["latency"] > 100
    ]
    host["ecs"].stop_task(cluster=host["cluster"], task=task_arn)


def test_every_line_exactly_once_across_a_kill_9_of_the_agent(host: dict[str, Any]) -> None:
    ecs, agent, logs = host["ecs"], host["agent"], host["logs"]
    group = f"/ecs/{uuid.uuid4().hex[:8]}"
    task_arn = run(host, numbered_slowly("n", 3000), group)
    stream = stream_of(task_arn)
    wait_until(lambda: count_of(logs, group, stream) >= 200, deadline_s=DEADLINE_S, what="the first lines")

    agent.kill()  # while the task prints
    agent.start("--metadata-port", str(free_port()))
    wait_until(
        lambda: all_connected(ecs, host["cluster"], agent), deadline_s=DEADLINE_S, what="the agent back"
    )
    wait_until(lambda: count_of(logs, group, stream) >= 3000, deadline_s=90, what="all 3,000 lines")
    assert all_events(logs, group, stream) == [f"n {i}" for i in range(1, 3001)]
    ecs.stop_task(cluster=host["cluster"], task=task_arn)
    wait_for_status(ecs, host["cluster"], [task_arn], "STOPPED", deadline_s=DEADLINE_S, agents=[agent])


def test_live_tail_shows_a_running_tasks_new_lines_within_2_seconds(host: dict[str, Any]) -> None:
    logs = host["logs"]
    group = f"/ecs/{uuid.uuid4().hex[:8]}"
    task_arn = run(host, 'i=1; while true; do echo "tick $i"; i=$((i + 1)); sleep 0.5; done', group)
    stream = stream_of(task_arn)
    wait_until(lambda: count_of(logs, group, stream) >= 1, deadline_s=DEADLINE_S, what="the first tick")
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    tail = Tail(logs.start_live_tail(logGroupIdentifiers=[arn]))
    try:
        tail.next_event("sessionStart", deadline_s=10)
        results = tail.results_within(10, wanted=3)
        received_ms = time.time() * 1000
        assert len(results) >= 3 and all(r["message"].startswith("tick ") for r in results)
        assert received_ms - results[-1]["timestamp"] < 2000  # printed → in the tail within 2 s
    finally:
        tail.close()
        host["ecs"].stop_task(cluster=host["cluster"], task=task_arn)


def test_every_line_exactly_once_across_a_kill_9_of_the_server(host: dict[str, Any]) -> None:
    ecs, agent, server = host["ecs"], host["agent"], host["server"]
    group = f"/ecs/{uuid.uuid4().hex[:8]}"
    task_arn = run(host, numbered_slowly("m", 2000), group)
    stream = stream_of(task_arn)
    logs = host["logs"]
    wait_until(lambda: count_of(logs, group, stream) >= 100, deadline_s=DEADLINE_S, what="the first lines")

    server.kill()  # while the task prints: the agent keeps reading, and resends what got no answer
    server.start()
    wait_until(
        lambda: all_connected(ecs, host["cluster"], agent), deadline_s=DEADLINE_S, what="the agent back"
    )
    wait_until(lambda: count_of(logs, group, stream) >= 2000, deadline_s=90, what="all 2,000 lines")
    assert all_events(logs, group, stream) == [f"m {i}" for i in range(1, 2001)]
    ecs.stop_task(cluster=host["cluster"], task=task_arn)


def docker_state(docker_id: str) -> dict[str, Any]:
    (container,) = json.loads(
        subprocess.run(["docker", "inspect", docker_id], capture_output=True, text=True, check=True).stdout
    )
    return dict(container["State"])


def docker_log(docker_id: str) -> list[str]:
    """The container's own output, as Docker's json-file log kept it."""
    done = subprocess.run(["docker", "logs", docker_id], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def drop_total(agent: AgentProcess, docker_id: str) -> tuple[int, int] | None:
    """The events and bytes the agent says it dropped of the container's log once it read it to its end."""
    found = re.search(
        rf"logs of {docker_id[:12]}: (\d+) events \((\d+) bytes\) dropped in all .*its log ended", agent.log()
    )
    return None if found is None else (int(found.group(1)), int(found.group(2)))


def shipped_all(agent: AgentProcess, docker_id: str) -> bool:
    """The agent's cursor of the container is marked done: its whole log was acknowledged."""
    path = agent.data_dir / "logs" / f"{docker_id}.json"
    return path.exists() and bool(json.loads(path.read_text()).get("done"))


BUFFER_BYTES = 4096  # max-buffer-size 4k
WARM = 5
PRINTED = 20_000


def test_non_blocking_reads_on_while_the_server_is_down_and_keeps_what_fits(host: dict[str, Any]) -> None:
    ecs, agent, server, logs = host["ecs"], host["agent"], host["server"], host["logs"]
    group = f"/ecs/{uuid.uuid4().hex[:8]}"
    # A few lines; then, once /tmp/go exists, the rest as fast as sh prints them; then the container exits.
    command = (
        f'i=1; while [ $i -le {WARM} ]; do echo "n $i"; i=$((i + 1)); done; '
        "while [ ! -e /tmp/go ]; do sleep 0.1; done; "
        f'while [ $i -le {PRINTED} ]; do echo "n $i"; i=$((i + 1)); done'
    )
    task_arn = run(host, command, group, {"mode": "non-blocking", "max-buffer-size": "4k"})
    stream = stream_of(task_arn)
    wait_until(lambda: count_of(logs, group, stream) >= WARM, deadline_s=DEADLINE_S, what="the first lines")
    (container,) = containers(TASK_ARN_LABEL, task_arn)
    docker_id = container["Id"]

    server.kill()
    try:
        subprocess.run(
            ["docker", "exec", docker_id, "sh", "-c", ": > /tmp/go"], capture_output=True, check=True
        )
        # The container prints all its lines and exits while nothing can be shipped: nothing waited for it.
        wait_until(
            lambda: docker_state(docker_id)["Status"] == "exited",
            deadline_s=DEADLINE_S,
            what="the container done printing",
        )
        assert docker_state(docker_id)["ExitCode"] == 0
        assert docker_log(docker_id) == [f"n {i}" for i in range(1, PRINTED + 1)]
        # The agent read the log to its end meanwhile, dropping what did not fit: it says so, with counts.
        wait_until(
            lambda: drop_total(agent, docker_id) is not None, deadline_s=DEADLINE_S, what="the drops counted"
        )
    finally:
        server.start()
    totals = drop_total(agent, docker_id)
    assert totals is not None
    dropped, dropped_bytes = totals
    assert 0 < dropped < PRINTED - WARM

    wait_until(
        lambda: all_connected(ecs, host["cluster"], agent), deadline_s=DEADLINE_S, what="the agent back"
    )
    wait_until(lambda: shipped_all(agent, docker_id), deadline_s=90, what="the kept lines shipped")
    messages = all_events(logs, group, stream)
    numbers = [int(message.split()[1]) for message in messages]
    assert messages == [f"n {n}" for n in numbers]
    assert len(messages) == PRINTED - dropped  # every line read is stored or counted as dropped
    assert numbers == sorted(set(numbers))  # in order, none twice
    assert numbers[:WARM] == list(range(1, WARM + 1))
    later = [message for n, message in zip(numbers, messages, strict=True) if n > WARM]
    # What fits: the buffer, and at most one batch taken from it that got no answer.
    assert sum(len(m) for m in later) <= 2 * BUFFER_BYTES
    assert (
        sum(len(f"n {i}") for i in range(WARM + 1, PRINTED + 1)) == sum(len(m) for m in later) + dropped_bytes
    )
    # The newest were dropped: the oldest lines after the pause came first, the buffer full of them at least.
    run_length = next((k for k, n in enumerate(numbers[WARM:]) if n != WARM + 1 + k), len(later))
    assert sum(len(m) for m in later[:run_length]) > BUFFER_BYTES - len(f"n {PRINTED}")
