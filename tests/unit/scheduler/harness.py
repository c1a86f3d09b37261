"""Build cluster snapshots in memory and run the scheduler on them (Nomad's Harness, in miniature)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from dockyard.control.scheduler import (
    ClusterSnapshot,
    InstanceSnapshot,
    InstanceStatus,
    PlacementPlan,
    TaskRequest,
    place,
)

CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/default"
REGISTERED = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


def arn(instance_id: str) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:container-instance/default/{instance_id}"


def instance(
    instance_id: str,
    *,
    cpu: int = 2048,
    memory: int = 4096,
    remaining_cpu: int | None = None,
    remaining_memory: int | None = None,
    status: InstanceStatus = InstanceStatus.ACTIVE,
    connected: bool = True,
    ports_tcp: Iterable[int] = (22, 2375, 2376, 51678, 51679),
    ports_udp: Iterable[int] = (),
    zone: str | None = "us-east-1a",
    instance_type: str = "t2.medium",
    attributes: Mapping[str, str | None] | None = None,
    running: int = 0,
    groups: Mapping[str, int] | None = None,
    agent_version: str | None = "1.80.0",
    ec2_instance_id: str | None = None,
    registered_at: datetime = REGISTERED,
) -> InstanceSnapshot:
    """A container instance with sensible defaults: an idle, connected t2.medium in us-east-1a."""
    attrs: dict[str, str | None] = {"ecs.instance-type": instance_type, "ecs.os-type": "linux"}
    if zone is not None:
        attrs["ecs.availability-zone"] = zone
    attrs.update(attributes or {})
    return InstanceSnapshot(
        arn=arn(instance_id),
        instance_id=instance_id,
        status=status,
        agent_connected=connected,
        registered_cpu=cpu,
        registered_memory=memory,
        remaining_cpu=cpu if remaining_cpu is None else remaining_cpu,
        remaining_memory=memory if remaining_memory is None else remaining_memory,
        registered_at=registered_at,
        reserved_ports_tcp=frozenset(ports_tcp),
        reserved_ports_udp=frozenset(ports_udp),
        attributes=attrs,
        running_tasks_count=running,
        agent_version=agent_version,
        ec2_instance_id=ec2_instance_id,
        task_groups=dict(groups or {}),
    )


def cluster(*instances: InstanceSnapshot) -> ClusterSnapshot:
    return ClusterSnapshot(tuple(instances))


def run(snapshot: ClusterSnapshot, request: TaskRequest, seed: int = 7) -> PlacementPlan:
    return place(snapshot, request, random.Random(seed), cluster_arn=CLUSTER_ARN)


def hosts(plan: PlacementPlan) -> list[str]:
    """The instance id of each placement, in order."""
    return [placement.instance_arn.rsplit("/", 1)[1] for placement in plan.placements]


def reasons(plan: PlacementPlan) -> dict[str, str]:
    """Failure reason by instance id (or by the cluster ARN)."""
    return {
        failure.arn.rsplit("/", 1)[1] if "container-instance" in failure.arn else failure.arn: failure.reason
        for failure in plan.failures
    }
