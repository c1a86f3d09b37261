"""The blob storage contract: content-addressed blobs plus resumable, verified uploads.

::

    start_upload ──► open_upload_writer / append (in order, resumable) ──► commit(digest) ──► blob
                          │                                                   │
                          └──────────────────── cancel / expire_uploads ◄─────┘ (mismatch discards)

Guarantees every :class:`BlobDriver` gives (checked by ``tests/registry/test_blob_driver_conformance.py``):

* a blob is only ever visible complete and verified: it appears in one atomic step at commit, after its
  digest was checked (and, on disk, after its bytes were synced);
* commit is idempotent: committing content that already exists is a no-op that only refreshes the blob's
  mtime (so a garbage collector's grace period counts from the latest push);
* uploads are append-only and in order: a write at the wrong offset raises RANGE_INVALID (416), and only one
  writer per upload exists at a time;
* an upload survives a restart of the driver and can be resumed; its running hash is kept in memory while
  the process lives and rebuilt from the stored bytes otherwise;
* memory stays flat: reads stream in :data:`READ_CHUNK_SIZE` pieces and writes never buffer a whole upload.

All methods are blocking; the HTTP layer calls them from worker threads. :func:`append_stream` bridges an
async request body to a writer, overlapping network reads with disk writes and hashing.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol, Self

import anyio
import anyio.to_thread

from dockyard.registry.digest import DEFAULT_ALGORITHM, BytesLike, Digest, digest_of
from dockyard.registry.errors import RangeInvalid

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path
    from types import TracebackType

CHUNK_SIZE = 1 << 20
"""Size of the pieces request bodies are batched into (what a client that goes away can lose at most)."""
READ_CHUNK_SIZE = 4 << 20
"""Size of the pieces blobs are read in: larger pieces cost fewer thread hand-offs per GiB served."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    mtime: datetime
    """When the blob was last committed (first push or a later no-op commit); timezone-aware."""


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_id: str
    size: int
    """Bytes received so far: the offset the next chunk must start at."""
    started_at: datetime


def check_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """The byte range ``[start, end)`` of a blob of ``size`` bytes, ``end`` defaulting to and clamped at
    ``size``; a negative, inverted or past-the-end start raises RANGE_INVALID. ``start == size`` is an empty
    range (the HTTP layer decides whether an empty range is satisfiable)."""
    if start < 0 or start > size or (end is not None and end < start):
        raise RangeInvalid({"start": start, "end": end, "size": size})
    return start, size if end is None else min(end, size)


