"""The BlobDriver contract, run against every driver (filesystem and in-memory)."""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.registry.digest import digest_of
from dockyard.registry.driver import READ_CHUNK_SIZE
from dockyard.registry.errors import (
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
)

from .conftest import DriverHarness

CONTENT = b"hello, registry! " * 1000


# --- blobs ---------------------------------------------------------------------------------------------


def test_put_blob_then_read_it_back(harness: DriverHarness) -> None:
    driver = harness.driver
    digest = driver.put_blob(CONTENT)
    assert digest == digest_of(CONTENT)
    info = driver.stat(digest)
    assert info is not None
    assert info.size == len(CONTENT)
    with driver.open_read(digest) as reader:
        assert reader.total_size == len(CONTENT)
        assert reader.read_all() == CONTENT


def test_missing_blob_is_unknown(harness: DriverHarness) -> None:
    missing = digest_of(b"never stored")
    assert harness.driver.stat(missing) is None
    assert harness.driver.local_path(missing) is None
    with pytest.raises(BlobUnknown) as caught:
        harness.driver.open_read(missing)
    assert caught.value.status == 404


def test_range_reads(harness: DriverHarness) -> None:
    digest = harness.driver.put_blob(CONTENT)
    with harness.driver.open_read(digest, 5, 42) as reader:
        assert (reader.start, reader.end, reader.length) == (5, 42, 37)
        assert reader.read_all() == CONTENT[5:42]
    with harness.driver.open_read(digest, 100) as reader:
        assert reader.read_all() == CONTENT[100:]
    with harness.driver.open_read(digest, 10, len(CONTENT) + 500) as reader:  # end is clamped
        assert reader.read_all() == CONTENT[10:]
    with harness.driver.open_read(digest, len(CONTENT)) as reader:
        assert reader.read_all() == b""


@pytest.mark.parametrize(("start", "end"), [(-1, None), (len(CONTENT) + 1, None), (10, 5)])
def test_unsatisfiable_ranges_are_416(harness: DriverHarness, start: int, end: int | None) -> None:
    digest = harness.driver.put_blob(CONTENT)
    with pytest.raises(RangeInvalid) as caught:
        harness.driver.open_read(digest, start, end)
    assert caught.value.status == 416


def test_large_blobs_stream_in_bounded_chunks(harness: DriverHarness) -> None:
    data = os.urandom(READ_CHUNK_SIZE * 2 + 123)
    digest = harness.driver.put_blob(data)
    with harness.driver.open_read(digest) as reader:
        chunks = list(reader)
    assert all(len(chunk) <= READ_CHUNK_SIZE for chunk in chunks)
    assert len(chunks) == 3
    assert b"".join(chunks) == data


def test_an_open_reader_survives_a_delete(harness: DriverHarness) -> None:
    digest = harness.driver.put_blob(CONTENT)
    reader = harness.driver.open_read(digest)
    assert harness.driver.delete(digest)
    assert reader.read_all() == CONTENT


def test_delete_and_iter_blobs(harness: DriverHarness) -> None:
    driver = harness.driver
    first, second = driver.put_blob(b"first"), driver.put_blob(b"second", "sha512")
    listed = dict(driver.iter_blobs())
    assert set(listed) == {first, second}
    assert listed[second].size == len(b"second")
    assert driver.delete(first) is True
    assert driver.delete(first) is False
    assert [digest for digest, _ in driver.iter_blobs()] == [second]
    assert driver.stat(first) is None


def test_delete_with_a_cutoff_keeps_fresh_blobs(harness: DriverHarness) -> None:
    driver = harness.driver
    digest = driver.put_blob(CONTENT)
    assert driver.delete(digest, older_than=datetime(2000, 1, 1, tzinfo=UTC)) is False
    assert driver.stat(digest) is not None
    assert driver.delete(digest, older_than=datetime(2100, 1, 1, tzinfo=UTC)) is True
    assert driver.stat(digest) is None
    assert driver.delete(digest, older_than=datetime(2100, 1, 1, tzinfo=UTC)) is False


