"""Upload rules owned by the shared driver base, exercised through the in-memory driver."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
import pytest

from dockyard.registry.base import Sink
from dockyard.registry.digest import BytesLike, digest_of
from dockyard.registry.driver import append_stream
from dockyard.registry.errors import BlobUploadUnknown, RangeInvalid
from dockyard.registry.memory import MemoryBlobDriver


class _FailingSink:
    """Stores half of the next write, then fails, like a disk that fills up mid-write."""

    def __init__(self, data: bytearray) -> None:
        self._data = data

    def write(self, data: BytesLike, /) -> None:
        self._data += bytes(data)[: len(data) // 2]
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


class _FlakyDriver(MemoryBlobDriver):
    fail_next_write = False

    def _open_sink(self, upload_id: str) -> Sink:
        sink = super()._open_sink(upload_id)
        if self.fail_next_write:
            self.fail_next_write = False
            return _FailingSink(self._upload(upload_id).data)
        return sink


def test_a_failed_write_rebuilds_the_hash_from_what_was_stored() -> None:
    driver = _FlakyDriver()
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, b"0123456789")
    driver.fail_next_write = True
    with pytest.raises(OSError, match="No space"):
        driver.append_chunk(upload_id, b"abcdef")
    assert driver.upload_size(upload_id) == 13  # half of the failed write landed
    driver.append_chunk(upload_id, b"def", expected_offset=13)
    assert driver.commit(upload_id, digest_of(b"0123456789abcdef")).size == 16


def test_a_dropped_writer_releases_its_upload() -> None:
    driver = MemoryBlobDriver()
    upload_id = driver.start_upload()
    writer = driver.open_upload_writer(upload_id)
    writer.write(b"abc")
    del writer
    gc.collect()
    assert driver.append_chunk(upload_id, b"def", expected_offset=3) == 6


def test_a_sha512_commit_does_not_disturb_the_running_sha256() -> None:
    driver = MemoryBlobDriver()
    upload_id = driver.start_upload()
    driver.append_chunk(upload_id, b"abc")
    driver.commit(upload_id, digest_of(b"abc", "sha512"))
    assert driver.stat(digest_of(b"abc", "sha512")) is not None


def test_malformed_generated_ids_are_refused() -> None:
    driver = MemoryBlobDriver(new_upload_id=lambda: "../x")
    with pytest.raises(BlobUploadUnknown):
        driver.start_upload()


async def _stream(*chunks: bytes, fail: BaseException | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await anyio.lowlevel.checkpoint()  # let others run between chunks, as a socket read would
        yield chunk
    if fail is not None:
        raise fail


def test_append_stream_batches_an_async_body_into_the_upload() -> None:
    driver = MemoryBlobDriver()
    upload_id = driver.start_upload()
    chunks = [bytes([i]) * 1000 for i in range(50)]

    async def main() -> int:
        return await append_stream(driver, upload_id, _stream(*chunks, b""), 0, batch_bytes=4096)

    assert anyio.run(main) == 50_000
    assert driver.commit(upload_id, digest_of(b"".join(chunks))).size == 50_000


def test_append_stream_keeps_what_arrived_before_a_disconnect() -> None:
    driver = MemoryBlobDriver()
    upload_id = driver.start_upload()

    async def main() -> None:
        await append_stream(
            driver,
            upload_id,
            _stream(b"a" * 3000, b"b" * 3000, fail=ConnectionResetError("gone")),
            batch_bytes=1000,
        )

    with pytest.raises(ConnectionResetError):
        anyio.run(main)
    assert driver.upload_size(upload_id) == 6000
    assert driver.append_chunk(upload_id, b"c", expected_offset=6000) == 6001


def test_append_stream_checks_the_offset_first() -> None:
    driver = MemoryBlobDriver()
    upload_id = driver.start_upload()

    async def main() -> None:
        await append_stream(driver, upload_id, _stream(b"abc"), expected_offset=7)

    with pytest.raises(RangeInvalid):
        anyio.run(main)
    assert driver.upload_size(upload_id) == 0


def test_append_stream_raises_storage_errors_unwrapped() -> None:
    driver = _FlakyDriver()
    upload_id = driver.start_upload()
    driver.fail_next_write = True

    async def main() -> None:
        await append_stream(driver, upload_id, _stream(*([b"x" * 100] * 100)), batch_bytes=500)

    with pytest.raises(OSError, match="No space"):
        anyio.run(main)
    assert driver.append_chunk(upload_id, b"y") == driver.upload_size(upload_id)
