"""EC2's VPC subset: VPCs, subnets, security groups and network interfaces, inside a caller's transaction.

Rows are per (account, region) like every resource; CIDRs and interface addresses are unique server-wide
because they are real addresses on shared hosts (see :mod:`dockyard.services.ec2.network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, Table, delete, func, insert, select, update

from dockyard.store.schema import (
    accounts,
    ec2_network_interfaces,
    ec2_security_groups,
    ec2_subnets,
    ec2_vpcs,
    ecs_tasks,
)
from dockyard.store.tasks import STOPPED as TASK_STOPPED

IN_USE = "in-use"


@dataclass(frozen=True, slots=True)
class VpcRecord:
    account_id: str
    region: str
    vpc_id: str
    cidr: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubnetRecord:
    account_id: str
    region: str
    subnet_id: str
    vpc_id: str
    cidr: str
    availability_zone: str
    default_for_az: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SecurityGroupRecord:
    account_id: str
    region: str
    group_id: str
    vpc_id: str
    name: str
    description: str
    ingress: list[dict[str, Any]]
    egress: list[dict[str, Any]]
    tags: list[dict[str, str]]
    created_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True)
class InterfaceRecord:
    account_id: str
    region: str
    eni_id: str
    subnet_id: str
    vpc_id: str
    availability_zone: str
    private_ip: str
    mac: str
    group_ids: list[str]
    status: str
    description: str
    interface_type: str
    attachment: str | None
    created_at: datetime


# --- the account lock -------------------------------------------------------------------------------------


def lock_account(conn: Connection, account_id: str) -> None:
    """Serialize the account's network changes (default VPC creation, address allocation) on PostgreSQL;
    SQLite's write transactions are serial already."""
    conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id).with_for_update())


# --- VPCs and subnets -------------------------------------------------------------------------------------


def _scoped(conn: Connection, table: Table, account_id: str, region: str) -> list[RowMapping]:
    """The account's rows of ``table`` in the region, in creation order."""
    query = (
        select(table).where(table.c.account_id == account_id, table.c.region == region).order_by(table.c.id)
    )
    return [row._mapping for row in conn.execute(query)]


def list_vpcs(conn: Connection, account_id: str, region: str) -> list[VpcRecord]:
    return [_vpc(row) for row in _scoped(conn, ec2_vpcs, account_id, region)]


def count_vpcs(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ec2_vpcs)).scalar_one())


def vpc_cidr_taken(conn: Connection, cidr: str) -> bool:
    return conn.execute(select(ec2_vpcs.c.id).where(ec2_vpcs.c.cidr == cidr)).first() is not None


def insert_vpc(conn: Connection, record: VpcRecord) -> None:
    conn.execute(insert(ec2_vpcs).values(**_fields(record)))


def list_subnets(conn: Connection, account_id: str, region: str) -> list[SubnetRecord]:
    return [_subnet(row) for row in _scoped(conn, ec2_subnets, account_id, region)]


def insert_subnet(conn: Connection, record: SubnetRecord) -> None:
    conn.execute(insert(ec2_subnets).values(**_fields(record)))


# --- security groups --------------------------------------------------------------------------------------


def list_groups(conn: Connection, account_id: str, region: str) -> list[SecurityGroupRecord]:
    return [_group(row) for row in _scoped(conn, ec2_security_groups, account_id, region)]


