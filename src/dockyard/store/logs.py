"""CloudWatch Logs storage: log groups, their streams and their events, inside the caller's transaction.

Layout (``schema.py``)::

    log_groups   (account_id, region, name) unique · retention, KMS key, class, storedBytes
    log_streams  (group_id, name) unique · first/last event, last ingestion, upload sequence
    log_events   id (ascending in insertion order) · group_id, stream_id, event_ms, ingestion_ms, message
                 indexed (stream_id, event_ms, id) for GetLogEvents and (group_id, event_ms, id) for
                 FilterLogEvents across a group's streams

An event's key is ``(event_ms, id)``: its timestamp, then the order events were stored in, so equal
timestamps keep their batch order. A batch goes in with one multi-row insert and the stream's and group's
counters are updated in the same transaction: the caller's commit makes the whole batch durable at once.
Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, RowMapping, Select, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from dockyard.store.schema import log_events as events_table
from dockyard.store.schema import log_groups as groups_table
from dockyard.store.schema import log_streams as streams_table

STANDARD = "STANDARD"

#: A position between events of one listing: the key ``(event_ms, id)`` a page starts after or before.
EventKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class LogGroupRecord:
    id: int
    account_id: str
    region: str
    name: str
    kms_key_id: str | None
    retention_days: int | None
    log_group_class: str
    created_ms: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class LogStreamRecord:
    id: int
    group_id: int
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    upload_sequence: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    stream_id: int
    timestamp: int
    ingestion_time: int
    message: str

    @property
    def key(self) -> EventKey:
        return (self.timestamp, self.id)


#: An event as a search reads it: ``(id, stream_id, timestamp, ingestion_time, message)``, the fields of
#: a :class:`StoredEvent` in order, left a row so the events a pattern rejects cost no object.
EventRow = tuple[int, int, int, int, str]

#: The columns of a :class:`StoredEvent`, in its fields' order.
_EVENT_COLUMNS = (
    events_table.c.id,
    events_table.c.stream_id,
    events_table.c.event_ms,
    events_table.c.ingestion_ms,
    events_table.c.message,
)


# --- groups ----------------------------------------------------------------------------------------------


def create_group(
    conn: Connection,
    *,
    account_id: str,
    region: str,
    name: str,
    created_ms: int,
    kms_key_id: str | None = None,
    log_group_class: str = STANDARD,
) -> LogGroupRecord | None:
    """Create the group; None if the account already has one of that name in the region (a concurrent
    creation included: the insert does nothing on a conflict)."""
    statement = (
        _dialect_insert(conn)(groups_table)
        .values(
            account_id=account_id,
            region=region,
            name=name,
            kms_key_id=kms_key_id,
            retention_days=None,
            log_group_class=log_group_class,
            created_ms=created_ms,
            stored_bytes=0,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "region", "name"])
        .returning(*groups_table.c)
    )
    row = conn.execute(statement).first()
    return None if row is None else _group(row._mapping)


def find_group(conn: Connection, account_id: str, region: str, name: str) -> LogGroupRecord | None:
    row = conn.execute(
        select(groups_table).where(
            groups_table.c.account_id == account_id,
            groups_table.c.region == region,
            groups_table.c.name == name,
        )
    ).first()
    return None if row is None else _group(row._mapping)


def list_groups(
    conn: Connection,
    account_id: str,
    region: str,
    *,
    prefix: str | None = None,
    contains: str | None = None,
    names: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    after: str | None = None,
    limit: int,
) -> list[LogGroupRecord]:
    """The account's groups in the region, by name (byte order), after ``after``, at most ``limit``:
    those whose name starts with ``prefix``, holds ``contains`` (case-sensitive), is one of ``names``, and
    whose class is one of ``classes``."""
    query = select(groups_table).where(
        groups_table.c.account_id == account_id, groups_table.c.region == region
    )
    if prefix:
        query = query.where(func.substr(groups_table.c.name, 1, len(prefix)) == prefix)
    if contains:
        position = func.strpos if conn.dialect.name == "postgresql" else func.instr
        query = query.where(position(groups_table.c.name, contains) > 0)
    if names is not None:
        query = query.where(groups_table.c.name.in_(list(names)))
    if classes is not None:
        query = query.where(groups_table.c.log_group_class.in_(list(classes)))
    if after is not None:
        query = query.where(groups_table.c.name > after)
    rows = conn.execute(query.order_by(groups_table.c.name).limit(limit))
    return [_group(row._mapping) for row in rows]


def set_retention(conn: Connection, group_id: int, days: int | None) -> None:
    conn.execute(update(groups_table).where(groups_table.c.id == group_id).values(retention_days=days))


def delete_group(conn: Connection, group_id: int) -> None:
    """Remove the group with its streams and events."""
    conn.execute(delete(events_table).where(events_table.c.group_id == group_id))
    conn.execute(delete(streams_table).where(streams_table.c.group_id == group_id))
    conn.execute(delete(groups_table).where(groups_table.c.id == group_id))


def groups_with_retention(conn: Connection) -> list[LogGroupRecord]:
    """Every group, of every account, that has a retention policy."""
    rows = conn.execute(select(groups_table).where(groups_table.c.retention_days.is_not(None)))
    return [_group(row._mapping) for row in rows]


# --- streams ---------------------------------------------------------------------------------------------


def create_stream(conn: Connection, group_id: int, name: str, created_ms: int) -> LogStreamRecord | None:
    """Create the stream; None if the group already has one of that name."""
    statement = (
        _dialect_insert(conn)(streams_table)
        .values(group_id=group_id, name=name, created_ms=created_ms, upload_sequence=0)
        .on_conflict_do_nothing(index_elements=["group_id", "name"])
        .returning(*streams_table.c)
    )
    row = conn.execute(statement).first()
    return None if row is None else _stream(row._mapping)


def find_stream(conn: Connection, group_id: int, name: str) -> LogStreamRecord | None:
    row = conn.execute(
        select(streams_table).where(streams_table.c.group_id == group_id, streams_table.c.name == name)
    ).first()
    return None if row is None else _stream(row._mapping)


def list_streams(
    conn: Connection,
    group_id: int,
    *,
    prefix: str | None = None,
    names: Sequence[str] | None = None,
    by_last_event: bool = False,
    descending: bool = False,
    after: tuple[int, str] | None = None,
    limit: int | None = None,
) -> list[LogStreamRecord]:
    """The group's streams ordered by name, or with ``by_last_event`` by last event time (a stream with
    none counting as 0) then name; ``after`` is the ``(last event time, name)`` of the previous page's last
    stream (the time is ignored when ordering by name)."""
    table = streams_table
    query = select(table).where(table.c.group_id == group_id)
    if prefix:
        query = query.where(func.substr(table.c.name, 1, len(prefix)) == prefix)
    if names is not None:
        query = query.where(table.c.name.in_(list(names)))
    last = func.coalesce(table.c.last_event_ms, 0)
    keys: list[ColumnElement[Any]] = [last, table.c.name] if by_last_event else [table.c.name]
    if after is not None:
        query = query.where(_beyond(keys, list(after) if by_last_event else [after[1]], descending))
    query = query.order_by(*(key.desc() if descending else key.asc() for key in keys))
    if limit is not None:
        query = query.limit(limit)
    return [_stream(row._mapping) for row in conn.execute(query)]


def stream_names(conn: Connection, group_id: int) -> dict[int, str]:
    """Every stream of the group: id → name."""
    rows = conn.execute(
        select(streams_table.c.id, streams_table.c.name).where(streams_table.c.group_id == group_id)
    )
    return {int(stream_id): str(name) for stream_id, name in rows}


def delete_stream(conn: Connection, stream: LogStreamRecord) -> None:
    """Remove the stream and its events; the group's stored bytes go down by theirs."""
    freed = conn.execute(
        select(func.coalesce(func.sum(events_table.c.size), 0)).where(events_table.c.stream_id == stream.id)
    ).scalar_one()
    conn.execute(delete(events_table).where(events_table.c.stream_id == stream.id))
    conn.execute(delete(streams_table).where(streams_table.c.id == stream.id))
    _add_stored_bytes(conn, stream.group_id, -int(freed))


