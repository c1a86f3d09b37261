"""Place and record tasks, inside the caller's write transaction.

```
launch(tx, cluster, spec, count)                      launch_on(tx, cluster, spec, instance ids)
   │ lock the cluster's rows (concurrent launches serialize here)
   │ read its registered instances as scheduler snapshots, with task counts and groups
   │ place (pure scheduler)                            │ place one copy on each named instance
   ▼                                                   ▼
for each placement: debit the instance (re-checked in the store: never oversubscribed), insert the task
PENDING (PROVISIONING for awsvpc) with desired RUNNING, attach its tags
```

The caller commits, then wakes the instances' agents (``Launched.instance_arns``) and the controllers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.control.launch.interfaces import TaskNetwork, attach
from dockyard.control.launch.shape import (
    TaskShape,
    initial_containers,
    placement_request,
    task_arn,
    task_attributes,
)
from dockyard.control.scheduler import (
    ClusterSnapshot,
    InstanceSnapshot,
    InstanceStatus,
    TaskRequest,
    place,
)
from dockyard.control.scheduler import validate_request as validate_placement
from dockyard.store import container_instances as instance_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.container_instances import ContainerInstanceRecord
from dockyard.store.task_definitions import TaskDefinitionRecord
from dockyard.store.tasks import PENDING, PROVISIONING, RUNNING, TaskRecord

EC2 = "EC2"
MISSING = "MISSING"
RESOURCE_CPU = "RESOURCE:CPU"  # the instance could no longer take the task when it was debited


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What to launch: a definition's task as shaped by the overrides, and how to tag and place it."""

    definition: TaskDefinitionRecord
    shape: TaskShape
    group: str
    started_by: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    constraints: Sequence[Mapping[str, Any]] = ()  # the caller's; the definition's are added
    strategies: Sequence[Mapping[str, Any]] = ()
    tags: Sequence[tuple[str, str]] = ()
    network: TaskNetwork | None = None  # awsvpc: where the tasks' interfaces go

    def request(self, count: int) -> TaskRequest:
        return placement_request(
            self.shape,
            count=count,
            group=self.group,
            definition_constraints=self.definition.body.get("placementConstraints") or [],
            constraints=self.constraints,
            strategies=self.strategies,
        )


@dataclass(frozen=True, slots=True)
class Failure:
    arn: str
    reason: str