class ChunkReader:
    """Iterates over ``[start, end)`` of an open binary file in chunks of at most ``chunk_size`` bytes.

    The file is closed when the iteration ends, on :meth:`close`, or when the reader is collected (a client
    that disconnects mid-download leaves the iteration unfinished).
    """

    def __init__(
        self, fh: BinaryIO, *, start: int, end: int, total_size: int, chunk_size: int = READ_CHUNK_SIZE
    ) -> None:
        self.start = start
        self.end = end
        self.total_size = total_size
        """Size of the whole blob, for ``Content-Range: bytes start-(end-1)/total_size``."""
        self._fh = fh
        self._remaining = end - start
        self._chunk_size = chunk_size
        fh.seek(start)

    @property
    def length(self) -> int:
        """Bytes the reader yields in total."""
        return self.end - self.start

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0 or self._fh.closed:
            self.close()
            raise StopIteration
        data = self._fh.read(min(self._chunk_size, self._remaining))
        if not data:  # cannot happen for a content-addressed file; never loop forever if it does
            self.close()
            raise StopIteration
        self._remaining -= len(data)
        return data

    def read_all(self) -> bytes:
        """The whole range at once; for small blobs such as configs."""
        return b"".join(self)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class UploadWriter(Protocol):
    """Appends to one upload; the only writer of that upload until closed. Close it in every case."""

    @property
    def size(self) -> int:
        """Size of the upload including everything written through this writer."""
        ...

    def write(self, data: BytesLike) -> None: ...

    def close(self) -> int:
        """Flush, release the upload for other requests and return its size. Safe to call twice."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BlobDriver(Protocol):
    """Content-addressed blob storage with resumable uploads; see the module docstring for guarantees.

    Unknown or malformed upload ids raise BLOB_UPLOAD_UNKNOWN; reads of missing blobs raise BLOB_UNKNOWN.
    """

    # --- blobs -------------------------------------------------------------------------------------------

    def stat(self, digest: Digest) -> BlobInfo | None:
        """Size and mtime of a committed blob, or None."""
        ...

    def open_read(self, digest: Digest, start: int = 0, end: int | None = None) -> ChunkReader:
        """Stream bytes ``[start, end)`` (see :func:`check_range`); BLOB_UNKNOWN if absent. Once open, the
        reader yields the complete range even if the blob is deleted meanwhile."""
        ...

    def local_path(self, digest: Digest) -> Path | None:
        """The blob's file, for sendfile-style responses; None when absent or not stored in a file."""
        ...

    def delete(self, digest: Digest, *, older_than: datetime | None = None) -> bool:
        """Remove a blob; False if it did not exist.

        With ``older_than``, only a blob whose mtime is before it is removed, atomically with respect to
        commits: a garbage collector passing its grace cutoff never removes a blob that a concurrent push
        of the same content has just committed (and so refreshed).
        """
        ...

    def iter_blobs(self) -> Iterator[tuple[Digest, BlobInfo]]:
        """Every committed blob, in no particular order (for garbage collection)."""
        ...

    # --- uploads -----------------------------------------------------------------------------------------

    def start_upload(self) -> str:
        """Create an empty upload and return its id (random, URL-safe)."""
        ...

    def upload_info(self, upload_id: str) -> UploadInfo: ...

    def open_upload_writer(self, upload_id: str, expected_offset: int | None = None) -> UploadWriter:
        """A writer appending to the upload. RANGE_INVALID if ``expected_offset`` is given and differs from
        the upload's size, or if another writer or commit holds the upload."""
        ...

    def commit(self, upload_id: str, digest: Digest, final_chunks: Iterable[BytesLike] = ()) -> BlobInfo:
        """Append ``final_chunks``, verify the content against ``digest`` and publish it as a blob.

        DIGEST_INVALID on a mismatch, and the upload is discarded (as Distribution does: its bytes can
        never become the blob the client named). Repeating a successful commit of the same upload with the
        same digest returns the blob again; the upload itself is gone after a commit.
        """
        ...

    def cancel(self, upload_id: str) -> bool:
        """Discard the upload; False if it did not exist (so a second cancel is harmless)."""
        ...

    def expire_uploads(self, older_than: datetime) -> int:
        """Discard uploads started before ``older_than`` that no request is writing; returns how many."""
        ...

    # --- conveniences built on the methods above -----------------------------------------------------------

    def upload_size(self, upload_id: str) -> int:
        return self.upload_info(upload_id).size

    def upload_started_at(self, upload_id: str) -> datetime:
        return self.upload_info(upload_id).started_at

    def append(self, upload_id: str, chunks: Iterable[BytesLike], expected_offset: int | None = None) -> int:
        """Append ``chunks`` in order through one writer; returns the upload's new size."""
        with self.open_upload_writer(upload_id, expected_offset) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return writer.size

    def append_chunk(self, upload_id: str, data: BytesLike, expected_offset: int | None = None) -> int:
        return self.append(upload_id, (data,), expected_offset)

    def put_blob(self, data: BytesLike, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        """Store a small blob in one step (an upload committed at once); returns its digest."""
        digest = digest_of(data, algorithm)
        upload_id = self.start_upload()
        try:
            self.commit(upload_id, digest, (data,))
        finally:
            self.cancel(upload_id)  # a no-op after a successful commit
        return digest


async def append_stream(
    driver: BlobDriver,
    upload_id: str,
    stream: AsyncIterable[bytes],
    expected_offset: int | None = None,
    *,
    batch_bytes: int = CHUNK_SIZE,
) -> int:
    """Append an async byte stream (e.g. a request body) to an upload; returns the upload's new size.

    Chunks are gathered into batches of about ``batch_bytes`` and written from a worker thread while the
    next batch is received, so at most about three batches are in memory. Whatever arrived before an error
    (such as a client disconnect) stays in the upload, and the error is raised unwrapped.
    """
    writer = await anyio.to_thread.run_sync(driver.open_upload_writer, upload_id, expected_offset)
    try:
        await _pump(writer, stream, batch_bytes)
    finally:
        size = await anyio.to_thread.run_sync(writer.close)
    return size


async def _pump(writer: UploadWriter, stream: AsyncIterable[bytes], batch_bytes: int) -> None:
    send, receive = anyio.create_memory_object_stream[list[bytes]](max_buffer_size=1)

    async def write_batches() -> None:
        async with receive:
            async for batch in receive:
                await anyio.to_thread.run_sync(_write_batch, writer, batch)

    stream_error: Exception | None = None
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(write_batches)
            async with send:
                try:
                    async for batch in _batches(stream, batch_bytes):
                        await send.send(batch)
                except Exception as exc:
                    # Not raised here, or the writer would be cancelled with a received batch unwritten.
                    stream_error = exc
    except BaseExceptionGroup as group_error:
        # The writer failed and the reader was cancelled: raise the real cause, not a group.
        raise _first_cause(group_error) from None
    if stream_error is not None:
        raise stream_error


async def _batches(stream: AsyncIterable[bytes], batch_bytes: int) -> AsyncIterable[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    async for chunk in stream:
        if not chunk:
            continue
        batch.append(chunk)
        size += len(chunk)
        if size >= batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _write_batch(writer: UploadWriter, batch: list[bytes]) -> None:
    for chunk in batch:
        writer.write(chunk)


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that started the failure: not a cancellation, nor the closed channel it caused."""
    leaves = list(_leaves(group))
    consequences = (anyio.get_cancelled_exc_class(), anyio.BrokenResourceError, anyio.ClosedResourceError)
    for error in leaves:
        if not isinstance(error, consequences):
            return error
    return leaves[0] if leaves else group


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
