"""What only the filesystem driver promises: its layout, atomic publication and crash leftovers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.registry.digest import digest_of
from dockyard.registry.errors import BlobUploadUnknown
from dockyard.registry.filesystem import FilesystemBlobDriver

CONTENT = b"layer bytes " * 5000


@pytest.fixture
def driver(tmp_path: Path) -> FilesystemBlobDriver:
    return FilesystemBlobDriver(tmp_path)


def test_blobs_are_content_addressed_files(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    digest = driver.put_blob(CONTENT)
    path = tmp_path / "blobs" / "sha256" / digest.hex[:2] / digest.hex
    assert path.read_bytes() == CONTENT
    assert driver.local_path(digest) == path
    sha512 = driver.put_blob(CONTENT, "sha512")
    assert (tmp_path / "blobs" / "sha512" / sha512.hex[:2] / sha512.hex).is_file()


def test_nothing_is_visible_before_commit(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, CONTENT)
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))
    assert (tmp_path / "uploads" / upload_id / "data").read_bytes() == CONTENT
    driver.commit(upload_id, digest_of(CONTENT))
    assert list((tmp_path / "uploads").iterdir()) == []


def test_a_crash_mid_write_leaves_only_a_resumable_upload(tmp_path: Path) -> None:
    driver = FilesystemBlobDriver(tmp_path)
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, CONTENT[:1000])
    # The dying process got 500 more bytes to disk without finishing its request.
    with (tmp_path / "uploads" / upload_id / "data").open("ab") as fh:
        fh.write(CONTENT[1000:1500])

    restarted = FilesystemBlobDriver(tmp_path)
    assert restarted.upload_size(upload_id) == 1500
    assert list(restarted.iter_blobs()) == []
    restarted.append_chunk(upload_id, CONTENT[1500:], expected_offset=1500)
    restarted.commit(upload_id, digest_of(CONTENT))
    assert dict(restarted.iter_blobs()).keys() == {digest_of(CONTENT)}


def test_stray_files_are_never_listed_as_blobs(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    digest = driver.put_blob(CONTENT)
    (tmp_path / "blobs" / "sha256" / digest.hex[:2] / "not-a-digest").write_bytes(b"x")
    misplaced = digest_of(b"elsewhere")
    (tmp_path / "blobs" / "sha256" / "zz").mkdir()
    (tmp_path / "blobs" / "sha256" / "zz" / misplaced.hex).write_bytes(b"elsewhere")
    (tmp_path / "blobs" / "md5").mkdir()
    assert [d for d, _ in driver.iter_blobs()] == [digest]


def test_a_truncated_blob_is_replaced_by_a_verified_commit(driver: FilesystemBlobDriver) -> None:
    digest = driver.put_blob(CONTENT)
    path = driver.blob_path(digest)
    path.write_bytes(CONTENT[:10])  # e.g. damage from outside
    driver.put_blob(CONTENT)
    assert path.read_bytes() == CONTENT


def test_started_at_survives_a_lost_startedat_file(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    upload_id = driver.start_upload()
    (tmp_path / "uploads" / upload_id / "startedat").unlink()
    assert driver.upload_started_at(upload_id).tzinfo is not None


def test_upload_ids_never_escape_the_root(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside"
    outside.mkdir(exist_ok=True)
    with pytest.raises(BlobUploadUnknown):
        driver.upload_info("../outside")
    assert driver.cancel("..") is False
    assert outside.is_dir()


def test_expire_skips_directories_that_are_not_uploads(driver: FilesystemBlobDriver, tmp_path: Path) -> None:
    (tmp_path / "uploads" / ".trash").mkdir()
    upload_id = driver.start_upload()
    assert driver.expire_uploads(datetime.now(UTC) + timedelta(seconds=5)) == 1
    assert (tmp_path / "uploads" / ".trash").is_dir()
    assert not (tmp_path / "uploads" / upload_id).exists()


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_readers_do_not_leak_file_descriptors(driver: FilesystemBlobDriver) -> None:
    digest = driver.put_blob(CONTENT)
    before = _open_fds()
    for _ in range(20):
        assert b"".join(driver.open_read(digest)) == CONTENT  # closed when exhausted
        reader = driver.open_read(digest, 0, 10)
        next(reader)
        del reader  # a client that went away mid-download
    assert _open_fds() == before


def test_a_re_pushed_blob_survives_a_collection_cutoff(driver: FilesystemBlobDriver) -> None:
    digest = driver.put_blob(CONTENT)
    os.utime(driver.blob_path(digest), (0, 0))  # untouched for decades
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    driver.put_blob(CONTENT)  # pushed again: the commit refreshes it
    assert driver.delete(digest, older_than=cutoff) is False
    assert driver.blob_path(digest).read_bytes() == CONTENT
    os.utime(driver.blob_path(digest), (0, 0))
    assert driver.delete(digest, older_than=cutoff) is True


def test_iter_blobs_undoes_an_interrupted_delete(driver: FilesystemBlobDriver) -> None:
    digest = driver.put_blob(CONTENT)
    path = driver.blob_path(digest)
    path.rename(path.with_name(f".{path.name}.deleting"))  # the crash came right after the move
    assert [d for d, _ in driver.iter_blobs()] == []  # decided on the next pass
    assert path.read_bytes() == CONTENT
    assert [d for d, _ in driver.iter_blobs()] == [digest]
