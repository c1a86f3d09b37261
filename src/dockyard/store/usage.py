"""The usage ledger: one row per task from the moment its billing starts to its stop, inside the caller's
transaction.

A row is opened when a task's billing starts (its image pull, else its start) and closed when the task is
STOPPED, in the transaction that records that state change, so a restart at any moment neither loses a
running task's row nor counts it twice: opening is idempotent (one row per task ARN, the first call wins)
and closing sets the stop only once. Rows outlive their tasks. Metering (``control.metering``) reads them
as ``TaskUsage``; the conversion lives above the store (``services.ce``), which may import control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.store.schema import task_usage as table

X86_64 = "X86_64"
# A running task's measured duration is rounded up to whole seconds, so its billed seconds can reach up to
# one second past its stop: rows that stopped that little before a period's start still overlap it.
_ROUNDING_SLACK = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One ledger row. ``tags`` are ECS's ``{"key", "value"}`` pairs; ``stopped_at`` is None while the
    task runs. Times are timezone-aware UTC."""

    account_id: str
    region: str
    task_arn: str
    cluster_name: str
    launch_type: str
    capacity_provider: str | None
    cpu: int
    memory: int
    architecture: str
    tags: list[dict[str, str]]
    started_at: datetime
    stopped_at: datetime | None = None


def open_usage(
    conn: Connection,
    *,
    account_id: str,
    region: str,
    task_arn: str,
    cluster_name: str,
    launch_type: str,
    capacity_provider: str | None,
    cpu: int,
    memory: int,
    architecture: str | None,
    tags: Sequence[Mapping[str, Any]],
    started_at: datetime,
) -> bool:
    """Open the task's row, billing from ``started_at``; True if this call opened it. Idempotent: a row
    already there for ``task_arn`` is left exactly as it is (even by a concurrent transaction: the insert
    does nothing on a conflict). ``architecture`` None is X86_64."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(table)
        .values(
            account_id=account_id,
            region=region,
            task_arn=task_arn,
            cluster_name=cluster_name,
            launch_type=launch_type,
            capacity_provider=capacity_provider,
            cpu=int(cpu),
            memory=int(memory),
            architecture=architecture or X86_64,
            tags=orjson.dumps(_tags(tags)).decode(),
            started_at=started_at,
        )
        .on_conflict_do_nothing(index_elements=[table.c.task_arn])
        .returning(table.c.id)
    )
    return conn.execute(statement).first() is not None


def close_usage(conn: Connection, task_arn: str, stopped_at: datetime) -> bool:
    """Record the task's stop; True if this call closed the row. A row already closed keeps its first
    stop, and a task without a row (its billing never started) is left alone."""
    result = conn.execute(
        update(table)
        .where(table.c.task_arn == task_arn, table.c.stopped_at.is_(None))
        .values(stopped_at=stopped_at)
    )
    return result.rowcount == 1


def find_usage(conn: Connection, task_arn: str) -> UsageRecord | None:
    row = conn.execute(select(table).where(table.c.task_arn == task_arn)).first()
    return None if row is None else _to_record(row._mapping)


def list_usage(
    conn: Connection, account_id: str, region: str | None, start: datetime, end: datetime
) -> list[UsageRecord]:
    """The account's rows (in ``region``, or every region for None) whose billed time can overlap
    ``[start, end)``: started before ``end`` and still running or stopped after ``start`` (less the second
    a duration's rounding can add). In start order."""
    query = select(table).where(
        table.c.account_id == account_id,
        table.c.started_at < end,
        or_(table.c.stopped_at.is_(None), table.c.stopped_at > start - _ROUNDING_SLACK),
    )
    if region is not None:
        query = query.where(table.c.region == region)
    rows = conn.execute(query.order_by(table.c.started_at, table.c.id))
    return [_to_record(row._mapping) for row in rows]


def _tags(tags: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"key": str(tag["key"]), "value": str(tag.get("value") or "")} for tag in tags]


def _to_record(row: RowMapping) -> UsageRecord:
    return UsageRecord(
        account_id=row["account_id"],
        region=row["region"],
        task_arn=row["task_arn"],
        cluster_name=row["cluster_name"],
        launch_type=row["launch_type"],
        capacity_provider=row["capacity_provider"],
        cpu=int(row["cpu"]),
        memory=int(row["memory"]),
        architecture=row["architecture"],
        tags=list(orjson.loads(row["tags"])),
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
    )
