"""CloudWatch Logs storage: groups, streams and events, keyed and ordered the same on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.store import logs as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.logs import LogGroupRecord, LogStreamRecord
from dockyard.store.schema import metadata

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
REGION = "us-east-1"


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


@pytest.fixture
def other_account(db: Database, account: str) -> str:
    return CredentialStore(db).create_key(NOW, account_id=None, user_name="other").principal.account_id


def make_group(db: Database, account: str, name: str = "app", region: str = REGION) -> LogGroupRecord:
    with db.write() as tx:
        group = store.create_group(tx, account_id=account, region=region, name=name, created_ms=NOW_MS)
    assert group is not None
    return group


def make_stream(db: Database, group: LogGroupRecord, name: str = "s") -> LogStreamRecord:
    with db.write() as tx:
        stream = store.create_stream(tx, group.id, name, NOW_MS)
    assert stream is not None
    return stream


def put(db: Database, stream: LogStreamRecord, events: list[tuple[int, str]], at: int = NOW_MS) -> int:
    with db.write() as tx:
        current = store.find_stream(tx, stream.group_id, stream.name)
        assert current is not None
        return store.append_events(tx, current, events, at)


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "log_" in repr(d)] == []


def test_group_names_are_unique_per_account_and_region(
    db: Database, account: str, other_account: str
) -> None:
    make_group(db, account)
    with db.write() as tx:
        assert store.create_group(tx, account_id=account, region=REGION, name="app", created_ms=1) is None
        assert store.create_group(tx, account_id=other_account, region=REGION, name="app", created_ms=1)
        assert store.create_group(tx, account_id=account, region="eu-west-1", name="app", created_ms=1)
    with db.read() as tx:
        assert [g.name for g in store.list_groups(tx, other_account, REGION, limit=50)] == ["app"]
        assert store.find_group(tx, other_account, "eu-west-1", "app") is None


def test_groups_list_in_byte_order_with_prefix_substring_and_pages(db: Database, account: str) -> None:
    for name in ["b", "a/x", "a/y", "B", "a.z", "_q"]:
        make_group(db, account, name)
    with db.read() as tx:
        names = [g.name for g in store.list_groups(tx, account, REGION, limit=50)]
        assert names == sorted(names) == ["B", "_q", "a.z", "a/x", "a/y", "b"]
        assert [g.name for g in store.list_groups(tx, account, REGION, prefix="a/", limit=50)] == [
            "a/x",
            "a/y",
        ]
        assert [g.name for g in store.list_groups(tx, account, REGION, contains="/", limit=50)] == [
            "a/x",
            "a/y",
        ]
        assert [g.name for g in store.list_groups(tx, account, REGION, contains="b", limit=50)] == ["b"]
        first = store.list_groups(tx, account, REGION, limit=2)
        rest = store.list_groups(tx, account, REGION, after=first[-1].name, limit=50)
    assert [g.name for g in first + rest] == names


def test_a_batch_updates_the_stream_and_the_group(db: Database, account: str) -> None:
    group = make_group(db, account)
    stream = make_stream(db, group)
    assert put(db, stream, [(1000, "héllo"), (1000, "b"), (2000, "c")], at=5000) == 1
    assert put(db, stream, [(500, "early")], at=6000) == 2
    with db.read() as tx:
        found = store.find_stream(tx, group.id, "s")
        again = store.find_group(tx, account, REGION, "app")
        events = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, limit=100)
    assert found is not None and again is not None
    assert (found.first_event_ms, found.last_event_ms, found.last_ingestion_ms) == (500, 2000, 6000)
    assert found.upload_sequence == 2
    assert again.stored_bytes == len("héllo".encode()) + 1 + 1 + 5
    # Equal timestamps keep their batch order; the older event put later sorts first.
    assert [(e.timestamp, e.message) for e in events] == [
        (500, "early"),
        (1000, "héllo"),
        (1000, "b"),
        (2000, "c"),
    ]
    assert [e.ingestion_time for e in events] == [6000, 5000, 5000, 5000]


def test_events_page_forwards_and_backwards_by_key(db: Database, account: str) -> None:
    stream = make_stream(db, make_group(db, account))
    put(db, stream, [(t, f"m{t}") for t in range(10)])
    with db.read() as tx:
        first = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, limit=4)
        second = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, after=first[-1].key, limit=4)
        last = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, descending=True, limit=3)
        before = store.stream_events(
            tx, stream.id, start_ms=None, end_ms=None, before=last[-1].key, descending=True, limit=2
        )
        ranged = store.stream_events(tx, stream.id, start_ms=3, end_ms=6, limit=100)
    assert [e.timestamp for e in first + second] == list(range(8))
    assert [e.timestamp for e in last] == [9, 8, 7]
    assert [e.timestamp for e in before] == [6, 5]
    assert [e.timestamp for e in ranged] == [3, 4, 5]


def test_group_events_interleave_streams_in_time_order(db: Database, account: str) -> None:
    group = make_group(db, account)
    a, b, c = (make_stream(db, group, name) for name in "abc")
    put(db, a, [(1, "a1"), (4, "a4")])
    put(db, b, [(2, "b2"), (3, "b3")])
    put(db, c, [(0, "c0")])
    with db.read() as tx:
        every = store.group_events(tx, group.id, stream_ids=None, start_ms=None, end_ms=None, limit=100)
        some = store.group_events(tx, group.id, stream_ids=[a.id, b.id], start_ms=2, end_ms=None, limit=100)
        names = store.stream_names(tx, group.id)
    assert [e.message for e in every] == ["c0", "a1", "b2", "b3", "a4"]
    assert [e.message for e in some] == ["b2", "b3", "a4"]
    assert names == {a.id: "a", b.id: "b", c.id: "c"}


MESSAGES = ["ERROR 500", "error 500", "WARN then ERROR", "é ERROR ü", "50% a_b", "5000 ab", "back\\slash"]


@pytest.mark.parametrize(
    ("containing", "expected"),
    [
        ([["ERROR"]], ["ERROR 500", "WARN then ERROR", "é ERROR ü"]),  # case-sensitive
        ([["ERROR"], ["WARN"]], ["WARN then ERROR"]),  # every clause
        ([["WARN", "ü"]], ["WARN then ERROR", "é ERROR ü"]),  # one of a clause's strings
        ([["é E"]], ["é ERROR ü"]),
        ([["%"]], ["50% a_b"]),  # no LIKE: % and _ are themselves
        ([["a_b"]], ["50% a_b"]),
        ([["\\"]], ["back\\slash"]),
        ([["ERROR"], ["x\x00y"]], ["ERROR 500", "WARN then ERROR", "é ERROR ü"]),  # unsearchable: left out
        ([["\ud800"], ["", "ü"]], MESSAGES),
        ([], MESSAGES),
    ],
)
def test_group_event_rows_pre_filter_on_substrings(
    db: Database, account: str, containing: list[list[str]], expected: list[str]
) -> None:
    group = make_group(db, account)
    put(db, make_stream(db, group), list(enumerate(MESSAGES)))
    with db.read() as tx:
        rows = store.group_event_rows(
            tx, group.id, stream_ids=None, start_ms=None, end_ms=None, containing=containing, limit=100
        )
    assert [row[4] for row in rows] == expected


def test_group_listings_take_inclusive_bounds_offsets_and_counts(db: Database, account: str) -> None:
    group = make_group(db, account)
    a, b = make_stream(db, group, "a"), make_stream(db, group, "b")
    put(db, a, [(1, "a1"), (2, "a2"), (2, "a2'")])
    put(db, b, [(2, "b2"), (3, "b3")])
    everything = {"stream_ids": None, "start_ms": None, "end_ms": None}
    with db.read() as tx:
        keys = [e.key for e in store.group_events(tx, group.id, **everything, limit=100)]
        rows = store.group_event_rows(tx, group.id, **everything, first=keys[1], last=keys[3], limit=100)
        backward = store.group_event_rows(
            tx, group.id, **everything, before=keys[4], first=keys[1], descending=True, limit=100
        )
        offsets = [store.group_event_key(tx, group.id, **everything, offset=n) for n in range(6)]
        after = store.group_event_key(tx, group.id, **everything, after=keys[1], offset=1)
        from_end = store.group_event_key(tx, group.id, **everything, descending=True, offset=1)
        only_b = store.group_event_key(tx, group.id, stream_ids=[b.id], start_ms=None, end_ms=None, offset=1)
        counts = (
            store.count_group_events(tx, group.id, **everything),
            store.count_group_events(tx, group.id, **everything, after=keys[0], last=keys[3]),
            store.count_group_events(tx, group.id, stream_ids=[a.id], start_ms=2, end_ms=None),
        )
    assert [row[4] for row in rows] == ["a2", "a2'", "b2"]
    assert [row[4] for row in backward] == ["b2", "a2'", "a2"]
    assert offsets == [*keys, None]
    assert (after, from_end, only_b) == (keys[3], keys[3], keys[4])
    assert counts == (5, 3, 2)


def test_streams_order_by_name_or_last_event(db: Database, account: str) -> None:
    group = make_group(db, account)
    for name, last in [("web/2", 30), ("web/1", 10), ("api", 20), ("idle", None)]:
        stream = make_stream(db, group, name)
        if last is not None:
            put(db, stream, [(last, "x")])
    with db.read() as tx:
        by_name = store.list_streams(tx, group.id)
        by_name_desc = store.list_streams(tx, group.id, descending=True)
        web = store.list_streams(tx, group.id, prefix="web/")
        by_time = store.list_streams(tx, group.id, by_last_event=True)
        newest = store.list_streams(tx, group.id, by_last_event=True, descending=True, limit=2)
        after = newest[-1]
        older = store.list_streams(
            tx, group.id, by_last_event=True, descending=True, after=(after.last_event_ms or 0, after.name)
        )
    assert [s.name for s in by_name] == ["api", "idle", "web/1", "web/2"]
    assert [s.name for s in by_name_desc] == ["web/2", "web/1", "idle", "api"]
    assert [s.name for s in web] == ["web/1", "web/2"]
    assert [s.name for s in by_time] == ["idle", "web/1", "api", "web/2"]
    assert [s.name for s in newest + older] == ["web/2", "api", "web/1", "idle"]


def test_deleting_a_stream_or_group_removes_its_events(db: Database, account: str) -> None:
    group = make_group(db, account)
    keep, drop = make_stream(db, group, "keep"), make_stream(db, group, "drop")
    put(db, keep, [(1, "kept")])
    put(db, drop, [(1, "dropped!")])
    with db.write() as tx:
        store.delete_stream(tx, drop)
    with db.read() as tx:
        left = store.group_events(tx, group.id, stream_ids=None, start_ms=None, end_ms=None, limit=10)
        assert [e.message for e in left] == ["kept"]
        found = store.find_group(tx, account, REGION, "app")
        assert found is not None and found.stored_bytes == 4
    with db.write() as tx:
        store.delete_group(tx, group.id)
    with db.read() as tx:
        assert store.find_group(tx, account, REGION, "app") is None
        assert store.group_events(tx, group.id, stream_ids=None, start_ms=None, end_ms=None, limit=10) == []
    again = make_group(db, account)
    assert again.stored_bytes == 0
    with db.read() as tx:
        assert store.list_streams(tx, again.id) == []


def test_expiry_removes_old_events_in_chunks(db: Database, account: str) -> None:
    group = make_group(db, account)
    with db.write() as tx:
        store.set_retention(tx, group.id, 1)
    stream = make_stream(db, group)
    put(db, stream, [(t, "abc") for t in range(10)])
    with db.read() as tx:
        (with_retention,) = store.groups_with_retention(tx)
    assert with_retention.retention_days == 1
    with db.write() as tx:
        assert store.expire_events(tx, with_retention, before_ms=7, limit=4) == 4
    with db.write() as tx:
        assert store.expire_events(tx, with_retention, before_ms=7, limit=4) == 3
        assert store.expire_events(tx, with_retention, before_ms=7, limit=4) == 0
    with db.read() as tx:
        left = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, limit=100)
        found = store.find_group(tx, account, REGION, "app")
    assert [e.timestamp for e in left] == [7, 8, 9]
    assert found is not None and found.stored_bytes == 9


def test_concurrent_batches_all_land(db: Database, account: str) -> None:
    stream = make_stream(db, make_group(db, account))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                put(db, stream, [(n * 100 + i, f"{n}-{i}")] * 5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read() as tx:
        events = store.stream_events(tx, stream.id, start_ms=None, end_ms=None, limit=1000)
        found = store.find_stream(tx, stream.group_id, stream.name)
    assert len(events) == 200 and found is not None and found.upload_sequence == 40
    assert [e.key for e in events] == sorted(e.key for e in events)


def test_shipped_events_after_the_streams_position_are_stored_once(db: Database, account: str) -> None:
    stream = make_stream(db, make_group(db, account))
    first = [(NOW_MS, "a", (10, 0)), (NOW_MS, "b", (10, 1)), (NOW_MS + 1, "c", (11, 0))]
    with db.write() as tx:
        shipped = store.append_shipped(tx, stream, first, NOW_MS)
    assert (len(shipped.stored), shipped.duplicates, shipped.position) == (3, 0, (11, 0))
    resend = [*first[1:], (NOW_MS + 2, "d", (12, 0))]  # other batch boundaries, same lines
    with db.write() as tx:
        shipped = store.append_shipped(tx, stream, resend, NOW_MS)
    assert (shipped.stored, shipped.duplicates, shipped.position) == ((resend[-1],), 2, (12, 0))
    with db.write() as tx:
        assert store.append_shipped(tx, stream, resend, NOW_MS).stored == ()
    with db.read() as tx:
        found = store.stream_events(
            tx, stream.id, start_ms=None, end_ms=None, after=None, before=None, descending=False, limit=10
        )
    assert [e.message for e in found] == ["a", "b", "c", "d"]
