"""ECS container instances and their attributes, read and written inside a caller's transaction.

An instance is keyed by (account, region, cluster, instance id); its ARN is unique. Attributes live in
their own table and are loaded with the instance. Every query filters on account and region.
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
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from dockyard.store.schema import ecs_container_instances as table
from dockyard.store.schema import ecs_instance_attributes as attributes_table

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
INACTIVE = "INACTIVE"
REGISTERED = (ACTIVE, DRAINING)

Attributes = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class ContainerInstanceRecord:
    account_id: str
    region: str
    cluster_name: str
    instance_id: str
    arn: str
    status: str
    ec2_instance_id: str
    registered_cpu: int
    registered_memory: int
    remaining_cpu: int
    remaining_memory: int
    registered_ports_tcp: tuple[int, ...]
    registered_ports_udp: tuple[int, ...]
    remaining_ports_tcp: tuple[int, ...]
    remaining_ports_udp: tuple[int, ...]
    version_info: dict[str, Any]
    registered_at: datetime
    updated_at: datetime
    agent_connected: bool = False
    agent_last_seen_at: datetime | None = None
    version: int = 1
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListedAttribute:
    target_arn: str
    name: str
    value: str | None


def insert_instance(conn: Connection, record: ContainerInstanceRecord) -> None:
    """Insert ``record`` with its attributes."""
    conn.execute(insert(table).values(**_to_row(record)))
    _write_attributes(conn, _pk(conn, record), record.attributes)


def save_instance(conn: Connection, record: ContainerInstanceRecord) -> ContainerInstanceRecord:
    """Overwrite the stored instance and its attributes with ``record``, bumping its version."""
    saved = replace(record, version=record.version + 1)
    conn.execute(
        update(table)
        .where(table.c.account_id == record.account_id, table.c.arn == record.arn)
        .values(**_to_row(saved))
    )
    pk = _pk(conn, record)
    conn.execute(delete(attributes_table).where(attributes_table.c.instance_pk == pk))
    _write_attributes(conn, pk, record.attributes)
    return saved


def find_instances(
    conn: Connection, account_id: str, region: str, cluster_name: str, instance_ids: Iterable[str]
) -> dict[str, ContainerInstanceRecord]:
    """The instances of ``instance_ids`` in the cluster (any status), keyed by instance id."""
    wanted = list(dict.fromkeys(instance_ids))
    if not wanted:
        return {}
    query = select(table).where(*_scope(account_id, region, cluster_name), table.c.instance_id.in_(wanted))
    return {r.instance_id: r for r in _records(conn, query)}


def find_instance(
    conn: Connection, account_id: str, region: str, cluster_name: str, instance_id: str
) -> ContainerInstanceRecord | None:
    return find_instances(conn, account_id, region, cluster_name, [instance_id]).get(instance_id)


def list_instances(
    conn: Connection, account_id: str, region: str, cluster_name: str, *, statuses: Sequence[str]
) -> list[ContainerInstanceRecord]:
    """The cluster's instances in ``statuses``, in ARN order, with their attributes."""
    query = (
        select(table)
        .where(*_scope(account_id, region, cluster_name), table.c.status.in_(list(statuses)))
        .order_by(table.c.arn)
    )
    return _records(conn, query)


def instance_statuses(conn: Connection, account_id: str, arns: Iterable[str]) -> dict[str, str]:
    """The status of each of the account's instances ``arns`` that exists (absent: never registered)."""
    wanted = list(dict.fromkeys(arns))
    if not wanted:
        return {}
    query = select(table.c.arn, table.c.status).where(
        table.c.account_id == account_id, table.c.arn.in_(wanted)
    )
    return {str(arn): str(status) for arn, status in conn.execute(query)}


def find_instance_by_arn(conn: Connection, account_id: str, arn: str) -> ContainerInstanceRecord | None:
    """The account's instance with ``arn`` (any status), or None."""
    found = _records(conn, select(table).where(table.c.account_id == account_id, table.c.arn == arn))
    return found[0] if found else None


def set_agent_connection(
    conn: Connection, account_id: str, arn: str, *, connected: bool, seen_at: datetime | None
) -> None:
    """Record whether the instance's agent holds a push channel (and when it was last heard from, if
    ``seen_at``); touches nothing else, so it never undoes a concurrent change to the instance."""
    values: dict[str, Any] = {"agent_connected": connected}
    if seen_at is not None:
        values["agent_last_seen_at"] = seen_at
    conn.execute(update(table).where(table.c.account_id == account_id, table.c.arn == arn).values(**values))


def touch_agent(conn: Connection, account_id: str, arn: str, seen_at: datetime) -> None:
    """Record that the instance's agent was heard from at ``seen_at``; touches nothing else."""
    conn.execute(
        update(table)
        .where(table.c.account_id == account_id, table.c.arn == arn)
        .values(agent_last_seen_at=seen_at)
    )


def mark_all_disconnected(conn: Connection) -> int:
    """Set ``agent_connected`` false on every instance of every account; how many rows changed."""
    result = conn.execute(
        update(table).where(table.c.agent_connected.is_(True)).values(agent_connected=False)
    )
    return int(result.rowcount or 0)


def cluster_regions(conn: Connection, account_id: str, cluster_name: str) -> list[str]:
    """The regions where the account's cluster ``cluster_name`` has an ACTIVE or DRAINING instance."""
    query = (
        select(table.c.region)
        .where(
            table.c.account_id == account_id,
            table.c.cluster_name == cluster_name,
            table.c.status.in_(REGISTERED),
        )
        .distinct()
    )
    return [str(region) for (region,) in conn.execute(query)]


