"""Ships the output of ``awslogs`` containers to the server's CloudWatch Logs, over the push channel.

```
follow(task, container) ─▶ one thread per container:
   cursor ◀── <data>/logs/<docker id>.json (where the last acknowledged batch ended; Cursor.START if none)
   reader thread: runtime.follow_logs(id, since=cursor's second) ─▶ Replay skips lines already shipped
      ─▶ a bounded queue (blocking mode: a full queue pauses the reader; Docker's log file is the buffer)
   shipper: LineFramer (multiline, datetime format) ─▶ Batcher (10,000 events, 1 MB, 24 h, flush interval)
      ─▶ send(PutLogEventsRequest with each event's position) until acknowledged ─▶ cursor saved (atomic)
   the container stopped: its log ends, the rest is flushed and sent, the thread ends
```

The server stores each line at most once (by its position: Docker's timestamp in ns, then its place among
lines of that timestamp), so anything without an ack is simply sent again: after a lost connection, an
agent restart (the cursor file says where to re-read from), or a server restart. The cursor only saves
re-reading; losing it costs a re-read of the whole log, never a duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dockyard.agent.awslogs import AwslogsOptions, Batch, Batcher, Cursor, DockerLine, LineFramer, Replay
from dockyard.agent.runtime import ContainerRuntime, ContainerRuntimeError

log = logging.getLogger("dockyard.agent.logs")

SendLogs = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""A ``PutLogEventsRequest`` out, its ``PutLogEventsAck`` back (None: not connected or no answer)."""
RETRY_S = 1.0
QUEUE_LINES = 20_000
ORDINAL_SPAN = 1 << 32
"""An event's ordinal: the lines of its timestamp before it, times this, plus the bytes of a split
line already sent."""
_END = None


def position(cursor: Cursor) -> list[int]:
    """The server's position of the event after which the log stands at ``cursor``."""
    return [cursor.timestamp_ns, cursor.count * ORDINAL_SPAN + cursor.offset]


class LogShipper:
    """Follows the ``awslogs`` containers it is told of; see the module docstring."""

    def __init__(self, runtime: ContainerRuntime, directory: Path, send: SendLogs) -> None:
        self._runtime = runtime
        self._directory = directory
        self._send = send
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
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
            running = self._threads.get(docker_id)
            if running is not None and running.is_alive():
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
            thread = threading.Thread(
                target=self._ship,
                args=(docker_id, options, request),
                name=f"logs-{docker_id[:12]}",
                daemon=True,
            )
            self._threads[docker_id] = thread
        thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout_s)

    def shipping(self, docker_id: str) -> bool:
        with self._lock:
            thread = self._threads.get(docker_id)
        return thread is not None and thread.is_alive()

    # --- one container ---------------------------------------------------------------------------------

    def _ship(self, docker_id: str, options: AwslogsOptions, request: dict[str, Any]) -> None:
        cursor = self._load(docker_id)
        lines: queue.Queue[DockerLine | None] = queue.Queue(maxsize=QUEUE_LINES)
        reader = threading.Thread(
            target=self._read,
            args=(docker_id, cursor, lines),
            name=f"logs-read-{docker_id[:12]}",
            daemon=True,
        )
        reader.start()
        framer = LineFramer(options.start_pattern(), cursor=cursor)
        batcher = Batcher(mode=options.mode, max_buffer_bytes=options.max_buffer_bytes)
        ended = False
        while not self._stop.is_set():
            now = time.monotonic()
            deadlines = [d for d in (framer.deadline, batcher.deadline) if d is not None]
            wait = max(0.0, min(deadlines) - now) if deadlines else 0.5
            try:
                line = lines.get(timeout=wait) if not ended else _END
            except queue.Empty:
                line, now = None, time.monotonic()
            else:
                now = time.monotonic()
                if line is _END:
                    ended = True
                else:
                    batcher.add_all(framer.feed(line, now), now)
            batcher.add_all(framer.expire(now), now)
            if ended:
                batcher.add_all(framer.flush(), now)
            while (batch := batcher.take(now, force=ended)) is not None:
                if not self._deliver(docker_id, request, batch):
                    return
            if ended and batcher.pending_events == 0:
                self._finished(docker_id)
                return

    def _read(self, docker_id: str, cursor: Cursor, lines: queue.Queue[DockerLine | None]) -> None:
        replay = Replay(cursor)
        try:
            for line in self._runtime.follow_logs(docker_id, cursor.since_seconds, self._stop):
                if not replay.skip(line.timestamp_ns):
                    lines.put(line)
        except ContainerRuntimeError as exc:
            log.warning("reading the log of %s failed: %s", docker_id[:12], exc)
        finally:
            lines.put(_END)

    def _deliver(self, docker_id: str, request: Mapping[str, Any], batch: Batch) -> bool:
        """Send ``batch`` until the server acknowledges it, then save its cursor; False when stopping."""
        events = [
            {"timestamp": e.timestamp_ms, "message": e.message, "position": position(e.cursor)}
            for e in batch.events
        ]
        while not self._stop.is_set():
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
            self._stop.wait(RETRY_S)
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