def find_group(
    conn: Connection, account_id: str, region: str, group_id: str, *, lock: bool = False
) -> SecurityGroupRecord | None:
    query = select(ec2_security_groups).where(
        ec2_security_groups.c.account_id == account_id,
        ec2_security_groups.c.region == region,
        ec2_security_groups.c.group_id == group_id,
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _group(row._mapping)


def find_group_by_name(
    conn: Connection, account_id: str, region: str, vpc_id: str, name: str
) -> SecurityGroupRecord | None:
    row = conn.execute(
        select(ec2_security_groups).where(
            ec2_security_groups.c.account_id == account_id,
            ec2_security_groups.c.region == region,
            ec2_security_groups.c.vpc_id == vpc_id,
            ec2_security_groups.c.name == name,
        )
    ).first()
    return None if row is None else _group(row._mapping)


def insert_group(conn: Connection, record: SecurityGroupRecord) -> None:
    conn.execute(insert(ec2_security_groups).values(**_group_row(record)))


def save_group(conn: Connection, record: SecurityGroupRecord) -> SecurityGroupRecord:
    saved = replace(record, version=record.version + 1)
    conn.execute(
        update(ec2_security_groups)
        .where(ec2_security_groups.c.group_id == record.group_id)
        .values(**_group_row(saved))
    )
    return saved


def delete_group(conn: Connection, group_id: str) -> None:
    conn.execute(delete(ec2_security_groups).where(ec2_security_groups.c.group_id == group_id))


# --- network interfaces -----------------------------------------------------------------------------------


def list_interfaces(conn: Connection, account_id: str, region: str) -> list[InterfaceRecord]:
    return [_interface(row) for row in _scoped(conn, ec2_network_interfaces, account_id, region)]


def subnet_addresses(conn: Connection, subnet_id: str) -> list[str]:
    """The addresses interfaces hold in the subnet."""
    query = select(ec2_network_interfaces.c.private_ip).where(ec2_network_interfaces.c.subnet_id == subnet_id)
    return [str(a) for a in conn.execute(query).scalars()]


def count_by_subnet(conn: Connection, subnet_ids: Sequence[str]) -> dict[str, int]:
    query = (
        select(ec2_network_interfaces.c.subnet_id, func.count())
        .where(ec2_network_interfaces.c.subnet_id.in_(list(subnet_ids)))
        .group_by(ec2_network_interfaces.c.subnet_id)
    )
    return {str(s): int(n) for s, n in conn.execute(query)}


def groups_in_use(conn: Connection, account_id: str, region: str) -> set[str]:
    query = select(ec2_network_interfaces.c.group_ids).where(
        ec2_network_interfaces.c.account_id == account_id, ec2_network_interfaces.c.region == region
    )
    return {g for text in conn.execute(query).scalars() for g in orjson.loads(text)}


def find_interfaces(conn: Connection, eni_ids: Sequence[str]) -> list[InterfaceRecord]:
    """The interfaces of ``eni_ids`` that exist, in any account (interface ids are unique), in id order."""
    wanted = list(dict.fromkeys(eni_ids))
    if not wanted:
        return []
    query = (
        select(ec2_network_interfaces)
        .where(ec2_network_interfaces.c.eni_id.in_(wanted))
        .order_by(ec2_network_interfaces.c.eni_id)
    )
    return [_interface(row._mapping) for row in conn.execute(query)]


def instance_interface_ids(conn: Connection, instance_arn: str) -> list[str]:
    """The interfaces of the tasks on container instance ``instance_arn`` that are not STOPPED (by
    lastStatus), in id order. Not scoped by account: a Fargate pool instance runs every account's tasks."""
    query = (
        select(ecs_tasks.c.eni_id)
        .where(
            ecs_tasks.c.container_instance_arn == instance_arn,
            ecs_tasks.c.last_status != TASK_STOPPED,
            ecs_tasks.c.eni_id.is_not(None),
        )
        .distinct()
        .order_by(ecs_tasks.c.eni_id)
    )
    return [str(eni_id) for eni_id in conn.execute(query).scalars()]


def instances_hosting_interfaces(conn: Connection, account_id: str, region: str) -> set[str]:
    """The container instances running tasks (not STOPPED) of the account in the region that hold an
    interface: the agents whose firewall a change of that account's security groups may change."""
    query = (
        select(ecs_tasks.c.container_instance_arn)
        .where(
            ecs_tasks.c.account_id == account_id,
            ecs_tasks.c.region == region,
            ecs_tasks.c.last_status != TASK_STOPPED,
            ecs_tasks.c.eni_id.is_not(None),
            ecs_tasks.c.container_instance_arn.is_not(None),
        )
        .distinct()
    )
    return {str(arn) for arn in conn.execute(query).scalars()}


def insert_interface(conn: Connection, record: InterfaceRecord) -> None:
    row = _fields(record)
    row["group_ids"] = orjson.dumps(record.group_ids).decode()
    conn.execute(insert(ec2_network_interfaces).values(**row))


def delete_interface(conn: Connection, eni_id: str) -> None:
    conn.execute(delete(ec2_network_interfaces).where(ec2_network_interfaces.c.eni_id == eni_id))


# --- rows -------------------------------------------------------------------------------------------------


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def _vpc(row: RowMapping) -> VpcRecord:
    return VpcRecord(**{k: row[k] for k in VpcRecord.__slots__})


def _subnet(row: RowMapping) -> SubnetRecord:
    return SubnetRecord(**{k: row[k] for k in SubnetRecord.__slots__})


def _group_row(record: SecurityGroupRecord) -> dict[str, Any]:
    row = _fields(record)
    for key in ("ingress", "egress", "tags"):
        row[key] = orjson.dumps(row[key]).decode()
    return row


def _group(row: RowMapping) -> SecurityGroupRecord:
    values = {k: row[k] for k in SecurityGroupRecord.__slots__}
    for key in ("ingress", "egress", "tags"):
        values[key] = orjson.loads(values[key])
    return SecurityGroupRecord(**values)


def _interface(row: RowMapping) -> InterfaceRecord:
    values = {k: row[k] for k in InterfaceRecord.__slots__}
    values["group_ids"] = orjson.loads(values["group_ids"])
    return InterfaceRecord(**values)