# --- events ----------------------------------------------------------------------------------------------


def append_events(
    conn: Connection, stream: LogStreamRecord, events: Sequence[tuple[int, str]], ingestion_ms: int
) -> int:
    """Store ``(timestamp, message)`` events (in order) in the stream, received at ``ingestion_ms``, and
    return the stream's new upload sequence. The stream's first/last event times and last ingestion time
    and the group's stored bytes follow. An empty batch only advances the sequence."""
    sizes = [len(message.encode("utf-8")) for _, message in events]
    if events:
        conn.execute(
            insert(events_table),
            [
                {
                    "group_id": stream.group_id,
                    "stream_id": stream.id,
                    "event_ms": timestamp,
                    "ingestion_ms": ingestion_ms,
                    "size": size,
                    "message": message,
                }
                for (timestamp, message), size in zip(events, sizes, strict=True)
            ],
        )
    table = streams_table
    values: dict[str, Any] = {"upload_sequence": table.c.upload_sequence + 1}
    if events:
        first, last = min(e[0] for e in events), max(e[0] for e in events)
        current_first, current_last = table.c.first_event_ms, table.c.last_event_ms
        values.update(
            first_event_ms=case(
                (current_first.is_(None), first), (current_first > first, first), else_=current_first
            ),
            last_event_ms=case(
                (current_last.is_(None), last), (current_last < last, last), else_=current_last
            ),
            last_ingestion_ms=ingestion_ms,
        )
    sequence = conn.execute(
        update(table).where(table.c.id == stream.id).values(**values).returning(table.c.upload_sequence)
    ).scalar_one()
    _add_stored_bytes(conn, stream.group_id, sum(sizes))
    return int(sequence)


