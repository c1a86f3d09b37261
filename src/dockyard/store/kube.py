"""Kubernetes objects of EKS clusters, kept the kine way: one revision per cluster, a log of every change.

Layout (``schema.py``)::

    kube_revisions  cluster_id · revision (the last one taken) · compacted (the log is complete after it)
    kube_objects    (cluster_id, api_group, resource, namespace, name) · created/last revision · JSON
    kube_changes    (cluster_id, revision) · ADDED | MODIFIED | DELETED, the object's key and JSON then,
                    the revision of its previous state; indexed by object then revision

Every write takes the cluster's next revision with one ``UPDATE … RETURNING`` of its counter, inside the
caller's transaction: on PostgreSQL that row lock is held to the commit, so a cluster's writes commit in
revision order and a reader never sees revision N+1 without N (SQLite has one writer anyway). The
revision is written into the object as ``metadata.resourceVersion``; everything else in ``metadata``
(uid, generation, timestamps) is the caller's.

Reading:

- :func:`get_object` and :func:`list_objects` at the current revision read ``kube_objects``;
- :func:`list_objects` at a past revision (a ``continue`` token's, or an exact ``resourceVersion``) reads
  each object's latest log row at or before it;
- :func:`changes` is the watch feed: the log after a revision, in order. Asking before the compacted
  revision raises :class:`CompactedError` (the API's ``410 Gone``).

:func:`compact` keeps, for each object, its latest row at or before the compaction revision (dropping it
too when that row is the object's deletion), so listings at any revision from the compacted one on stay
exact. The API's names (``resource``, ``api_group`` — ``""`` for the core group —, ``namespace`` — ``""``
for cluster-scoped kinds) are used as given: validation is the caller's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import (
    Connection,
    RowMapping,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql import ColumnElement

from dockyard.store.schema import kube_changes as changes_table
from dockyard.store.schema import kube_objects as objects_table
from dockyard.store.schema import kube_revisions as revisions_table

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
ADDED: ChangeType = "ADDED"
MODIFIED: ChangeType = "MODIFIED"
DELETED: ChangeType = "DELETED"


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    api_group: str
    resource: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: ObjectKey
    created_revision: int
    revision: int
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    revision: int
    type: ChangeType
    key: ObjectKey
    created_revision: int
    prev_revision: int | None
    value: dict[str, Any]
    """The object after the change; for DELETED, its last state with the deletion's resourceVersion."""


@dataclass(frozen=True, slots=True)
class ObjectPage:
    items: list[StoredObject]
    revision: int
    """The revision the page was read at: the list's resourceVersion, and its continuation's."""
    more: bool
    """Objects follow the last item (at the same revision)."""


class KubeStoreError(Exception):
    pass


class AlreadyExistsError(KubeStoreError):
    pass


class NotFoundError(KubeStoreError):
    pass


class ConflictError(KubeStoreError):
    """The object changed since the revision the caller read (a stale update or precondition)."""

    def __init__(self, current_revision: int) -> None:
        super().__init__(f"the object is at revision {current_revision}")
        self.current_revision = current_revision


class CompactedError(KubeStoreError):
    """The revision asked for is older than the log keeps."""

    def __init__(self, compacted: int) -> None:
        super().__init__(f"revisions up to {compacted} were compacted")
        self.compacted = compacted


class UnknownClusterError(KubeStoreError):
    pass


# --- the cluster's revision -------------------------------------------------------------------------------


def start_cluster(conn: Connection, cluster_id: int) -> None:
    """Give a cluster its revision counter (idempotent)."""
    if conn.execute(
        select(revisions_table.c.cluster_id).where(_cluster(revisions_table, cluster_id))
    ).first():
        return
    conn.execute(insert(revisions_table).values(cluster_id=cluster_id, revision=0, compacted=0))


def cluster_ids(conn: Connection) -> list[int]:
    """The clusters that have an objects store."""
    return [
        int(i)
        for i in conn.execute(
            select(revisions_table.c.cluster_id).order_by(revisions_table.c.cluster_id)
        ).scalars()
    ]


def forget_cluster(conn: Connection, cluster_id: int) -> None:
    """Remove every object, change and the counter of a cluster (before the cluster's own row goes)."""
    for table in (changes_table, objects_table, revisions_table):
        conn.execute(delete(table).where(_cluster(table, cluster_id)))


