"""ECS task definitions: one row per revision, read and written inside a caller's transaction.

Guarantees: revision numbers are allocated per (account, region, family) by one atomic upsert, so
concurrent registrations never share a number and a number is never handed out twice, even after its
row is purged. Every query filters on account and region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.store.purging import delete_where
from dockyard.store.schema import ecs_task_definition_families as families
from dockyard.store.schema import ecs_task_definitions as table
from dockyard.store.schema import ecs_tasks as tasks

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
ALL = "ALL"
MAX_FAMILY_LENGTH = 255
"""The longest family name ECS accepts."""


@dataclass(frozen=True, slots=True)
class TaskDefinitionRecord:
    account_id: str
    region: str
    family: str
    revision: int
    arn: str
    status: str
    body: dict[str, Any]
    registered_at: datetime
    registered_by: str
    deregistered_at: datetime | None = None
    delete_requested_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListedTaskDefinition:
    family: str
    revision: int
    arn: str


def next_revision(conn: Connection, account_id: str, region: str, family: str) -> int:
    """Allocate the family's next revision number (1 for a new family); atomic on both databases."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(families)
        .values(account_id=account_id, region=region, family=family, last_revision=1)
        .on_conflict_do_update(
            index_elements=[families.c.account_id, families.c.region, families.c.family],
            set_={"last_revision": families.c.last_revision + 1},
        )
        .returning(families.c.last_revision)
    )
    return int(conn.execute(statement).scalar_one())


def insert_task_definition(conn: Connection, record: TaskDefinitionRecord) -> None:
    conn.execute(insert(table).values(**_to_row(record)))


def save_task_definition(conn: Connection, record: TaskDefinitionRecord) -> TaskDefinitionRecord:
    """Overwrite the lifecycle fields (status and its timestamps) of the stored revision."""
    conn.execute(
        update(table)
        .where(table.c.account_id == record.account_id, table.c.arn == record.arn)
        .values(
            status=record.status,
            deregistered_at=record.deregistered_at,
            delete_requested_at=record.delete_requested_at,
        )
    )
    return record


def find_task_definition(
    conn: Connection, account_id: str, region: str, family: str, revision: int
) -> TaskDefinitionRecord | None:
    """The revision in any status, or ``None``."""
    row = conn.execute(
        select(table).where(
            *_scope(account_id, region), table.c.family == family, table.c.revision == revision
        )
    ).first()
    return None if row is None else _to_record(row._mapping)


def find_latest_active(
    conn: Connection, account_id: str, region: str, family: str
) -> TaskDefinitionRecord | None:
    """The family's highest ACTIVE revision, or ``None`` if it has none."""
    row = conn.execute(
        select(table)
        .where(*_scope(account_id, region), table.c.family == family, table.c.status == ACTIVE)
        .order_by(table.c.revision.desc())
        .limit(1)
    ).first()
    return None if row is None else _to_record(row._mapping)


def list_task_definitions(
    conn: Connection,
    account_id: str,
    region: str,
    *,
    status: str,
    family: str | None,
    descending: bool,
    after: tuple[str, int] | None,
    limit: int,
) -> list[ListedTaskDefinition]:
    """Revisions in ``status`` ordered by (family, revision), ascending or descending, strictly after the
    position ``after`` in that order, at most ``limit``."""
    query = select(table.c.family, table.c.revision, table.c.arn).where(
        *_scope(account_id, region), table.c.status == status
    )
    if family is not None:
        query = query.where(table.c.family == family)
    if after is not None:
        query = query.where(_after_position(after, descending))
    order = (
        (table.c.family.desc(), table.c.revision.desc()) if descending else (table.c.family, table.c.revision)
    )
    rows = conn.execute(query.order_by(*order).limit(limit)).all()
    return [ListedTaskDefinition(str(f), int(r), str(a)) for f, r, a in rows]


def list_families(
    conn: Connection,
    account_id: str,
    region: str,
    *,
    status: str,
    prefix: str | None,
    after: str | None,
    limit: int,
) -> list[str]:
    """Family names in name order, strictly after ``after``, at most ``limit``. ACTIVE families have an
    ACTIVE revision; INACTIVE ones have revisions but none ACTIVE; ALL is both."""
    has_active = func.max(case((table.c.status == ACTIVE, 1), else_=0))
    query = select(table.c.family).where(*_scope(account_id, region)).group_by(table.c.family)
    if prefix:
        if len(prefix) > MAX_FAMILY_LENGTH:
            return []  # no family is that long
        # A comparison of the leading characters, not LIKE: no pattern to escape, no pattern-length limit
        # (SQLite refuses LIKE patterns over 50,000 bytes), linear in the prefix on both engines.
        query = query.where(func.substr(table.c.family, 1, len(prefix)) == prefix)
    if after is not None:
        query = query.where(table.c.family > after)
    if status == ACTIVE:
        query = query.having(has_active == 1)
    elif status == INACTIVE:
        query = query.having(has_active == 0)
    rows = conn.execute(query.order_by(table.c.family).limit(limit)).all()
    return [str(row[0]) for row in rows]


def purge_deleted(conn: Connection, *, requested_before: datetime) -> list[tuple[str, str]]:
    """Remove the DELETE_IN_PROGRESS revisions whose deletion was requested before ``requested_before``
    and that no task still uses (as ECS, deletion completes once nothing references the revision: a task
    that is not STOPPED needs its definition, e.g. when its agent reconnects); returns their (account, ARN)
    pairs. The family's revision counter is kept."""
    in_use = exists().where(
        tasks.c.account_id == table.c.account_id,
        tasks.c.task_definition_arn == table.c.arn,
        tasks.c.last_status != "STOPPED",
    )
    return delete_where(
        conn,
        table,
        and_(table.c.status == DELETE_IN_PROGRESS, table.c.delete_requested_at < requested_before, ~in_use),
    )


def with_status(record: TaskDefinitionRecord, status: str, now: datetime) -> TaskDefinitionRecord:
    """``record`` moved to ``status``, stamping the time it was deregistered or its deletion requested."""
    if status == INACTIVE:
        return replace(record, status=status, deregistered_at=record.deregistered_at or now)
    if status == DELETE_IN_PROGRESS:
        return replace(record, status=status, delete_requested_at=record.delete_requested_at or now)
    return replace(record, status=status)


def _scope(account_id: str, region: str) -> Sequence[ColumnElement[bool]]:
    return (table.c.account_id == account_id, table.c.region == region)


def _after_position(after: tuple[str, int], descending: bool) -> ColumnElement[bool]:
    family, revision = after
    if descending:
        return or_(table.c.family < family, and_(table.c.family == family, table.c.revision < revision))
    return or_(table.c.family > family, and_(table.c.family == family, table.c.revision > revision))


def _to_row(record: TaskDefinitionRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "family": record.family,
        "revision": record.revision,
        "arn": record.arn,
        "status": record.status,
        "body": orjson.dumps(record.body).decode(),
        "registered_at": record.registered_at,
        "registered_by": record.registered_by,
        "deregistered_at": record.deregistered_at,
        "delete_requested_at": record.delete_requested_at,
    }


def _to_record(row: RowMapping) -> TaskDefinitionRecord:
    return TaskDefinitionRecord(
        account_id=row["account_id"],
        region=row["region"],
        family=row["family"],
        revision=row["revision"],
        arn=row["arn"],
        status=row["status"],
        body=orjson.loads(row["body"]),
        registered_at=row["registered_at"],
        registered_by=row["registered_by"],
        deregistered_at=row["deregistered_at"],
        delete_requested_at=row["delete_requested_at"],
    )
