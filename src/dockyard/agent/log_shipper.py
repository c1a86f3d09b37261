"""Ships the output of ``awslogs`` containers to the server's CloudWatch Logs, over the push channel.

```
follow(task, container) ─▶ per container, a reading side and a sender around one Batcher (one lock):
   cursor ◀── <data>/logs/<docker id>.json (where the last acknowledged batch ended; Cursor.START if none)
   reader thread: runtime.follow_logs(id, since=cursor's second) ─▶ Replay skips lines already shipped
      ─▶ a small queue of lines (a hand-over: Docker's own log file is the buffer)
   framer thread: LineFramer (multiline, datetime format) ─▶ Batcher.add
      blocking:     waits while Batcher.backlogged, so the queue fills and the reader pauses; nothing drops
      non-blocking: never waits for the server; the Batcher drops the newest event beyond max-buffer-size
                    (DropWarnings: a warning at once, then at most one a minute, and a total at the end)
   sender thread: Batcher.take, a due batch in the log's order ─▶ send(PutLogEventsRequest with each event's
      position) until acknowledged ─▶ that batch's cursor saved (atomic) ─▶ the next batch
   the log ends (the container stopped): the open event is flushed, the rest sent, the cursor marked done
   close(): reading stops; what was read is flushed and sent once, without retries; nothing marked done
```

The server stores each line at most once (by its position: Docker's timestamp in ns, then its place among
lines of that timestamp), so anything without an ack is simply sent again: after a lost connection, an
agent restart (the cursor file says where to re-read from), or a server restart. The cursor only saves
re-reading; losing it costs a re-read of the whole log, never a duplicate. Batches leave the Batcher one at
a time, from its front, and the next is taken only once the last is acknowledged, so saved cursors only move
forward. Events dropped in non-blocking mode are lost by design (the cursor moves past them with the next
acknowledged batch); those read again after a restart get another chance.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from dockyard.agent.awslogs import (
    AwslogsOptions,
    Batch,
    Batcher,
    Cursor,
    DockerLine,
    DropWarnings,
    LineFramer,
    LogEvent,
    Replay,
)
from dockyard.agent.runtime import ContainerRuntime, ContainerRuntimeError

log = logging.getLogger("dockyard.agent.logs")

SendLogs = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""A ``PutLogEventsRequest`` out, its ``PutLogEventsAck`` back (None: not connected or no answer)."""
RETRY_S = 1.0
QUEUE_LINES = 1_000
"""Lines read and not yet framed: a hand-over between two threads, not a buffer (Docker's log file is)."""
POLL_S = 0.5
"""How often a thread waiting for lines or for room looks whether shipping stops."""
ORDINAL_SPAN = 1 << 32
"""An event's ordinal: the lines of its timestamp before it, times this, plus the bytes of a split
line already sent."""
_END = None
"""In the queue of lines: the log ended (the container stopped, or it could not be read)."""


def position(cursor: Cursor) -> list[int]:
    """The server's position of the event after which the log stands at ``cursor``."""
    return [cursor.timestamp_ns, cursor.count * ORDINAL_SPAN + cursor.offset]


class _Buffer:
    """One container's Batcher between its framer and its sender, behind one lock (awslogs.py has no
    threads). The framer adds, in blocking mode only once the Batcher has room; the sender waits until a
    batch is due, or the log is over (then whatever waits is due at once)."""

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self._lock = threading.Lock()
        self._batch_due = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._over = False
        self.complete = False
        """Whether the log ended (the container stopped), rather than shipping being stopped."""

    def add(self, events: list[LogEvent], now: float, stop: threading.Event) -> tuple[int, int]:
        """Queue ``events`` (blocking mode: once the Batcher is no longer backlogged, or ``stop`` is set);
        the events and bytes non-blocking mode has dropped so far."""
        with self._lock:
            if events:
                while self._batcher.backlogged and not stop.is_set():
                    self._room.wait()
                idle = self._batcher.pending_events == 0
                self._batcher.add_all(events, now)
                if idle or self._batcher.due(now):  # a new deadline, or a batch due at once
                    self._batch_due.notify()
            return self._batcher.dropped_events, self._batcher.dropped_bytes

    def end(self, *, complete: bool) -> None:
        """No more events come: whatever waits is due now."""
        with self._lock:
            self._over, self.complete = True, complete
            self._batch_due.notify()

    def wake(self) -> None:
        """Shipping stops: a framer waiting for room goes on."""
        with self._lock:
            self._room.notify_all()

    def next_batch(self) -> Batch | None:
        """The next batch in the log's order, once it is due; None once the log is over and all was taken."""
        with self._lock:
            while True:
                now = time.monotonic()
                batch = self._batcher.take(now, force=self._over)
                if batch is not None:
                    self._room.notify()
                    return batch
                if self._over:
                    return None
                deadline = self._batcher.deadline
                self._batch_due.wait(None if deadline is None else max(0.0, deadline - now))


