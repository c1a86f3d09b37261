"""Pure decisions of the agent's ``awslogs`` log shipping: options, stream names, framing Docker's log lines
into events, batching them for PutLogEvents, and the cursor that makes shipping resume without loss or
duplication. No I/O, no threads, no clock: every time is an argument (``now``, in seconds of a monotonic
clock; line timestamps in Docker's nanoseconds).

Flow (the I/O layer, ``log_shipper.py``, reads each container's Docker log stream on one side of the
Batcher and sends its batches on the other, so in non-blocking mode reading never waits for the server)::

    Docker lines ──Replay.skip──▶ LineFramer.feed/expire ──events──▶ Batcher.add ──▶ DropWarnings.check
                                                  (reading side)         │ due(now)
    persisted Cursor ◀── after PutLogEvents is acknowledged ── Batch ◀──┘ take(now)   (sending side)

What Docker's awslogs driver and ECS do, and so what this does:

- Options are ECS's ``logConfiguration.options``: ``awslogs-group`` is required, ``awslogs-stream-prefix``
  is required on Fargate (RegisterTaskDefinition's ClientException), unknown options are refused as Docker
  refuses them, ``awslogs-datetime-format`` and ``awslogs-multiline-pattern`` exclude each other.
- ``mode`` defaults to ``non-blocking``: ECS changed its default from blocking on 25 June 2025 (the
  ``defaultLogDriverMode`` account setting may say otherwise; the caller passes it). ``max-buffer-size``
  (ECS's default ``10m``) is parsed like Docker's ``RAMInBytes``: binary units, ``10m`` = 10 MiB.
- One Docker line is one event; empty lines are not sent. With a start pattern (a regular expression, or a
  strftime format translated with Docker's table) a line that matches starts a new event and the others
  are appended to the current one, each line followed by ``"\\n"`` as Docker writes them. The pattern is
  searched anywhere in the line, as Go's ``Regexp.Match`` does: anchor it with ``^`` to mean "starts with".
- Messages longer than an event may be (1 MB less the 26 bytes of overhead, so that one fits a batch) are
  split at UTF-8 character boundaries, every piece keeping the line's timestamp (Docker splits the same way
  at the older 256 KB limit it still has).
- Events of a batch are sorted by timestamp, equal timestamps keeping their order (Docker's sort). Docker
  timestamps can go backwards (stdout and stderr are stamped before they are serialised, the wall clock can
  step); reordering keeps each event's true time, where clamping would invent one. Across batches no order
  is needed since PutLogEvents stopped using sequence tokens.
- Non-blocking mode bounds the memory of events waiting to be sent to ``max-buffer-size`` bytes of messages
  and drops the NEWEST event that does not fit, as Docker's ring buffer drops the new message (an event
  larger than the whole buffer is still kept when nothing else waits). Unlike Docker, whole events are
  dropped after framing, so a stack trace is lost whole or not at all. The batch being sent has left the
  Batcher, so at most one batch more than the buffer is held. Blocking mode never drops: the reader pauses
  (``Batcher.backlogged``) and the lines wait in Docker's own log file. Drops are warned of at once, then at
  most once a minute with how many (:class:`DropWarnings`), so an outage of the server gives a few
  warnings, not one a line.
- The :class:`Cursor` persisted once a batch is acknowledged is a position in Docker's log: the timestamp of
  the last line shipped (nanoseconds), how many lines with exactly that timestamp were shipped, and, when a
  line too long for one event was split over batches, how many of its bytes. After a restart the log is
  re-read from Docker's ``since`` (whole seconds), :class:`Replay` drops the lines already shipped and a
  :class:`LineFramer` started at the cursor sends only the rest of a half-shipped line. Lines stamped
  earlier than the cursor after a clock step back are taken as shipped (Docker's ``since`` filters them).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

from dockyard.core.logs_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    MAX_EVENT_MESSAGE_BYTES,
)

Mode = Literal["blocking", "non-blocking"]
DEFAULT_MODE: Mode = "non-blocking"
"""ECS's default since 25 June 2025, when neither the container nor the account setting says otherwise."""
DEFAULT_MAX_BUFFER_SIZE = "10m"
"""ECS's documented default for ``max-buffer-size`` (Docker's own default is 1e6 bytes)."""
DEFAULT_FLUSH_INTERVAL_S = 0.25
"""How long the oldest waiting event may wait for others (Docker waits 5 s; lines must show within 1 s)."""
DEFAULT_PENDING_TIMEOUT_S = 0.5
"""How long a multiline event may stay open after its first line (Docker: 5 s, checked on each 5 s tick)."""

