"""ECS tasks, and the container instance resource ledger they debit, inside a caller's transaction.

A task is keyed by (account, region, cluster, task id); its ARN is unique. Placing a task debits its
reservation (CPU, memory, static host ports) from its container instance's ``remaining_*`` columns; the
task keeps what it debited (``reserved_*``) and :func:`record_task_state` credits it back exactly once,
when the task reaches STOPPED (``resources_released`` flips in the same transaction).

Concurrency: callers that place tasks first call :func:`lock_cluster`, which takes row locks on the
cluster and its instances (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serializes writers), then read the instances, plan, and :func:`debit_instance`, which re-checks the
instance's remaining resources and refuses (returns False) rather than oversubscribe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)

from dockyard.store import tags as tag_store
from dockyard.store import usage as usage_store
from dockyard.store.purging import delete_where
from dockyard.store.schema import clusters as clusters_table
from dockyard.store.schema import ecs_container_instances as instances_table
from dockyard.store.schema import ecs_tasks as table

# lastStatus values (REFERENCE.md "Task lifecycle") and desiredStatus values.
PROVISIONING = "PROVISIONING"
PENDING = "PENDING"
ACTIVATING = "ACTIVATING"
RUNNING = "RUNNING"
DEACTIVATING = "DEACTIVATING"
STOPPING = "STOPPING"
DEPROVISIONING = "DEPROVISIONING"
STOPPED = "STOPPED"
PENDING_STATES = (PROVISIONING, PENDING, ACTIVATING)
RUNNING_STATES = (RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING)
LIFECYCLE = (*PENDING_STATES, *RUNNING_STATES, STOPPED)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    account_id: str
    region: str
    cluster_name: str
    task_id: str
    arn: str
    cluster_arn: str
    task_definition_arn: str
    family: str
    container_instance_arn: str | None
    last_status: str
    desired_status: str
    launch_type: str
    group: str | None
    started_by: str | None
    cpu: str | None
    memory: str | None
    reserved_cpu: int
    reserved_memory: int
    reserved_ports_tcp: tuple[int, ...]
    reserved_ports_udp: tuple[int, ...]
    overrides: dict[str, Any]
    containers: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    attributes: list[dict[str, Any]] = field(default_factory=list)
    availability_zone: str | None = None
    connectivity: str | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    health_status: str = "UNKNOWN"
    resources_released: bool = False
    version: int = 1
    connectivity_at: datetime | None = None
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    started_at: datetime | None = None
    stopping_at: datetime | None = None
    stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None
    capacity_provider_name: str | None = None
    platform_version: str | None = None
    cpu_architecture: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    eni_id: str | None = None
    interrupt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskCounts:
    running: int = 0
    pending: int = 0


# Statements on the launch path are built once: building one costs more than running it.
_INSERT_TASK = insert(table)
_LOCKED_INSTANCE = (
    select(instances_table)
    .where(
        instances_table.c.account_id == bindparam("account_id"),
        instances_table.c.arn == bindparam("instance_arn"),
    )
    .with_for_update()
)
_DEBIT = (
    update(instances_table)
    .where(
        instances_table.c.id == bindparam("pk"),
        instances_table.c.remaining_cpu >= bindparam("cpu"),
        instances_table.c.remaining_memory >= bindparam("memory"),
    )
    .values(
        remaining_cpu=instances_table.c.remaining_cpu - bindparam("cpu"),
        remaining_memory=instances_table.c.remaining_memory - bindparam("memory"),
        remaining_ports_tcp=bindparam("ports_tcp"),
        remaining_ports_udp=bindparam("ports_udp"),
        version=instances_table.c.version + 1,
        updated_at=bindparam("now"),
    )
)


def insert_task(conn: Connection, record: TaskRecord) -> None:
    conn.execute(_INSERT_TASK, _to_row(record))


def save_task(conn: Connection, record: TaskRecord) -> TaskRecord:
    """Overwrite the stored task with ``record``, bumping its version."""
    saved = replace(record, version=record.version + 1)
    conn.execute(
        update(table)
        .where(table.c.account_id == record.account_id, table.c.arn == record.arn)
        .values(**_to_row(saved))
    )
    return saved


def find_tasks(
    conn: Connection, account_id: str, region: str, cluster_name: str, task_ids: Iterable[str]
) -> dict[str, TaskRecord]:
    """The cluster's tasks of ``task_ids``, keyed by task id."""
    wanted = list(dict.fromkeys(task_ids))
    if not wanted:
        return {}
    query = select(table).where(*_scope(account_id, region, cluster_name), table.c.task_id.in_(wanted))
    return {r.task_id: r for r in (_to_record(row._mapping) for row in conn.execute(query))}


