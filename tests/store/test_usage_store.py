"""The usage ledger: one row per task, opened once, closed once, listed by overlap, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.store import usage as ledger
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.schema import metadata
from dockyard.store.usage import UsageRecord

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


@pytest.fixture
def other_account(db: Database, account: str) -> str:
    return CredentialStore(db).create_key(NOW, account_id=None, user_name="other").principal.account_id


def arn(account: str, name: str, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{account}:task/default/{name}"


def open_task(db: Database, account: str, name: str, **changes: Any) -> bool:
    values: dict[str, Any] = {
        "account_id": account,
        "region": REGION,
        "task_arn": arn(account, name, changes.get("region", REGION)),
        "cluster_name": "default",
        "launch_type": "FARGATE",
        "capacity_provider": None,
        "cpu": 256,
        "memory": 512,
        "architecture": "X86_64",
        "tags": [{"key": "team", "value": "web"}],
        "started_at": NOW,
    }
    values.update(changes)
    with db.write() as tx:
        return ledger.open_usage(tx, **values)


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "task_usage" in repr(d)] == []


def test_a_row_reads_back_as_opened(db: Database, account: str) -> None:
    assert open_task(db, account, "a", capacity_provider="FARGATE_SPOT", architecture="ARM64", cpu=1024)
    with db.read() as tx:
        found = ledger.find_usage(tx, arn(account, "a"))
    assert found == UsageRecord(
        account_id=account,
        region=REGION,
        task_arn=arn(account, "a"),
        cluster_name="default",
        launch_type="FARGATE",
        capacity_provider="FARGATE_SPOT",
        cpu=1024,
        memory=512,
        architecture="ARM64",
        tags=[{"key": "team", "value": "web"}],
        started_at=NOW,
        stopped_at=None,
    )
    assert found.started_at.tzinfo is not None


def test_opening_twice_changes_nothing(db: Database, account: str) -> None:
    assert open_task(db, account, "a") is True
    # A replayed state change (after a restart) opens again, later and with other values: the first wins.
    assert open_task(db, account, "a", started_at=NOW + timedelta(minutes=5), cpu=4096, tags=[]) is False
    with db.read() as tx:
        rows = ledger.list_usage(tx, account, None, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(r.started_at, r.cpu, r.tags) for r in rows] == [(NOW, 256, [{"key": "team", "value": "web"}])]


def test_opening_in_the_transaction_that_already_opened_is_a_no_op(db: Database, account: str) -> None:
    values: dict[str, Any] = {
        "account_id": account,
        "region": REGION,
        "task_arn": arn(account, "a"),
        "cluster_name": "default",
        "launch_type": "EC2",
        "capacity_provider": None,
        "cpu": 128,
        "memory": 256,
        "architecture": None,
        "tags": [{"key": "k"}],
        "started_at": NOW,
    }
    with db.write() as tx:
        assert ledger.open_usage(tx, **values) is True
        assert ledger.open_usage(tx, **values) is False
        found = ledger.find_usage(tx, arn(account, "a"))
    assert found is not None
    assert (found.architecture, found.tags, found.launch_type) == (
        "X86_64",
        [{"key": "k", "value": ""}],
        "EC2",
    )


def test_closing_keeps_the_first_stop(db: Database, account: str) -> None:
    open_task(db, account, "a")
    stop = NOW + timedelta(seconds=90)
    with db.write() as tx:
        assert ledger.close_usage(tx, arn(account, "a"), stop) is True
    with db.write() as tx:
        assert ledger.close_usage(tx, arn(account, "a"), stop + timedelta(hours=1)) is False
    with db.read() as tx:
        found = ledger.find_usage(tx, arn(account, "a"))
    assert found is not None and found.stopped_at == stop


def test_closing_a_task_without_a_row_does_nothing(db: Database, account: str) -> None:
    with db.write() as tx:
        assert ledger.close_usage(tx, arn(account, "never-billed"), NOW) is False
        assert ledger.find_usage(tx, arn(account, "never-billed")) is None


def test_a_rolled_back_open_leaves_no_row(db: Database, account: str) -> None:
    with pytest.raises(RuntimeError), db.write() as tx:
        ledger.open_usage(
            tx,
            account_id=account,
            region=REGION,
            task_arn=arn(account, "a"),
            cluster_name="default",
            launch_type="FARGATE",
            capacity_provider=None,
            cpu=256,
            memory=512,
            architecture="X86_64",
            tags=[],
            started_at=NOW,
        )
        raise RuntimeError("the state change failed")
    with db.read() as tx:
        assert ledger.find_usage(tx, arn(account, "a")) is None


def _names(rows: list[UsageRecord]) -> list[str]:
    return [row.task_arn.rsplit("/", 1)[1] for row in rows]


def test_listing_returns_the_rows_overlapping_the_period(db: Database, account: str) -> None:
    hour = timedelta(hours=1)
    open_task(db, account, "before", started_at=NOW - 3 * hour)  # stops before the period
    open_task(db, account, "edge", started_at=NOW - 2 * hour)  # stops in the rounding second before it
    open_task(db, account, "across", started_at=NOW - hour)  # runs into the period
    open_task(db, account, "running", started_at=NOW - 5 * hour)  # never stopped
    open_task(db, account, "inside", started_at=NOW + timedelta(minutes=10))
    open_task(db, account, "at-end", started_at=NOW + hour)  # starts at End: excluded
    with db.write() as tx:
        ledger.close_usage(tx, arn(account, "before"), NOW - 2 * hour)
        ledger.close_usage(tx, arn(account, "edge"), NOW - timedelta(milliseconds=500))
        ledger.close_usage(tx, arn(account, "across"), NOW + timedelta(minutes=1))
        ledger.close_usage(tx, arn(account, "inside"), NOW + timedelta(minutes=20))
    with db.read() as tx:
        rows = ledger.list_usage(tx, account, REGION, NOW, NOW + hour)
    assert _names(rows) == ["running", "edge", "across", "inside"]  # in start order


def test_listing_is_scoped_to_the_account_and_optionally_the_region(
    db: Database, account: str, other_account: str
) -> None:
    open_task(db, account, "east")
    open_task(db, account, "west", region="eu-west-1")
    open_task(db, other_account, "theirs")
    period = (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    with db.read() as tx:
        everywhere = ledger.list_usage(tx, account, None, *period)
        east = ledger.list_usage(tx, account, REGION, *period)
        west = ledger.list_usage(tx, account, "eu-west-1", *period)
        theirs = ledger.list_usage(tx, other_account, None, *period)
    assert sorted(_names(everywhere)) == ["east", "west"]
    assert _names(east) == ["east"] and _names(west) == ["west"]
    assert _names(theirs) == ["theirs"]