#: Where a shipped line sits in its container's output: Docker's timestamp in nanoseconds, then its
#: ordinal among the lines of that same timestamp. Positions only grow along a container's output.
ShipPosition = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Shipped:
    """What :func:`append_shipped` did with an agent's batch."""

    stored: tuple[tuple[int, str, ShipPosition], ...]
    """The events stored (the batch's, without those already stored)."""
    duplicates: int
    position: ShipPosition | None
    """The stream's shipped position after the batch (None: nothing was ever shipped into it)."""


def append_shipped(
    conn: Connection,
    stream: LogStreamRecord,
    events: Sequence[tuple[int, str, ShipPosition]],
    ingestion_ms: int,
) -> Shipped:
    """Store the ``(timestamp ms, message, position)`` events of an agent's batch that come after the
    stream's shipped position, and advance it; the others are a resend of lines already stored (the
    agent died between our commit and its own cursor's) and are skipped. Exactly once, whatever the
    batches' boundaries, because the position is the line's, not the batch's."""
    row = conn.execute(
        select(streams_table.c.shipped_ns, streams_table.c.shipped_ordinal)
        .where(streams_table.c.id == stream.id)
        .with_for_update()
    ).one()
    shipped: ShipPosition | None = None if row[0] is None else (int(row[0]), int(row[1] or 0))
    fresh = [e for e in events if shipped is None or e[2] > shipped]
    if not fresh:
        return Shipped(stored=(), duplicates=len(events), position=shipped)
    append_events(conn, stream, [(timestamp, message) for timestamp, message, _ in fresh], ingestion_ms)
    last = max(e[2] for e in fresh)
    conn.execute(
        update(streams_table)
        .where(streams_table.c.id == stream.id)
        .values(shipped_ns=last[0], shipped_ordinal=last[1])
    )
    return Shipped(stored=tuple(fresh), duplicates=len(events) - len(fresh), position=last)


def stream_events(
    conn: Connection,
    stream_id: int,
    *,
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None = None,
    before: EventKey | None = None,
    descending: bool = False,
    limit: int,
) -> list[StoredEvent]:
    """One stream's events with ``start_ms <= timestamp < end_ms``, strictly after ``after`` and before
    ``before`` (keys), in key order (or reversed), at most ``limit``."""
    query = select(*_EVENT_COLUMNS).where(events_table.c.stream_id == stream_id)
    return _events(conn, query, start_ms, end_ms, after, before, descending, limit)


