"""What one Fargate task is billed: its seconds, its line items (vCPU and GB) and their usage types. Pure.

A task accrues its task-level vCPU (cpu units / 1024) and GB (memory MiB / 1024) per second from the start
of its image pull (else its start) to its stop (a running task: ``now``). The measured duration is rounded
up to whole seconds and billed with a one-minute minimum; the minimum's top-up belongs to the moment the
task started, so a task's seconds split over time buckets always sum to its billed seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dockyard.control.metering.rates import X86_64, FargateRates, Resource, usage_type

FARGATE, FARGATE_SPOT = "FARGATE", "FARGATE_SPOT"
SERVICE_NAME = "Amazon Elastic Container Service"
ON_DEMAND, SPOT = "On Demand Instances", "Spot Instances"
MINIMUM_SECONDS = 60
SECONDS_PER_HOUR = Decimal(3600)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, kw_only=True)
class TaskUsage:
    """One task as metering sees it. ``capacity_provider`` is FARGATE, FARGATE_SPOT, or None (or an EC2
    provider's name) for tasks on container instances, which Fargate does not bill. ``start`` is the
    billing start (see :func:`billing_start`), ``stop`` None while the task runs. Times are UTC (naive
    ones are read as UTC)."""

    account: str
    region: str
    task_arn: str
    cpu: int
    memory: int
    start: datetime
    stop: datetime | None = None
    architecture: str = X86_64
    capacity_provider: str | None = FARGATE
    tags: Sequence[Mapping[str, str]] = ()

    @property
    def vcpu(self) -> Decimal:
        return Decimal(self.cpu) / 1024

    @property
    def gb(self) -> Decimal:
        return Decimal(self.memory) / 1024

    @property
    def on_fargate(self) -> bool:
        return self.capacity_provider in (FARGATE, FARGATE_SPOT)

    @property
    def spot(self) -> bool:
        return self.capacity_provider == FARGATE_SPOT

    def tag_map(self) -> dict[str, str]:
        return {str(tag["key"]): str(tag.get("value", "")) for tag in self.tags}


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def billing_start(pull_started_at: datetime | None, started_at: datetime | None) -> datetime | None:
    """When billing starts: the image pull's start, else the task's start; None if neither happened."""
    return pull_started_at if pull_started_at is not None else started_at


def measured_seconds(usage: TaskUsage, now: datetime) -> int:
    """The task's duration so far in whole seconds, a fractional second rounded up (never negative)."""
    start = as_utc(usage.start)
    end = as_utc(usage.stop) if usage.stop is not None else as_utc(now)
    if end <= start:
        return 0
    return math.ceil((end - start) / _ONE_SECOND)


def billed_seconds(usage: TaskUsage, now: datetime) -> int:
    """The billed duration: the measured whole seconds, at least one minute."""
    return max(measured_seconds(usage, now), MINIMUM_SECONDS)


def seconds_within(usage: TaskUsage, start: datetime, end: datetime, now: datetime) -> Decimal:
    """The task's billed seconds that fall in ``[start, end)``: its measured seconds there (to the
    microsecond), plus the one-minute minimum's top-up if the task started there."""
    task_start = as_utc(usage.start)
    measured = measured_seconds(usage, now)
    task_end = task_start + timedelta(seconds=measured)
    low, high = max(task_start, as_utc(start)), min(task_end, as_utc(end))
    seconds = Decimal(0)
    if high > low:
        delta = high - low
        seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000
    if as_utc(start) <= task_start < as_utc(end):
        seconds += max(MINIMUM_SECONDS - measured, 0)
    return seconds


@dataclass(frozen=True)
class LineItem:
    """One billed resource of one task: ``units`` vCPU or GB at ``rate`` USD per unit-hour."""

    task: TaskUsage
    resource: Resource
    usage_type: str
    purchase_type: str
    units: Decimal
    rate: Decimal

    def quantity(self, seconds: Decimal) -> Decimal:
        """Unit-hours (vCPU-hours or GB-hours) over ``seconds``."""
        return self.units * seconds / SECONDS_PER_HOUR

    def cost(self, seconds: Decimal) -> Decimal:
        """USD over ``seconds``."""
        return self.units * self.rate * seconds / SECONDS_PER_HOUR


def line_items(
    usages: Iterable[TaskUsage], rates: FargateRates, *, include_ec2: bool = False
) -> list[LineItem]:
    """A vCPU and a GB line item per Fargate task. Tasks not on Fargate are left out unless
    ``include_ec2`` (dockyard's "what it would have cost on Fargate on demand" extension)."""
    items: list[LineItem] = []
    for usage in usages:
        if not usage.on_fargate and not include_ec2:
            continue
        spot = usage.spot
        purchase = SPOT if spot else ON_DEMAND
        resources: tuple[tuple[Resource, Decimal], ...] = (("vCPU", usage.vcpu), ("GB", usage.gb))
        for kind, units in resources:
            items.append(
                LineItem(
                    task=usage,
                    resource=kind,
                    usage_type=usage_type(usage.region, kind, usage.architecture, spot=spot),
                    purchase_type=purchase,
                    units=units,
                    rate=rates.per_hour(kind, usage.architecture, spot=spot),
                )
            )
    return items
