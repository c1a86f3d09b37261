"""A fake agent for tests against a real server: a real :class:`PushChannel` in a thread, driving a
handler that only records what it is told. Placement needs a connected agent, so tests that run tasks
connect one to each instance they register."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.credentials import Credentials

from dockyard.agent.channel import PushChannel
from dockyard.core.agent_protocol import TaskPayload
from tests.integration.conftest import REGION, Keys, ServerProcess, make_client
from tests.polling import wait_until

CONNECT_DEADLINE_S = 15.0


@dataclass
class RecordingHandler:
    """Records payloads; ``fail_applies`` makes that many ``apply`` calls fail first (no ack)."""

    local_tasks: set[str] = field(default_factory=set)
    fail_applies: int = 0
    payloads: list[list[TaskPayload]] = field(default_factory=list)
    stopped: list[tuple[list[str], str]] = field(default_factory=list)
    manifests: int = 0
    """How many task manifests arrived (the channel asks for the local tasks on each)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, tasks: Sequence[TaskPayload]) -> None:
        with self.lock:
            self.payloads.append(list(tasks))
            if self.fail_applies > 0:
                self.fail_applies -= 1
                raise RuntimeError("cannot persist (test)")

    def active_task_arns(self) -> set[str]:
        with self.lock:
            self.manifests += 1
            return set(self.local_tasks)

    def stop_tasks(self, task_arns: Sequence[str], reason: str) -> None:
        with self.lock:
            self.stopped.append((list(task_arns), reason))

    def received(self, task_arn: str, desired_status: str | None = None) -> list[TaskPayload]:
        """Every payload received for ``task_arn`` (with ``desired_status``, if given), in order."""
        with self.lock:
            return [
                task
                for batch in self.payloads
                for task in batch
                if task["taskArn"] == task_arn
                and (desired_status is None or task["desiredStatus"] == desired_status)
            ]


@dataclass
class FakeAgent:
    channel: PushChannel
    handler: RecordingHandler
    stop: threading.Event
    thread: threading.Thread

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the push channel did not stop"


def agent_connected(ecs: Any, cluster: str, instance_arn: str) -> bool:
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance_arn])
    return bool(described["containerInstances"][0]["agentConnected"])


def start_agent(
    server: ServerProcess,
    keys: Keys,
    cluster_arn: str,
    instance_arn: str,
    handler: RecordingHandler | None = None,
    *,
    wait: bool = True,
) -> FakeAgent:
    """Open a push channel for ``instance_arn``; with ``wait``, return once the server sees the agent
    connected."""
    handler = handler or RecordingHandler()
    stop = threading.Event()
    channel = PushChannel(
        endpoint_url=server.endpoint,
        cluster_arn=cluster_arn,
        container_instance_arn=instance_arn,
        credentials=Credentials(keys.access_key_id, keys.secret_access_key),
        region=REGION,
        handler=handler,
        stop=stop,
    )
    thread = threading.Thread(target=channel.run, name="fake-agent", daemon=True)
    thread.start()
    agent = FakeAgent(channel, handler, stop, thread)
    if wait:
        ecs = make_client(server, "ecs", keys)
        cluster = cluster_arn.rsplit("/", 1)[-1]
        try:
            wait_until(
                lambda: agent_connected(ecs, cluster, instance_arn),
                deadline_s=CONNECT_DEADLINE_S,
                what=f"agentConnected for {instance_arn}",
            )
        except BaseException:
            agent.close()
            raise
    return agent


class FakeAgents:
    """Fake agents that stop when the test ends."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack

    def connect(
        self, server: ServerProcess, keys: Keys, cluster_arn: str, instance_arn: str, **kwargs: Any
    ) -> FakeAgent:
        agent = start_agent(server, keys, cluster_arn, instance_arn, **kwargs)
        self._stack.callback(agent.close)
        return agent


@contextmanager
def fake_agents() -> Iterator[FakeAgents]:
    with ExitStack() as stack:
        yield FakeAgents(stack)