FARGATE_PREFIX_MESSAGE = (
    "Fargate requires log configuration options to include awslogs-stream-prefix "
    "to support log driver awslogs."
)
"""ECS's ClientException when a Fargate task definition uses awslogs without a stream prefix."""

KNOWN_OPTIONS = frozenset(
    {
        *("awslogs-group", "awslogs-region", "awslogs-stream", "awslogs-stream-prefix"),
        *("awslogs-create-group", "awslogs-datetime-format", "awslogs-multiline-pattern"),
        *("awslogs-endpoint", "awslogs-credentials-endpoint", "awslogs-force-flush-interval-seconds"),
        *("awslogs-max-buffered-events", "awslogs-format", "tag", "mode", "max-buffer-size"),
    }
)
"""Docker's awslogs options, its options common to every driver, and ECS's ``awslogs-stream-prefix``."""

_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
    **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False),
}
"""What Go's ``strconv.ParseBool`` accepts, which Docker uses for ``awslogs-create-group``."""
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) ?(?:([kmgtp])(b|ib)?|b)?", re.IGNORECASE)
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}

STRFTIME_TO_REGEX = {
    "%a": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
    "%A": r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    "%w": r"[0-6]",
    "%d": r"(?:0[1-9]|[1,2][0-9]|3[0,1])",
    "%b": r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "%B": r"(?:January|February|March|April|May|June|July|August|September|October|November|December)",
    "%m": r"(?:0[1-9]|1[0-2])",
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%H": r"(?:[0,1][0-9]|2[0-3])",
    "%I": r"(?:0[0-9]|1[0-2])",
    "%p": r"[A,P]M",
    "%M": r"[0-5][0-9]",
    "%S": r"[0-5][0-9]",
    "%f": r"\d{6}",
    "%z": r"[+-]\d{4}",
    "%Z": r"[A-Z]{1,4}T",
    "%j": r"(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])",
    "%L": r"\.\d{3}",
}
"""Docker's table, verbatim (``[1,2]`` and ``[A,P]`` included). Any other ``%x`` becomes nothing, as in
Docker; the text around the directives is used as a regular expression, unescaped, as in Docker."""


def datetime_format_regex(datetime_format: str) -> str:
    """The regular expression Docker derives from an ``awslogs-datetime-format``."""
    return re.sub(r"%.", lambda m: STRFTIME_TO_REGEX.get(m.group(0), ""), datetime_format, flags=re.DOTALL)


def parse_size(value: str) -> int:
    """Bytes in a size like ``25m``, ``512k``, ``1.5g``, ``4MiB`` or ``1000`` (Docker's ``RAMInBytes``)."""
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid size: '{value}'")
    unit = match.group(2)
    return int(float(match.group(1)) * (_SIZE_UNITS[unit.lower()] if unit else 1))


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        # ASCII classes, as Go's RE2 has (\d is [0-9] there).
        return re.compile(pattern, re.ASCII)
    except re.error as error:
        raise ValueError(f"awslogs could not parse multiline pattern key {pattern!r}: {error}") from None