def revisions(conn: Connection, cluster_id: int) -> tuple[int, int]:
    """The cluster's current and compacted revisions."""
    row = conn.execute(
        select(revisions_table.c.revision, revisions_table.c.compacted).where(
            _cluster(revisions_table, cluster_id)
        )
    ).first()
    if row is None:
        raise UnknownClusterError(f"cluster {cluster_id} has no Kubernetes objects store")
    return int(row[0]), int(row[1])


def _next_revision(conn: Connection, cluster_id: int) -> int:
    taken = conn.execute(
        update(revisions_table)
        .where(_cluster(revisions_table, cluster_id))
        .values(revision=revisions_table.c.revision + 1)
        .returning(revisions_table.c.revision)
    ).scalar()
    if taken is None:
        raise UnknownClusterError(f"cluster {cluster_id} has no Kubernetes objects store")
    return int(taken)


# --- writing ----------------------------------------------------------------------------------------------


def create_object(conn: Connection, cluster_id: int, key: ObjectKey, value: dict[str, Any]) -> StoredObject:
    """Store a new object; :class:`AlreadyExistsError` if one has its key."""
    if _current_row(conn, cluster_id, key) is not None:
        raise AlreadyExistsError(f"{key.resource} {key.name!r} exists")
    revision = _next_revision(conn, cluster_id)
    stored = StoredObject(key, revision, revision, _with_revision(value, revision))
    text = json.dumps(stored.value)
    conn.execute(
        insert(objects_table).values(
            cluster_id=cluster_id,
            **_key_values(key),
            created_revision=revision,
            revision=revision,
            value=text,
        )
    )
    _log(conn, cluster_id, ADDED, stored, prev_revision=None, text=text)
    return stored


def update_object(
    conn: Connection,
    cluster_id: int,
    key: ObjectKey,
    value: dict[str, Any],
    *,
    expected_revision: int | None = None,
) -> StoredObject:
    """Replace the object's state; :class:`NotFoundError`, or :class:`ConflictError` when
    ``expected_revision`` is given and the object is no longer at it."""
    current = _writable_row(conn, cluster_id, key, expected_revision)
    previous = int(current["revision"])
    revision = _next_revision(conn, cluster_id)
    created = int(current["created_revision"])
    stored = StoredObject(key, created, revision, _with_revision(value, revision))
    text = json.dumps(stored.value)
    conn.execute(
        update(objects_table)
        .where(_key_clause(objects_table, cluster_id, key))
        .values(revision=revision, value=text)
    )
    _log(conn, cluster_id, MODIFIED, stored, prev_revision=previous, text=text)
    return stored


def delete_object(
    conn: Connection,
    cluster_id: int,
    key: ObjectKey,
    *,
    expected_revision: int | None = None,
    value: dict[str, Any] | None = None,
) -> StoredObject:
    """Remove the object; what it was, at the deletion's revision (``value`` replaces its last state when
    given, e.g. with the finalizers emptied). :class:`NotFoundError` or
    :class:`ConflictError` as for :func:`update_object`."""
    current = _writable_row(conn, cluster_id, key, expected_revision)
    previous = int(current["revision"])
    revision = _next_revision(conn, cluster_id)
    last = value if value is not None else cast("dict[str, Any]", json.loads(current["value"]))
    stored = StoredObject(key, int(current["created_revision"]), revision, _with_revision(last, revision))
    conn.execute(delete(objects_table).where(_key_clause(objects_table, cluster_id, key)))
    _log(conn, cluster_id, DELETED, stored, prev_revision=previous, text=json.dumps(stored.value))
    return stored


def _log(
    conn: Connection,
    cluster_id: int,
    change: ChangeType,
    stored: StoredObject,
    *,
    prev_revision: int | None,
    text: str,
) -> None:
    conn.execute(
        insert(changes_table).values(
            cluster_id=cluster_id,
            revision=stored.revision,
            change=change,
            **_key_values(stored.key),
            created_revision=stored.created_revision,
            prev_revision=prev_revision,
            value=text,
        )
    )


# --- reading ----------------------------------------------------------------------------------------------


def get_object(conn: Connection, cluster_id: int, key: ObjectKey) -> StoredObject | None:
    row = _current_row(conn, cluster_id, key)
    return None if row is None else _object(row)


