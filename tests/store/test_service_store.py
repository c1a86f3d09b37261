"""ECS services in the store, on every supported database: round trips of the JSON documents, optimistic
saves, listing filters and order, and the keys the controller resyncs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dockyard.store import services as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.services import ServiceKey, ServiceRecord

NOW = datetime(2026, 12, 6, 12, 0, 0, 500000, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


def service(account: str, name: str, *, strategy: str = "REPLICA", status: str = "ACTIVE") -> ServiceRecord:
    return ServiceRecord(
        account_id=account,
        region=REGION,
        cluster_name="web",
        name=name,
        arn=f"arn:aws:ecs:{REGION}:{account}:service/web/{name}",
        cluster_arn=f"arn:aws:ecs:{REGION}:{account}:cluster/web",
        status=status,
        launch_type="EC2",
        scheduling_strategy=strategy,
        desired_count=3,
        task_definition_arn=f"arn:aws:ecs:{REGION}:{account}:task-definition/web:1",
        config={"deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100}},
        deployments=[
            {"id": "ecs-svc/1000000000000000001", "status": "PRIMARY", "createdAt": NOW.timestamp()}
        ],
        events=[
            {"id": "e1", "createdAt": NOW.timestamp(), "message": "(service a) has reached a steady state."}
        ],
        scheduler_state={"steady": True},
        created_by=f"arn:aws:iam::{account}:root",
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_service_round_trips_with_its_documents(db: Database, account: str) -> None:
    record = service(account, "a")
    with db.write() as tx:
        store.insert_service(tx, record)
    with db.read() as tx:
        found = store.find_service(tx, account, REGION, "web", "a")
    assert found == record


def test_saves_are_optimistic(db: Database, account: str) -> None:
    with db.write() as tx:
        store.insert_service(tx, service(account, "a"))
    with db.write() as tx:
        read = store.find_service(tx, account, REGION, "web", "a", lock=True)
        assert read is not None
        saved = store.save_service(tx, replace(read, desired_count=5))
        assert saved is not None and saved.version == 2
        assert store.save_service(tx, replace(read, desired_count=7)) is None  # stale version
    with db.read() as tx:
        final = store.find_service(tx, account, REGION, "web", "a")
    assert final is not None and final.desired_count == 5


def test_listing_filters_pages_and_counts(db: Database, account: str) -> None:
    with db.write() as tx:
        for name in ("a", "b", "c"):
            store.insert_service(tx, service(account, name))
        store.insert_service(tx, service(account, "d", strategy="DAEMON"))
        store.insert_service(tx, service(account, "gone", status="INACTIVE"))
    with db.read() as tx:
        page = store.list_service_arns(
            tx, account, REGION, "web", launch_type=None, scheduling_strategy=None, after=None, limit=2
        )
        rest = store.list_service_arns(
            tx, account, REGION, "web", launch_type=None, scheduling_strategy=None, after=page[-1], limit=10
        )
        daemons = store.list_service_arns(
            tx, account, REGION, "web", launch_type="EC2", scheduling_strategy="DAEMON", after=None, limit=10
        )
        keys = store.live_service_keys(tx, (account, REGION, "web"))
        counts = store.count_live_by_cluster(tx, account, REGION, ["web", "other"])
        active = store.count_live_by_cluster(tx, account, REGION, ["web"], statuses=("ACTIVE",))
    assert [a.rsplit("/", 1)[-1] for a in page + rest] == ["a", "b", "c", "d"]
    assert [a.rsplit("/", 1)[-1] for a in daemons] == ["d"]
    assert keys[0] == ServiceKey(account, REGION, "web", "d")  # DAEMON services first
    assert {k.name for k in keys} == {"a", "b", "c", "d"}
    assert counts == {"web": 4} and active == {"web": 4}
