"""The answers of Cost Explorer's GetCostAndUsage, GetDimensionValues and GetTags over task usage. Pure.

Shapes follow botocore's ``ce`` model. Amounts are decimal strings with at most 10 decimal places
(trailing zeros trimmed); costs accumulate exactly (``Decimal``) and are rounded once, at the end. The
cost metrics (UnblendedCost, BlendedCost, AmortizedCost, NetUnblendedCost, NetAmortizedCost) are equal
here, in USD; UsageQuantity is in ``Hrs``, vCPU-hours and GB-hours added together unless grouped by usage
type, as AWS does. A period is Estimated while its bill could still change: it ends after the start of
``now``'s month.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from dockyard.control.metering.filters import (
    check_dimension,
    check_group_by,
    compile_expression,
    dimension_value,
    group_key,
)
from dockyard.control.metering.periods import (
    HOURLY,
    Bucket,
    buckets,
    check_granularity,
    parse_period,
)
from dockyard.control.metering.rates import FargateRates
from dockyard.control.metering.usage import (
    SECONDS_PER_HOUR,
    LineItem,
    TaskUsage,
    as_utc,
    line_items,
    measured_seconds,
    seconds_within,
)
from dockyard.core.errors import ValidationError

COST_METRICS = ("UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost")
USAGE_QUANTITY = "UsageQuantity"
METRICS = (*COST_METRICS, USAGE_QUANTITY)
UNSUPPORTED_METRICS = ("NormalizedUsageAmount",)
COST_UNIT, USAGE_UNIT = "USD", "Hrs"
PLACES = Decimal("1E-10")
_CONTEXT = Context(prec=60)


def format_amount(amount: Decimal) -> str:
    """``amount`` to 10 decimal places, trailing zeros trimmed, never in exponent form."""
    text = format(amount.quantize(PLACES, rounding=ROUND_HALF_UP, context=_CONTEXT), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def check_metrics(metrics: object) -> list[str]:
    """Metric names as AWS spells them (case-sensitive); ValidationException otherwise."""
    if not isinstance(metrics, list | tuple) or not metrics:
        raise ValidationError("Metrics must list at least one metric.")
    for metric in metrics:
        if metric in UNSUPPORTED_METRICS:
            raise ValidationError(f"Metric {metric} is not supported by dockyard's Cost Explorer.")
        if metric not in METRICS:
            raise ValidationError(
                f"Metric {metric!r} is not a valid metric; valid metrics are {', '.join(METRICS)} "
                "(names are case-sensitive)."
            )
    return list(dict.fromkeys(str(metric) for metric in metrics))


class _Sum:
    """Unit-seconds and USD-seconds-per-hour, exact; divided by 3600 when printed."""

    __slots__ = ("cost", "units")

    def __init__(self) -> None:
        self.units = Decimal(0)
        self.cost = Decimal(0)

    def add(self, item: LineItem, seconds: Decimal) -> None:
        self.units = _CONTEXT.add(self.units, _CONTEXT.multiply(item.units, seconds))
        self.cost = _CONTEXT.add(self.cost, _CONTEXT.multiply(item.units * item.rate, seconds))

    def metrics(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        with localcontext(_CONTEXT):
            cost = format_amount(self.cost / SECONDS_PER_HOUR)
            quantity = format_amount(self.units / SECONDS_PER_HOUR)
        return {
            name: {"Amount": quantity, "Unit": USAGE_UNIT}
            if name == USAGE_QUANTITY
            else {"Amount": cost, "Unit": COST_UNIT}
            for name in names
        }


def _task_seconds(
    task: TaskUsage, periods: Sequence[Bucket], starts: Sequence[datetime], now: datetime
) -> list[tuple[int, Decimal]]:
    """(bucket index, billed seconds) for the buckets the task has seconds in."""
    first = as_utc(task.start)
    last = first + timedelta(seconds=measured_seconds(task, now))
    low = max(bisect.bisect_right(starts, first) - 1, 0)
    high = bisect.bisect_left(starts, last) if last > first else low + 1
    found: list[tuple[int, Decimal]] = []
    for index in range(low, min(max(high, low + 1), len(periods))):
        seconds = seconds_within(task, periods[index].start, periods[index].end, now)
        if seconds > 0:
            found.append((index, seconds))
    return found


def _estimated(bucket: Bucket, now: datetime) -> bool:
    now = as_utc(now)
    return bucket.end > datetime(now.year, now.month, 1, tzinfo=UTC)


def get_cost_and_usage(
    usages: Iterable[TaskUsage],
    *,
    time_period: Mapping[str, Any],
    granularity: str,
    metrics: Sequence[str],
    now: datetime,
    rates: FargateRates | None = None,
    group_by: Sequence[Mapping[str, Any]] | None = None,
    filter: Mapping[str, Any] | None = None,
    include_ec2: bool = False,
) -> dict[str, Any]:
    """GetCostAndUsage's answer (without paging): ResultsByTime, GroupDefinitions (when grouped) and
    DimensionValueAttributes. ``include_ec2`` prices EC2-launch tasks as Fargate on demand (dockyard's
    extension)."""
    granularity = check_granularity(granularity)
    names = check_metrics(metrics)
    groups = check_group_by(group_by)
    predicate = compile_expression(filter)
    start, end = parse_period(time_period, granularity)
    periods = buckets(start, end, granularity)
    starts = [period.start for period in periods]
    items = [
        item
        for item in line_items(usages, rates or FargateRates(), include_ec2=include_ec2)
        if predicate(item)
    ]

    totals: list[dict[tuple[str, ...], _Sum]] = [{} for _ in periods]
    seconds_of: dict[int, list[tuple[int, Decimal]]] = {}
    for item in items:
        key = id(item.task)
        if key not in seconds_of:
            seconds_of[key] = _task_seconds(item.task, periods, starts, now)
        keys = tuple(group_key(item, group) for group in groups)
        for index, seconds in seconds_of[key]:
            totals[index].setdefault(keys, _Sum()).add(item, seconds)

    results: list[dict[str, Any]] = []
    for period, sums in zip(periods, totals, strict=True):
        result: dict[str, Any] = {"TimePeriod": period.time_period(granularity)}
        if groups:
            result["Total"] = {}
            result["Groups"] = [
                {"Keys": list(keys), "Metrics": sums[keys].metrics(names)} for keys in sorted(sums)
            ]
        else:
            result["Total"] = sums.get((), _Sum()).metrics(names)
            result["Groups"] = []
        result["Estimated"] = _estimated(period, now)
        results.append(result)

    answer: dict[str, Any] = {}
    if groups:
        answer["GroupDefinitions"] = [{"Type": kind, "Key": key} for kind, key in groups]
    answer["ResultsByTime"] = results
    answer["DimensionValueAttributes"] = []
    return answer


def _items_in_period(
    usages: Iterable[TaskUsage],
    time_period: Mapping[str, Any],
    now: datetime,
    rates: FargateRates | None,
    filter: Mapping[str, Any] | None,
    include_ec2: bool,
) -> list[LineItem]:
    """The line items that match the filter and have billed seconds in the period."""
    predicate = compile_expression(filter)
    start, end = parse_period(time_period, HOURLY)
    return [
        item
        for item in line_items(usages, rates or FargateRates(), include_ec2=include_ec2)
        if predicate(item) and seconds_within(item.task, start, end, now) > 0
    ]


def _search(values: Iterable[str], search_string: str | None) -> list[str]:
    needle = (search_string or "").lower()
    return sorted({value for value in values if needle in value.lower()})


def get_dimension_values(
    usages: Iterable[TaskUsage],
    *,
    time_period: Mapping[str, Any],
    dimension: str,
    now: datetime,
    rates: FargateRates | None = None,
    search_string: str | None = None,
    filter: Mapping[str, Any] | None = None,
    context: str | None = None,
    include_ec2: bool = False,
) -> dict[str, Any]:
    """GetDimensionValues's answer (without paging): the dimension's values with usage in the period,
    sorted, those containing ``search_string`` (case-insensitive)."""
    key = check_dimension(dimension)
    if context not in (None, "COST_AND_USAGE"):
        raise ValidationError(f"Context {context!r} is not supported by dockyard; use COST_AND_USAGE.")
    items = _items_in_period(usages, time_period, now, rates, filter, include_ec2)
    values = _search((dimension_value(item, key) for item in items), search_string)
    return {
        "DimensionValues": [{"Value": value, "Attributes": {}} for value in values],
        "ReturnSize": len(values),
        "TotalSize": len(values),
    }


def get_tags(
    usages: Iterable[TaskUsage],
    *,
    time_period: Mapping[str, Any],
    now: datetime,
    rates: FargateRates | None = None,
    tag_key: str | None = None,
    search_string: str | None = None,
    filter: Mapping[str, Any] | None = None,
    include_ec2: bool = False,
) -> dict[str, Any]:
    """GetTags's answer (without paging): the tag keys of tasks with usage in the period, or with
    ``tag_key`` the values of that key; sorted, those containing ``search_string`` (case-insensitive)."""
    items = _items_in_period(usages, time_period, now, rates, filter, include_ec2)
    found: list[str] = []
    for item in items:
        tags = item.task.tag_map()
        if tag_key is None:
            found.extend(tags)
        elif tag_key in tags:
            found.append(tags[tag_key])
    tags_found = _search(found, search_string)
    return {"Tags": tags_found, "ReturnSize": len(tags_found), "TotalSize": len(tags_found)}