def list_objects(
    conn: Connection,
    cluster_id: int,
    api_group: str,
    resource: str,
    *,
    namespace: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int | None = None,
    at_revision: int | None = None,
) -> ObjectPage:
    """The objects of a resource (in one namespace, or all), ordered by namespace then name, starting after
    ``after`` (a ``(namespace, name)``), at most ``limit``. At the current revision unless ``at_revision``
    names an earlier one still in the log (else :class:`CompactedError`; a later one is the current)."""
    table, clauses, revision = _listing(conn, cluster_id, api_group, resource, namespace, after, at_revision)
    query = select(table).where(and_(*clauses)).order_by(table.c.namespace, table.c.name)
    if limit is not None:
        query = query.limit(limit + 1)
    rows = conn.execute(query).mappings().all()
    more = limit is not None and len(rows) > limit
    items = [_object(row) for row in (rows[:limit] if limit is not None else rows)]
    return ObjectPage(items, revision, more)


def count_objects(
    conn: Connection,
    cluster_id: int,
    api_group: str,
    resource: str,
    *,
    namespace: str | None = None,
    after: tuple[str, str] | None = None,
    at_revision: int | None = None,
) -> int:
    """How many objects :func:`list_objects` would give with the same arguments and no limit (a LIST
    page's ``remainingItemCount``)."""
    table, clauses, _ = _listing(conn, cluster_id, api_group, resource, namespace, after, at_revision)
    return int(conn.execute(select(func.count()).select_from(table).where(and_(*clauses))).scalar_one())


def _listing(
    conn: Connection,
    cluster_id: int,
    api_group: str,
    resource: str,
    namespace: str | None,
    after: tuple[str, str] | None,
    at_revision: int | None,
) -> tuple[Table, list[ColumnElement[bool]], int]:
    """The table a listing reads (the objects, or the log for a past revision), its conditions, and the
    revision it is at."""
    current, compacted = revisions(conn, cluster_id)
    if at_revision is not None and at_revision < compacted:
        raise CompactedError(compacted)
    historic = at_revision is not None and at_revision < current
    table = changes_table if historic else objects_table
    clauses: list[ColumnElement[bool]] = [
        table.c.cluster_id == cluster_id,
        table.c.api_group == api_group,
        table.c.resource == resource,
    ]
    if namespace is not None:
        clauses.append(table.c.namespace == namespace)
    if after is not None:
        clauses.append(tuple_(table.c.namespace, table.c.name) > tuple_(*after))
    if historic:
        assert at_revision is not None
        later = changes_table.alias("later")
        clauses += [
            table.c.revision <= at_revision,
            table.c.change != DELETED,
            ~exists().where(
                later.c.cluster_id == table.c.cluster_id,
                later.c.api_group == table.c.api_group,
                later.c.resource == table.c.resource,
                later.c.namespace == table.c.namespace,
                later.c.name == table.c.name,
                later.c.revision > table.c.revision,
                later.c.revision <= at_revision,
            ),
        ]
    return table, clauses, at_revision if historic and at_revision is not None else current


def changes(
    conn: Connection,
    cluster_id: int,
    after_revision: int,
    *,
    api_group: str | None = None,
    resource: str | None = None,
    namespace: str | None = None,
    limit: int = 1000,
) -> list[Change]:
    """The log after ``after_revision`` (of a resource, in a namespace, when given), oldest first, at most
    ``limit``; :class:`CompactedError` when changes after it are no longer all kept."""
    _, compacted = revisions(conn, cluster_id)
    if after_revision < compacted:
        raise CompactedError(compacted)
    clauses: list[ColumnElement[bool]] = [
        changes_table.c.cluster_id == cluster_id,
        changes_table.c.revision > after_revision,
    ]
    for column, wanted in (("api_group", api_group), ("resource", resource), ("namespace", namespace)):
        if wanted is not None:
            clauses.append(changes_table.c[column] == wanted)
    rows = conn.execute(
        select(changes_table).where(and_(*clauses)).order_by(changes_table.c.revision).limit(limit)
    ).mappings()
    return [_change(row) for row in rows]