def group_events(
    conn: Connection,
    group_id: int,
    *,
    stream_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None = None,
    before: EventKey | None = None,
    descending: bool = False,
    limit: int,
) -> list[StoredEvent]:
    """The group's events (of ``stream_ids`` only, if given) interleaved in key order; bounds as in
    :func:`stream_events`."""
    rows = group_event_rows(
        conn,
        group_id,
        stream_ids=stream_ids,
        start_ms=start_ms,
        end_ms=end_ms,
        after=after,
        before=before,
        descending=descending,
        limit=limit,
    )
    return [StoredEvent(*row) for row in rows]


def group_event_rows(
    conn: Connection,
    group_id: int,
    *,
    stream_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None = None,
    before: EventKey | None = None,
    first: EventKey | None = None,
    last: EventKey | None = None,
    containing: Sequence[Sequence[str]] = (),
    descending: bool = False,
    limit: int,
) -> list[EventRow]:
    """:func:`group_events` as rows, between the keys ``first`` and ``last`` inclusive, and only those
    whose message holds, for each clause of ``containing``, one of its strings (case-sensitive). A clause
    with a string the database cannot search for (empty, or holding a NUL or a lone surrogate) is left
    out: ``containing`` is a pre-filter, the caller still decides each event."""
    query = _group_listing(select(*_EVENT_COLUMNS), group_id, stream_ids).where(
        *_key_bounds(start_ms, end_ms, after, before, first, last),
        *_containing(conn, containing),
    )
    rows = conn.execute(query.order_by(*_key_order(descending)).limit(limit)).all()
    return cast("list[EventRow]", rows)


def group_event_key(
    conn: Connection,
    group_id: int,
    *,
    stream_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None = None,
    before: EventKey | None = None,
    descending: bool = False,
    offset: int = 0,
) -> EventKey | None:
    """The key of the event ``offset`` places into :func:`group_events`' listing (0: its first), None when
    the listing is shorter; read from the group index alone."""
    query = _group_listing(select(events_table.c.event_ms, events_table.c.id), group_id, stream_ids).where(
        *_key_bounds(start_ms, end_ms, after, before, None, None)
    )
    row = conn.execute(query.order_by(*_key_order(descending)).limit(1).offset(offset)).first()
    return None if row is None else (int(row[0]), int(row[1]))


def count_group_events(
    conn: Connection,
    group_id: int,
    *,
    stream_ids: Sequence[int] | None,
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None = None,
    before: EventKey | None = None,
    first: EventKey | None = None,
    last: EventKey | None = None,
) -> int:
    """How many events :func:`group_event_rows` would list without ``containing`` and ``limit``."""
    query = _group_listing(select(func.count()), group_id, stream_ids).where(
        *_key_bounds(start_ms, end_ms, after, before, first, last)
    )
    return int(conn.execute(query).scalar_one())


def expire_events(conn: Connection, group: LogGroupRecord, before_ms: int, limit: int) -> int:
    """Remove up to ``limit`` of the group's events older than ``before_ms`` (oldest first); how many."""
    doomed = conn.execute(
        select(events_table.c.id, events_table.c.size)
        .where(events_table.c.group_id == group.id, events_table.c.event_ms < before_ms)
        .order_by(events_table.c.event_ms, events_table.c.id)
        .limit(limit)
    ).all()
    if not doomed:
        return 0
    conn.execute(delete(events_table).where(events_table.c.id.in_([row.id for row in doomed])))
    _add_stored_bytes(conn, group.id, -sum(int(row.size) for row in doomed))
    return len(doomed)


# --- helpers ---------------------------------------------------------------------------------------------


def _events(
    conn: Connection,
    query: Select[Any],
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None,
    before: EventKey | None,
    descending: bool,
    limit: int,
) -> list[StoredEvent]:
    ordered = query.where(*_key_bounds(start_ms, end_ms, after, before, None, None))
    rows = conn.execute(ordered.order_by(*_key_order(descending)).limit(limit)).all()
    return [StoredEvent(*row) for row in rows]


