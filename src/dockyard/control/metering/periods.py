"""Cost Explorer's TimePeriod and Granularity as time buckets. Pure.

``TimePeriod`` is ``{Start, End}``, End exclusive: dates (``YYYY-MM-DD``, midnight UTC) for any
granularity, date-times (``YYYY-MM-DDTHH:MM:SSZ``) only for HOURLY. Buckets run from Start to End cut at
each hour, day or calendar month boundary, so a MONTHLY period from the 15th starts with a partial month,
as AWS answers. Bucket periods print in the granularity's format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.core.errors import ValidationError

HOURLY, DAILY, MONTHLY = "HOURLY", "DAILY", "MONTHLY"
GRANULARITIES = (DAILY, MONTHLY, HOURLY)
MAX_BUCKETS = 10_000
_INSTANT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})Z)?")


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime

    def time_period(self, granularity: str) -> dict[str, str]:
        return {
            "Start": format_instant(self.start, granularity),
            "End": format_instant(self.end, granularity),
        }


def format_instant(moment: datetime, granularity: str) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ" if granularity == HOURLY else "%Y-%m-%d")


def parse_instant(value: object, granularity: str, name: str) -> datetime:
    """A TimePeriod bound as an aware UTC datetime."""
    match = _INSTANT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(
            f"{name} date {value!r} is not in the format YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ."
        )
    if match.group(4) is not None and granularity != HOURLY:
        raise ValidationError(
            f"{name} date {value!r} has a time of day; only HOURLY granularity takes YYYY-MM-DDTHH:MM:SSZ."
        )
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError(f"{name} date {value!r} is not a valid date.") from exc


def check_granularity(granularity: object) -> str:
    if granularity not in GRANULARITIES:
        raise ValidationError(
            f"Granularity {granularity!r} is not valid; use one of {', '.join(GRANULARITIES)}."
        )
    return str(granularity)


def parse_period(period: Mapping[str, Any] | None, granularity: str) -> tuple[datetime, datetime]:
    """TimePeriod's Start and End, checked: both present, Start before End."""
    if not isinstance(period, Mapping) or "Start" not in period or "End" not in period:
        raise ValidationError("TimePeriod must have a Start and an End.")
    start = parse_instant(period["Start"], granularity, "Start")
    end = parse_instant(period["End"], granularity, "End")
    if start >= end:
        raise ValidationError("Start date (and hour) should be before end date (and hour)")
    return start, end


def _next_boundary(moment: datetime, granularity: str) -> datetime:
    if granularity == HOURLY:
        return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if granularity == DAILY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def buckets(start: datetime, end: datetime, granularity: str) -> list[Bucket]:
    """``[start, end)`` cut at the granularity's boundaries."""
    step = {HOURLY: timedelta(hours=1), DAILY: timedelta(days=1), MONTHLY: timedelta(days=28)}[granularity]
    if (end - start) / step > MAX_BUCKETS + 2:
        raise ValidationError(
            f"The TimePeriod spans more than {MAX_BUCKETS} {granularity} periods; ask for a shorter one."
        )
    result: list[Bucket] = []
    low = start
    while low < end:
        high = min(_next_boundary(low, granularity), end)
        result.append(Bucket(low, high))
        low = high
    if len(result) > MAX_BUCKETS:
        raise ValidationError(
            f"The TimePeriod spans more than {MAX_BUCKETS} {granularity} periods; ask for a shorter one."
        )
    return result
