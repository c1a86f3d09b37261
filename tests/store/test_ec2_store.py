"""The VPC subset's rows: the default network made once, interface addresses never shared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.control.vpc.defaults import DEFAULT_GROUP, allocate_interface, ensure_default_vpc
from dockyard.store import ec2 as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.schema import metadata

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "ec2_" in repr(d)] == []


def test_the_default_network_is_made_once_with_a_subnet_per_zone(db: Database, account: str) -> None:
    with db.write() as tx:
        first = ensure_default_vpc(tx, account, REGION, NOW)
    with db.write() as tx:
        again = ensure_default_vpc(tx, account, REGION, NOW)
        subnets = store.list_subnets(tx, account, REGION)
        groups = store.list_groups(tx, account, REGION)
    assert first == again and first.cidr == "172.31.0.0/16" and first.is_default
    assert [s.cidr for s in subnets] == [f"172.31.{16 * i}.0/20" for i in range(6)]
    assert [s.availability_zone for s in subnets] == [f"us-east-1{c}" for c in "abcdef"]
    assert all(s.default_for_az and s.vpc_id == first.vpc_id for s in subnets)
    assert [g.name for g in groups] == [DEFAULT_GROUP]


def test_another_region_gets_its_own_address_space(db: Database, account: str) -> None:
    with db.write() as tx:
        east = ensure_default_vpc(tx, account, REGION, NOW)
        west = ensure_default_vpc(tx, account, "eu-west-1", NOW)
    assert east.cidr == "172.31.0.0/16" and west.cidr == "10.1.0.0/16"
    with db.read() as tx:
        assert len(store.list_subnets(tx, account, "eu-west-1")) == 3


def test_interfaces_take_distinct_lowest_addresses(db: Database, account: str) -> None:
    with db.write() as tx:
        ensure_default_vpc(tx, account, REGION, NOW)
        subnet = store.list_subnets(tx, account, REGION)[0]
        group = store.list_groups(tx, account, REGION)[0]
        first = allocate_interface(tx, subnet, [group.group_id], description="a", attachment="t1", now=NOW)
        second = allocate_interface(tx, subnet, [group.group_id], description="b", attachment="t2", now=NOW)
    assert (first.private_ip, second.private_ip) == ("172.31.0.4", "172.31.0.5")
    with db.write() as tx:
        store.delete_interface(tx, first.eni_id)
        third = allocate_interface(tx, subnet, [], description="c", attachment=None, now=NOW)
        listed = store.list_interfaces(tx, account, REGION)
        in_use = store.groups_in_use(tx, account, REGION)
    assert third.private_ip == "172.31.0.4"  # a freed address is reused
    assert [i.eni_id for i in listed] == [second.eni_id, third.eni_id]
    assert in_use == {group.group_id}
