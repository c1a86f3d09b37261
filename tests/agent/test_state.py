"""The agent's state file: round trip, atomic replacement, and refusing a file it cannot read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.agent.state import AgentState, StateError, StateStore, write_atomically

ARN = "arn:aws:ecs:us-east-1:000000000000:container-instance/web/" + "a" * 32


def test_missing_file_is_no_state(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "agent-state.json").load() is None


def test_round_trip_creates_the_directory(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "new" / "dir" / "agent-state.json")
    saved = AgentState(cluster="web", container_instance_arn=ARN, endpoint="http://127.0.0.1:4566")
    store.save(saved)
    assert store.load() == saved
    body = json.loads(store.path.read_text())
    assert body == {
        "version": 1,
        "cluster": "web",
        "containerInstanceArn": ARN,
        "endpoint": "http://127.0.0.1:4566",
    }


def test_save_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "agent-state.json")
    store.save(AgentState("web", ARN))
    store.save(AgentState("api", ARN.replace("web", "api")))
    assert store.load() == AgentState("api", ARN.replace("web", "api"))
    assert [p.name for p in tmp_path.iterdir()] == ["agent-state.json"]


def test_a_failed_write_keeps_the_old_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(tmp_path / "agent-state.json")
    store.save(AgentState("web", ARN))

    def broken_fsync(_fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        store.save(AgentState("other", ARN))
    monkeypatch.undo()
    assert store.load() == AgentState("web", ARN)
    assert [p.name for p in tmp_path.iterdir()] == ["agent-state.json"]


def test_write_is_fsynced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync = os.fsync
    real_replace = Path.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(self: Path, target: Path) -> Path:
        events.append("rename")
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    write_atomically(tmp_path / "f.json", "{}")
    assert events == ["fsync", "rename", "fsync"]  # file, rename, then the directory


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"version": 99, "cluster": "web", "containerInstanceArn": "x"}',
        '{"version": 1, "cluster": "web"}',
    ],
)
def test_unreadable_state_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "agent-state.json"
    path.write_text(text)
    with pytest.raises(StateError):
        StateStore(path).load()
