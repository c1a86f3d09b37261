"""Fargate's decisions, pure: which subnet a task goes to, which pool host takes it, which OCI runtime
isolates it, and its ENI attachment as ECS shows it.

- Subnets: tasks spread over availability zones: a new task goes to the zone with the fewest live tasks of
  its group, then the subnet listed first (ECS spreads Fargate tasks across the subnets' zones).
- Hosts: binpack within the pool: the ACTIVE, connected host with the least memory left that still fits the
  task (then least CPU left, then ARN), so whole hosts stay free for the provisioner to retire.
- Runtime: gVisor (``runsc``) whenever the host offers it, else ``runc`` (weaker isolation, logged).
- Spot: with a rate of r interruptions per hour, each RUNNING FARGATE_SPOT task is interrupted as a
  Poisson process: over an exposure of dt seconds, with probability 1 - exp(-r*dt/3600), one draw of the
  injected random source per task.
- Retirement: a host the provisioner started (attribute ``dockyard.pool.provisioned=true``) is retired once
  it has been idle (no task on it that is not STOPPED) for the grace period, idle since the later of its
  registration and its last task's stop. The server's own pool host never is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

POOL_CLUSTER = "fargate"
PLATFORM_VERSION = "1.4.0"
PLATFORM_VERSIONS = frozenset({"LATEST", PLATFORM_VERSION})
RUNSC, RUNC = "runsc", "runc"
RUNTIME_ATTRIBUTE_PREFIX = "dockyard.oci-runtime."  # what agents register per runtime their engine has
RUNTIME_ATTRIBUTE = "dockyard.runtime"  # the task attribute naming the runtime that isolates it
ENI = "ElasticNetworkInterface"
# What ``dockyard agent --fargate --provisioned`` registers: the mark, and the address it reaches us from.
PROVISIONED_ATTRIBUTE = "dockyard.pool.provisioned"
ADDRESS_ATTRIBUTE = "dockyard.host.address"
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class PoolHost:
    arn: str
    remaining_cpu: int
    remaining_memory: int
    active: bool
    connected: bool
    runtimes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SubnetChoice:
    subnet_id: str
    availability_zone: str


def choose_subnet(subnets: Sequence[SubnetChoice], zone_counts: Mapping[str, int]) -> SubnetChoice:
    """The subnet of the least used zone (``zone_counts``: live tasks of the group per zone)."""
    if not subnets:
        raise ValueError("no subnet to choose from")
    order = {s.subnet_id: i for i, s in enumerate(subnets)}
    return min(subnets, key=lambda s: (zone_counts.get(s.availability_zone, 0), order[s.subnet_id]))


def choose_host(hosts: Sequence[PoolHost], cpu: int, memory: int) -> PoolHost | None:
    """The host that takes a task of ``cpu`` units and ``memory`` MiB (binpack on memory), or None."""
    fitting = [
        h
        for h in hosts
        if h.active and h.connected and h.remaining_cpu >= cpu and h.remaining_memory >= memory
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda h: (h.remaining_memory, h.remaining_cpu, h.arn))


def runtime_for(host: PoolHost) -> str:
    return RUNSC if RUNSC in host.runtimes else RUNC


def runtimes_of(attributes: Mapping[str, str | None]) -> frozenset[str]:
    return frozenset(
        name.removeprefix(RUNTIME_ATTRIBUTE_PREFIX)
        for name in attributes
        if name.startswith(RUNTIME_ATTRIBUTE_PREFIX)
    )


def eni_attachment(
    attachment_id: str,
    *,
    eni_id: str,
    subnet_id: str,
    private_ip: str,
    mac: str,
    private_dns_name: str,
    subnet_cidr: str,
    subnet_gateway: str,
    status: str = "PRECREATED",
) -> dict[str, Any]:
    """The task's ``attachments`` entry as ECS shows it; ``network`` (dropped by the API's output shape)
    keeps what the agent needs to build the interface's bridge."""
    return {
        "id": attachment_id,
        "type": ENI,
        "status": status,
        "details": [
            {"name": "subnetId", "value": subnet_id},
            {"name": "networkInterfaceId", "value": eni_id},
            {"name": "macAddress", "value": mac},
            {"name": "privateDnsName", "value": private_dns_name},
            {"name": "privateIPv4Address", "value": private_ip},
        ],
        "network": {"subnetCidr": subnet_cidr, "subnetGateway": subnet_gateway},
    }


def with_attachment_status(attachments: Sequence[Mapping[str, Any]], status: str) -> list[dict[str, Any]]:
    return [{**a, "status": status} if a.get("type") == ENI else dict(a) for a in attachments]


@dataclass(frozen=True, slots=True)
class SpotTask:
    """A RUNNING FARGATE_SPOT task, as the interruption draw sees it."""

    arn: str
    running_since: datetime


def interruption_probability(rate_per_hour: float, exposure_s: float) -> float:
    """The chance that a Poisson process of ``rate_per_hour`` fires at least once in ``exposure_s``."""
    if rate_per_hour <= 0 or exposure_s <= 0:
        return 0.0
    return -math.expm1(-rate_per_hour * exposure_s / SECONDS_PER_HOUR)


def spot_interruptions(
    tasks: Sequence[SpotTask],
    *,
    since: datetime,
    now: datetime,
    rate_per_hour: float,
    random: Callable[[], float],
) -> list[str]:
    """The ARNs of those of ``tasks`` to interrupt after the check covering ``(since, now]``: each task is
    exposed from the later of ``since`` and its start, and drawn once (``random()`` in [0, 1)), in ARN
    order, so a seeded source gives the same answer every time."""
    chosen: list[str] = []
    for task in sorted(tasks, key=lambda t: t.arn):
        exposure = (now - max(since, task.running_since)).total_seconds()
        probability = interruption_probability(rate_per_hour, exposure)
        if probability > 0 and random() < probability:
            chosen.append(task.arn)
    return chosen


@dataclass(frozen=True, slots=True)
class PoolHostUse:
    """A registered pool host and what runs on it, as retirement sees it."""

    arn: str
    provisioned: bool
    registered_at: datetime
    live_tasks: int
    """Tasks on the host that are not STOPPED."""
    last_task_stopped_at: datetime | None = None

    @property
    def idle_since(self) -> datetime | None:
        """When the host last became idle, or None while a task is on it."""
        if self.live_tasks > 0:
            return None
        if self.last_task_stopped_at is None:
            return self.registered_at
        return max(self.registered_at, self.last_task_stopped_at)


def hosts_to_retire(hosts: Sequence[PoolHostUse], now: datetime, grace_s: float) -> list[str]:
    """The ARNs of the provisioned hosts idle for at least ``grace_s`` seconds, in ARN order."""
    return sorted(
        h.arn
        for h in hosts
        if h.provisioned and (since := h.idle_since) is not None and (now - since).total_seconds() >= grace_s
    )


def next_retirement_in(hosts: Sequence[PoolHostUse], now: datetime, grace_s: float) -> float | None:
    """Seconds until the next provisioned idle host is due for retirement (0 if one is due), or None when
    no provisioned host is idle."""
    waits = [
        max(0.0, grace_s - (now - since).total_seconds())
        for h in hosts
        if h.provisioned and (since := h.idle_since) is not None
    ]
    return min(waits) if waits else None


def is_provisioned(attributes: Mapping[str, str | None]) -> bool:
    return (attributes.get(PROVISIONED_ATTRIBUTE) or "").lower() == "true"
