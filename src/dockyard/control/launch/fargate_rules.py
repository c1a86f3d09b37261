"""Fargate's decisions, pure: which subnet a task goes to, which pool host takes it, which OCI runtime
isolates it, and its ENI attachment as ECS shows it.

- Subnets: tasks spread over availability zones: a new task goes to the zone with the fewest live tasks of
  its group, then the subnet listed first (ECS spreads Fargate tasks across the subnets' zones).
- Hosts: binpack within the pool: the ACTIVE, connected host with the least memory left that still fits the
  task (then least CPU left, then ARN), so whole hosts stay free for the provisioner to retire.
- Runtime: gVisor (``runsc``) whenever the host offers it, else ``runc`` (weaker isolation, logged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

POOL_CLUSTER = "fargate"
PLATFORM_VERSION = "1.4.0"
PLATFORM_VERSIONS = frozenset({"LATEST", PLATFORM_VERSION})
RUNSC, RUNC = "runsc", "runc"
RUNTIME_ATTRIBUTE_PREFIX = "dockyard.oci-runtime."  # what agents register per runtime their engine has
RUNTIME_ATTRIBUTE = "dockyard.runtime"  # the task attribute naming the runtime that isolates it
ENI = "ElasticNetworkInterface"


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
