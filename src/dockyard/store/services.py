"""ECS services, inside a caller's transaction.

A service is keyed by (account, region, cluster, name); its ARN is unique. Its deployments, its events
(newest first, at most 100) and the scheduler's own bookkeeping (``scheduler_state``) are JSON documents
in the row: they are always read and written with the service, by the API and by the service controller.

Writes are optimistic: :func:`save_service` updates only the version it read, so an UpdateService and a
controller sync that race cannot lose each other's change (the loser re-reads and retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, RowMapping, bindparam, func, insert, select, update

from dockyard.store.schema import ecs_services as table

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
INACTIVE = "INACTIVE"
LIVE = (ACTIVE, DRAINING)  # the statuses a controller still works on

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    account_id: str
    region: str
    cluster_name: str
    name: str
    arn: str
    cluster_arn: str
    status: str
    launch_type: str | None
    scheduling_strategy: str
    desired_count: int
    task_definition_arn: str
    config: Json  # every stored CreateService/UpdateService field not in a column
    created_at: datetime
    updated_at: datetime
    deployments: list[Json] = field(default_factory=list)  # PRIMARY first
    events: list[Json] = field(default_factory=list)  # newest first
    scheduler_state: Json = field(default_factory=dict)
    created_by: str | None = None
    version: int = 1

    @property
    def group(self) -> str:
        return service_group(self.name)


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """What a controller queues: one service."""

    account_id: str
    region: str
    cluster_name: str
    name: str


def service_group(name: str) -> str:
    """The task group of a service's tasks."""
    return f"service:{name}"


def key_of(record: ServiceRecord) -> ServiceKey:
    return ServiceKey(record.account_id, record.region, record.cluster_name, record.name)


# The controller's per-service statements are built once: building one costs more than running it.
_ONE = (
    table.c.account_id == bindparam("k_account"),
    table.c.region == bindparam("k_region"),
    table.c.cluster_name == bindparam("k_cluster"),
    table.c.name == bindparam("k_name"),
)
_FIND = select(table).where(*_ONE)
_FIND_LOCKED = _FIND.with_for_update()
_SAVE = update(table).where(*_ONE, table.c.version == bindparam("k_version"))


def _one(record_or_key: ServiceRecord | ServiceKey) -> dict[str, Any]:
    r = record_or_key
    return {"k_account": r.account_id, "k_region": r.region, "k_cluster": r.cluster_name, "k_name": r.name}


def insert_service(conn: Connection, record: ServiceRecord) -> None:
    conn.execute(insert(table).values(**_to_row(record)))


def save_service(conn: Connection, record: ServiceRecord) -> ServiceRecord | None:
    """Overwrite the stored service with ``record`` if it is still at ``record.version``; the saved record
    (version bumped), or None when someone else saved it first."""
    saved = replace(record, version=record.version + 1)
    result = conn.execute(_SAVE, {**_to_row(saved), **_one(record), "k_version": record.version})
    return saved if result.rowcount == 1 else None


def replace_service(conn: Connection, record: ServiceRecord) -> None:
    """Overwrite the row of the same name whatever its version (re-creating an INACTIVE service)."""
    conn.execute(
        update(table)
        .where(*_key(record.account_id, record.region, record.cluster_name), table.c.name == record.name)
        .values(**_to_row(record))
    )


def find_service(
    conn: Connection, account_id: str, region: str, cluster_name: str, name: str, *, lock: bool = False
) -> ServiceRecord | None:
    key = ServiceKey(account_id, region, cluster_name, name)
    row = conn.execute(_FIND_LOCKED if lock else _FIND, _one(key)).first()
    return None if row is None else _to_record(row._mapping)


def find_services(
    conn: Connection, account_id: str, region: str, cluster_name: str, names: Iterable[str]
) -> dict[str, ServiceRecord]:
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    query = select(table).where(*_key(account_id, region, cluster_name), table.c.name.in_(wanted))
    return {r.name: r for r in (_to_record(row._mapping) for row in conn.execute(query))}


