"""The agent's awslogs shipper with a fake runtime and a fake push channel (no Docker): non-blocking mode
reads on while the server is away and drops the newest events beyond max-buffer-size, blocking mode pauses
and loses nothing, close sends what was read, and every acknowledged line is sent once."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.awslogs import AwslogsOptions, Cursor, DockerLine
from dockyard.agent.fake_runtime import FakeRuntime
from dockyard.agent.log_shipper import QUEUE_LINES, LogShipper
from tests.polling import wait_until

S = 1_000_000_000
T0 = 1_700_000_000 * S
DOCKER_ID = "c" * 64
TASK_ARN = "arn:aws:ecs:us-east-1:000000000000:task/logs/0123456789abcdef"
BUFFER_BYTES = 100
LINE_BYTES = 9  # "line 0042"
FIT = BUFFER_BYTES // LINE_BYTES
"""How many lines the buffer holds."""
DEADLINE_S = 20.0


def _line(i: int) -> DockerLine:
    return DockerLine(T0 + i * 1_000, f"line {i:04d}")


class FollowedRuntime(FakeRuntime):
    """``follow_logs`` as Docker follows a running container: the lines a test writes, as it writes them,
    until it ends the log (or shipping stops)."""

    def __init__(self) -> None:
        super().__init__()
        self._written: list[DockerLine] = []
        self._ended = False
        self._changed = threading.Condition()
        self.read = 0
        """Lines the shipper has taken from the log (each counted once it came back for the next)."""

    def write(self, *lines: DockerLine) -> None:
        with self._changed:
            self._written += lines
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def follow_logs(self, container_id: str, since_s: int, stop: threading.Event) -> Iterator[DockerLine]:
        index = 0
        while True:
            with self._changed:
                while index == len(self._written) and not self._ended and not stop.is_set():
                    self._changed.wait(0.05)
                if stop.is_set() or index == len(self._written):
                    return
                line = self._written[index]
            index += 1
            if line.timestamp_ns >= since_s * S:
                yield line
                with self._changed:
                    self.read += 1


class FakeServer:
    """The push channel's ``send``: every event acknowledged is kept (no deduplication, so a resend of an
    acknowledged batch would show); while down, None, as when not connected."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.attempts = 0
        self._up = True
        self._lock = threading.Lock()

    def set_up(self, up: bool) -> None:
        with self._lock:
            self._up = up

    def send(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self.attempts += 1
            if not self._up:
                return None
            self.stored += [event["message"] for event in request["events"]]
            return {"stored": len(request["events"]), "duplicates": 0}


@pytest.fixture
def runtime() -> FollowedRuntime:
    return FollowedRuntime()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def shipper(runtime: FollowedRuntime, server: FakeServer, tmp_path: Path) -> Iterator[LogShipper]:
    shipper = LogShipper(runtime, tmp_path, server.send, retry_s=0.01)
    yield shipper
    shipper.close()


def _follow(shipper: LogShipper, **options: Any) -> None:
    shipper.follow(
        DOCKER_ID,
        AwslogsOptions(group="/ecs/web", stream_prefix="p", **options),
        task_arn=TASK_ARN,
        container_name="web",
    )


def _saved(directory: Path) -> tuple[Cursor, bool]:
    data = json.loads((directory / f"{DOCKER_ID}.json").read_text())
    return Cursor.from_dict(data["cursor"]), bool(data["done"])


def _drop_records(caplog: pytest.LogCaptureFixture, marker: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "dockyard.agent.logs" and marker in r.msg]


def test_non_blocking_reads_on_while_the_server_is_down_and_drops_the_newest(
    shipper: LogShipper,
    runtime: FollowedRuntime,
    server: FakeServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dockyard.agent.logs")
    server.set_up(False)
    lines = [_line(i) for i in range(3 * QUEUE_LINES)]
    _follow(shipper, mode="non-blocking", max_buffer_bytes=BUFFER_BYTES)
    runtime.write(*lines)
    runtime.end()

    # Nothing can be sent, yet the whole log is read to its end (blocking mode would stop at the queue).
    wait_until(
        lambda: bool(_drop_records(caplog, "in all")), deadline_s=DEADLINE_S, what="the log read to its end"
    )
    assert runtime.read == len(lines)
    assert server.stored == []
    (total,) = _drop_records(caplog, "in all")
    assert total.levelno == logging.WARNING
    _, dropped_events, dropped_bytes, _ = total.args  # type: ignore[misc]
    assert dropped_bytes == dropped_events * LINE_BYTES
    kept = len(lines) - dropped_events
    # What fits: the buffer, and the one batch taken from it before the server could answer.
    assert FIT <= kept <= 2 * FIT
    assert _drop_records(caplog, "dropped, the buffer")  # warned of at once, while it happened

    server.set_up(True)
    wait_until(lambda: shipper.done(DOCKER_ID), deadline_s=DEADLINE_S, what="the rest shipped")
    numbers = [int(message.split()[1]) for message in server.stored]
    assert len(numbers) == kept
    assert numbers == sorted(set(numbers))  # in the log's order, none twice
    assert server.stored[:FIT] == [line.text for line in lines[:FIT]]  # the oldest kept, the newest dropped
    assert _saved(tmp_path) == (Cursor(lines[numbers[-1]].timestamp_ns, 1), True)


def test_blocking_pauses_the_reader_and_loses_nothing(
    shipper: LogShipper,
    runtime: FollowedRuntime,
    server: FakeServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dockyard.agent.logs")
    server.set_up(False)
    lines = [_line(i) for i in range(3 * QUEUE_LINES)]
    _follow(shipper, mode="blocking", max_buffer_bytes=BUFFER_BYTES)
    runtime.write(*lines)
    runtime.end()

    # Fifty retries later, the reader has stopped where the queue filled behind the backlogged Batcher.
    wait_until(lambda: server.attempts >= 50, deadline_s=DEADLINE_S, what="the sender retrying")
    # The queue, the Batcher up to backlogged, the batch being sent, the line the framer holds.
    assert QUEUE_LINES <= runtime.read <= QUEUE_LINES + 2 * (FIT + 1) + 1
    assert server.stored == []

    server.set_up(True)
    wait_until(lambda: shipper.done(DOCKER_ID), deadline_s=DEADLINE_S, what="the whole log shipped")
    assert server.stored == [line.text for line in lines]
    assert _saved(tmp_path) == (Cursor(lines[-1].timestamp_ns, 1), True)
    assert not _drop_records(caplog, "dropped")


def test_close_sends_what_was_read_and_a_restart_resumes_after_it(
    shipper: LogShipper, runtime: FollowedRuntime, server: FakeServer, tmp_path: Path
) -> None:
    runtime.write(DockerLine(T0, "S one"), DockerLine(T0 + 1, "  two"))
    _follow(shipper, multiline_pattern="^S")
    wait_until(lambda: runtime.read == 2, deadline_s=DEADLINE_S, what="both lines read")

    shipper.close()  # the container still runs: its open event is flushed and sent
    assert server.stored == ["S one\n  two\n"]
    assert not shipper.shipping(DOCKER_ID)
    assert _saved(tmp_path) == (Cursor(T0 + 1, 1), False)

    runtime.write(DockerLine(T0 + 2, "S three"))
    runtime.end()
    restarted = LogShipper(runtime, tmp_path, server.send, retry_s=0.01)
    try:
        _follow(restarted, multiline_pattern="^S")
        wait_until(lambda: restarted.done(DOCKER_ID), deadline_s=DEADLINE_S, what="the rest shipped")
    finally:
        restarted.close()
    assert server.stored == ["S one\n  two\n", "S three\n"]
    assert _saved(tmp_path) == (Cursor(T0 + 2, 1), True)


def test_close_gives_up_at_once_while_the_server_is_down(
    shipper: LogShipper, runtime: FollowedRuntime, server: FakeServer, tmp_path: Path
) -> None:
    server.set_up(False)
    runtime.write(_line(0))
    _follow(shipper)
    wait_until(lambda: server.attempts >= 2, deadline_s=DEADLINE_S, what="the sender retrying")

    shipper.close(timeout_s=DEADLINE_S)
    assert not shipper.shipping(DOCKER_ID)
    assert server.stored == []
    assert not (
        tmp_path / f"{DOCKER_ID}.json"
    ).exists()  # nothing acknowledged: the next start re-reads it all