class LogShipper:
    """Follows the ``awslogs`` containers it is told of; see the module docstring."""

    def __init__(
        self, runtime: ContainerRuntime, directory: Path, send: SendLogs, *, retry_s: float = RETRY_S
    ) -> None:
        self._runtime = runtime
        self._directory = directory
        self._send = send
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._shipments: dict[str, tuple[threading.Thread, _Buffer]] = {}
        self._lock = threading.Lock()

    def follow(
        self,
        docker_id: str,
        options: AwslogsOptions,
        *,
        task_arn: str,
        container_name: str,
    ) -> None:
        """Ship the container's output (once per container: a second call while it ships is a no-op)."""
        with self._lock:
            running = self._shipments.get(docker_id)
            if running is not None and running[0].is_alive():
                return
            task_id = task_arn.rsplit("/", 1)[-1]
            request = {
                "taskArn": task_arn,
                "containerName": container_name,
                "logGroupName": options.group,
                "logStreamName": options.stream_name(container_name, task_id, docker_id),
                "createGroup": options.create_group,
                "region": options.region,
            }
            buffer = _Buffer(Batcher(mode=options.mode, max_buffer_bytes=options.max_buffer_bytes))
            thread = threading.Thread(
                target=self._ship,
                args=(docker_id, options, request, buffer),
                name=f"logs-{docker_id[:12]}",
                daemon=True,
            )
            self._shipments[docker_id] = (thread, buffer)
        thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop following. What was read is flushed and sent, once (what gets no ack is read again from the
        cursor at the next start); waits ``timeout_s`` at most, in all."""
        self._stop.set()
        with self._lock:
            shipments = list(self._shipments.values())
        for _, buffer in shipments:
            buffer.wake()
        deadline = time.monotonic() + timeout_s
        for thread, _ in shipments:
            thread.join(max(0.0, deadline - time.monotonic()))

    def shipping(self, docker_id: str) -> bool:
        with self._lock:
            shipment = self._shipments.get(docker_id)
        return shipment is not None and shipment[0].is_alive()

    # --- one container: the sender, the framer, the reader ------------------------------------------------

    def _ship(
        self, docker_id: str, options: AwslogsOptions, request: dict[str, Any], buffer: _Buffer
    ) -> None:
        """The container's sender: starts its reading side, then sends each batch until acknowledged."""
        cursor = self._load(docker_id)
        lines: queue.Queue[DockerLine | None] = queue.Queue(maxsize=QUEUE_LINES)
        framer = LineFramer(options.start_pattern(), cursor=cursor)
        short = docker_id[:12]
        read_args = (docker_id, cursor, lines)
        threading.Thread(target=self._read, args=read_args, name=f"logs-read-{short}", daemon=True).start()
        frame_args = (docker_id, options, lines, framer, buffer)
        threading.Thread(target=self._frame, args=frame_args, name=f"logs-frame-{short}", daemon=True).start()
        while (batch := buffer.next_batch()) is not None:
            if not self._deliver(docker_id, request, batch):
                return
        if buffer.complete:
            self._finished(docker_id)

    def _frame(
        self,
        docker_id: str,
        options: AwslogsOptions,
        lines: queue.Queue[DockerLine | None],
        framer: LineFramer,
        buffer: _Buffer,
    ) -> None:
        """Lines to events into the buffer until the log ends or shipping stops; then the rest, flushed.
        The buffer is ended whatever happens, so the sender never waits for a framer that is gone."""
        complete = False
        try:
            complete = self._frame_until_end(docker_id, options, lines, framer, buffer)
            now = time.monotonic()
            # Stopping: the lines already read go too (fed at once, the flush below closes any open event).
            rest = [] if complete else [e for line in _queued(lines) for e in framer.feed(line, now)]
            dropped = buffer.add(rest + framer.flush(), now, self._stop)
            if dropped[0]:
                log.warning(
                    "logs of %s: %d events (%d bytes) dropped in all while the buffer was full (%s)",
                    docker_id[:12],
                    *dropped,
                    "its log ended" if complete else "shipping stopped",
                )
        finally:
            buffer.end(complete=complete)

    def _frame_until_end(
        self,
        docker_id: str,
        options: AwslogsOptions,
        lines: queue.Queue[DockerLine | None],
        framer: LineFramer,
        buffer: _Buffer,
    ) -> bool:
        """Feed lines until the log ends (True) or shipping stops (False), warning of drops as they happen."""
        warnings = DropWarnings()
        while not self._stop.is_set():
            deadline = framer.deadline
            wait = POLL_S if deadline is None else max(0.0, deadline - time.monotonic())
            events: list[LogEvent] = []
            try:
                line = lines.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                if line is _END:
                    return True
                events = framer.feed(line, time.monotonic())
            now = time.monotonic()
            dropped = buffer.add(events + framer.expire(now), now, self._stop)
            report = warnings.check(*dropped, now)
            if report is not None:
                log.warning(
                    "logs of %s: %d events (%d bytes) dropped, the buffer (max-buffer-size %d bytes) full: "
                    "the server takes them slower than the container writes them (mode=non-blocking)",
                    docker_id[:12],
                    *report,
                    options.max_buffer_bytes,
                )
        return False

    def _read(self, docker_id: str, cursor: Cursor, lines: queue.Queue[DockerLine | None]) -> None:
        """Docker's log from ``cursor`` on, without the lines shipped already, then _END once it ended."""
        replay = Replay(cursor)
        try:
            for line in self._runtime.follow_logs(docker_id, cursor.since_seconds, self._stop):
                if not replay.skip(line.timestamp_ns) and not self._put(lines, line):
                    return
        except ContainerRuntimeError as exc:
            log.warning("reading the log of %s failed: %s", docker_id[:12], exc)
        self._put(lines, _END)

    def _put(self, lines: queue.Queue[DockerLine | None], item: DockerLine | None) -> bool:
        """Hand ``item`` to the framer once there is room (blocking mode: the reader pauses here); False when
        shipping stops first."""
        while not self._stop.is_set():
            try:
                lines.put(item, timeout=POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _deliver(self, docker_id: str, request: Mapping[str, Any], batch: Batch) -> bool:
        """Send ``batch`` until the server acknowledges it, then save its cursor; False when it got no ack
        and shipping stops (a stopping shipper sends once, without retrying)."""
        events = [
            {"timestamp": e.timestamp_ms, "message": e.message, "position": position(e.cursor)}
            for e in batch.events
        ]
        while True:
            answer = self._send({**request, "events": events})
            if answer is not None and "error" not in answer:
                self._save(docker_id, batch.cursor)
                return True
            if answer is not None:
                error = answer["error"]
                log.warning(
                    "logs of %s refused: %s: %s (retrying)",
                    docker_id[:12],
                    error.get("code"),
                    error.get("message"),
                )
            if self._stop.wait(self._retry_s):
                return False

    # --- cursors -----------------------------------------------------------------------------------------

    def _path(self, docker_id: str) -> Path:
        return self._directory / f"{docker_id}.json"

    def _load(self, docker_id: str) -> Cursor:
        try:
            data = json.loads(self._path(docker_id).read_text())
            return Cursor.from_dict(data["cursor"])
        except FileNotFoundError:
            return Cursor.START
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("log cursor of %s unreadable (%s): re-reading its whole log", docker_id[:12], exc)
            return Cursor.START

    def _save(self, docker_id: str, cursor: Cursor, *, done: bool = False) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._path(docker_id)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"cursor": cursor.to_dict(), "done": done}))
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)

    def _finished(self, docker_id: str) -> None:
        """The container's whole log is shipped: mark its cursor done (a restart does not follow it again)."""
        cursor = self._load(docker_id)
        self._save(docker_id, cursor, done=True)

    def done(self, docker_id: str) -> bool:
        """Whether the container's whole log was shipped (its container stopped and everything was acked)."""
        try:
            return bool(json.loads(self._path(docker_id).read_text()).get("done"))
        except (FileNotFoundError, ValueError):
            return False

    def forget(self, docker_id: str) -> None:
        """The container was removed: its cursor goes too."""
        self._path(docker_id).unlink(missing_ok=True)


def _queued(lines: queue.Queue[DockerLine | None]) -> Iterator[DockerLine]:
    """The lines waiting in ``lines`` now, up to the end of the log."""
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            return
        if line is _END:
            return
        yield line