def test_empty_blob(harness: DriverHarness) -> None:
    digest = harness.driver.put_blob(b"")
    assert str(digest) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    with harness.driver.open_read(digest) as reader:
        assert reader.read_all() == b""


# --- uploads -------------------------------------------------------------------------------------------


def test_start_upload_gives_fresh_url_safe_ids(harness: DriverHarness) -> None:
    ids = {harness.driver.start_upload() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", upload_id) for upload_id in ids)
    info = harness.driver.upload_info(next(iter(ids)))
    assert info.size == 0
    assert info.started_at == harness.clock.now


def test_chunks_appended_in_order_then_committed(harness: DriverHarness) -> None:
    driver = harness.driver
    upload_id = driver.start_upload()
    assert driver.append(upload_id, [CONTENT[:100], CONTENT[100:700]], expected_offset=0) == 700
    assert driver.append_chunk(upload_id, CONTENT[700:], expected_offset=700) == len(CONTENT)
    assert driver.upload_size(upload_id) == len(CONTENT)
    info = driver.commit(upload_id, digest_of(CONTENT))
    assert info.size == len(CONTENT)
    with driver.open_read(digest_of(CONTENT)) as reader:
        assert reader.read_all() == CONTENT
    with pytest.raises(BlobUploadUnknown):
        driver.upload_info(upload_id)


@pytest.mark.parametrize("offset", [0, 5, 11])
def test_out_of_order_chunk_is_416_and_changes_nothing(harness: DriverHarness, offset: int) -> None:
    driver = harness.driver
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, b"0123456789")
    with pytest.raises(RangeInvalid) as caught:
        driver.append_chunk(upload_id, b"more", expected_offset=offset)
    assert caught.value.status == 416
    assert driver.upload_size(upload_id) == 10
    driver.commit(upload_id, digest_of(b"0123456789"))


def test_one_writer_per_upload(harness: DriverHarness) -> None:
    driver = harness.driver
    upload_id = driver.start_upload()
    with driver.open_upload_writer(upload_id, expected_offset=0) as writer:
        writer.write(b"abc")
        writer.write(memoryview(b"def"))
        assert writer.size == 6
        with pytest.raises(RangeInvalid):
            driver.open_upload_writer(upload_id)
        with pytest.raises(BlobUploadInvalid):
            driver.commit(upload_id, digest_of(b"abcdef"))
    assert writer.close() == 6  # closing twice is harmless
    assert driver.commit(upload_id, digest_of(b"abcdef")).size == 6


def test_commit_appends_final_chunks(harness: DriverHarness) -> None:
    upload_id = harness.driver.start_upload()
    harness.driver.append_chunk(upload_id, b"head-")
    info = harness.driver.commit(upload_id, digest_of(b"head-tail"), [b"ta", b"il"])
    assert info.size == 9


def test_upload_resumes_after_a_restart(harness: DriverHarness) -> None:
    upload_id = harness.driver.start_upload()
    harness.driver.append_chunk(upload_id, CONTENT[:1000])
    driver = harness.restart()
    assert driver.upload_size(upload_id) == 1000
    assert driver.upload_started_at(upload_id) == harness.clock.now
    with pytest.raises(RangeInvalid):
        driver.append_chunk(upload_id, CONTENT[500:], expected_offset=500)
    driver.append_chunk(upload_id, CONTENT[1000:], expected_offset=1000)
    assert driver.commit(upload_id, digest_of(CONTENT)).size == len(CONTENT)


def test_commit_right_after_a_restart_rehashes_the_upload(harness: DriverHarness) -> None:
    upload_id = harness.driver.start_upload()
    harness.driver.append_chunk(upload_id, CONTENT)
    driver = harness.restart()
    driver.commit(upload_id, digest_of(CONTENT))
    assert driver.stat(digest_of(CONTENT)) is not None


def test_digest_mismatch_is_rejected_and_discards_the_upload(harness: DriverHarness) -> None:
    driver = harness.driver
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, CONTENT)
    wrong = digest_of(b"something else")
    with pytest.raises(DigestInvalid) as caught:
        driver.commit(upload_id, wrong)
    assert caught.value.status == 400
    assert caught.value.detail == {"digest": str(wrong), "actual": str(digest_of(CONTENT))}
    assert driver.stat(wrong) is None
    assert driver.stat(digest_of(CONTENT)) is None
    with pytest.raises(BlobUploadUnknown):
        driver.upload_info(upload_id)


