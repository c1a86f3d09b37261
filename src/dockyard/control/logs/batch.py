"""PutLogEvents' rules for one batch of events, as pure functions of the batch, the time and the group's
retention. No store, no clock of its own.

A batch is refused whole (InvalidParameterException, AWS's messages) when

- it holds more than 10,000 events, or one event is larger than 1 MB, or the whole is larger than
  1,048,576 bytes, sizes counting each message's UTF-8 bytes plus 26 bytes per event;
- its events are not in chronological order (equal timestamps are in order);
- the events it would accept span more than 24 hours.

Otherwise the events too far from now are rejected and the rest accepted: older than 14 days
(``tooOldLogEventEndIndex``, exclusive), older than the group's retention (``expiredLogEventEndIndex``,
exclusive), more than 2 hours ahead (``tooNewLogEventStartIndex``, inclusive). Because the batch is in
order, the rejected events are a prefix and a suffix, and the accepted ones the slice between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from dockyard.core.errors import InvalidParameterError
from dockyard.core.logs_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MS_PER_DAY,
)
from dockyard.core.logs_limits import MAX_BATCH_SPAN_MS as MAX_SPAN_MS
from dockyard.core.logs_limits import MAX_EVENT_AGE_MS as MAX_AGE_MS
from dockyard.core.logs_limits import MAX_EVENT_AHEAD_MS as MAX_AHEAD_MS

RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
"""The values PutRetentionPolicy accepts (the model leaves them to the documentation)."""

UNORDERED_MESSAGE = "Log events in a single PutLogEvents request must be in chronological order."
SPAN_MESSAGE = "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."


@dataclass(frozen=True, slots=True)
class BatchVerdict:
    """What happens to a batch that is not refused: events ``[start, end)`` are stored."""

    start: int
    end: int
    too_old_end: int | None = None
    expired_end: int | None = None
    too_new_start: int | None = None

    @property
    def rejected_info(self) -> dict[str, int] | None:
        """PutLogEvents' ``rejectedLogEventsInfo``, or None when every event is accepted."""
        info = {
            "tooOldLogEventEndIndex": self.too_old_end,
            "expiredLogEventEndIndex": self.expired_end,
            "tooNewLogEventStartIndex": self.too_new_start,
        }
        present = {key: value for key, value in info.items() if value is not None}
        return present or None


def event_size(message: str) -> int:
    """The size an event counts for in a batch: its message's UTF-8 bytes plus 26."""
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def check_retention(days: int) -> int:
    """``days`` if PutRetentionPolicy accepts it, else InvalidParameterException in AWS's words."""
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(value) for value in RETENTION_DAYS)
        raise InvalidParameterError(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{allowed}]"
        )
    return days


def judge_batch(
    events: Sequence[Mapping[str, Any]], *, now_ms: int, retention_days: int | None
) -> BatchVerdict:
    """Check a PutLogEvents batch (``{"timestamp": ms, "message": str}`` items) against AWS's rules at
    ``now_ms``; the verdict says which events to store. InvalidParameterException for a batch refused
    whole."""
    _check_sizes(events)
    timestamps = [int(event["timestamp"]) for event in events]
    if any(later < earlier for earlier, later in pairwise(timestamps)):
        raise InvalidParameterError(UNORDERED_MESSAGE)
    too_old_end = _count_before(timestamps, now_ms - MAX_AGE_MS)
    expired_end = 0
    if retention_days is not None:
        expired_end = _count_before(timestamps, now_ms - retention_days * MS_PER_DAY)
    too_new_start = len(timestamps) - sum(1 for ts in timestamps if ts > now_ms + MAX_AHEAD_MS)
    start = max(too_old_end, expired_end)
    end = max(start, too_new_start)
    if end > start and timestamps[end - 1] - timestamps[start] > MAX_SPAN_MS:
        raise InvalidParameterError(SPAN_MESSAGE)
    return BatchVerdict(
        start=start,
        end=end,
        too_old_end=too_old_end or None,
        expired_end=expired_end or None,
        too_new_start=too_new_start if too_new_start < len(timestamps) else None,
    )


def _check_sizes(events: Sequence[Mapping[str, Any]]) -> None:
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidParameterError(
            f"1 validation error detected: Value '{len(events)}' at 'logEvents' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_BATCH_EVENTS}"
        )
    total = 0
    for event in events:
        size = event_size(str(event["message"]))
        if size > MAX_EVENT_BYTES:
            raise InvalidParameterError(
                f"Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
            )
        total += size
    if total > MAX_BATCH_BYTES:
        raise InvalidParameterError(f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}")


def _count_before(timestamps: Sequence[int], limit: int) -> int:
    """How many of the (ordered) timestamps lie strictly before ``limit``."""
    count = 0
    for ts in timestamps:
        if ts >= limit:
            break
        count += 1
    return count
