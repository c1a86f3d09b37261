"""Kubernetes objects of EKS clusters in the store: one revision per cluster, a change log the watches read,
consistent listings at a past revision, compaction — the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.store import kube as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.kube import ObjectKey
from dockyard.store.schema import metadata
from tests.eks_clusters import insert_active_cluster

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def make_cluster(db: Database, name: str, port: int) -> int:
    root = CredentialStore(db).ensure_root_key(NOW, None, None)
    with db.write() as tx:
        record = insert_active_cluster(tx, root, name=name, port=port, now=NOW)
        store.start_cluster(tx, record.id)
        store.start_cluster(tx, record.id)  # idempotent
    return record.id


@pytest.fixture
def cluster(db: Database) -> int:
    return make_cluster(db, "one", 41001)


def pod(name: str, namespace: str = "default") -> ObjectKey:
    return ObjectKey("", "pods", namespace, name)


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, **extra}


def test_the_migrations_match_the_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = [d for d in compare_metadata(MigrationContext.configure(conn), metadata) if "kube" in str(d)]
    assert diffs == []


def test_every_write_takes_the_next_revision_and_writes_it_as_the_resource_version(
    db: Database, cluster: int
) -> None:
    with db.write() as tx:
        a = store.create_object(tx, cluster, pod("a"), body("a"))
        b = store.create_object(tx, cluster, pod("b"), body("b"))
        a2 = store.update_object(tx, cluster, pod("a"), body("a", spec={"x": 1}), expected_revision=1)
    assert (a.revision, b.revision, a2.revision, a2.created_revision) == (1, 2, 3, 1)
    assert a2.value["metadata"]["resourceVersion"] == "3"
    with db.read() as tx:
        got = store.get_object(tx, cluster, pod("a"))
        assert got is not None and got.value == a2.value
        assert store.revisions(tx, cluster) == (3, 0)


def test_create_update_and_delete_refuse_as_the_api_must(db: Database, cluster: int) -> None:
    with db.write() as tx:
        store.create_object(tx, cluster, pod("a"), body("a"))
    with db.write() as tx, pytest.raises(store.AlreadyExistsError):
        store.create_object(tx, cluster, pod("a"), body("a"))
    with db.write() as tx, pytest.raises(store.ConflictError) as stale:
        store.update_object(tx, cluster, pod("a"), body("a"), expected_revision=7)
    assert stale.value.current_revision == 1
    with db.write() as tx, pytest.raises(store.NotFoundError):
        store.update_object(tx, cluster, pod("nope"), body("nope"))
    with db.write() as tx, pytest.raises(store.ConflictError):
        store.delete_object(tx, cluster, pod("a"), expected_revision=9)
    with db.write() as tx:
        gone = store.delete_object(tx, cluster, pod("a"), expected_revision=1)
    assert gone.revision == 2 and gone.value["metadata"]["resourceVersion"] == "2"
    with db.read() as tx:
        assert store.get_object(tx, cluster, pod("a")) is None
    with db.write() as tx, pytest.raises(store.NotFoundError):
        store.delete_object(tx, cluster, pod("a"))


def test_the_same_name_in_another_namespace_resource_or_cluster_is_another_object(db: Database) -> None:
    one, two = make_cluster(db, "one", 41001), make_cluster(db, "two", 41002)
    keys = [pod("a"), pod("a", "kube-system"), ObjectKey("", "configmaps", "default", "a")]
    with db.write() as tx:
        for key in keys:
            store.create_object(tx, one, key, body("a"))
        store.create_object(tx, two, pod("a"), body("a"))
        assert store.revisions(tx, one)[0] == 3 and store.revisions(tx, two)[0] == 1
        assert [o.key for o in store.list_objects(tx, one, "", "pods").items] == keys[:2]
        assert [o.key for o in store.list_objects(tx, one, "", "pods", namespace="default").items] == keys[:1]


def test_pages_continue_after_a_key_at_the_first_page_s_revision(db: Database, cluster: int) -> None:
    with db.write() as tx:
        for name in ("a", "b", "c", "d"):
            store.create_object(tx, cluster, pod(name), body(name))
    with db.read() as tx:
        first = store.list_objects(tx, cluster, "", "pods", limit=2)
    assert [o.key.name for o in first.items] == ["a", "b"] and first.more and first.revision == 4
    # Meanwhile: c is changed, d deleted, e created. The continuation still answers at revision 4.
    with db.write() as tx:
        store.update_object(tx, cluster, pod("c"), body("c", spec={"changed": True}))
        store.delete_object(tx, cluster, pod("d"))
        store.create_object(tx, cluster, pod("e"), body("e"))
    last = first.items[-1].key
    with db.read() as tx:
        rest = store.list_objects(
            tx, cluster, "", "pods", after=(last.namespace, last.name), limit=2, at_revision=first.revision
        )
        now = store.list_objects(tx, cluster, "", "pods")
    assert [(o.key.name, o.revision) for o in rest.items] == [("c", 3), ("d", 4)]
    assert "spec" not in rest.items[0].value and not rest.more and rest.revision == 4
    assert [o.key.name for o in now.items] == ["a", "b", "c", "e"] and now.revision == 7
    with db.read() as tx:  # what a page's remainingItemCount says: the rest, at the page's revision
        after_b = (last.namespace, last.name)
        assert store.count_objects(tx, cluster, "", "pods", after=after_b, at_revision=first.revision) == 2
        assert store.count_objects(tx, cluster, "", "pods", after=after_b) == 2  # c and e now
        assert store.count_objects(tx, cluster, "", "pods", namespace="other") == 0


def test_the_change_log_is_the_watch_feed(db: Database, cluster: int) -> None:
    with db.write() as tx:
        store.create_object(tx, cluster, pod("a"), body("a"))
        store.create_object(tx, cluster, ObjectKey("", "configmaps", "default", "c"), body("c"))
        store.update_object(tx, cluster, pod("a"), body("a", spec={"v": 2}))
        store.delete_object(tx, cluster, pod("a"))
    with db.read() as tx:
        feed = store.changes(tx, cluster, 0, resource="pods")
        assert [(c.revision, c.type, c.prev_revision) for c in feed] == [
            (1, "ADDED", None),
            (3, "MODIFIED", 1),
            (4, "DELETED", 3),
        ]
        assert feed[2].value["spec"] == {"v": 2} and feed[2].value["metadata"]["resourceVersion"] == "4"
        assert [c.revision for c in store.changes(tx, cluster, 2)] == [3, 4]
        assert store.state_at(tx, cluster, pod("a"), 2) == feed[0].value
        assert store.state_at(tx, cluster, pod("a"), 4) is None


def test_compaction_keeps_what_listings_from_it_on_need_and_makes_older_watches_gone(
    db: Database, cluster: int
) -> None:
    with db.write() as tx:
        store.create_object(tx, cluster, pod("a"), body("a", v=0))
        for version in range(1, 5):
            store.update_object(tx, cluster, pod("a"), body("a", v=version))
        store.create_object(tx, cluster, pod("b"), body("b"))
        store.delete_object(tx, cluster, pod("b"))
        store.create_object(tx, cluster, pod("c"), body("c"))
    # revisions: a 1..5, b created 6 deleted 7, c 8
    with db.write() as tx:
        assert store.log_size(tx, cluster) == 8
        removed = store.compact(tx, cluster, 7)
    assert removed == 6  # a's rows 1-4, b's two; a's latest (5) and c stay
    with db.read() as tx:
        assert store.log_size(tx, cluster) == 2
        with pytest.raises(store.CompactedError) as gone:
            store.changes(tx, cluster, 3)
        assert gone.value.compacted == 7
        assert [c.revision for c in store.changes(tx, cluster, 7)] == [8]
        at_seven = store.list_objects(tx, cluster, "", "pods", at_revision=7)
        assert [(o.key.name, o.value["v"]) for o in at_seven.items] == [("a", 4)]
        with pytest.raises(store.CompactedError):
            store.list_objects(tx, cluster, "", "pods", at_revision=6)
    with db.write() as tx:
        assert store.compact(tx, cluster, 5) == 0  # already past it


def test_concurrent_writers_get_distinct_revisions_in_commit_order(db: Database, cluster: int) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with db.write() as tx:
                    store.create_object(tx, cluster, pod(f"w{worker}-{n}"), body(f"w{worker}-{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read() as tx:
        revisions = [c.revision for c in store.changes(tx, cluster, 0)]
        listed = store.list_objects(tx, cluster, "", "pods")
    assert revisions == list(range(1, 41)) and listed.revision == 40
    assert sorted(o.revision for o in listed.items) == revisions


def test_forgetting_a_cluster_removes_its_objects_and_log(db: Database, cluster: int) -> None:
    with db.write() as tx:
        store.create_object(tx, cluster, pod("a"), body("a"))
        store.forget_cluster(tx, cluster)
        with pytest.raises(store.UnknownClusterError):
            store.revisions(tx, cluster)
        with pytest.raises(store.UnknownClusterError):
            store.create_object(tx, cluster, pod("b"), body("b"))
        assert store.get_object(tx, cluster, pod("a")) is None
        assert store.log_size(tx, cluster) == 0
