"""PutLogEvents' batch rules (control/logs/batch.py), with time passed in."""

from __future__ import annotations

import pytest

from dockyard.control.logs.batch import (
    SPAN_MESSAGE,
    UNORDERED_MESSAGE,
    BatchVerdict,
    check_retention,
    event_size,
    judge_batch,
)
from dockyard.core.errors import InvalidParameterError
from dockyard.core.logs_limits import MAX_EVENT_AGE_MS as MAX_AGE_MS
from dockyard.core.logs_limits import MAX_EVENT_AHEAD_MS as MAX_AHEAD_MS
from dockyard.core.logs_limits import MS_PER_DAY

NOW = 1_796_644_800_000  # 2026-12-07T12:00:00Z
HOUR = 3600 * 1000


def events(*timestamps: int, message: str = "m") -> list[dict[str, object]]:
    return [{"timestamp": ts, "message": message} for ts in timestamps]


def refused(batch: list[dict[str, object]], retention: int | None = None) -> str:
    with pytest.raises(InvalidParameterError) as excinfo:
        judge_batch(batch, now_ms=NOW, retention_days=retention)
    assert excinfo.value.code == "InvalidParameterException"
    return excinfo.value.message


def test_a_batch_in_order_is_accepted_whole() -> None:
    verdict = judge_batch(events(NOW - 2, NOW - 1, NOW - 1, NOW), now_ms=NOW, retention_days=None)
    assert verdict == BatchVerdict(start=0, end=4)
    assert verdict.rejected_info is None


def test_events_out_of_order_refuse_the_batch() -> None:
    assert refused(events(NOW, NOW - 1)) == UNORDERED_MESSAGE
    assert UNORDERED_MESSAGE == "Log events in a single PutLogEvents request must be in chronological order."


def test_sizes_count_utf8_bytes_plus_26_per_event() -> None:
    assert event_size("é") == 2 + 26
    exactly = [{"timestamp": NOW, "message": "x" * (1024 * 1024 - 26)}]
    assert judge_batch(exactly, now_ms=NOW, retention_days=None).end == 1
    assert refused([{"timestamp": NOW, "message": "x" * (1024 * 1024 - 25)}]) == (
        "Log event too large: 1048577 bytes exceeds limit of 1048576"
    )
    # 1,000 events of 1,024 bytes: 1,050,000 bytes, over the batch's limit though each event is small.
    assert refused(events(*[NOW] * 1000, message="y" * 1024)) == (
        "Upload too large: 1050000 bytes exceeds limit of 1048576"
    )
    fits = events(*[NOW] * 1000, message="y" * (1048 - 26))
    assert judge_batch(fits, now_ms=NOW, retention_days=None).end == 1000


def test_more_than_10000_events_refuse_the_batch() -> None:
    assert "Member must have length less than or equal to 10000" in refused(events(*[NOW] * 10_001))


def test_old_and_new_events_are_rejected_and_the_rest_kept() -> None:
    old = events(NOW - MAX_AGE_MS - 1, NOW - MAX_AGE_MS, NOW - MAX_AGE_MS + HOUR)
    verdict = judge_batch(old, now_ms=NOW, retention_days=None)
    assert (verdict.start, verdict.end) == (1, 3)
    assert verdict.rejected_info == {"tooOldLogEventEndIndex": 1}
    new = events(NOW, NOW + MAX_AHEAD_MS, NOW + MAX_AHEAD_MS + 1)
    verdict = judge_batch(new, now_ms=NOW, retention_days=None)
    assert (verdict.start, verdict.end) == (0, 2)
    assert verdict.rejected_info == {"tooNewLogEventStartIndex": 2}
    both = judge_batch(events(NOW - 15 * MS_PER_DAY, NOW, NOW + 3 * HOUR), now_ms=NOW, retention_days=None)
    assert (both.start, both.end) == (1, 2)
    assert both.rejected_info == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}


def test_a_15_day_old_event_is_too_old() -> None:
    verdict = judge_batch(events(NOW - 15 * MS_PER_DAY, NOW), now_ms=NOW, retention_days=None)
    assert verdict.rejected_info == {"tooOldLogEventEndIndex": 1}
    assert (verdict.start, verdict.end) == (1, 2)


def test_events_older_than_the_retention_are_expired() -> None:
    batch = events(NOW - 3 * MS_PER_DAY, NOW - 2 * HOUR, NOW)
    verdict = judge_batch(batch, now_ms=NOW, retention_days=1)
    assert verdict.rejected_info == {"expiredLogEventEndIndex": 1}
    assert (verdict.start, verdict.end) == (1, 3)
    both = judge_batch(events(NOW - 20 * MS_PER_DAY, NOW - 3 * MS_PER_DAY, NOW), now_ms=NOW, retention_days=1)
    assert both.rejected_info == {"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 2}
    assert (both.start, both.end) == (2, 3)


def test_every_event_rejected_stores_nothing() -> None:
    verdict = judge_batch(events(NOW + 3 * HOUR, NOW + 4 * HOUR), now_ms=NOW, retention_days=None)
    assert verdict.start == verdict.end == 0
    assert verdict.rejected_info == {"tooNewLogEventStartIndex": 0}


def test_the_accepted_events_may_span_24_hours_and_no_more() -> None:
    assert judge_batch(events(NOW - MS_PER_DAY, NOW), now_ms=NOW, retention_days=None).end == 2
    assert refused(events(NOW - MS_PER_DAY - 1, NOW)) == SPAN_MESSAGE
    # Rejected events do not count towards the span.
    wide = events(NOW - 15 * MS_PER_DAY, NOW - HOUR, NOW)
    assert judge_batch(wide, now_ms=NOW, retention_days=None).rejected_info == {"tooOldLogEventEndIndex": 1}


def test_retention_takes_only_awss_values() -> None:
    assert check_retention(1) == 1 and check_retention(3653) == 3653
    with pytest.raises(InvalidParameterError) as excinfo:
        check_retention(2)
    assert excinfo.value.message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: "
        "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
    )
