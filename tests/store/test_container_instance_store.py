"""ECS container instances and their attributes in the store, on every supported database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from dockyard.control.scheduler import InstanceStatus, parse_query
from dockyard.services.ecs.container_instances import instance_snapshots
from dockyard.store import container_instances as store
from dockyard.store.container_instances import ACTIVE, DRAINING, INACTIVE, ContainerInstanceRecord
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.schema import metadata

NOW = datetime(2026, 11, 28, 9, 30, 0, 250000, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


def make(
    account: str, instance_id: str, cluster: str = "web", region: str = REGION
) -> ContainerInstanceRecord:
    return ContainerInstanceRecord(
        account_id=account,
        region=region,
        cluster_name=cluster,
        instance_id=instance_id,
        arn=f"arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{instance_id}",
        status=ACTIVE,
        ec2_instance_id=f"i-{instance_id[:17]}",
        registered_cpu=2048,
        registered_memory=3768,
        remaining_cpu=2048,
        remaining_memory=3768,
        registered_ports_tcp=(22, 51678),
        registered_ports_udp=(),
        remaining_ports_tcp=(22, 51678),
        remaining_ports_udp=(),
        version_info={"agentVersion": "1.80.0", "dockerVersion": "DockerVersion: 25.0"},
        registered_at=NOW,
        updated_at=NOW,
        attributes={"ecs.availability-zone": "us-east-1a", "flag": None},
    )


def insert(db: Database, record: ContainerInstanceRecord) -> ContainerInstanceRecord:
    with db.write() as tx:
        store.insert_instance(tx, record)
    return record


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "ecs_container_instances" in repr(d) or "ecs_instance_attr" in repr(d)] == []


def test_round_trip_with_attributes_and_utc_times(db: Database, account: str) -> None:
    record = insert(db, make(account, "a" * 32))
    with db.read() as tx:
        found = store.find_instance(tx, account, REGION, "web", "a" * 32)
    assert found == record
    assert found is not None and found.registered_at.tzinfo is not None
    assert found.agent_connected is False and found.agent_last_seen_at is None


def test_save_bumps_version_and_replaces_attributes(db: Database, account: str) -> None:
    record = insert(db, make(account, "a" * 32))
    changed = replace(record, status=DRAINING, attributes={"stack": "prod"}, remaining_cpu=1024)
    with db.write() as tx:
        saved = store.save_instance(tx, changed)
    assert saved.version == 2
    with db.read() as tx:
        found = store.find_instance(tx, account, REGION, "web", "a" * 32)
    assert found == saved
    assert found is not None and found.attributes == {"stack": "prod"} and found.remaining_cpu == 1024


def test_scoping_listing_and_counts(db: Database, account: str) -> None:
    first = insert(db, make(account, "a" * 32))
    second = insert(db, make(account, "b" * 32))
    insert(db, make(account, "c" * 32, cluster="db"))
    insert(db, make(account, "d" * 32, region="eu-west-1"))
    with db.write() as tx:
        store.save_instance(tx, replace(second, status=INACTIVE))
    with db.read() as tx:
        listed = store.list_instances(tx, account, REGION, "web", statuses=store.REGISTERED)
        counts = store.count_registered(tx, account, REGION, ["web", "db", "none"])
        other_cluster = store.find_instance(tx, account, REGION, "db", "a" * 32)
    assert [r.arn for r in listed] == [first.arn]
    assert counts == {"web": 1, "db": 1}
    assert other_cluster is None


def test_arns_are_unique(db: Database, account: str) -> None:
    insert(db, make(account, "a" * 32))
    with pytest.raises(IntegrityError):
        insert(db, make(account, "a" * 32))


def test_list_attributes_filters_and_pages(db: Database, account: str) -> None:
    first = insert(db, make(account, "a" * 32))
    second = insert(db, replace(make(account, "b" * 32), attributes={"ecs.availability-zone": "us-east-1b"}))
    with db.read() as tx:
        everything = store.list_attributes(
            tx, account, REGION, "web", name=None, value=None, after=None, limit=10
        )
        zones = store.list_attributes(
            tx, account, REGION, "web", name="ecs.availability-zone", value="us-east-1b", after=None, limit=10
        )
        page = store.list_attributes(
            tx,
            account,
            REGION,
            "web",
            name=None,
            value=None,
            after=(first.arn, "ecs.availability-zone"),
            limit=1,
        )
    assert [(a.target_arn, a.name, a.value) for a in everything] == [
        (first.arn, "ecs.availability-zone", "us-east-1a"),
        (first.arn, "flag", None),
        (second.arn, "ecs.availability-zone", "us-east-1b"),
    ]
    assert [a.target_arn for a in zones] == [second.arn]
    assert [(a.target_arn, a.name) for a in page] == [(first.arn, "flag")]


def test_instance_snapshots_for_the_scheduler(db: Database, account: str) -> None:
    record = insert(db, make(account, "a" * 32))
    insert(db, replace(make(account, "b" * 32), status=INACTIVE))
    with db.read() as tx:
        snapshots = instance_snapshots(tx, account, REGION, "web")
    assert len(snapshots) == 1
    snap = snapshots[0]
    assert snap.arn == record.arn and snap.status is InstanceStatus.ACTIVE
    assert snap.remaining_cpu == 2048 and snap.reserved_ports_tcp == frozenset({22, 51678})
    assert snap.agent_version == "1.80.0" and snap.ec2_instance_id == record.ec2_instance_id
    assert parse_query("attribute:ecs.availability-zone == us-east-1a").matches(snap)
    assert parse_query("attribute:flag exists").matches(snap)