def count_registered(
    conn: Connection, account_id: str, region: str, cluster_names: Iterable[str]
) -> dict[str, int]:
    """How many ACTIVE or DRAINING instances each cluster has; clusters without any are absent."""
    names = list(set(cluster_names))
    if not names:
        return {}
    rows = conn.execute(_COUNT_REGISTERED, {"account_id": account_id, "region": region, "names": names})
    return {str(name): int(count) for name, count in rows}


# Built once: DescribeClusters runs it on every call.
_COUNT_REGISTERED = (
    select(table.c.cluster_name, func.count())
    .where(
        table.c.account_id == bindparam("account_id"),
        table.c.region == bindparam("region"),
        table.c.cluster_name.in_(bindparam("names", expanding=True)),
        table.c.status.in_(REGISTERED),
    )
    .group_by(table.c.cluster_name)
)


def list_attributes(
    conn: Connection,
    account_id: str,
    region: str,
    cluster_name: str,
    *,
    name: str | None,
    value: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[ListedAttribute]:
    """Attributes of the cluster's registered instances, by (instance ARN, name), strictly after
    ``after``, at most ``limit``; ``name`` and ``value`` select exact matches."""
    query = (
        select(table.c.arn, attributes_table.c.name, attributes_table.c.value)
        .join(attributes_table, attributes_table.c.instance_pk == table.c.id)
        .where(*_scope(account_id, region, cluster_name), table.c.status.in_(REGISTERED))
    )
    if name is not None:
        query = query.where(attributes_table.c.name == name)
    if value is not None:
        query = query.where(attributes_table.c.value == value)
    if after is not None:
        arn, last = after
        query = query.where(or_(table.c.arn > arn, (table.c.arn == arn) & (attributes_table.c.name > last)))
    rows = conn.execute(query.order_by(table.c.arn, attributes_table.c.name).limit(limit))
    return [ListedAttribute(str(a), str(n), None if v is None else str(v)) for a, n, v in rows]


def _scope(account_id: str, region: str, cluster_name: str) -> Sequence[ColumnElement[bool]]:
    return (
        table.c.account_id == account_id,
        table.c.region == region,
        table.c.cluster_name == cluster_name,
    )


def _pk(conn: Connection, record: ContainerInstanceRecord) -> int:
    return int(
        conn.execute(
            select(table.c.id).where(table.c.account_id == record.account_id, table.c.arn == record.arn)
        ).scalar_one()
    )


def _write_attributes(conn: Connection, pk: int, attributes: Attributes) -> None:
    if attributes:
        conn.execute(
            insert(attributes_table),
            [{"instance_pk": pk, "name": name, "value": value} for name, value in attributes.items()],
        )


def _records(conn: Connection, query: Any) -> list[ContainerInstanceRecord]:
    rows = [row._mapping for row in conn.execute(query)]
    if not rows:
        return []
    by_pk: dict[int, dict[str, str | None]] = {int(row["id"]): {} for row in rows}
    attribute_rows = conn.execute(
        select(attributes_table)
        .where(attributes_table.c.instance_pk.in_(list(by_pk)))
        .order_by(attributes_table.c.instance_pk, attributes_table.c.name)
    )
    for pk, name, value in attribute_rows:
        by_pk[int(pk)][str(name)] = None if value is None else str(value)
    return [_to_record(row, by_pk[int(row["id"])]) for row in rows]


def _to_row(record: ContainerInstanceRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "cluster_name": record.cluster_name,
        "instance_id": record.instance_id,
        "arn": record.arn,
        "status": record.status,
        "ec2_instance_id": record.ec2_instance_id,
        "agent_connected": record.agent_connected,
        "agent_last_seen_at": record.agent_last_seen_at,
        "version": record.version,
        "registered_cpu": record.registered_cpu,
        "registered_memory": record.registered_memory,
        "remaining_cpu": record.remaining_cpu,
        "remaining_memory": record.remaining_memory,
        "registered_ports_tcp": _dump(record.registered_ports_tcp),
        "registered_ports_udp": _dump(record.registered_ports_udp),
        "remaining_ports_tcp": _dump(record.remaining_ports_tcp),
        "remaining_ports_udp": _dump(record.remaining_ports_udp),
        "version_info": _dump(record.version_info),
        "registered_at": record.registered_at,
        "updated_at": record.updated_at,
    }


def _to_record(row: RowMapping, attributes: Attributes) -> ContainerInstanceRecord:
    return ContainerInstanceRecord(
        account_id=row["account_id"],
        region=row["region"],
        cluster_name=row["cluster_name"],
        instance_id=row["instance_id"],
        arn=row["arn"],
        status=row["status"],
        ec2_instance_id=row["ec2_instance_id"],
        agent_connected=bool(row["agent_connected"]),
        agent_last_seen_at=row["agent_last_seen_at"],
        version=row["version"],
        registered_cpu=row["registered_cpu"],
        registered_memory=row["registered_memory"],
        remaining_cpu=row["remaining_cpu"],
        remaining_memory=row["remaining_memory"],
        registered_ports_tcp=_ports(row["registered_ports_tcp"]),
        registered_ports_udp=_ports(row["registered_ports_udp"]),
        remaining_ports_tcp=_ports(row["remaining_ports_tcp"]),
        remaining_ports_udp=_ports(row["remaining_ports_udp"]),
        version_info=orjson.loads(row["version_info"]),
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
        attributes=attributes,
    )


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def _ports(text: str) -> tuple[int, ...]:
    return tuple(int(port) for port in orjson.loads(text))