@dataclass(slots=True)
class Launched:
    tasks: list[TaskRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def instance_arns(self) -> list[str | None]:
        return [t.container_instance_arn for t in self.tasks]


@dataclass(frozen=True, slots=True)
class Placeable:
    record: ContainerInstanceRecord
    snapshot: InstanceSnapshot


def lock(tx: Connection, cluster: ClusterRecord) -> None:
    """Serialize placements in ``cluster`` until the transaction ends."""
    task_store.lock_cluster(tx, cluster.account_id, cluster.region, cluster.name)


def validate(spec: LaunchSpec, count: int) -> None:
    """The scheduler's checks of the request (constraints and strategies well-formed); before any lock."""
    validate_placement(spec.request(count))


def launch(
    tx: Connection,
    cluster: ClusterRecord,
    spec: LaunchSpec,
    count: int,
    *,
    now: datetime,
    rng: random.Random,
    instances: dict[str, Placeable] | None = None,
) -> Launched:
    """Place ``count`` copies of ``spec`` on the cluster's instances and record them.

    ``instances`` (from :func:`placeable`, in this transaction, after :func:`lock`) lets several launches
    share one read of the cluster; each launch updates it with what it placed.
    """
    if instances is None:
        lock(tx, cluster)
        instances = placeable(tx, cluster)
    snapshot = ClusterSnapshot(tuple(p.snapshot for p in instances.values()))
    plan = place(snapshot, spec.request(count), rng, cluster_arn=cluster.arn)
    launched = Launched(failures=[Failure(f.arn, f.reason) for f in plan.failures])
    for placement in plan.placements:
        target = instances[placement.instance_arn]
        if _record_on(tx, cluster, spec, target.record, now, launched):
            instances[placement.instance_arn] = _debited(target, spec)
    return launched


def launch_on(
    tx: Connection,
    cluster: ClusterRecord,
    spec: LaunchSpec,
    targets: Sequence[tuple[str, str | None]],
    *,
    now: datetime,
    rng: random.Random,
) -> Launched:
    """One copy of ``spec`` on each named instance (``(reference, instance id or None)``), as StartTask
    does: the scheduler's filters still apply; a reference naming no registered instance is MISSING."""
    lock(tx, cluster)
    request = spec.request(1)
    launched = Launched()
    for reference, instance_id in targets:
        instances = placeable(tx, cluster)  # re-read: the previous target's debit counts
        found = next((p for p in instances.values() if p.record.instance_id == instance_id), None)
        if found is None:
            launched.failures.append(Failure(reference, MISSING))
            continue
        plan = place(ClusterSnapshot((found.snapshot,)), request, rng, cluster_arn=cluster.arn)
        if not plan.placements:
            launched.failures.extend(Failure(f.arn, f.reason) for f in plan.failures)
            continue
        _record_on(tx, cluster, spec, found.record, now, launched)
    return launched


def placeable(tx: Connection, cluster: ClusterRecord) -> dict[str, Placeable]:
    """The cluster's registered instances with their scheduler snapshots, task counts and groups, by ARN
    (an instance whose agent is not connected is among them, for the scheduler to fail it with AGENT)."""
    records = instance_store.list_instances(
        tx, cluster.account_id, cluster.region, cluster.name, statuses=instance_store.REGISTERED
    )
    counts = task_store.count_by_instance(tx, cluster.account_id, [r.arn for r in records])
    groups = task_store.groups_by_instance(tx, cluster.account_id, cluster.region, cluster.name)
    found: dict[str, Placeable] = {}
    for record in records:
        count = counts.get(record.arn, task_store.TaskCounts())
        snap = instance_snapshot(
            record,
            running_tasks_count=count.running,
            pending_tasks_count=count.pending,
            task_groups=groups.get(record.arn, {}),
        )
        found[record.arn] = Placeable(record, snap)
    return found


def instance_snapshot(
    record: ContainerInstanceRecord,
    *,
    running_tasks_count: int = 0,
    pending_tasks_count: int = 0,
    task_groups: Mapping[str, int] | None = None,
) -> InstanceSnapshot:
    """The scheduler's view of ``record`` (with its task counts and groups when given)."""
    agent_version = record.version_info.get("agentVersion")
    return InstanceSnapshot(
        arn=record.arn,
        instance_id=record.instance_id,
        status=InstanceStatus(record.status),
        agent_connected=record.agent_connected,
        registered_cpu=record.registered_cpu,
        registered_memory=record.registered_memory,
        remaining_cpu=record.remaining_cpu,
        remaining_memory=record.remaining_memory,
        registered_at=record.registered_at,
        reserved_ports_tcp=frozenset(record.remaining_ports_tcp),
        reserved_ports_udp=frozenset(record.remaining_ports_udp),
        attributes=record.attributes,
        agent_version=agent_version if isinstance(agent_version, str) else None,
        ec2_instance_id=record.ec2_instance_id,
        running_tasks_count=running_tasks_count,
        pending_tasks_count=pending_tasks_count,
        task_groups=task_groups or {},
    )


def stored_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **overrides}


def _record_on(
    tx: Connection,
    cluster: ClusterRecord,
    spec: LaunchSpec,
    instance: ContainerInstanceRecord,
    now: datetime,
    launched: Launched,
) -> bool:
    record = _start(tx, cluster, spec, instance, now)
    if record is None:
        launched.failures.append(Failure(instance.arn, RESOURCE_CPU))
        return False
    if spec.tags:
        tag_store.put_tags(tx, cluster.account_id, record.arn, spec.tags)
    launched.tasks.append(record)
    return True