def state_at(conn: Connection, cluster_id: int, key: ObjectKey, revision: int) -> dict[str, Any] | None:
    """The object as it was at ``revision`` (None if it did not exist then), from the log: for a watch
    with a selector, the state before a change (``Change.prev_revision``)."""
    row = conn.execute(
        select(changes_table.c.change, changes_table.c.value)
        .where(_key_clause(changes_table, cluster_id, key), changes_table.c.revision <= revision)
        .order_by(changes_table.c.revision.desc())
        .limit(1)
    ).first()
    if row is None or row[0] == DELETED:
        return None
    return cast("dict[str, Any]", json.loads(row[1]))


# --- compaction -------------------------------------------------------------------------------------------


def compact(conn: Connection, cluster_id: int, revision: int) -> int:
    """Forget the log up to ``revision`` (clamped to the current one) except each live object's latest row;
    the number of rows removed. Watches from before it get :class:`CompactedError` from then on."""
    current, compacted = revisions(conn, cluster_id)
    target = min(revision, current)
    if target <= compacted:
        return 0
    newer = changes_table.alias("newer")
    removed = conn.execute(
        delete(changes_table).where(
            changes_table.c.cluster_id == cluster_id,
            changes_table.c.revision <= target,
            or_(
                changes_table.c.change == DELETED,
                exists().where(
                    newer.c.cluster_id == changes_table.c.cluster_id,
                    newer.c.api_group == changes_table.c.api_group,
                    newer.c.resource == changes_table.c.resource,
                    newer.c.namespace == changes_table.c.namespace,
                    newer.c.name == changes_table.c.name,
                    newer.c.revision > changes_table.c.revision,
                    newer.c.revision <= target,
                ),
            ),
        )
    ).rowcount
    conn.execute(
        update(revisions_table).where(_cluster(revisions_table, cluster_id)).values(compacted=target)
    )
    return int(removed or 0)


def log_size(conn: Connection, cluster_id: int) -> int:
    """Rows in the cluster's log (what compaction bounds)."""
    counted = conn.execute(
        select(func.count()).select_from(changes_table).where(_cluster(changes_table, cluster_id))
    ).scalar()
    return int(counted or 0)


# --- rows -------------------------------------------------------------------------------------------------


def _cluster(table: Any, cluster_id: int) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = table.c.cluster_id == cluster_id
    return clause


def _key_values(key: ObjectKey) -> dict[str, str]:
    return {
        "api_group": key.api_group,
        "resource": key.resource,
        "namespace": key.namespace,
        "name": key.name,
    }


def _key_clause(table: Any, cluster_id: int, key: ObjectKey) -> ColumnElement[bool]:
    return and_(
        table.c.cluster_id == cluster_id,
        table.c.api_group == key.api_group,
        table.c.resource == key.resource,
        table.c.namespace == key.namespace,
        table.c.name == key.name,
    )


def _current_row(conn: Connection, cluster_id: int, key: ObjectKey) -> RowMapping | None:
    return (
        conn.execute(select(objects_table).where(_key_clause(objects_table, cluster_id, key)))
        .mappings()
        .first()
    )


def _writable_row(
    conn: Connection, cluster_id: int, key: ObjectKey, expected_revision: int | None
) -> RowMapping:
    """The object's row for an update or delete: :class:`NotFoundError` if there is none,
    :class:`ConflictError` if ``expected_revision`` is given and the object is at another."""
    current = _current_row(conn, cluster_id, key)
    if current is None:
        raise NotFoundError(f"{key.resource} {key.name!r} not found")
    if expected_revision is not None and expected_revision != int(current["revision"]):
        raise ConflictError(int(current["revision"]))
    return current


def _row_key(row: RowMapping) -> ObjectKey:
    return ObjectKey(row["api_group"], row["resource"], row["namespace"], row["name"])


def _object(row: RowMapping) -> StoredObject:
    return StoredObject(
        _row_key(row),
        int(row["created_revision"]),
        int(row["revision"]),
        cast("dict[str, Any]", json.loads(row["value"])),
    )


def _change(row: RowMapping) -> Change:
    prev = row["prev_revision"]
    return Change(
        revision=int(row["revision"]),
        type=cast(ChangeType, row["change"]),
        key=_row_key(row),
        created_revision=int(row["created_revision"]),
        prev_revision=None if prev is None else int(prev),
        value=cast("dict[str, Any]", json.loads(row["value"])),
    )


def _with_revision(value: dict[str, Any], revision: int) -> dict[str, Any]:
    metadata = dict(value.get("metadata") or {})
    metadata["resourceVersion"] = str(revision)
    return {**value, "metadata": metadata}
