"""The task engine's memory of its tasks, and how it is persisted (``store_path``, JSON written atomically).

Plain mutable records: the engine guards them with its lock. What survives a restart is what the engine
cannot learn again from Docker: the payload, the desired status, each container's metadata token and name
suffix, and what has been reported. Docker ids are kept too, but containers are found again by their labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dockyard.agent.runtime import ContainerState
from dockyard.agent.state import write_atomically
from dockyard.core.agent_protocol import DESIRED_RUNNING, DESIRED_STOPPED, TaskPayload

STORE_VERSION = 1
PENDING, RUNNING, STOPPED = "PENDING", "RUNNING", "STOPPED"
MAX_FORGOTTEN = 10_000
"""How many cleaned-up task ARNs are remembered, so a payload sent again cannot run a task twice."""


class TaskStoreError(ValueError):
    """The task store exists but cannot be read."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass
class ContainerRecord:
    name: str
    definition: dict[str, Any]
    token: str
    """The ``<id>`` of the container's metadata URI."""
    name_suffix: str
    """The random end of its Docker name: a container created twice would clash on its name."""
    docker_id: str | None = None
    docker_name: str | None = None
    status: str = PENDING
    started: bool = False
    exit_code: int | None = None
    reason: str | None = None
    failed: bool = False
    """It could not be pulled, created or started."""
    bindings: list[dict[str, Any]] = field(default_factory=list)
    image_id: str | None = None
    image_digest: str | None = None
    """The manifest digest of the image it runs, as the registry served it."""
    state: ContainerState | None = None
    """The last inspection (not persisted)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "token": self.token,
            "nameSuffix": self.name_suffix,
            "dockerId": self.docker_id,
            "dockerName": self.docker_name,
            "status": self.status,
            "started": self.started,
            "exitCode": self.exit_code,
            "reason": self.reason,
            "failed": self.failed,
            "bindings": self.bindings,
            "imageId": self.image_id,
            "imageDigest": self.image_digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], definition: dict[str, Any]) -> ContainerRecord:
        return cls(
            name=str(data["name"]),
            definition=definition,
            token=str(data["token"]),
            name_suffix=str(data["nameSuffix"]),
            docker_id=data.get("dockerId"),
            docker_name=data.get("dockerName"),
            status=str(data.get("status", PENDING)),
            started=bool(data.get("started", False)),
            exit_code=data.get("exitCode"),
            reason=data.get("reason"),
            failed=bool(data.get("failed", False)),
            bindings=list(data.get("bindings") or []),
            image_id=data.get("imageId"),
            image_digest=data.get("imageDigest"),
        )


@dataclass
class TaskRecord:
    arn: str
    payload: dict[str, Any]
    desired: str
    containers: dict[str, ContainerRecord]
    status: str = PENDING
    stop_reason: str | None = None
    """The reason to report once STOPPED (``None``: the server's, e.g. StopTask's)."""
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None
    pause_name_suffix: str = ""
    """awsvpc: the random end of the pause container's Docker name."""
    pause_id: str | None = None
    """awsvpc: the pause container owning the task's network namespace (never reported to the server)."""

    @classmethod
    def new(cls, payload: TaskPayload, tokens: Mapping[str, tuple[str, str]]) -> TaskRecord:
        """A task first seen; ``tokens``: container name → (metadata token, name suffix)."""
        definitions = [dict(d) for d in payload.get("containers") or ()]
        containers = {
            str(d["name"]): ContainerRecord(str(d["name"]), d, *tokens[str(d["name"])]) for d in definitions
        }
        desired = DESIRED_STOPPED if payload.get("desiredStatus") == DESIRED_STOPPED else DESIRED_RUNNING
        return cls(str(payload["taskArn"]), dict(payload), desired, containers)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": self.payload,
            "desired": self.desired,
            "status": self.status,
            "stopReason": self.stop_reason,
            "pullStartedAt": _time(self.pull_started_at),
            "pullStoppedAt": _time(self.pull_stopped_at),
            "executionStoppedAt": _time(self.execution_stopped_at),
            "containers": [c.to_json() for c in self.containers.values()],
            "pauseNameSuffix": self.pause_name_suffix,
            "pauseId": self.pause_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskRecord:
        payload = dict(data["payload"])
        definitions = {str(d["name"]): dict(d) for d in payload.get("containers") or ()}
        containers = {
            str(c["name"]): ContainerRecord.from_json(c, definitions.get(str(c["name"]), {"name": c["name"]}))
            for c in data.get("containers") or ()
        }
        return cls(
            arn=str(payload["taskArn"]),
            payload=payload,
            desired=str(data.get("desired", DESIRED_RUNNING)),
            containers=containers,
            status=str(data.get("status", PENDING)),
            stop_reason=data.get("stopReason"),
            pull_started_at=_parse_time(data.get("pullStartedAt")),
            pull_stopped_at=_parse_time(data.get("pullStoppedAt")),
            execution_stopped_at=_parse_time(data.get("executionStoppedAt")),
            pause_name_suffix=str(data.get("pauseNameSuffix") or ""),
            pause_id=data.get("pauseId"),
        )


def dump_store(tasks: Mapping[str, TaskRecord], forgotten: Mapping[str, str]) -> str:
    body = {
        "version": STORE_VERSION,
        "tasks": [task.to_json() for task in tasks.values()],
        "forgotten": dict(forgotten),
    }
    return json.dumps(body, separators=(",", ":"), default=str) + "\n"


def load_store(path: Path) -> tuple[dict[str, TaskRecord], dict[str, str]]:
    """(tasks by ARN, forgotten task ARN → when) from ``path``; empty when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, {}
    try:
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("version") != STORE_VERSION:
            raise TaskStoreError(f"{path}: unsupported task store version")
        tasks = [TaskRecord.from_json(t) for t in body.get("tasks") or ()]
        forgotten = {str(k): str(v) for k, v in (body.get("forgotten") or {}).items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise TaskStoreError(f"{path}: unreadable task store: {exc}") from exc
    return {task.arn: task for task in tasks}, forgotten


def save_store(path: Path, text: str) -> None:
    write_atomically(path, text)
