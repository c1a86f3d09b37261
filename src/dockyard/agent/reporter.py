"""Task state reports to the server: SubmitTaskStateChange, as the ECS agent sends them.

A :class:`TaskReport` is a full snapshot of one task (status, reason, every container's state), so only the
latest report of a task matters: :class:`ApiReporter` queues reports per task, a newer one replacing an
older one not yet sent, and one thread sends them in the order tasks first became due. Transport failures,
throttling and server faults are retried with jittered exponential backoff for as long as it takes (the
server may be down a while; a STOPPED is never dropped); a 4xx client error is logged and the report
dropped. ``close`` stops the thread promptly; reports still queued are lost, and the task engine reports
every known task again when it starts.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent.registration import Backoff, is_retryable

log = logging.getLogger("dockyard.agent.reporter")

TaskStatus = Literal["PENDING", "RUNNING", "STOPPING", "STOPPED"]
"""What the agent reports of a task: STOPPING while it stops the containers of a running task."""
MAX_REASON_LENGTH = 255
"""The ECS agent truncates reasons to this length."""


def _reason(reason: str | None) -> str | None:
    return None if reason is None else reason[:MAX_REASON_LENGTH]


@dataclass(frozen=True)
class ContainerChange:
    """One container in a report (botocore's ``ContainerStateChange``)."""

    container_name: str
    status: TaskStatus
    exit_code: int | None = None
    reason: str | None = None
    network_bindings: tuple[Mapping[str, Any], ...] = ()
    """ECS ``NetworkBinding`` shape: ``{bindIP, containerPort, hostPort, protocol}``."""
    runtime_id: str | None = None
    image_digest: str | None = None

    def to_api(self) -> dict[str, Any]:
        change: dict[str, Any] = {"containerName": self.container_name, "status": self.status}
        optional = {
            "exitCode": self.exit_code,
            "reason": _reason(self.reason),
            "runtimeId": self.runtime_id,
            "imageDigest": self.image_digest,
        }
        change.update({key: value for key, value in optional.items() if value is not None})
        if self.network_bindings:
            change["networkBindings"] = [dict(binding) for binding in self.network_bindings]
        return change


@dataclass(frozen=True)
class TaskReport:
    """The state of one task, as a whole (ECS sends states before RUNNING as PENDING)."""

    task_arn: str
    status: TaskStatus
    reason: str | None = None
    containers: tuple[ContainerChange, ...] = ()
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None

    def to_api(self, cluster: str) -> dict[str, Any]:
        """The keyword arguments of botocore's ``submit_task_state_change``."""
        params: dict[str, Any] = {
            "cluster": cluster,
            "task": self.task_arn,
            "status": self.status,
            "containers": [container.to_api() for container in self.containers],
        }
        optional = {
            "reason": _reason(self.reason),
            "pullStartedAt": self.pull_started_at,
            "pullStoppedAt": self.pull_stopped_at,
            "executionStoppedAt": self.execution_stopped_at,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        return params


class TaskReporter(Protocol):
    def submit(self, report: TaskReport) -> None:
        """Queue ``report`` for sending; never blocks on the network."""


class StateChangeClient(Protocol):
    def submit_task_state_change(self, **kwargs: Any) -> Mapping[str, Any]: ...


def should_retry(exc: BaseException) -> bool:
    """Connection errors, timeouts, throttling and 5xx: retry. Other client errors: give up."""
    if isinstance(exc, ClientError | BotoCoreError):
        return is_retryable(exc)
    return isinstance(exc, OSError)


class ApiReporter:
    """Sends reports with ``client.submit_task_state_change`` from its own thread."""

    def __init__(
        self,
        client: StateChangeClient,
        cluster: str,
        *,
        rng: Callable[[], float] = random.random,
        initial_backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._client = client
        self._cluster = cluster
        self._rng = rng
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._pending: dict[str, TaskReport] = {}
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="task-reporter", daemon=True)
        self._thread.start()

    def submit(self, report: TaskReport) -> None:
        with self._condition:
            if self._closed:
                log.warning("reporter closed: dropping %s report of %s", report.status, report.task_arn)
                return
            self._pending[report.task_arn] = report  # keeps its place in line if one was already queued
            self._condition.notify()

    def pending(self) -> list[TaskReport]:
        """Reports not sent yet (for tests and logs)."""
        with self._condition:
            return list(self._pending.values())

    def close(self, timeout_s: float = 5.0) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout_s)

    def _next(self) -> TaskReport | None:
        with self._condition:
            while not self._pending and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            return next(iter(self._pending.values()))

    def _run(self) -> None:
        backoff = Backoff(self._rng, initial_s=self._initial_backoff_s, maximum_s=self._max_backoff_s)
        while (report := self._next()) is not None:
            try:
                self._client.submit_task_state_change(**report.to_api(self._cluster))
            except Exception as exc:
                if not should_retry(exc):
                    log.error("server refused the %s report of %s: %s", report.status, report.task_arn, exc)
                    self._done(report)
                    continue
                delay = backoff.next_delay()
                log.warning(
                    "reporting %s of %s failed (%s); retrying in %.2f s",
                    report.status,
                    report.task_arn,
                    exc,
                    delay,
                )
                with self._condition:
                    self._condition.wait_for(lambda: self._closed, timeout=delay)
                continue
            backoff.reset()
            self._done(report)

    def _done(self, report: TaskReport) -> None:
        """Forget ``report`` unless a newer one of its task has arrived meanwhile."""
        with self._condition:
            if self._pending.get(report.task_arn) is report:
                del self._pending[report.task_arn]
