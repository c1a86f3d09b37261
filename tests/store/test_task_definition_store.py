"""ECS task definitions in the store, on every supported database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from dockyard.services.ecs.task_definitions import purge_deleted_task_definitions
from dockyard.store import tags as tag_store
from dockyard.store import task_definitions as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.schema import metadata
from dockyard.store.task_definitions import (
    ACTIVE,
    ALL,
    DELETE_IN_PROGRESS,
    INACTIVE,
    TaskDefinitionRecord,
)

NOW = datetime(2026, 11, 28, 9, 30, 0, 250000, tzinfo=UTC)
REGION = "us-east-1"
BODY = {
    "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128, "essential": True}],
    "networkMode": "bridge",
    "compatibilities": ["EC2"],
}


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


def register(db: Database, account: str, family: str, region: str = REGION) -> TaskDefinitionRecord:
    with db.write() as tx:
        revision = store.next_revision(tx, account, region, family)
        record = TaskDefinitionRecord(
            account_id=account,
            region=region,
            family=family,
            revision=revision,
            arn=f"arn:aws:ecs:{region}:{account}:task-definition/{family}:{revision}",
            status=ACTIVE,
            body=BODY,
            registered_at=NOW,
            registered_by=f"arn:aws:iam::{account}:root",
        )
        store.insert_task_definition(tx, record)
    return record


def set_status(db: Database, record: TaskDefinitionRecord, status: str, now: datetime = NOW) -> None:
    with db.write() as tx:
        store.save_task_definition(tx, store.with_status(record, status, now))


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "ecs_task_definition" in repr(d)] == []


def test_round_trip_keeps_body_and_utc_times(db: Database, account: str) -> None:
    record = register(db, account, "web")
    with db.read() as tx:
        found = store.find_task_definition(tx, account, REGION, "web", 1)
    assert found == record
    assert found is not None and found.registered_at.tzinfo is not None


def test_revisions_count_up_per_family_account_and_region(db: Database, account: str) -> None:
    other = CredentialStore(db).create_key(NOW, account_id=None, user_name="other").principal.account_id
    assert [register(db, account, "web").revision for _ in range(3)] == [1, 2, 3]
    assert register(db, account, "api").revision == 1
    assert register(db, account, "web", region="eu-west-1").revision == 1
    assert register(db, other, "web").revision == 1
    with db.read() as tx:
        assert store.find_task_definition(tx, other, REGION, "web", 2) is None


def test_revisions_are_never_reused_after_purge(db: Database, account: str) -> None:
    first, second = register(db, account, "web"), register(db, account, "web")
    for record in (first, second):
        set_status(db, record, INACTIVE)
        set_status(db, record, DELETE_IN_PROGRESS)
    with db.write() as tx:
        purged = store.purge_deleted(tx, requested_before=NOW + timedelta(seconds=1))
    assert sorted(purged) == sorted([(account, first.arn), (account, second.arn)])
    assert register(db, account, "web").revision == 3


def test_purge_waits_for_the_cutoff_and_keeps_other_states(db: Database, account: str) -> None:
    active, inactive, deleting = (register(db, account, "web") for _ in range(3))
    set_status(db, inactive, INACTIVE)
    set_status(db, deleting, DELETE_IN_PROGRESS)
    with db.write() as tx:
        assert store.purge_deleted(tx, requested_before=NOW) == []
        assert store.purge_deleted(tx, requested_before=NOW + timedelta(minutes=1)) == [
            (account, deleting.arn)
        ]
    with db.read() as tx:
        assert store.find_task_definition(tx, account, REGION, "web", active.revision) is not None
        assert store.find_task_definition(tx, account, REGION, "web", inactive.revision) is not None


def test_purging_through_the_service_removes_tags_too(db: Database, account: str) -> None:
    record = register(db, account, "web")
    with db.write() as tx:
        tag_store.put_tags(tx, account, record.arn, [("team", "web")])
    set_status(db, record, INACTIVE)
    set_status(db, record, DELETE_IN_PROGRESS)
    assert purge_deleted_task_definitions(db, requested_before=NOW + timedelta(seconds=1)) == 1
    with db.read() as tx:
        assert tag_store.list_tags(tx, account, record.arn) == []
        assert store.find_task_definition(tx, account, REGION, "web", 1) is None


def test_status_changes_stamp_their_time_once(db: Database, account: str) -> None:
    record = register(db, account, "web")
    set_status(db, record, INACTIVE, NOW + timedelta(hours=1))
    with db.read() as tx:
        inactive = store.find_task_definition(tx, account, REGION, "web", 1)
    assert inactive is not None and inactive.status == INACTIVE
    assert inactive.deregistered_at == NOW + timedelta(hours=1)
    again = store.with_status(inactive, INACTIVE, NOW + timedelta(hours=2))
    assert again.deregistered_at == NOW + timedelta(hours=1)


def test_latest_active_skips_inactive_revisions(db: Database, account: str) -> None:
    first, second = register(db, account, "web"), register(db, account, "web")
    set_status(db, second, INACTIVE)
    with db.read() as tx:
        latest = store.find_latest_active(tx, account, REGION, "web")
        assert latest is not None and latest.revision == first.revision
    set_status(db, first, INACTIVE)
    with db.read() as tx:
        assert store.find_latest_active(tx, account, REGION, "web") is None


def test_listing_orders_filters_and_pages(db: Database, account: str) -> None:
    for family in ("b", "a", "b", "c", "a"):
        register(db, account, family)
    with db.read() as tx:
        listed = store.list_task_definitions(
            tx, account, REGION, status=ACTIVE, family=None, descending=False, after=None, limit=10
        )
        assert [(i.family, i.revision) for i in listed] == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1)]
        page = store.list_task_definitions(
            tx, account, REGION, status=ACTIVE, family=None, descending=True, after=("b", 2), limit=2
        )
        assert [(i.family, i.revision) for i in page] == [("b", 1), ("a", 2)]
        only_b = store.list_task_definitions(
            tx, account, REGION, status=ACTIVE, family="b", descending=False, after=("b", 1), limit=10
        )
        assert [(i.family, i.revision) for i in only_b] == [("b", 2)]


def test_families_by_status_and_prefix(db: Database, account: str) -> None:
    web1, _ = register(db, account, "web_1"), register(db, account, "webapp")
    old = register(db, account, "old")
    set_status(db, old, INACTIVE)
    set_status(db, web1, INACTIVE)
    register(db, account, "web_1")  # web_1 has an ACTIVE revision again

    def families(status: str, prefix: str | None = None, after: str | None = None) -> list[str]:
        with db.read() as tx:
            return store.list_families(
                tx, account, REGION, status=status, prefix=prefix, after=after, limit=10
            )

    assert families(ALL) == ["old", "web_1", "webapp"]
    assert families(ACTIVE) == ["web_1", "webapp"]
    assert families(INACTIVE) == ["old"]
    assert families(ALL, prefix="web_") == ["web_1"]  # '_' is literal, not a LIKE wildcard
    assert families(ALL, prefix="web") == ["web_1", "webapp"]
    assert families(ALL, after="old") == ["web_1", "webapp"]


def test_revision_numbers_are_unique_per_family(db: Database, account: str) -> None:
    record = register(db, account, "web")
    with pytest.raises(IntegrityError), db.write() as tx:
        store.insert_task_definition(tx, record)


def test_concurrent_registrations_get_distinct_revisions(db: Database, account: str) -> None:
    revisions: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                revisions.append(register(db, account, "busy").revision)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(revisions) == list(range(1, 21))