def _group_listing(query: Select[Any], group_id: int, stream_ids: Sequence[int] | None) -> Select[Any]:
    query = query.where(events_table.c.group_id == group_id)
    if stream_ids is not None:
        query = query.where(events_table.c.stream_id.in_(list(stream_ids)))
    return query


_KEYS: list[ColumnElement[Any]] = [events_table.c.event_ms, events_table.c.id]


def _key_order(descending: bool) -> list[ColumnElement[Any]]:
    return [key.desc() if descending else key.asc() for key in _KEYS]


def _key_bounds(
    start_ms: int | None,
    end_ms: int | None,
    after: EventKey | None,
    before: EventKey | None,
    first: EventKey | None,
    last: EventKey | None,
) -> list[ColumnElement[bool]]:
    """``start_ms <= timestamp < end_ms``, keys strictly after ``after`` and before ``before``, and from
    ``first`` through ``last`` inclusive."""
    conditions: list[ColumnElement[bool]] = []
    if start_ms is not None:
        conditions.append(events_table.c.event_ms >= start_ms)
    if end_ms is not None:
        conditions.append(events_table.c.event_ms < end_ms)
    if after is not None:
        conditions.append(_beyond(_KEYS, list(after), descending=False))
    if before is not None:
        conditions.append(_beyond(_KEYS, list(before), descending=True))
    if first is not None:  # not before first: after the key just below it
        conditions.append(_beyond(_KEYS, [first[0], first[1] - 1], descending=False))
    if last is not None:
        conditions.append(_beyond(_KEYS, [last[0], last[1] + 1], descending=True))
    return conditions


def _containing(conn: Connection, clauses: Sequence[Sequence[str]]) -> list[ColumnElement[bool]]:
    position = func.strpos if conn.dialect.name == "postgresql" else func.instr
    return [
        or_(*(position(events_table.c.message, text) > 0 for text in clause))
        for clause in clauses
        if clause and all(_searchable(text) for text in clause)
    ]


def _searchable(text: str) -> bool:
    """Whether both databases can be asked for ``text``: PostgreSQL holds no NUL in text, and a lone
    surrogate has no UTF-8 to send."""
    if not text or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _beyond(
    keys: Sequence[ColumnElement[Any]], values: Sequence[Any], descending: bool
) -> ColumnElement[bool]:
    """Rows whose ``keys`` come strictly after ``values`` in ascending order (before, with
    ``descending``), spelled so an index on the keys serves it: ``k1 >= v1 AND (k1 > v1 OR k2 > v2)``."""
    first, rest = keys[0], keys[1:]
    strictly: ColumnElement[bool] = first < values[0] if descending else first > values[0]
    bound: ColumnElement[bool] = first <= values[0] if descending else first >= values[0]
    if not rest:
        return strictly
    return and_(bound, or_(strictly, and_(first == values[0], _beyond(rest, values[1:], descending))))


def _add_stored_bytes(conn: Connection, group_id: int, delta: int) -> None:
    if delta:
        conn.execute(
            update(groups_table)
            .where(groups_table.c.id == group_id)
            .values(stored_bytes=groups_table.c.stored_bytes + delta)
        )


def _dialect_insert(conn: Connection) -> Any:
    """The insert construct with ``on_conflict_do_nothing`` for the connection's engine."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _group(row: RowMapping) -> LogGroupRecord:
    return LogGroupRecord(
        id=int(row["id"]),
        account_id=row["account_id"],
        region=row["region"],
        name=row["name"],
        kms_key_id=row["kms_key_id"],
        retention_days=row["retention_days"],
        log_group_class=row["log_group_class"],
        created_ms=int(row["created_ms"]),
        stored_bytes=int(row["stored_bytes"]),
    )


def _stream(row: RowMapping) -> LogStreamRecord:
    return LogStreamRecord(
        id=int(row["id"]),
        group_id=int(row["group_id"]),
        name=row["name"],
        created_ms=int(row["created_ms"]),
        first_event_ms=row["first_event_ms"],
        last_event_ms=row["last_event_ms"],
        last_ingestion_ms=row["last_ingestion_ms"],
        upload_sequence=int(row["upload_sequence"]),
    )
