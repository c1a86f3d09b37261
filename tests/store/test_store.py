"""The store's guarantees, on every supported database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from dockyard.store import clusters as cluster_store
from dockyard.store import tags as tag_store
from dockyard.store.clusters import ACTIVE, INACTIVE, ClusterRecord
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database

NOW = datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=UTC)


def make_cluster(account_id: str, name: str, region: str = "us-east-1") -> ClusterRecord:
    return ClusterRecord(
        account_id=account_id,
        region=region,
        name=name,
        arn=f"arn:aws:ecs:{region}:{account_id}:cluster/{name}",
        status=ACTIVE,
        settings=[{"name": "containerInsights", "value": "disabled"}],
        configuration=None,
        service_connect_defaults=None,
        capacity_providers=[],
        default_capacity_provider_strategy=[],
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def account(db: Database) -> str:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id


def test_migrations_are_idempotent(database_url: str) -> None:
    open_database(database_url).close()
    db = open_database(database_url)
    assert CredentialStore(db).list_keys() == []
    db.close()


def test_root_key_is_generated_once(db: Database) -> None:
    store = CredentialStore(db)
    first = store.ensure_root_key(NOW, None, None)
    again = store.ensure_root_key(NOW, None, None)
    assert first == again
    assert first.is_root and first.access_key_id.startswith("AKIA") and len(first.secret_access_key) == 40
    assert first.principal.arn == f"arn:aws:iam::{first.principal.account_id}:root"
    assert len(first.principal.account_id) == 12 and first.principal.account_id.isdigit()


def test_root_key_from_environment_replaces_secret(db: Database) -> None:
    store = CredentialStore(db)
    generated = store.ensure_root_key(NOW, None, None)
    env_key = store.ensure_root_key(NOW, "AKIAENVKEY", "first-secret")
    assert env_key.principal.account_id == generated.principal.account_id
    changed = store.ensure_root_key(NOW, "AKIAENVKEY", "second-secret")
    assert changed.secret_access_key == "second-secret"
    assert store.find_key("AKIAENVKEY") == changed


def test_keys_in_new_and_existing_accounts(db: Database, account: str) -> None:
    store = CredentialStore(db)
    other = store.create_key(NOW, account_id=None, user_name="alice")
    assert other.principal.account_id != account
    assert other.principal.arn == f"arn:aws:iam::{other.principal.account_id}:user/alice"
    same = store.create_key(NOW, account_id=account, user_name="bob")
    assert same.principal.account_id == account and not same.is_root
    assert store.find_key("AKIAUNKNOWN") is None
    assert {k.access_key_id for k in store.list_keys()} >= {other.access_key_id, same.access_key_id}


def test_cluster_round_trip_keeps_values_and_utc_times(db: Database, account: str) -> None:
    record = make_cluster(account, "web")
    with db.write() as tx:
        cluster_store.insert_cluster(tx, record)
    with db.read() as tx:
        found = cluster_store.find_cluster(tx, account, "us-east-1", "web")
    assert found == record
    assert found is not None and found.created_at.tzinfo is not None


def test_cluster_names_are_unique_per_account_and_region(db: Database, account: str) -> None:
    with db.write() as tx:
        cluster_store.insert_cluster(tx, make_cluster(account, "web"))
        cluster_store.insert_cluster(tx, make_cluster(account, "web", region="eu-west-1"))
    with pytest.raises(IntegrityError), db.write() as tx:
        cluster_store.insert_cluster(tx, make_cluster(account, "web"))


def test_failed_transaction_writes_nothing(db: Database, account: str) -> None:
    with pytest.raises(RuntimeError), db.write() as tx:
        cluster_store.insert_cluster(tx, make_cluster(account, "half"))
        tag_store.put_tags(tx, account, make_cluster(account, "half").arn, [("k", "v")])
        raise RuntimeError("crash in the middle")
    with db.read() as tx:
        assert cluster_store.find_cluster(tx, account, "us-east-1", "half") is None
        assert tag_store.list_tags(tx, account, make_cluster(account, "half").arn) == []


def test_list_is_paged_in_arn_order_and_skips_inactive(db: Database, account: str) -> None:
    names = [f"c{i:02d}" for i in range(7)]
    with db.write() as tx:
        for name in reversed(names):
            cluster_store.insert_cluster(tx, make_cluster(account, name))
        gone = cluster_store.find_cluster(tx, account, "us-east-1", "c03")
        assert gone is not None
        saved = cluster_store.save_cluster(tx, ClusterRecord(**{**_fields(gone), "status": INACTIVE}))
        assert saved.version == gone.version + 1
    pages: list[list[str]] = []
    after = None
    with db.read() as tx:
        while True:
            page = cluster_store.list_active_cluster_arns(tx, account, "us-east-1", after_arn=after, limit=2)
            if not page:
                break
            pages.append(page)
            after = page[-1]
    flat = [arn.rsplit("/", 1)[1] for page in pages for arn in page]
    assert flat == [n for n in names if n != "c03"]


def test_accounts_do_not_see_each_other(db: Database, account: str) -> None:
    other = CredentialStore(db).create_key(NOW, account_id=None, user_name="eve").principal.account_id
    with db.write() as tx:
        cluster_store.insert_cluster(tx, make_cluster(account, "private"))
        tag_store.put_tags(tx, account, make_cluster(account, "private").arn, [("team", "a")])
    with db.read() as tx:
        assert cluster_store.find_cluster(tx, other, "us-east-1", "private") is None
        assert cluster_store.list_active_cluster_arns(tx, other, "us-east-1", after_arn=None, limit=10) == []
        assert tag_store.list_tags(tx, other, make_cluster(account, "private").arn) == []


def test_tags_keep_order_replace_values_and_remove(db: Database, account: str) -> None:
    arn = make_cluster(account, "tagged").arn
    with db.write() as tx:
        tag_store.put_tags(tx, account, arn, [("b", "1"), ("a", "2")])
        tag_store.put_tags(tx, account, arn, [("b", "3"), ("c", "4")])
    with db.read() as tx:
        assert tag_store.list_tags(tx, account, arn) == [("b", "3"), ("a", "2"), ("c", "4")]
    with db.write() as tx:
        tag_store.remove_tags(tx, account, arn, ["a", "missing"])
    with db.read() as tx:
        assert tag_store.list_tags(tx, account, arn) == [("b", "3"), ("c", "4")]


def test_concurrent_writers_all_commit(db: Database, account: str) -> None:
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            with db.write() as tx:
                cluster_store.insert_cluster(tx, make_cluster(account, f"par{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with db.read() as tx:
        arns = cluster_store.list_active_cluster_arns(tx, account, "us-east-1", after_arn=None, limit=100)
    assert len(arns) == 16


def test_naive_datetimes_are_refused(db: Database, account: str) -> None:
    naive = ClusterRecord(
        **{**_fields(make_cluster(account, "naive")), "created_at": NOW.replace(tzinfo=None)}
    )
    with pytest.raises(Exception, match="naive"), db.write() as tx:
        cluster_store.insert_cluster(tx, naive)


def _fields(record: ClusterRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def test_tags_of_many_resources_in_one_query(db: Database, account: str) -> None:
    first, second, bare = (make_cluster(account, n).arn for n in ("t1", "t2", "bare"))
    with db.write() as tx:
        tag_store.put_tags(tx, account, first, [("b", "1"), ("a", "2")])
        tag_store.put_tags(tx, account, second, [("c", "3")])
    with db.read() as tx:
        assert tag_store.list_tags_of_many(tx, account, [first, second, bare]) == {
            first: [("b", "1"), ("a", "2")],
            second: [("c", "3")],
        }
        assert tag_store.list_tags_of_many(tx, "000000000000", [first]) == {}
        assert tag_store.list_tags_of_many(tx, account, []) == {}
