"""ECS clusters: rows keyed by (account, region, name), read and written inside a caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select, update

from dockyard.store.container_instances import REGISTERED
from dockyard.store.schema import clusters, ecs_container_instances, ecs_tasks
from dockyard.store.tasks import PENDING_STATES, RUNNING_STATES

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"

JsonList = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    account_id: str
    region: str
    name: str
    arn: str
    status: str
    settings: JsonList
    configuration: dict[str, Any] | None
    service_connect_defaults: dict[str, Any] | None
    capacity_providers: list[str]
    default_capacity_provider_strategy: JsonList
    created_at: datetime
    updated_at: datetime
    version: int = 1


# Statements are built once: building a select costs more than running it on the hot read paths.
_FIND_CLUSTERS = select(clusters).where(
    clusters.c.account_id == bindparam("account_id"),
    clusters.c.region == bindparam("region"),
    clusters.c.name.in_(bindparam("names", expanding=True)),
)
_ACTIVE_ARNS = (
    select(clusters.c.arn)
    .where(
        clusters.c.account_id == bindparam("account_id"),
        clusters.c.region == bindparam("region"),
        clusters.c.status == ACTIVE,
        clusters.c.arn > bindparam("after_arn"),
    )
    .order_by(clusters.c.arn)
    .limit(bindparam("limit"))
)


def find_clusters(
    conn: Connection, account_id: str, region: str, names: Iterable[str]
) -> dict[str, ClusterRecord]:
    """The clusters of ``names`` that exist (in any status), keyed by name."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    rows = conn.execute(_FIND_CLUSTERS, {"account_id": account_id, "region": region, "names": wanted})
    found = (_to_record(row._mapping) for row in rows)
    return {record.name: record for record in found}


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """A cluster with the counts DescribeClusters reports."""

    record: ClusterRecord
    registered_instances: int
    running_tasks: int
    pending_tasks: int


def _count_of(table: Any, status_column: Any, statuses: tuple[str, ...]) -> Any:
    return (
        select(func.count())
        .where(
            table.c.account_id == clusters.c.account_id,
            table.c.region == clusters.c.region,
            table.c.cluster_name == clusters.c.name,
            status_column.in_(statuses),
        )
        .scalar_subquery()
    )


# DescribeClusters' hot path: the clusters and their three counts in one round trip.
_SUMMARIES = select(
    clusters,
    _count_of(ecs_container_instances, ecs_container_instances.c.status, REGISTERED).label("n_instances"),
    _count_of(ecs_tasks, ecs_tasks.c.last_status, RUNNING_STATES).label("n_running"),
    _count_of(ecs_tasks, ecs_tasks.c.last_status, PENDING_STATES).label("n_pending"),
).where(
    clusters.c.account_id == bindparam("account_id"),
    clusters.c.region == bindparam("region"),
    clusters.c.name.in_(bindparam("names", expanding=True)),
)


def find_cluster_summaries(
    conn: Connection, account_id: str, region: str, names: Iterable[str]
) -> dict[str, ClusterSummary]:
    """The clusters of ``names`` that exist (in any status) with their counts, keyed by name."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    rows = conn.execute(_SUMMARIES, {"account_id": account_id, "region": region, "names": wanted})
    summaries = (
        ClusterSummary(_to_record(row._mapping), row.n_instances, row.n_running, row.n_pending)
        for row in rows
    )
    return {summary.record.name: summary for summary in summaries}


def find_cluster(conn: Connection, account_id: str, region: str, name: str) -> ClusterRecord | None:
    return find_clusters(conn, account_id, region, [name]).get(name)


def list_active_cluster_arns(
    conn: Connection, account_id: str, region: str, *, after_arn: str | None, limit: int
) -> list[str]:
    """ARNs of ACTIVE clusters in ARN order, strictly after ``after_arn``, at most ``limit``."""
    params = {"account_id": account_id, "region": region, "after_arn": after_arn or "", "limit": limit}
    return [str(row[0]) for row in conn.execute(_ACTIVE_ARNS, params)]


def insert_cluster(conn: Connection, record: ClusterRecord) -> None:
    conn.execute(insert(clusters).values(**_to_row(record)))


def save_cluster(conn: Connection, record: ClusterRecord) -> ClusterRecord:
    """Overwrite the stored cluster with ``record``, bumping its version."""
    saved = replace(record, version=record.version + 1)
    values = _to_row(saved)
    conn.execute(
        update(clusters)
        .where(clusters.c.account_id == record.account_id, clusters.c.arn == record.arn)
        .values(**values)
    )
    return saved


def _to_row(record: ClusterRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "name": record.name,
        "arn": record.arn,
        "status": record.status,
        "settings": _dump(record.settings),
        "configuration": None if record.configuration is None else _dump(record.configuration),
        "service_connect_defaults": (
            None if record.service_connect_defaults is None else _dump(record.service_connect_defaults)
        ),
        "capacity_providers": _dump(record.capacity_providers),
        "default_capacity_provider_strategy": _dump(record.default_capacity_provider_strategy),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
    }


def _to_record(row: RowMapping) -> ClusterRecord:
    return ClusterRecord(
        account_id=row["account_id"],
        region=row["region"],
        name=row["name"],
        arn=row["arn"],
        status=row["status"],
        settings=orjson.loads(row["settings"]),
        configuration=_load_optional(row["configuration"]),
        service_connect_defaults=_load_optional(row["service_connect_defaults"]),
        capacity_providers=orjson.loads(row["capacity_providers"]),
        default_capacity_provider_strategy=orjson.loads(row["default_capacity_provider_strategy"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _load_optional(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