def list_service_arns(
    conn: Connection,
    account_id: str,
    region: str,
    cluster_name: str,
    *,
    launch_type: str | None,
    scheduling_strategy: str | None,
    after: str | None,
    limit: int,
) -> list[str]:
    """The cluster's ACTIVE and DRAINING services' ARNs, in ARN order, strictly after ``after``."""
    query = select(table.c.arn).where(*_key(account_id, region, cluster_name), table.c.status.in_(LIVE))
    if launch_type is not None:
        query = query.where(table.c.launch_type == launch_type)
    if scheduling_strategy is not None:
        query = query.where(table.c.scheduling_strategy == scheduling_strategy)
    if after is not None:
        query = query.where(table.c.arn > after)
    return list(conn.execute(query.order_by(table.c.arn).limit(limit)).scalars())


def live_service_keys(conn: Connection, cluster: tuple[str, str, str] | None = None) -> list[ServiceKey]:
    """Every ACTIVE or DRAINING service (of one cluster when given): what the controller resyncs. DAEMON
    services come first, so that a host that joins gets its daemons before other tasks."""
    query = select(table.c.account_id, table.c.region, table.c.cluster_name, table.c.name).where(
        table.c.status.in_(LIVE)
    )
    if cluster is not None:
        query = query.where(*_key(*cluster))
    daemon_first = (table.c.scheduling_strategy != "DAEMON", table.c.id)
    return [ServiceKey(*row) for row in conn.execute(query.order_by(*daemon_first))]


def count_live_by_cluster(
    conn: Connection,
    account_id: str,
    region: str,
    cluster_names: Sequence[str],
    *,
    statuses: Sequence[str] = LIVE,
) -> dict[str, int]:
    """Services per cluster in ``statuses`` (DescribeClusters' activeServicesCount counts ACTIVE ones;
    DeleteCluster refuses while any is ACTIVE or DRAINING)."""
    if not cluster_names:
        return {}
    query = (
        select(table.c.cluster_name, func.count())
        .where(
            table.c.account_id == account_id,
            table.c.region == region,
            table.c.cluster_name.in_(list(cluster_names)),
            table.c.status.in_(list(statuses)),
        )
        .group_by(table.c.cluster_name)
    )
    return {name: int(n) for name, n in conn.execute(query)}


def _key(account_id: str, region: str, cluster_name: str) -> tuple[ColumnElement[bool], ...]:
    return (table.c.account_id == account_id, table.c.region == region, table.c.cluster_name == cluster_name)


def _to_row(record: ServiceRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "cluster_name": record.cluster_name,
        "name": record.name,
        "arn": record.arn,
        "cluster_arn": record.cluster_arn,
        "status": record.status,
        "launch_type": record.launch_type,
        "scheduling_strategy": record.scheduling_strategy,
        "desired_count": record.desired_count,
        "task_definition_arn": record.task_definition_arn,
        "config": _dump(record.config),
        "deployments": _dump(record.deployments),
        "events": _dump(record.events),
        "scheduler_state": _dump(record.scheduler_state),
        "created_by": record.created_by,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _to_record(row: RowMapping) -> ServiceRecord:
    return ServiceRecord(
        account_id=row["account_id"],
        region=row["region"],
        cluster_name=row["cluster_name"],
        name=row["name"],
        arn=row["arn"],
        cluster_arn=row["cluster_arn"],
        status=row["status"],
        launch_type=row["launch_type"],
        scheduling_strategy=row["scheduling_strategy"],
        desired_count=row["desired_count"],
        task_definition_arn=row["task_definition_arn"],
        config=orjson.loads(row["config"]),
        deployments=orjson.loads(row["deployments"]),
        events=orjson.loads(row["events"]),
        scheduler_state=orjson.loads(row["scheduler_state"]),
        created_by=row["created_by"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()
