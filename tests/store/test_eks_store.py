"""EKS storage on SQLite and PostgreSQL: names unique per account and region, ports unique server-wide,
a cluster's deletion takes its PKI, entries and policies with it."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.store import eks as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.eks import ClusterPki
from dockyard.store.schema import metadata

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PKI = ClusterPki("ca-cert", "ca-key", "cert", "key")


def _cluster(db: Database, account: str, name: str, port: int, region: str = "us-east-1") -> object:
    with db.write() as tx:
        return store.insert_cluster(
            tx,
            account_id=account,
            region=region,
            name=name,
            arn=f"arn:{account}:{region}:{name}",
            status="CREATING",
            version="1.33",
            platform_version="eks.1",
            role_arn="r",
            config={"a": 1},
            client_request_token=None,
            endpoint_port=port,
            creator_arn="c",
            pki=PKI,
            now=NOW,
        )


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "eks_" in repr(d)] == []


def test_names_per_account_and_region_and_ports_server_wide(db: Database) -> None:
    credentials = CredentialStore(db)
    a = credentials.ensure_root_key(NOW, None, None).principal.account_id
    b = credentials.create_key(NOW, account_id=None, user_name="b").principal.account_id
    assert _cluster(db, a, "web", 1000) is not None
    assert _cluster(db, a, "web", 1001) is None
    assert _cluster(db, b, "web", 1000) is None  # the port is taken, whoever asks
    assert _cluster(db, b, "web", 1001) is not None
    assert _cluster(db, a, "web", 1002, region="eu-west-1") is not None
    with db.read() as tx:
        assert store.used_ports(tx) == {1000, 1001, 1002}
        assert store.list_cluster_names(tx, a, "us-east-1", after=None, limit=10) == ["web"]
        found = store.find_cluster(tx, a, "us-east-1", "web")
        assert found is not None and found.config == {"a": 1}
        assert store.cluster_pki(tx, found.id) == PKI


def test_deleting_a_cluster_takes_everything_it_owns(db: Database) -> None:
    a = CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id
    _cluster(db, a, "web", 2000)
    with db.write() as tx:
        cluster = store.find_cluster(tx, a, "us-east-1", "web")
        assert cluster is not None
        entry = store.insert_access_entry(
            tx,
            cluster=cluster,
            principal_arn="p",
            arn="e",
            entry_type="STANDARD",
            username="u",
            kubernetes_groups=[],
            now=NOW,
        )
        assert entry is not None
        store.put_access_policy(tx, entry.id, "pol", {"type": "cluster"}, NOW)
        assert store.insert_part(
            tx, store.NODEGROUPS, cluster=cluster, name="ng", arn="ng", status="DELETING", config={}, now=NOW
        )
        assert [w.name for w in store.clusters_with_work(tx)] == ["web"]
        store.delete_cluster(tx, cluster.id)
    with db.read() as tx:
        assert store.find_cluster(tx, a, "us-east-1", "web") is None
        assert store.used_ports(tx) == set()
        assert store.clusters_with_work(tx) == []