def _debited(target: Placeable, spec: LaunchSpec) -> Placeable:
    """``target`` after one task of ``spec`` was recorded on it (what the store now holds)."""
    snap, shape = target.snapshot, spec.shape
    groups = dict(snap.task_groups)
    groups[spec.group] = groups.get(spec.group, 0) + 1
    return Placeable(
        target.record,
        replace(
            snap,
            remaining_cpu=snap.remaining_cpu - shape.cpu,
            remaining_memory=snap.remaining_memory - shape.memory,
            reserved_ports_tcp=snap.reserved_ports_tcp | shape.host_ports_tcp,
            reserved_ports_udp=snap.reserved_ports_udp | shape.host_ports_udp,
            pending_tasks_count=snap.pending_tasks_count + 1,
            task_groups=groups,
        ),
    )


def _start(
    tx: Connection,
    cluster: ClusterRecord,
    spec: LaunchSpec,
    instance: ContainerInstanceRecord,
    now: datetime,
) -> TaskRecord | None:
    """Debit ``instance`` and insert one task on it; None if the instance can no longer take it."""
    shape = spec.shape
    debited = task_store.debit_instance(
        tx,
        cluster.account_id,
        instance.arn,
        cpu=shape.cpu,
        memory=shape.memory,
        ports_tcp=shape.host_ports_tcp,
        ports_udp=shape.host_ports_udp,
        now=now,
    )
    if not debited:
        return None
    awsvpc = spec.definition.body.get("networkMode") == "awsvpc"
    record = new_task(
        cluster,
        spec,
        now,
        container_instance_arn=instance.arn,
        last_status=PROVISIONING if awsvpc else PENDING,
        launch_type=EC2,
        attributes=task_attributes(instance.attributes),
        availability_zone=instance.attributes.get("ecs.availability-zone"),
    )
    if spec.network is not None:
        zone = record.availability_zone
        record = attach(tx, record, spec.network, {} if zone is None else _prefer(zone, spec.network), now)
    task_store.insert_task(tx, record)
    return record


def _prefer(zone: str, network: TaskNetwork) -> dict[str, int]:
    """Zone counts that make the instance's own zone the least used (its subnet first, if named)."""
    return {s.availability_zone: 1 for s in network.subnets if s.availability_zone != zone}


def new_task(
    cluster: ClusterRecord,
    spec: LaunchSpec,
    now: datetime,
    *,
    container_instance_arn: str | None,
    last_status: str,
    launch_type: str,
    attributes: list[dict[str, Any]],
    availability_zone: str | None,
    **extra: Any,
) -> TaskRecord:
    """A new task of ``spec`` in ``cluster`` (desired RUNNING, its containers PENDING), not stored yet;
    ``extra`` sets further :class:`TaskRecord` fields."""
    shape, definition = spec.shape, spec.definition
    task_id = uuid.uuid4().hex
    arn = task_arn(cluster.region, cluster.account_id, cluster.name, task_id)
    return TaskRecord(
        account_id=cluster.account_id,
        region=cluster.region,
        cluster_name=cluster.name,
        task_id=task_id,
        arn=arn,
        cluster_arn=cluster.arn,
        task_definition_arn=definition.arn,
        family=definition.family,
        container_instance_arn=container_instance_arn,
        last_status=last_status,
        desired_status=RUNNING,
        launch_type=launch_type,
        group=spec.group,
        started_by=spec.started_by,
        cpu=shape.task_cpu,
        memory=shape.task_memory,
        reserved_cpu=shape.cpu,
        reserved_memory=shape.memory,
        reserved_ports_tcp=tuple(sorted(shape.host_ports_tcp)),
        reserved_ports_udp=tuple(sorted(shape.host_ports_udp)),
        overrides=stored_overrides(spec.overrides),
        containers=initial_containers(
            shape,
            task_arn=arn,
            container_ids=[str(uuid.uuid4()) for _ in shape.containers],
            region=cluster.region,
            account_id=cluster.account_id,
            cluster=cluster.name,
        ),
        attributes=attributes,
        availability_zone=availability_zone,
        created_at=now,
        updated_at=now,
        **extra,
    )