def test_sha512_uploads(harness: DriverHarness) -> None:
    upload_id = harness.driver.start_upload()
    harness.driver.append_chunk(upload_id, CONTENT)
    digest = digest_of(CONTENT, "sha512")
    assert harness.driver.commit(upload_id, digest).size == len(CONTENT)
    with harness.driver.open_read(digest) as reader:
        assert reader.read_all() == CONTENT
    assert harness.driver.stat(digest_of(CONTENT)) is None  # stored under its sha512 name only


def test_committing_existing_content_is_a_no_op_that_refreshes_mtime(harness: DriverHarness) -> None:
    driver = harness.driver
    digest = driver.put_blob(CONTENT)
    first = driver.stat(digest)
    assert first is not None
    harness.clock.advance(hours=1)
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, CONTENT)
    again = driver.commit(upload_id, digest)
    assert again.size == len(CONTENT)
    assert again.mtime >= first.mtime
    assert [d for d, _ in driver.iter_blobs()] == [digest]


def test_a_repeated_commit_of_the_same_upload_succeeds(harness: DriverHarness) -> None:
    upload_id = harness.driver.start_upload()
    digest = digest_of(CONTENT)
    harness.driver.commit(upload_id, digest, [CONTENT])
    assert harness.driver.commit(upload_id, digest, [CONTENT]).size == len(CONTENT)
    with pytest.raises(BlobUploadUnknown):
        harness.driver.commit(upload_id, digest_of(b"other"))


def test_cancel_is_safe_twice(harness: DriverHarness) -> None:
    driver = harness.driver
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, b"data")
    assert driver.cancel(upload_id) is True
    assert driver.cancel(upload_id) is False
    with pytest.raises(BlobUploadUnknown):
        driver.append_chunk(upload_id, b"more")
    with pytest.raises(BlobUploadUnknown):
        driver.commit(upload_id, digest_of(b"data"))


@pytest.mark.parametrize("upload_id", ["nope-not-an-upload", "../../../etc", "", "a/b", "x" * 500])
def test_unknown_or_malformed_upload_ids(harness: DriverHarness, upload_id: str) -> None:
    driver = harness.driver
    for call in (
        lambda: driver.upload_info(upload_id),
        lambda: driver.append_chunk(upload_id, b"x"),
        lambda: driver.commit(upload_id, digest_of(b"x")),
        lambda: driver.open_upload_writer(upload_id),
    ):
        with pytest.raises(BlobUploadUnknown) as caught:
            call()
        assert caught.value.status == 404
    assert driver.cancel(upload_id) is False


def test_expire_uploads(harness: DriverHarness) -> None:
    driver = harness.driver
    old = driver.start_upload()
    busy = driver.start_upload()
    harness.clock.advance(days=2)
    fresh = driver.start_upload()
    cutoff = harness.clock.now - timedelta(days=1)
    with driver.open_upload_writer(busy):
        assert driver.expire_uploads(cutoff) == 1
    for upload_id in (busy, fresh):
        assert driver.upload_size(upload_id) == 0
    with pytest.raises(BlobUploadUnknown):
        driver.upload_info(old)
    assert driver.expire_uploads(cutoff) == 1  # busy is idle now
    assert driver.expire_uploads(cutoff) == 0


def test_concurrent_uploads_of_the_same_content(harness: DriverHarness) -> None:
    driver = harness.driver
    digest = digest_of(CONTENT)
    errors: list[BaseException] = []

    def push() -> None:
        try:
            upload_id = driver.start_upload()
            for offset in range(0, len(CONTENT), 1000):
                driver.append_chunk(upload_id, CONTENT[offset : offset + 1000], expected_offset=offset)
            driver.commit(upload_id, digest)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [d for d, _ in driver.iter_blobs()] == [digest]
    with driver.open_read(digest) as reader:
        assert reader.read_all() == CONTENT