def _positive_int(options: Mapping[str, str], key: str) -> int | None:
    raw = options.get(key)
    if not raw:
        return None
    if not re.fullmatch("[0-9]+", raw) or int(raw) <= 0:
        raise ValueError(f"must specify a positive integer for log opt '{key}': {raw}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class AwslogsOptions:
    """A container's ``awslogs`` configuration, validated."""

    group: str
    region: str | None = None
    """None: the task's region (Docker would ask AWS_REGION, then the EC2 instance)."""
    stream_prefix: str | None = None
    stream: str | None = None
    """Docker's own ``awslogs-stream``, used when there is no prefix."""
    create_group: bool = False
    mode: Mode = DEFAULT_MODE
    max_buffer_bytes: int = 10 << 20
    """Bound of the non-blocking buffer, in message bytes."""
    datetime_format: str | None = None
    multiline_pattern: str | None = None
    force_flush_interval_s: int | None = None
    """Docker's ``awslogs-force-flush-interval-seconds``, when the task definition sets it."""

    @classmethod
    def parse(
        cls,
        log_configuration: Mapping[str, Any] | None,
        *,
        fargate: bool = False,
        default_mode: Mode = DEFAULT_MODE,
    ) -> AwslogsOptions | None:
        """The options of a container definition's ``logConfiguration``; None when its driver is not
        awslogs. ValueError, in Docker's or ECS's words, for anything Docker or ECS would refuse."""
        if not log_configuration or log_configuration.get("logDriver") != "awslogs":
            return None
        options = dict(log_configuration.get("options") or {})
        for key, value in options.items():
            if key not in KNOWN_OPTIONS:
                raise ValueError(f"unknown log opt '{key}' for awslogs log driver")
            if not isinstance(value, str):
                raise ValueError(f"log opt '{key}' must be a string, not {type(value).__name__}")
        group = options.get("awslogs-group", "")
        if not group:
            raise ValueError("must specify a value for log opt 'awslogs-group'")
        if not _GROUP_NAME.fullmatch(group):
            raise ValueError(f"invalid awslogs-group {group!r}: 1 to 512 of a-z, A-Z, 0-9, '_-./#'")
        prefix = options.get("awslogs-stream-prefix") or None
        if prefix is None and fargate:
            raise ValueError(FARGATE_PREFIX_MESSAGE)
        if prefix is not None and (":" in prefix or "*" in prefix):
            raise ValueError(f"invalid awslogs-stream-prefix {prefix!r}: stream names exclude ':' and '*'")
        create = options.get("awslogs-create-group", "")
        if create and create not in _BOOLS:
            raise ValueError(f"must specify valid value for log opt 'awslogs-create-group': {create!r}")
        mode = options.get("mode") or default_mode
        if mode not in ("blocking", "non-blocking"):
            raise ValueError(f"logger: logging mode not supported: {mode}")
        max_buffer = options.get("max-buffer-size")
        if max_buffer is not None and mode != "non-blocking":
            raise ValueError("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
        try:
            max_buffer_bytes = parse_size(max_buffer or DEFAULT_MAX_BUFFER_SIZE)
        except ValueError as error:
            raise ValueError(f"error parsing option max-buffer-size: {error}") from None
        datetime_format = options.get("awslogs-datetime-format") or None
        multiline = options.get("awslogs-multiline-pattern") or None
        if "awslogs-datetime-format" in options and "awslogs-multiline-pattern" in options:
            raise ValueError(
                "you cannot configure log opt 'awslogs-datetime-format' and 'awslogs-multiline-pattern' "
                "at the same time"
            )
        log_format = options.get("awslogs-format")
        if log_format and log_format != "json/emf":
            raise ValueError(f"unsupported log format '{log_format}'")
        if log_format and (datetime_format or multiline):
            raise ValueError(
                "you cannot configure log opt 'awslogs-datetime-format' or 'awslogs-multiline-pattern' "
                "when log opt 'awslogs-format' is set to 'json/emf'"
            )
        _positive_int(options, "awslogs-max-buffered-events")
        parsed = cls(
            group=group,
            region=options.get("awslogs-region") or None,
            stream_prefix=prefix,
            stream=options.get("awslogs-stream") or None,
            create_group=_BOOLS.get(create, False),
            mode=cast(Mode, mode),
            max_buffer_bytes=max_buffer_bytes,
            datetime_format=datetime_format,
            multiline_pattern=multiline,
            force_flush_interval_s=_positive_int(options, "awslogs-force-flush-interval-seconds"),
        )
        parsed.start_pattern()  # refuse a pattern that does not compile now, not when the first line arrives
        return parsed

    def start_pattern(self) -> re.Pattern[str] | None:
        """What starts a new event, or None when every line is an event."""
        if self.datetime_format:
            return _compile(datetime_format_regex(self.datetime_format))
        if self.multiline_pattern:
            return _compile(self.multiline_pattern)
        return None

    def stream_name(self, container_name: str, task_id: str, container_id: str) -> str:
        """The log stream this container writes to (see :func:`stream_name`)."""
        if self.stream_prefix is None and self.stream:
            return self.stream
        return stream_name(self.stream_prefix, container_name, task_id, container_id=container_id)


def stream_name(prefix: str | None, container_name: str, task_id: str, *, container_id: str = "") -> str:
    """ECS's ``prefix/container-name/ecs-task-id``; without a prefix (EC2 only) Docker's default, the full
    container id."""
    if prefix:
        return f"{prefix}/{container_name}/{task_id}"
    if not container_id:
        raise ValueError("a log stream without awslogs-stream-prefix is named after the container id")
    return container_id


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a container's log has been shipped and acknowledged: the timestamp of the last line shipped,
    with Docker's nanoseconds, and how many lines carrying exactly that timestamp have been shipped.

    Docker's ``since`` selects lines at or after a time, and lines may share a timestamp, so a time alone
    cannot say where to resume: re-read from :attr:`since_seconds` and drop what :func:`skip` says.
    """

    timestamp_ns: int = 0
    count: int = 0
    offset: int = 0
    """UTF-8 bytes already shipped of the next line at ``timestamp_ns``, one longer than an event and split
    over batches: a framer resumed at this cursor sends only the rest of that line."""

    START: ClassVar[Cursor]

    def advance(self, line_timestamp_ns: int) -> Cursor:
        """The cursor once the next line in the log is shipped too. A line stamped earlier than the cursor
        (the clock went back) leaves it as is: a re-read from :attr:`since_seconds` skips that line anyway."""
        if line_timestamp_ns > self.timestamp_ns:
            return Cursor(line_timestamp_ns, 1)
        if line_timestamp_ns == self.timestamp_ns:
            return Cursor(self.timestamp_ns, self.count + 1)
        return Cursor(self.timestamp_ns, self.count)

    def within(self, line_timestamp_ns: int, offset: int) -> Cursor:
        """The cursor once the first ``offset`` bytes of the next line are shipped too."""
        if line_timestamp_ns > self.timestamp_ns:
            return Cursor(line_timestamp_ns, 0, offset)
        if line_timestamp_ns == self.timestamp_ns:
            return Cursor(self.timestamp_ns, self.count, offset)
        return Cursor(self.timestamp_ns, self.count)  # stamped before the cursor: a re-read skips it whole

    @property
    def since_seconds(self) -> int:
        """Docker's ``since`` to re-read from (0, the start of the log, for a fresh cursor)."""
        return self.timestamp_ns // 1_000_000_000

    def to_dict(self) -> dict[str, int]:
        return {"timestampNs": self.timestamp_ns, "count": self.count, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cursor:
        """The cursor :meth:`to_dict` wrote; ValueError for anything else."""
        values = (data.get("timestampNs"), data.get("count"), data.get("offset", 0))
        if not all(type(value) is int and value >= 0 for value in values):
            raise ValueError(f"not a log cursor: {dict(data)!r}")
        return cls(*values)  # type: ignore[arg-type]  # ints, checked above


Cursor.START = Cursor()


def skip(cursor: Cursor, line_timestamp_ns: int, seen_at_timestamp: int) -> bool:
    """Whether a line re-read after a restart was already shipped. ``seen_at_timestamp`` is how many lines
    with exactly this timestamp the re-read has returned before this one: lines sharing the cursor's
    timestamp are told apart only by their order, which Docker's log file keeps."""
    if line_timestamp_ns != cursor.timestamp_ns:
        return line_timestamp_ns < cursor.timestamp_ns
    return seen_at_timestamp < cursor.count


class Replay:
    """:func:`skip` for one re-read, counting the lines at the cursor's timestamp itself."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self._seen = 0

    def skip(self, line_timestamp_ns: int) -> bool:
        skipped = skip(self.cursor, line_timestamp_ns, self._seen)
        if line_timestamp_ns == self.cursor.timestamp_ns:
            self._seen += 1
        return skipped


@dataclass(frozen=True, slots=True)
class DockerLine:
    """One line of a container's Docker log, its newline removed. ``stream`` is kept for the record only:
    CloudWatch has no such field and Docker's awslogs sends both streams alike, in one order."""

    timestamp_ns: int
    text: str
    stream: Literal["stdout", "stderr"] = "stdout"


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One PutLogEvents event, and where the log stands once it is acknowledged."""

    timestamp_ms: int
    message: str
    cursor: Cursor
    message_bytes: int = field(default=-1, compare=False)

    def __post_init__(self) -> None:
        if self.message_bytes < 0:
            object.__setattr__(self, "message_bytes", len(self.message.encode("utf-8")))

    @property
    def size(self) -> int:
        """What the event counts for in a batch: its message's UTF-8 bytes plus 26."""
        return self.message_bytes + EVENT_OVERHEAD_BYTES


def split_message(message: str, max_bytes: int = MAX_EVENT_MESSAGE_BYTES) -> list[str]:
    """``message`` in pieces of at most ``max_bytes`` UTF-8 bytes, never cutting a character."""
    data = message.encode("utf-8")
    pieces: list[str] = []
    while len(data) > max_bytes:
        cut = max_bytes
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: back off to the character's start
            cut -= 1
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    pieces.append(data.decode("utf-8"))
    return pieces


class LineFramer:
    """Docker lines in, events out, in the log's order.

    ``cursor`` is where the log stands before the first line fed (the persisted cursor after a restart; the
    first line fed must then be the first one :class:`Replay` does not skip).
    """

    def __init__(
        self,
        start_pattern: re.Pattern[str] | None = None,
        *,
        pending_timeout_s: float = DEFAULT_PENDING_TIMEOUT_S,
        max_message_bytes: int = MAX_EVENT_MESSAGE_BYTES,
        cursor: Cursor = Cursor.START,
    ) -> None:
        self.start_pattern = start_pattern
        self.pending_timeout_s = pending_timeout_s
        self.max_message_bytes = max_message_bytes
        self.cursor = cursor
        self._lines: list[str] = []
        self._bytes = 0
        self._timestamp_ms = 0
        self._opened_at = 0.0
        self._pending_before = cursor
        """The cursor before the open event's last line, and that line's timestamp."""
        self._pending_line_ns = 0
        self._resume_offset = cursor.offset

    @property
    def deadline(self) -> float | None:
        """When :meth:`expire` will close the open multiline event, None when none is open."""
        return self._opened_at + self.pending_timeout_s if self._lines else None

    def feed(self, line: DockerLine, now: float) -> list[LogEvent]:
        """The events ``line`` completes (``now``: when it was read)."""
        before, self.cursor = self.cursor, self.cursor.advance(line.timestamp_ns)
        timestamp_ms = line.timestamp_ns // 1_000_000
        text = line.text if self.start_pattern is None else line.text + "\n"
        if self._resume_offset:
            # Resumed in the middle of a split line: only its rest is new, and it stays an event of its own.
            offset, self._resume_offset = self._resume_offset, 0
            rest = text.encode("utf-8")[offset:].decode("utf-8")
            return self._events(rest, timestamp_ms, before, line.timestamp_ns, offset)
        if self.start_pattern is None:
            return self._events(text, timestamp_ms, before, line.timestamp_ns) if text else []
        size = len(text.encode("utf-8"))
        events: list[LogEvent] = []
        starts = self.start_pattern.search(line.text) is not None
        if self._lines and (starts or self._bytes + size > self.max_message_bytes):
            events = self.flush()
        if not self._lines:
            self._timestamp_ms, self._opened_at = timestamp_ms, now
        self._lines.append(text)
        self._bytes += size
        self._pending_before, self._pending_line_ns = before, line.timestamp_ns
        return events

    def expire(self, now: float) -> list[LogEvent]:
        """The open multiline event, once it has been open ``pending_timeout_s``."""
        deadline = self.deadline
        return self.flush() if deadline is not None and now >= deadline else []

    def flush(self) -> list[LogEvent]:
        """The open multiline event, now (the log ended, or the container stopped)."""
        if not self._lines:
            return []
        message, self._lines, self._bytes = "".join(self._lines), [], 0
        return self._events(message, self._timestamp_ms, self._pending_before, self._pending_line_ns)

    def _events(
        self, message: str, timestamp_ms: int, before: Cursor, line_ns: int, offset: int = 0
    ) -> list[LogEvent]:
        """The events of a message ending with the line stamped ``line_ns``. Only a message of one line can
        exceed an event (a line that would make an open event too long closes it first), so the pieces of a
        split message are pieces of that line, and each one's cursor says how much of it is shipped."""
        *pieces, last = split_message(message, self.max_message_bytes)
        events = []
        for piece in pieces:
            offset += len(piece.encode("utf-8"))
            events.append(LogEvent(timestamp_ms, piece, before.within(line_ns, offset)))
        events.append(LogEvent(timestamp_ms, last, before.advance(line_ns)))
        return events


@dataclass(frozen=True, slots=True)
class Batch:
    """One PutLogEvents request's events, in chronological order, and the cursor to persist once the
    request is acknowledged (the cursor of its last event in the log's order)."""

    events: tuple[LogEvent, ...]
    cursor: Cursor

    @property
    def size(self) -> int:
        return sum(event.size for event in self.events)

    def log_events(self) -> list[dict[str, Any]]:
        """PutLogEvents' ``logEvents``."""
        return [{"timestamp": e.timestamp_ms, "message": e.message} for e in self.events]


_MIN_EVENT_SIZE = 1 + EVENT_OVERHEAD_BYTES


class Batcher:
    """Events waiting to be sent, and when and how they leave as batches. ``max_buffer_bytes`` bounds the
    messages waiting in non-blocking mode; in blocking mode it is where :attr:`backlogged` turns true.

    A batch is due when the events waiting fill one (10,000 events, 1,048,576 bytes with the 26 bytes per
    event, or 24 hours between the oldest and newest timestamp), when they fill half of
    ``max_buffer_bytes`` (the other half takes new events while that batch is sent, so a small buffer
    neither waits out the flush interval full nor drops while the server keeps up), or when the event
    waiting longest arrived ``flush_interval_s`` ago. Batches are cut from the front of the queue, so they
    cover the log in order and each batch's cursor is its last event's in that order.
    """

    def __init__(
        self,
        *,
        mode: Mode = DEFAULT_MODE,
        max_buffer_bytes: int = 10 << 20,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    ) -> None:
        self.mode = mode
        self.max_buffer_bytes = max_buffer_bytes
        self.flush_interval_s = flush_interval_s
        self._queue: deque[tuple[LogEvent, float]] = deque()
        self._message_bytes = 0
        self._size = 0
        self._span: tuple[int, int] | None = None
        """The oldest and newest timestamp waiting."""
        self.dropped_events = 0
        self.dropped_bytes = 0

    @property
    def pending_events(self) -> int:
        return len(self._queue)

    @property
    def pending_bytes(self) -> int:
        """Message bytes waiting (what ``max-buffer-size`` bounds)."""
        return self._message_bytes

    @property
    def backlogged(self) -> bool:
        """Blocking mode: the reader should pause until batches leave (nothing is ever dropped)."""
        return self.mode == "blocking" and self._message_bytes >= self.max_buffer_bytes

    def add(self, event: LogEvent, now: float) -> bool:
        """Queue ``event`` (arrived at ``now``); False when non-blocking mode dropped it instead."""
        if event.size > MAX_BATCH_BYTES:
            raise ValueError(f"an event of {event.size} bytes cannot fit in any batch")
        over = self._message_bytes + event.message_bytes > self.max_buffer_bytes
        if self.mode == "non-blocking" and over and self._queue:
            self.dropped_events += 1
            self.dropped_bytes += event.message_bytes
            return False
        self._queue.append((event, now))
        self._message_bytes += event.message_bytes
        self._size += event.size
        low, high = self._span or (event.timestamp_ms, event.timestamp_ms)
        self._span = (min(low, event.timestamp_ms), max(high, event.timestamp_ms))
        return True

    def add_all(self, events: Iterable[LogEvent], now: float) -> None:
        for event in events:
            self.add(event, now)

    @property
    def deadline(self) -> float | None:
        """When the event waiting longest makes a batch due, None when nothing waits."""
        return self._queue[0][1] + self.flush_interval_s if self._queue else None

    def due(self, now: float) -> bool:
        """Whether :meth:`take` would return a batch now."""
        if not self._queue:
            return False
        if now >= self._queue[0][1] + self.flush_interval_s:
            return True
        if len(self._queue) >= MAX_BATCH_EVENTS or self._size + _MIN_EVENT_SIZE > MAX_BATCH_BYTES:
            return True
        if self._message_bytes * 2 >= self.max_buffer_bytes:
            return True
        # Everything waiting spans more than a batch may: the first batch is cut before the end.
        low, high = self._span or (0, 0)
        return high - low > MAX_BATCH_SPAN_MS

    def take(self, now: float, *, force: bool = False) -> Batch | None:
        """The next batch if one is due (any waiting events at all with ``force``), removed from the queue."""
        if not self._queue or not (force or self.due(now)):
            return None
        taken = [self._queue.popleft()[0] for _ in range(self._cut())]
        for event in taken:
            self._message_bytes -= event.message_bytes
            self._size -= event.size
        stamps = [event.timestamp_ms for event, _ in self._queue]
        self._span = (min(stamps), max(stamps)) if stamps else None
        # A stable sort: equal timestamps keep the log's order.
        return Batch(tuple(sorted(taken, key=lambda e: e.timestamp_ms)), taken[-1].cursor)

    def _cut(self) -> int:
        """How many events from the front make the next batch."""
        count = size = 0
        low = high = self._queue[0][0].timestamp_ms
        for event, _ in self._queue:
            low, high = min(low, event.timestamp_ms), max(high, event.timestamp_ms)
            if (
                count == MAX_BATCH_EVENTS
                or size + event.size > MAX_BATCH_BYTES
                or high - low > MAX_BATCH_SPAN_MS
            ):
                break
            count += 1
            size += event.size
        return count


DROP_WARNING_INTERVAL_S = 60.0
"""The least time between two warnings that non-blocking mode dropped events of one container."""


class DropWarnings:
    """When to warn that non-blocking mode dropped events: at the first drop after a quiet ``interval_s``,
    then at most once each ``interval_s`` while drops go on, saying what was dropped since the last warning.
    """

    def __init__(self, interval_s: float = DROP_WARNING_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._reported = (0, 0)
        self._warned_at: float | None = None

    def check(self, dropped_events: int, dropped_bytes: int, now: float) -> tuple[int, int] | None:
        """The events and bytes to warn of now, given the Batcher's totals; None: nothing to say yet."""
        events, size = dropped_events - self._reported[0], dropped_bytes - self._reported[1]
        if events == 0 or (self._warned_at is not None and now < self._warned_at + self.interval_s):
            return None
        self._reported, self._warned_at = (dropped_events, dropped_bytes), now
        return events, size
