"""awslogs shipping decisions (pure): options, stream names, framing, batching, the resume cursor."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dockyard.agent.awslogs import (
    FARGATE_PREFIX_MESSAGE,
    AwslogsOptions,
    Batcher,
    Cursor,
    DockerLine,
    DropWarnings,
    LineFramer,
    LogEvent,
    Mode,
    Replay,
    datetime_format_regex,
    parse_size,
    skip,
    split_message,
    stream_name,
)
from dockyard.core.logs_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    MAX_EVENT_MESSAGE_BYTES,
)

S = 1_000_000_000  # nanoseconds per second
T0 = 1_700_000_000 * S
CONTAINER_ID = "f" * 64


def _config(**options: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", **options}}


def _parse(**options: str) -> AwslogsOptions:
    parsed = AwslogsOptions.parse(_config(**options))
    assert parsed is not None
    return parsed


def _line(offset_ns: int, text: str) -> DockerLine:
    return DockerLine(T0 + offset_ns, text)


def _event(timestamp_ms: int, message: str = "m", cursor: Cursor = Cursor.START) -> LogEvent:
    return LogEvent(timestamp_ms, message, cursor)


# --- options -------------------------------------------------------------------------------------------


def test_other_drivers_and_no_configuration_are_not_awslogs() -> None:
    assert AwslogsOptions.parse(None) is None
    assert AwslogsOptions.parse({"logDriver": "json-file", "options": {"max-size": "10m"}}) is None


def test_defaults_follow_ecs() -> None:
    options = _parse()
    assert options.group == "/ecs/web"
    assert options.region is None
    assert options.stream_prefix is None
    assert options.create_group is False
    assert options.mode == "non-blocking"  # ECS's default since 25 June 2025
    assert options.max_buffer_bytes == 10 * 1024 * 1024  # ECS's 10m
    assert options.start_pattern() is None


def test_every_option_parsed() -> None:
    options = _parse(
        **{
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "web",
            "awslogs-create-group": "true",
            "mode": "non-blocking",
            "max-buffer-size": "25m",
            "awslogs-multiline-pattern": "^INFO",
            "awslogs-force-flush-interval-seconds": "2",
        }
    )
    assert (options.region, options.stream_prefix, options.create_group) == ("eu-west-1", "web", True)
    assert options.max_buffer_bytes == 25 * 1024 * 1024
    assert options.force_flush_interval_s == 2
    pattern = options.start_pattern()
    assert pattern is not None
    assert pattern.search("INFO x")
    assert not pattern.search("  at INFO")


def test_the_account_default_mode_is_the_callers() -> None:
    parsed = AwslogsOptions.parse(_config(), default_mode="blocking")
    assert parsed is not None
    assert parsed.mode == "blocking"
    assert _parse(mode="blocking").mode == "blocking"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), ("1", True), ("F", False)])
def test_create_group_takes_gos_booleans(raw: str, expected: bool) -> None:
    assert _parse(**{"awslogs-create-group": raw}).create_group is expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"awslogs-group": ""}, "must specify a value for log opt 'awslogs-group'"),
        ({"awslogs-group": "bad group"}, "invalid awslogs-group"),
        ({"awslogs-create-group": "yes"}, "must specify valid value for log opt 'awslogs-create-group'"),
        ({"mode": "lossy"}, "logger: logging mode not supported: lossy"),
        ({"mode": "blocking", "max-buffer-size": "4m"}, "only supported with 'mode=non-blocking'"),
        ({"max-buffer-size": "lots"}, "error parsing option max-buffer-size"),
        ({"max-buffer-size": "-1m"}, "error parsing option max-buffer-size"),
        ({"awslogs-multiline-pattern": "(unclosed"}, "awslogs could not parse multiline pattern key"),
        ({"awslogs-stream-prefix": "a:b"}, "invalid awslogs-stream-prefix"),
        ({"awslogs-force-flush-interval-seconds": "0"}, "must specify a positive integer"),
        ({"awslogs-format": "text"}, "unsupported log format 'text'"),
        ({"awslogs-gruop": "typo"}, "unknown log opt 'awslogs-gruop' for awslogs log driver"),
        (
            {"awslogs-datetime-format": "%Y", "awslogs-multiline-pattern": "^x"},
            "you cannot configure log opt 'awslogs-datetime-format' and 'awslogs-multiline-pattern'",
        ),
    ],
)
def test_bad_options_refused_in_dockers_words(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        AwslogsOptions.parse({"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", **options}})


def test_non_string_option_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        AwslogsOptions.parse({"logDriver": "awslogs", "options": {"awslogs-group": "g", "mode": 1}})


def test_fargate_requires_a_stream_prefix() -> None:
    with pytest.raises(ValueError, match=re.escape(FARGATE_PREFIX_MESSAGE)):
        AwslogsOptions.parse(_config(), fargate=True)
    assert AwslogsOptions.parse(_config(**{"awslogs-stream-prefix": "p"}), fargate=True) is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000", 1000),
        ("512k", 512 * 1024),
        ("4MiB", 4 << 20),
        ("1.5g", 3 << 29),
        ("10 mb", 10 << 20),
        ("7b", 7),
    ],
)
def test_sizes_parse_as_dockers_ram_in_bytes(raw: str, expected: int) -> None:
    assert parse_size(raw) == expected


# --- stream names -------------------------------------------------------------------------------------


def test_stream_name_is_prefix_container_task() -> None:
    assert stream_name("web", "app", "0123abcd") == "web/app/0123abcd"
    assert _parse(**{"awslogs-stream-prefix": "svc"}).stream_name("app", "t1", CONTAINER_ID) == "svc/app/t1"


def test_without_prefix_the_stream_is_the_container_id() -> None:
    assert stream_name(None, "app", "t1", container_id=CONTAINER_ID) == CONTAINER_ID
    assert _parse().stream_name("app", "t1", CONTAINER_ID) == CONTAINER_ID
    assert _parse(**{"awslogs-stream": "mine"}).stream_name("app", "t1", CONTAINER_ID) == "mine"
    with pytest.raises(ValueError, match="container id"):
        stream_name(None, "app", "t1")


# --- framing ------------------------------------------------------------------------------------------


def test_one_line_is_one_event_with_millisecond_time() -> None:
    framer = LineFramer()
    events = framer.feed(_line(1_234_567, "hello"), now=0.0)
    assert [(e.timestamp_ms, e.message) for e in events] == [((T0 + 1_234_567) // 1_000_000, "hello")]
    assert events[0].cursor == Cursor(T0 + 1_234_567, 1)
    assert framer.deadline is None


def test_empty_lines_are_not_sent_but_count_in_the_cursor() -> None:
    framer = LineFramer()
    assert framer.feed(_line(0, ""), now=0.0) == []
    events = framer.feed(_line(0, "x"), now=0.0)
    assert events[0].cursor == Cursor(T0, 2)


def test_multiline_pattern_joins_continuation_lines() -> None:
    framer = LineFramer(re.compile("^ERROR|^INFO"))
    assert framer.feed(_line(0, "ERROR boom"), now=0.0) == []
    assert framer.feed(_line(1, "  at a()"), now=0.0) == []
    assert framer.feed(_line(2, ""), now=0.0) == []
    events = framer.feed(_line(3, "INFO next"), now=0.1)
    assert [e.message for e in events] == ["ERROR boom\n  at a()\n\n"]
    assert events[0].timestamp_ms == T0 // 1_000_000
    assert events[0].cursor == Cursor(T0 + 2, 1)
    assert [e.message for e in framer.flush()] == ["INFO next\n"]


def test_datetime_format_starts_events() -> None:
    pattern = re.compile(datetime_format_regex("%Y-%m-%d %H:%M:%S"), re.ASCII)
    framer = LineFramer(pattern)
    lines = ["2024-05-01 10:00:00 start", "Traceback:", "  File x", "2024-05-01 10:00:01 next"]
    events = [e for i, text in enumerate(lines) for e in framer.feed(_line(i, text), now=0.0)]
    assert [e.message for e in events] == ["2024-05-01 10:00:00 start\nTraceback:\n  File x\n"]
    assert not pattern.search("2024-13-01 10:00:00")  # no month 13


def test_datetime_format_translation_is_dockers() -> None:
    assert datetime_format_regex("%Y-%m") == r"\d{4}-(?:0[1-9]|1[0-2])"
    assert (
        datetime_format_regex("[%b %d")
        == r"[(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?:0[1-9]|[1,2][0-9]|3[0,1])"
    )
    assert datetime_format_regex("%T|%L") == r"|\.\d{3}"  # unknown directives vanish, as in Docker
    with pytest.raises(ValueError, match="could not parse"):
        _parse(**{"awslogs-datetime-format": "[%Y"}).start_pattern()


def test_datetime_format_option_builds_the_pattern() -> None:
    pattern = _parse(**{"awslogs-datetime-format": "%H:%M:%S"}).start_pattern()
    assert pattern is not None
    assert pattern.search("at 23:59:59 done")
    assert not pattern.search("24:00:00")


def test_open_multiline_event_flushed_after_the_timeout() -> None:
    framer = LineFramer(re.compile("^S"), pending_timeout_s=0.5)
    framer.feed(_line(0, "S one"), now=10.0)
    framer.feed(_line(1, "cont"), now=10.4)
    assert framer.deadline == 10.5
    assert framer.expire(now=10.49) == []
    events = framer.expire(now=10.5)
    assert [e.message for e in events] == ["S one\ncont\n"]
    assert events[0].cursor == Cursor(T0 + 1, 1)
    assert framer.expire(now=99.0) == []
    assert framer.flush() == []  # nothing left open


def test_long_line_split_at_the_event_limit() -> None:
    framer = LineFramer()
    text = "a" * MAX_EVENT_MESSAGE_BYTES + "b" * 10
    events = framer.feed(_line(0, text), now=0.0)
    assert [len(e.message) for e in events] == [MAX_EVENT_MESSAGE_BYTES, 10]
    assert {e.timestamp_ms for e in events} == {T0 // 1_000_000}
    # The first piece ships part of the line; the line is shipped with its last piece.
    assert [e.cursor for e in events] == [Cursor(T0, 0, MAX_EVENT_MESSAGE_BYTES), Cursor(T0, 1)]
    assert all(e.size <= MAX_BATCH_BYTES for e in events)


def test_split_never_cuts_a_character() -> None:
    pieces = split_message("é" * 5, max_bytes=3)  # two bytes each
    assert pieces == ["é", "é", "é", "é", "é"]
    assert "".join(split_message("x€y€" * 3, max_bytes=4)) == "x€y€" * 3
    assert all(len(p.encode()) <= 4 for p in split_message("x€y€" * 3, max_bytes=4))


def test_multiline_event_closes_before_exceeding_the_limit() -> None:
    framer = LineFramer(re.compile("^S"), max_message_bytes=10)
    framer.feed(_line(0, "S 1234"), now=0.0)  # 7 bytes with its newline
    events = framer.feed(_line(1, "abc"), now=0.0)  # 4 more would make 11
    assert [e.message for e in events] == ["S 1234\n"]
    assert [e.message for e in framer.flush()] == ["abc\n"]


def test_framer_resumes_counting_from_the_persisted_cursor() -> None:
    framer = LineFramer(cursor=Cursor(T0, 2))
    assert framer.feed(_line(0, "third at T0"), now=0.0)[0].cursor == Cursor(T0, 3)


# --- batching -----------------------------------------------------------------------------------------


def test_nothing_due_until_the_flush_interval() -> None:
    batcher = Batcher(flush_interval_s=0.25)
    assert not batcher.due(now=0.0)
    assert batcher.take(now=0.0) is None
    batcher.add(_event(1, "a", Cursor(1, 1)), now=1.0)
    batcher.add(_event(2, "b", Cursor(2, 1)), now=1.2)
    assert batcher.deadline == 1.25
    assert not batcher.due(now=1.24)
    batch = batcher.take(now=1.25)
    assert batch is not None
    assert [e.message for e in batch.events] == ["a", "b"]
    assert batch.cursor == Cursor(2, 1)
    assert batch.log_events() == [{"timestamp": 1, "message": "a"}, {"timestamp": 2, "message": "b"}]
    assert batcher.pending_events == 0
    assert batcher.deadline is None


def test_force_takes_whatever_waits() -> None:
    batcher = Batcher()
    batcher.add(_event(1), now=0.0)
    batch = batcher.take(now=0.0, force=True)
    assert batch is not None
    assert len(batch.events) == 1


def test_exactly_ten_thousand_events_make_a_batch() -> None:
    batcher = Batcher()
    for i in range(MAX_BATCH_EVENTS - 1):
        batcher.add(_event(i), now=0.0)
    assert not batcher.due(now=0.0)
    batcher.add(_event(MAX_BATCH_EVENTS), now=0.0)
    assert batcher.due(now=0.0)
    batcher.add(_event(MAX_BATCH_EVENTS + 1, "next"), now=0.0)
    batch = batcher.take(now=0.0)
    assert batch is not None
    assert len(batch.events) == MAX_BATCH_EVENTS
    assert batcher.pending_events == 1
    assert not batcher.due(now=0.0)


def test_bytes_limit_counts_26_bytes_per_event() -> None:
    # Four events filling exactly 1,048,576 bytes with their overhead.
    message_bytes = MAX_BATCH_BYTES // 4 - EVENT_OVERHEAD_BYTES
    assert 4 * (message_bytes + EVENT_OVERHEAD_BYTES) == MAX_BATCH_BYTES
    batcher = Batcher()
    for i in range(3):
        batcher.add(_event(i, "x" * message_bytes), now=0.0)
    assert not batcher.due(now=0.0)
    batcher.add(_event(3, "x" * message_bytes), now=0.0)
    assert batcher.due(now=0.0)  # full: not even a one-byte event fits
    batch = batcher.take(now=0.0)
    assert batch is not None
    assert (len(batch.events), batch.size) == (4, MAX_BATCH_BYTES)


def test_one_byte_over_the_limit_goes_to_the_next_batch() -> None:
    message_bytes = MAX_BATCH_BYTES // 4 - EVENT_OVERHEAD_BYTES
    batcher = Batcher()
    for i in range(3):
        batcher.add(_event(i, "x" * message_bytes), now=0.0)
    batcher.add(_event(3, "x" * (message_bytes + 1)), now=0.0)
    batch = batcher.take(now=0.0)
    assert batch is not None
    assert len(batch.events) == 3
    assert batcher.pending_events == 1


def test_utf8_bytes_count_not_characters() -> None:
    assert _event(0, "é€").size == 2 + 3 + EVENT_OVERHEAD_BYTES


def test_a_batch_spans_at_most_24_hours() -> None:
    batcher = Batcher()
    batcher.add(_event(0, "first"), now=0.0)
    batcher.add(_event(MAX_BATCH_SPAN_MS, "exactly 24 h later"), now=0.0)
    assert not batcher.due(now=0.0)
    batcher.add(_event(MAX_BATCH_SPAN_MS + 1, "one ms more"), now=0.0)
    assert batcher.due(now=0.0)
    batch = batcher.take(now=0.0)
    assert batch is not None
    assert [e.message for e in batch.events] == ["first", "exactly 24 h later"]
    assert not batcher.due(now=0.0)


def test_batches_are_chronological_and_stable() -> None:
    batcher = Batcher()
    batcher.add(_event(5, "a", Cursor(50, 1)), now=0.0)
    batcher.add(_event(3, "b (stderr, stamped earlier)", Cursor(51, 1)), now=0.0)
    batcher.add(_event(5, "c", Cursor(52, 1)), now=0.0)
    batch = batcher.take(now=0.0, force=True)
    assert batch is not None
    assert [e.message for e in batch.events] == ["b (stderr, stamped earlier)", "a", "c"]
    assert batch.cursor == Cursor(52, 1)  # the log's last line, not the latest timestamp


def test_restart_between_the_pieces_of_a_split_line_sends_only_the_rest() -> None:
    log = [_line(0, "hi"), _line(0, "aaa€bbbb"), _line(1, "next")]
    framer = LineFramer(max_message_bytes=4)
    events = [e for line in log[:2] for e in framer.feed(line, now=0.0)]
    assert [e.message for e in events] == ["hi", "aaa", "€b", "bbb"]  # never half a "€" (3 bytes)
    # Two batches: the second, holding the rest of the long line, is never acknowledged.
    batcher = Batcher()
    batcher.add_all(events[:3], now=0.0)
    first = batcher.take(now=0.0, force=True)
    assert first is not None
    assert first.cursor == Cursor(T0, 1, offset=7)  # "aaa" and "€b": 3 + 4 bytes of the long line
    restored = Cursor.from_dict(json.loads(json.dumps(first.cursor.to_dict())))

    replay = Replay(restored)
    framer = LineFramer(max_message_bytes=4, cursor=restored)
    resumed = [e for line in log if not replay.skip(line.timestamp_ns) for e in framer.feed(line, now=1.0)]
    assert [e.message for e in resumed] == ["bbb", "next"]
    assert [e.cursor for e in resumed] == [Cursor(T0, 2), Cursor(T0 + 1, 1)]


def test_non_blocking_drops_the_newest_that_does_not_fit() -> None:
    batcher = Batcher(mode="non-blocking", max_buffer_bytes=10)
    assert batcher.add(_event(1, "12345"), now=0.0)
    assert batcher.add(_event(2, "67890"), now=0.0)
    assert not batcher.add(_event(3, "x"), now=0.0)
    assert not batcher.add(_event(4, "yy"), now=0.0)
    assert (batcher.dropped_events, batcher.dropped_bytes) == (2, 3)
    batch = batcher.take(now=0.0, force=True)
    assert batch is not None
    assert [e.message for e in batch.events] == ["12345", "67890"]
    assert batcher.add(_event(5, "room again"), now=0.0)


def test_non_blocking_keeps_an_oversized_event_when_nothing_waits() -> None:
    batcher = Batcher(mode="non-blocking", max_buffer_bytes=4)
    assert batcher.add(_event(1, "longer than the buffer"), now=0.0)
    assert batcher.dropped_events == 0


def test_blocking_never_drops_but_asks_the_reader_to_pause() -> None:
    batcher = Batcher(mode="blocking", max_buffer_bytes=10)
    for i in range(5):
        assert batcher.add(_event(i, "12345"), now=0.0)
    assert batcher.dropped_events == 0
    assert batcher.backlogged
    batcher.take(now=0.0, force=True)
    assert not batcher.backlogged


@pytest.mark.parametrize("mode", ["non-blocking", "blocking"])
def test_a_batch_is_due_once_half_the_buffer_is_full(mode: Mode) -> None:
    batcher = Batcher(mode=mode, max_buffer_bytes=20, flush_interval_s=0.25)
    batcher.add(_event(1, "123456789"), now=0.0)
    assert not batcher.due(now=0.0)
    batcher.add(_event(2, "0"), now=0.0)  # 10 of 20 bytes: no waiting out the flush interval
    assert batcher.due(now=0.0)
    batch = batcher.take(now=0.0)
    assert batch is not None
    assert [e.message for e in batch.events] == ["123456789", "0"]


def test_drops_are_warned_of_at_once_then_at_most_once_an_interval() -> None:
    warnings = DropWarnings(interval_s=60.0)
    assert warnings.check(0, 0, now=0.0) is None
    assert warnings.check(1, 9, now=1.0) == (1, 9)  # the first drop: at once
    assert warnings.check(500, 4_500, now=30.0) is None  # the outage goes on: quiet
    assert warnings.check(800, 7_200, now=61.0) == (799, 7_191)  # a minute later: what was dropped since
    assert warnings.check(800, 7_200, now=500.0) is None  # nothing new
    assert warnings.check(801, 7_209, now=500.0) == (1, 9)  # a new outage after a quiet minute: at once


def test_an_event_larger_than_any_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        Batcher().add(_event(0, "x" * MAX_BATCH_BYTES), now=0.0)


# --- cursor -------------------------------------------------------------------------------------------


def test_cursor_advances_by_line() -> None:
    cursor = Cursor.START.advance(T0)
    assert cursor == Cursor(T0, 1)
    assert cursor.advance(T0) == Cursor(T0, 2)
    assert cursor.advance(T0 + 1) == Cursor(T0 + 1, 1)
    assert cursor.advance(T0 - 1) == cursor  # the clock went back: a re-read skips that line anyway
    assert cursor.within(T0, 10) == Cursor(T0, 1, 10)
    assert cursor.within(T0 + 5, 10) == Cursor(T0 + 5, 0, 10)
    assert Cursor(T0, 1, 10).advance(T0) == Cursor(T0, 2)  # the split line, now complete


def test_cursor_round_trips_through_json() -> None:
    cursor = Cursor(T0 + 123_456_789, 3, offset=42)
    assert Cursor.from_dict(json.loads(json.dumps(cursor.to_dict()))) == cursor
    assert Cursor.from_dict({"timestampNs": 5, "count": 1}) == Cursor(5, 1)
    assert cursor.since_seconds == T0 // S
    assert Cursor.START.since_seconds == 0


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"timestampNs": "1", "count": 0},
        {"timestampNs": 1, "count": -1},
        {"timestampNs": 1.5, "count": 1},
        {"timestampNs": 1, "count": 1, "offset": True},
    ],
)
def test_malformed_cursor_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a log cursor"):
        Cursor.from_dict(data)


def test_skip_decides_by_time_then_by_order_within_the_nanosecond() -> None:
    cursor = Cursor(T0 + 500, 2)
    assert skip(cursor, T0 + 499, 0)  # shipped before
    assert skip(cursor, T0 + 500, 0)
    assert skip(cursor, T0 + 500, 1)
    assert not skip(cursor, T0 + 500, 2)  # the third line at that nanosecond is new
    assert not skip(cursor, T0 + 501, 0)


def test_restart_in_the_middle_of_lines_sharing_a_timestamp_ships_each_once() -> None:
    log = [_line(0, "before"), *(_line(S // 2, f"same-{i}") for i in range(4)), _line(S, "after")]
    # First run: ships up to the second line of the four sharing a timestamp, then the agent dies.
    framer = LineFramer()
    shipped = [e for line in log[:3] for e in framer.feed(line, now=0.0)]
    acknowledged = shipped[-1].cursor
    assert acknowledged == Cursor(T0 + S // 2, 2)
    restored = Cursor.from_dict(json.loads(json.dumps(acknowledged.to_dict())))

    # Second run: Docker re-reads from since=floor(cursor), which returns the whole second.
    replay = Replay(restored)
    reread = [line for line in log if line.timestamp_ns // S >= restored.since_seconds]
    framer = LineFramer(cursor=restored)
    resumed = [e for line in reread if not replay.skip(line.timestamp_ns) for e in framer.feed(line, now=1.0)]
    assert [e.message for e in shipped + resumed] == [line.text for line in log]
    assert resumed[-1].cursor == Cursor(T0 + S, 1)


def test_multiline_restart_resumes_after_the_acknowledged_event() -> None:
    pattern = re.compile("^S")
    log = [_line(0, "S 1"), _line(0, "  a"), _line(0, "S 2"), _line(0, "  b"), _line(1, "S 3")]
    framer = LineFramer(pattern)
    first = [e for line in log[:3] for e in framer.feed(line, now=0.0)]
    assert [e.message for e in first] == ["S 1\n  a\n"]
    replay = Replay(first[0].cursor)
    framer = LineFramer(pattern, cursor=first[0].cursor)
    events = [e for line in log if not replay.skip(line.timestamp_ns) for e in framer.feed(line, now=0.0)]
    events += framer.flush()
    assert [e.message for e in events] == ["S 2\n  b\n", "S 3\n"]
