"""The agent's persisted state (``<data-dir>/agent-state.json``): who this host is to the control plane.

Written atomically — a temp file in the same directory, fsynced, renamed over the old file, then the
directory fsynced — so a crash at any instant leaves either the old state or the new one, never a torn file.
A file that does not parse is an error, not "no state": silently registering afresh would leave a second
instance for this host in the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_VERSION = 1


class StateError(ValueError):
    """The state file exists but cannot be read as agent state."""


@dataclass(frozen=True)
class AgentState:
    cluster: str
    container_instance_arn: str
    endpoint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "cluster": self.cluster,
            "containerInstanceArn": self.container_instance_arn,
            "endpoint": self.endpoint,
        }


class StateStore:
    """Loads and saves :class:`AgentState` at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> AgentState | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise StateError(f"{self.path}: unreadable agent state: {exc}") from exc
        if not isinstance(body, dict):
            raise StateError(f"{self.path}: unreadable agent state: not a JSON object")
        if body.get("version") != STATE_VERSION:
            raise StateError(f"{self.path}: unsupported agent state version {body.get('version')!r}")
        cluster, arn = body.get("cluster"), body.get("containerInstanceArn")
        if not isinstance(cluster, str) or not isinstance(arn, str) or not cluster or not arn:
            raise StateError(f"{self.path}: agent state lacks cluster or containerInstanceArn")
        return AgentState(cluster=cluster, container_instance_arn=arn, endpoint=str(body.get("endpoint", "")))

    def save(self, state: AgentState) -> None:
        write_atomically(self.path, json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: readers see the old or the new content, even across a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
