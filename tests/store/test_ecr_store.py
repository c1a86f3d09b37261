"""ECR metadata in the store, on every supported database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from dockyard.store import ecr as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.ecr import ImageRecord, RepositoryRecord

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MANIFEST = b'{\n  "schemaVersion": 2,   "odd": "spacing"\n}\n'


@pytest.fixture
def repo(db: Database) -> RepositoryRecord:
    account = CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id
    record = RepositoryRecord(
        0,
        account,
        "us-east-1",
        "team/app",
        f"arn:aws:ecr:us-east-1:{account}:repository/team/app",
        "MUTABLE",
        [],
        False,
        {"encryptionType": "AES256"},
        None,
        None,
        None,
        NOW,
    )
    with db.write() as tx:
        return store.insert_repository(tx, record)


def image(
    repo: RepositoryRecord, digest: str, pushed_at: datetime = NOW, subject: str | None = None
) -> ImageRecord:
    return ImageRecord(
        repo.id,
        digest,
        "application/vnd.oci.image.manifest.v1+json",
        None,
        subject,
        10,
        pushed_at,
        None,
        MANIFEST,
    )


def test_repository_names_are_unique_per_account_and_region(db: Database, repo: RepositoryRecord) -> None:
    with pytest.raises(IntegrityError), db.write() as tx:
        store.insert_repository(tx, repo)
    with db.read() as tx:
        assert store.find_repository(tx, repo.account_id, "us-east-1", "team/app") == repo
        assert store.find_repository(tx, repo.account_id, "eu-west-1", "team/app") is None
        assert store.find_repository(tx, "000000000000", "us-east-1", "team/app") is None


def test_images_tags_and_references(db: Database, repo: RepositoryRecord) -> None:
    with db.write() as tx:
        store.insert_image(tx, image(repo, "sha256:aa"), [("sha256:c1", "blob"), ("sha256:l1", "blob")])
        store.insert_image(tx, image(repo, "sha256:bb", NOW + timedelta(1), subject="sha256:aa"), [])
        store.set_tag(tx, repo.id, "v1", "sha256:aa", NOW)
        store.set_tag(tx, repo.id, "latest", "sha256:aa", NOW)
        store.set_tag(tx, repo.id, "latest", "sha256:bb", NOW)  # moves
    with db.read() as tx:
        found = store.find_image(tx, repo.id, "sha256:aa")
        assert found is not None and found.manifest == MANIFEST  # byte-exact
        assert store.find_tag(tx, repo.id, "latest") == "sha256:bb"
        assert store.list_tags(tx, repo.id) == ["latest", "v1"]
        assert store.list_tags(tx, repo.id, after="latest", limit=5) == ["v1"]
        assert store.tags_by_digest(tx, repo.id) == {"sha256:aa": ["v1"], "sha256:bb": ["latest"]}
        assert [i.digest for i in store.referrers(tx, repo.id, "sha256:aa")] == ["sha256:bb"]
        assert [i.digest for i in store.list_images(tx, repo.id)] == ["sha256:aa", "sha256:bb"]
        assert store.existing_images(tx, repo.id, ["sha256:aa", "sha256:zz"]) == {"sha256:aa"}
    with db.write() as tx:
        store.delete_image(tx, repo.id, "sha256:aa")
    with db.read() as tx:
        assert store.find_image(tx, repo.id, "sha256:aa") is None
        assert store.tags_by_digest(tx, repo.id) == {"sha256:bb": ["latest"]}


def test_links_are_pruned_only_when_unreferenced_and_old(db: Database, repo: RepositoryRecord) -> None:
    with db.write() as tx:
        store.link_blob(tx, repo.id, "sha256:used", 5, NOW)
        store.link_blob(tx, repo.id, "sha256:old", 5, NOW)
        store.link_blob(tx, repo.id, "sha256:fresh", 5, NOW + timedelta(hours=2))
        store.insert_image(tx, image(repo, "sha256:img"), [("sha256:used", "blob")])
    with db.write() as tx:
        assert store.prune_unreferenced_links(tx, NOW + timedelta(hours=1)) == 1
    with db.read() as tx:
        assert store.linked_sizes(tx, repo.id, ["sha256:used", "sha256:old", "sha256:fresh"]) == {
            "sha256:used": 5,
            "sha256:fresh": 5,
        }
        assert store.is_blob_linked(tx, "sha256:used") and not store.is_blob_linked(tx, "sha256:old")


def test_deleting_a_repository_removes_everything_in_it(db: Database, repo: RepositoryRecord) -> None:
    with db.write() as tx:
        store.insert_image(tx, image(repo, "sha256:img"), [("sha256:blob", "blob")])
        store.set_tag(tx, repo.id, "v1", "sha256:img", NOW)
        store.link_blob(tx, repo.id, "sha256:blob", 5, NOW)
        store.insert_upload(tx, "u-1", repo.id, NOW)
    with db.write() as tx:
        store.delete_repository(tx, repo.id)
    with db.read() as tx:
        assert store.find_repository(tx, repo.account_id, "us-east-1", "team/app") is None
        assert store.find_upload(tx, "u-1") is None
        assert not store.is_blob_linked(tx, "sha256:blob")


def test_server_secret_is_created_once(db: Database) -> None:
    with db.write() as tx:
        first = store.get_or_create_secret(tx, "k", "one", NOW)
    with db.write() as tx:
        second = store.get_or_create_secret(tx, "k", "two", NOW)
    assert first == second == "one"