def find_task(
    conn: Connection, account_id: str, region: str, cluster_name: str, task_id: str, *, lock: bool = False
) -> TaskRecord | None:
    query = select(table).where(*_scope(account_id, region, cluster_name), table.c.task_id == task_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _to_record(row._mapping)


def find_task_by_arn(conn: Connection, task_arn: str, *, lock: bool = False) -> TaskRecord | None:
    """The task with ``task_arn`` in any account (for the agent path, which is scoped by its instance)."""
    query = select(table).where(table.c.arn == task_arn)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _to_record(row._mapping)


def list_instance_tasks(conn: Connection, instance_arn: str) -> list[TaskRecord]:
    """The tasks placed on the instance ``instance_arn`` that are not STOPPED (by lastStatus), in ARN
    order: what its agent should know about. Not scoped by account: the ARN names the instance's, and a
    Fargate pool instance runs tasks of every account."""
    query = (
        select(table)
        .where(
            table.c.container_instance_arn == instance_arn,
            table.c.last_status != STOPPED,
        )
        .order_by(table.c.arn)
    )
    return [_to_record(row._mapping) for row in conn.execute(query)]


def list_group_tasks(
    conn: Connection,
    account_id: str,
    region: str,
    cluster_name: str,
    group: str,
    *,
    stopped_since: datetime | None = None,
) -> list[TaskRecord]:
    """The tasks of ``group`` that are not STOPPED, plus (when ``stopped_since`` is given) those that
    stopped since then, in creation order."""
    live = table.c.last_status != STOPPED
    condition: ColumnElement[bool] = live
    if stopped_since is not None:
        condition = live | (table.c.stopped_at >= stopped_since)
    query = (
        select(table)
        .where(
            table.c.account_id == account_id,
            table.c.region == region,
            table.c.cluster_name == cluster_name,
            table.c.task_group == group,
            condition,
        )
        .order_by(table.c.created_at, table.c.id)
    )
    return [_to_record(row._mapping) for row in conn.execute(query)]


def list_task_arns(
    conn: Connection,
    account_id: str,
    region: str,
    cluster_name: str,
    *,
    desired_status: str,
    container_instance_arn: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    launch_type: str | None = None,
    group: str | None = None,
    after: str | None = None,
    limit: int,
) -> list[str]:
    """Task ARNs of the cluster with ``desired_status`` and the given filters, in ARN order, strictly
    after ``after``, at most ``limit``."""
    query = select(table.c.arn).where(
        *_scope(account_id, region, cluster_name), table.c.desired_status == desired_status
    )
    if container_instance_arn is not None:
        query = query.where(table.c.container_instance_arn == container_instance_arn)
    if family is not None:
        query = query.where(table.c.family == family)
    if started_by is not None:
        query = query.where(table.c.started_by == started_by)
    if launch_type is not None:
        query = query.where(table.c.launch_type == launch_type)
    if group is not None:
        query = query.where(table.c.task_group == group)
    if after is not None:
        query = query.where(table.c.arn > after)
    return [str(arn) for (arn,) in conn.execute(query.order_by(table.c.arn).limit(limit))]


def count_by_cluster(
    conn: Connection, account_id: str, region: str, cluster_names: Iterable[str]
) -> dict[str, TaskCounts]:
    """Running and pending tasks (by lastStatus) per cluster; clusters without any are absent."""
    names = list(set(cluster_names))
    if not names:
        return {}
    rows = conn.execute(_COUNT_BY_CLUSTER, {"account_id": account_id, "region": region, "names": names})
    return _counts((str(name), str(status), int(n)) for name, status, n in rows)


# Built once: DescribeClusters runs it on every call.
_COUNT_BY_CLUSTER = (
    select(table.c.cluster_name, table.c.last_status, func.count())
    .where(
        table.c.account_id == bindparam("account_id"),
        table.c.region == bindparam("region"),
        table.c.cluster_name.in_(bindparam("names", expanding=True)),
        table.c.last_status != STOPPED,
    )
    .group_by(table.c.cluster_name, table.c.last_status)
)


def count_by_instance(
    conn: Connection, account_id: str, instance_arns: Iterable[str]
) -> dict[str, TaskCounts]:
    """Running and pending tasks (by lastStatus) per container instance ARN."""
    arns = list(set(instance_arns))
    if not arns:
        return {}
    rows = conn.execute(
        select(table.c.container_instance_arn, table.c.last_status, func.count())
        .where(
            table.c.account_id == account_id,
            table.c.container_instance_arn.in_(arns),
            table.c.last_status != STOPPED,
        )
        .group_by(table.c.container_instance_arn, table.c.last_status)
    )
    return _counts((str(arn), str(status), int(n)) for arn, status, n in rows)


def groups_by_instance(
    conn: Connection, account_id: str, region: str, cluster_name: str
) -> dict[str, dict[str, int]]:
    """For each instance of the cluster, its tasks that are not STOPPED counted per task group."""
    rows = conn.execute(
        select(table.c.container_instance_arn, table.c.task_group, func.count())
        .where(
            *_scope(account_id, region, cluster_name),
            table.c.last_status != STOPPED,
            table.c.container_instance_arn.is_not(None),
            table.c.task_group.is_not(None),
        )
        .group_by(table.c.container_instance_arn, table.c.task_group)
    )
    groups: dict[str, dict[str, int]] = {}
    for arn, group, n in rows:
        groups.setdefault(str(arn), {})[str(group)] = int(n)
    return groups


def lock_cluster(conn: Connection, account_id: str, region: str, cluster_name: str) -> None:
    """Lock the cluster row and its instance rows until the transaction ends (PostgreSQL; a no-op on
    SQLite, whose write transactions are already exclusive). Every placement in the cluster is serialized
    behind this, including placements on instances registered after the lock was taken."""
    if conn.dialect.name == "sqlite":
        return
    conn.execute(
        select(clusters_table.c.id)
        .where(
            clusters_table.c.account_id == account_id,
            clusters_table.c.region == region,
            clusters_table.c.name == cluster_name,
        )
        .with_for_update()
    ).all()
    conn.execute(
        select(instances_table.c.id)
        .where(
            instances_table.c.account_id == account_id,
            instances_table.c.region == region,
            instances_table.c.cluster_name == cluster_name,
        )
        .order_by(instances_table.c.id)
        .with_for_update()
    ).all()


def debit_instance(
    conn: Connection,
    account_id: str,
    instance_arn: str,
    *,
    cpu: int,
    memory: int,
    ports_tcp: Iterable[int],
    ports_udp: Iterable[int],
    now: datetime,
) -> bool:
    """Take a task's reservation from the instance's remaining resources; False (and nothing changed)
    if the instance no longer has that much CPU or memory, a port is taken, or it is not ACTIVE."""
    row = _locked_instance(conn, account_id, instance_arn)
    if row is None or row["status"] != "ACTIVE":
        return False
    tcp, udp = set(_ports(row["remaining_ports_tcp"])), set(_ports(row["remaining_ports_udp"]))
    want_tcp, want_udp = set(ports_tcp), set(ports_udp)
    if row["remaining_cpu"] < cpu or row["remaining_memory"] < memory or tcp & want_tcp or udp & want_udp:
        return False
    result = conn.execute(
        _DEBIT,
        {
            "pk": row["id"],
            "cpu": cpu,
            "memory": memory,
            "ports_tcp": _dump(sorted(tcp | want_tcp)),
            "ports_udp": _dump(sorted(udp | want_udp)),
            "now": now,
        },
    )
    return bool(result.rowcount == 1)


def record_task_state(
    conn: Connection,
    task_arn: str,
    last_status: str,
    *,
    now: datetime,
    containers: Sequence[Mapping[str, Any]] = (),
    reason: str | None = None,
    stop_code: str | None = None,
    pull_started_at: datetime | None = None,
    pull_stopped_at: datetime | None = None,
    execution_stopped_at: datetime | None = None,
) -> TaskRecord | None:
    """Apply a state change the agent reports (SubmitTaskStateChange) and return the task as saved, or
    None if there is no such task.

    ``containers`` are per-container changes keyed by ``containerName`` (or ``name``): ``status`` (or
    ``lastStatus``), ``exitCode``, ``reason``, ``networkBindings``, ``runtimeId``, ``imageDigest``.
    A task never moves back in its lifecycle. On STOPPED: ``stoppedAt``, ``executionStoppedAt``, every
    container not yet stopped becomes STOPPED, ``stoppedReason``/``stopCode`` are kept if already set
    (by StopTask) else taken from ``reason``/``stop_code``, and the reservation is credited back to the
    instance — exactly once, however often STOPPED is reported.
    """
    if last_status not in LIFECYCLE:
        raise ValueError(f"unknown task status {last_status!r}")
    record = find_task_by_arn(conn, task_arn, lock=True)
    if record is None:
        return None
    status = record.last_status
    if LIFECYCLE.index(last_status) > LIFECYCLE.index(status):
        status = last_status
    stopped = status == STOPPED
    if stopped and record.eni_id is not None:
        status = DEPROVISIONING  # its interface is released next (see finish_deprovisioning)
    changed = replace(
        record,
        last_status=status,
        containers=_merge_containers(record.containers, containers, stopped=stopped),
        pull_started_at=record.pull_started_at or pull_started_at,
        pull_stopped_at=record.pull_stopped_at or pull_stopped_at,
        started_at=record.started_at or (now if status in RUNNING_STATES else None),
        connectivity="CONNECTED" if status in RUNNING_STATES else record.connectivity,
        connectivity_at=record.connectivity_at or (now if status in RUNNING_STATES else None),
        updated_at=now,
    )
    if stopped:
        changed = replace(
            changed,
            desired_status=STOPPED,
            stopped_at=record.stopped_at or (now if status == STOPPED else None),
            stopping_at=record.stopping_at or now,
            execution_stopped_at=record.execution_stopped_at or execution_stopped_at or now,
            stopped_reason=record.stopped_reason or reason,
            stop_code=record.stop_code or stop_code,
        )
        if not record.resources_released:
            _credit(conn, record, now)
            changed = replace(changed, resources_released=True)
    _meter(conn, record, changed)
    if changed == replace(record, updated_at=now):
        return record
    return save_task(conn, changed)


def _meter(conn: Connection, before: TaskRecord, after: TaskRecord) -> None:
    """Open the task's usage row when its billing starts, close it when its containers stopped: in the
    transaction that records the change, so a restart neither loses nor repeats either."""
    start = after.pull_started_at or after.started_at
    stopped = (
        after.execution_stopped_at if after.desired_status == STOPPED and after.resources_released else None
    )
    if start is None:  # never pulled nor started: nothing to bill
        return
    if (before.pull_started_at or before.started_at) is None or stopped is not None:
        usage_store.open_usage(
            conn,
            account_id=after.account_id,
            region=after.region,
            task_arn=after.arn,
            cluster_name=after.cluster_name,
            launch_type=after.launch_type,
            capacity_provider=after.capacity_provider_name,
            cpu=after.reserved_cpu,
            memory=after.reserved_memory,
            architecture=after.cpu_architecture or "X86_64",
            tags=[{"key": k, "value": v} for k, v in tag_store.list_tags(conn, after.account_id, after.arn)],
            started_at=start,
        )
    if stopped is not None and not before.resources_released:
        usage_store.close_usage(conn, after.arn, stopped)


def request_stop(record: TaskRecord, *, now: datetime, reason: str, stop_code: str) -> TaskRecord:
    """``record`` with desired STOPPED (StopTask, a service's scheduler, a Spot interruption); a running
    task with an interface starts DEACTIVATING (ECS: detaching it), the rest waits for the agent."""
    status = record.last_status
    if record.eni_id is not None and status == RUNNING:
        status = DEACTIVATING
    return replace(
        record,
        desired_status=STOPPED,
        last_status=status,
        stopping_at=record.stopping_at or now,
        stopped_reason=record.stopped_reason or reason,
        stop_code=record.stop_code or stop_code,
        updated_at=now,
    )


def list_waiting(conn: Connection, region: str) -> list[TaskRecord]:
    """Fargate tasks of the region waiting for a host (PROVISIONING, none yet), oldest first."""
    query = (
        select(table)
        .where(
            table.c.launch_type == "FARGATE",
            table.c.last_status == PROVISIONING,
            table.c.region == region,
            table.c.container_instance_arn.is_(None),
        )
        .order_by(table.c.created_at, table.c.id)
    )
    return [_to_record(row._mapping) for row in conn.execute(query)]


def list_deprovisioning(conn: Connection, region: str) -> list[TaskRecord]:
    """Tasks of the region whose containers stopped and whose interface is still to be released."""
    query = select(table).where(
        table.c.last_status == DEPROVISIONING,
        table.c.region == region,
        table.c.launch_type.in_(("FARGATE", "EC2")),
    )
    return [_to_record(row._mapping) for row in conn.execute(query.with_for_update())]


def regions_with_work(conn: Connection) -> list[str]:
    """Regions that have tasks waiting for a Fargate host or for their interface's release."""
    query = (
        select(table.c.region)
        .where(
            table.c.launch_type.in_(("FARGATE", "EC2")),
            table.c.last_status.in_((PROVISIONING, DEPROVISIONING)),
        )
        .distinct()
    )
    return [str(region) for (region,) in conn.execute(query)]


def list_running_spot(conn: Connection, region: str) -> list[TaskRecord]:
    """The region's FARGATE_SPOT tasks that are RUNNING and still meant to run, in ARN order."""
    query = select(table).where(*_RUNNING_SPOT, table.c.region == region).order_by(table.c.arn)
    return [_to_record(row._mapping) for row in conn.execute(query)]


def regions_with_running_spot(conn: Connection) -> list[str]:
    """Regions that have a FARGATE_SPOT task RUNNING and still meant to run."""
    return [str(r) for (r,) in conn.execute(select(table.c.region).where(*_RUNNING_SPOT).distinct())]


_RUNNING_SPOT = (
    table.c.launch_type == "FARGATE",
    table.c.last_status == RUNNING,
    table.c.desired_status == RUNNING,
    table.c.capacity_provider_name == "FARGATE_SPOT",
)


@dataclass(frozen=True, slots=True)
class InstanceActivity:
    live: int = 0
    """Tasks on the instance that are not STOPPED."""
    last_stopped_at: datetime | None = None
    """When the last of its tasks still stored stopped."""


def instance_activity(conn: Connection, instance_arns: Iterable[str]) -> dict[str, InstanceActivity]:
    """What runs on each of ``instance_arns`` (every account's tasks: a Fargate pool instance runs them
    all); instances that never had a task still stored are absent."""
    arns = list(set(instance_arns))
    if not arns:
        return {}
    live = func.sum(case((table.c.last_status != STOPPED, 1), else_=0))
    rows = conn.execute(
        select(table.c.container_instance_arn, live, func.max(table.c.stopped_at))
        .where(table.c.container_instance_arn.in_(arns))
        .group_by(table.c.container_instance_arn)
    )
    return {str(arn): InstanceActivity(int(n or 0), stopped) for arn, n, stopped in rows}


def purge_stopped(conn: Connection, *, stopped_before: datetime) -> list[tuple[str, str]]:
    """Remove the tasks that reached STOPPED before ``stopped_before``; their (account, ARN) pairs."""
    return delete_where(
        conn, table, and_(table.c.last_status == STOPPED, table.c.stopped_at < stopped_before)
    )


def _credit(conn: Connection, record: TaskRecord, now: datetime) -> None:
    if record.container_instance_arn is None:
        return
    row = _locked_instance(
        conn, instance_account(record.container_instance_arn), record.container_instance_arn
    )
    if row is None:
        return
    registered_tcp = set(_ports(row["registered_ports_tcp"]))
    registered_udp = set(_ports(row["registered_ports_udp"]))
    tcp = set(_ports(row["remaining_ports_tcp"])) - (set(record.reserved_ports_tcp) - registered_tcp)
    udp = set(_ports(row["remaining_ports_udp"])) - (set(record.reserved_ports_udp) - registered_udp)
    conn.execute(
        update(instances_table)
        .where(instances_table.c.id == row["id"])
        .values(
            remaining_cpu=min(row["registered_cpu"], row["remaining_cpu"] + record.reserved_cpu),
            remaining_memory=min(row["registered_memory"], row["remaining_memory"] + record.reserved_memory),
            remaining_ports_tcp=_dump(sorted(tcp)),
            remaining_ports_udp=_dump(sorted(udp)),
            version=row["version"] + 1,
            updated_at=now,
        )
    )


def instance_account(instance_arn: str) -> str:
    """The account in a container instance ARN (a Fargate task's instance is the pool's, not its own)."""
    parts = instance_arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def _merge_containers(
    current: Sequence[Mapping[str, Any]], changes: Sequence[Mapping[str, Any]], *, stopped: bool
) -> list[dict[str, Any]]:
    by_name = {str(c.get("containerName") or c.get("name")): c for c in changes}
    merged: list[dict[str, Any]] = []
    for container in current:
        updated = dict(container)
        change = by_name.get(str(container["name"]))
        if change is not None:
            status = change.get("status") or change.get("lastStatus")
            if status in LIFECYCLE and LIFECYCLE.index(status) > LIFECYCLE.index(updated["lastStatus"]):
                updated["lastStatus"] = status
            for key in ("exitCode", "reason", "networkBindings", "runtimeId", "imageDigest"):
                if change.get(key) is not None:
                    updated[key] = change[key]
        if stopped:
            updated["lastStatus"] = STOPPED
        merged.append(updated)
    return merged


def _locked_instance(conn: Connection, account_id: str, instance_arn: str) -> RowMapping | None:
    row = conn.execute(_LOCKED_INSTANCE, {"account_id": account_id, "instance_arn": instance_arn}).first()
    return None if row is None else row._mapping


def _counts(rows: Iterable[tuple[str, str, int]]) -> dict[str, TaskCounts]:
    counts: dict[str, TaskCounts] = {}
    for key, status, n in rows:
        current = counts.get(key, TaskCounts())
        if status in PENDING_STATES:
            current = replace(current, pending=current.pending + n)
        else:
            current = replace(current, running=current.running + n)
        counts[key] = current
    return counts


def _scope(account_id: str, region: str, cluster_name: str) -> Sequence[ColumnElement[bool]]:
    return (
        table.c.account_id == account_id,
        table.c.region == region,
        table.c.cluster_name == cluster_name,
    )


def _to_row(record: TaskRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "cluster_name": record.cluster_name,
        "task_id": record.task_id,
        "arn": record.arn,
        "cluster_arn": record.cluster_arn,
        "task_definition_arn": record.task_definition_arn,
        "family": record.family,
        "container_instance_arn": record.container_instance_arn,
        "last_status": record.last_status,
        "desired_status": record.desired_status,
        "launch_type": record.launch_type,
        "task_group": record.group,
        "started_by": record.started_by,
        "cpu": record.cpu,
        "memory": record.memory,
        "reserved_cpu": record.reserved_cpu,
        "reserved_memory": record.reserved_memory,
        "reserved_ports_tcp": _dump(list(record.reserved_ports_tcp)),
        "reserved_ports_udp": _dump(list(record.reserved_ports_udp)),
        "resources_released": record.resources_released,
        "overrides": _dump(record.overrides),
        "containers": _dump(record.containers),
        "attributes": _dump(record.attributes),
        "availability_zone": record.availability_zone,
        "connectivity": record.connectivity,
        "stopped_reason": record.stopped_reason,
        "stop_code": record.stop_code,
        "health_status": record.health_status,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "connectivity_at": record.connectivity_at,
        "pull_started_at": record.pull_started_at,
        "pull_stopped_at": record.pull_stopped_at,
        "started_at": record.started_at,
        "stopping_at": record.stopping_at,
        "stopped_at": record.stopped_at,
        "execution_stopped_at": record.execution_stopped_at,
        "capacity_provider_name": record.capacity_provider_name,
        "platform_version": record.platform_version,
        "cpu_architecture": record.cpu_architecture,
        "attachments": _dump(record.attachments),
        "eni_id": record.eni_id,
        "interrupt_at": record.interrupt_at,
    }


def _to_record(row: RowMapping) -> TaskRecord:
    return TaskRecord(
        account_id=row["account_id"],
        region=row["region"],
        cluster_name=row["cluster_name"],
        task_id=row["task_id"],
        arn=row["arn"],
        cluster_arn=row["cluster_arn"],
        task_definition_arn=row["task_definition_arn"],
        family=row["family"],
        container_instance_arn=row["container_instance_arn"],
        last_status=row["last_status"],
        desired_status=row["desired_status"],
        launch_type=row["launch_type"],
        group=row["task_group"],
        started_by=row["started_by"],
        cpu=row["cpu"],
        memory=row["memory"],
        reserved_cpu=row["reserved_cpu"],
        reserved_memory=row["reserved_memory"],
        reserved_ports_tcp=_ports(row["reserved_ports_tcp"]),
        reserved_ports_udp=_ports(row["reserved_ports_udp"]),
        resources_released=bool(row["resources_released"]),
        overrides=orjson.loads(row["overrides"]),
        containers=orjson.loads(row["containers"]),
        attributes=orjson.loads(row["attributes"]),
        availability_zone=row["availability_zone"],
        connectivity=row["connectivity"],
        stopped_reason=row["stopped_reason"],
        stop_code=row["stop_code"],
        health_status=row["health_status"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        connectivity_at=row["connectivity_at"],
        pull_started_at=row["pull_started_at"],
        pull_stopped_at=row["pull_stopped_at"],
        started_at=row["started_at"],
        stopping_at=row["stopping_at"],
        stopped_at=row["stopped_at"],
        execution_stopped_at=row["execution_stopped_at"],
        capacity_provider_name=row["capacity_provider_name"],
        platform_version=row["platform_version"],
        cpu_architecture=row["cpu_architecture"],
        attachments=orjson.loads(row["attachments"]),
        eni_id=row["eni_id"],
        interrupt_at=row["interrupt_at"],
    )


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _ports(text: str) -> tuple[int, ...]:
    return tuple(int(port) for port in orjson.loads(text))
