"""Blob storage in memory, for tests of logic that needs a :class:`~dockyard.registry.driver.BlobDriver`.

It shares the upload rules with the filesystem driver (:mod:`dockyard.registry.base`) and passes the same
conformance suite. :meth:`MemoryBlobDriver.reopen` gives a driver over the same stored bytes with no
in-process state, as a restart of the server would.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.core.clock import Clock, IdFactory, system_clock
from dockyard.registry.base import Sink, UploadingBlobDriver, random_upload_id
from dockyard.registry.digest import BytesLike, Digest
from dockyard.registry.driver import CHUNK_SIZE, READ_CHUNK_SIZE, BlobInfo, ChunkReader, check_range
from dockyard.registry.errors import BlobUnknown, BlobUploadUnknown

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from pathlib import Path


@dataclass
class _StoredUpload:
    started_at: datetime
    data: bytearray = field(default_factory=bytearray)


@dataclass
class MemoryStorage:
    """What survives a :meth:`MemoryBlobDriver.reopen`: the equivalent of the files on disk."""

    guard: threading.Lock = field(default_factory=threading.Lock)
    blobs: dict[Digest, tuple[bytes, datetime]] = field(default_factory=dict)
    uploads: dict[str, _StoredUpload] = field(default_factory=dict)


class _BytearraySink:
    def __init__(self, data: bytearray) -> None:
        self._data = data

    def write(self, data: BytesLike, /) -> None:
        self._data += data

    def close(self) -> None:
        pass


class MemoryBlobDriver(UploadingBlobDriver):
    """Blobs and uploads held in dicts; thread-safe, with no durability."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        new_upload_id: IdFactory = random_upload_id,
        storage: MemoryStorage | None = None,
    ) -> None:
        super().__init__(clock=clock, new_upload_id=new_upload_id)
        self._storage = storage if storage is not None else MemoryStorage()

    def reopen(self) -> MemoryBlobDriver:
        """A new driver over the same blobs and uploads, without this one's running hashes or locks."""
        return MemoryBlobDriver(clock=self._clock, new_upload_id=self._new_upload_id, storage=self._storage)

    # --- blobs -------------------------------------------------------------------------------------------

    def stat(self, digest: Digest) -> BlobInfo | None:
        with self._storage.guard:
            stored = self._storage.blobs.get(digest)
        return None if stored is None else BlobInfo(len(stored[0]), stored[1])

    def open_read(self, digest: Digest, start: int = 0, end: int | None = None) -> ChunkReader:
        with self._storage.guard:
            stored = self._storage.blobs.get(digest)
        if stored is None:
            raise BlobUnknown({"digest": str(digest)})
        data = stored[0]
        first, stop = check_range(start, end, len(data))
        return ChunkReader(
            io.BytesIO(data), start=first, end=stop, total_size=len(data), chunk_size=READ_CHUNK_SIZE
        )

    def local_path(self, digest: Digest) -> Path | None:
        return None

    def delete(self, digest: Digest, *, older_than: datetime | None = None) -> bool:
        with self._storage.guard:
            stored = self._storage.blobs.get(digest)
            if stored is None or (older_than is not None and stored[1] >= older_than):
                return False
            del self._storage.blobs[digest]
            return True

    def iter_blobs(self) -> Iterator[tuple[Digest, BlobInfo]]:
        with self._storage.guard:
            snapshot = list(self._storage.blobs.items())
        for digest, (data, mtime) in snapshot:
            yield digest, BlobInfo(len(data), mtime)

    # --- upload storage ----------------------------------------------------------------------------------

    def _upload(self, upload_id: str) -> _StoredUpload:
        with self._storage.guard:
            upload = self._storage.uploads.get(upload_id)
        if upload is None:
            raise BlobUploadUnknown({"upload": upload_id})
        return upload

    def _create_upload(self, upload_id: str, started_at: datetime) -> None:
        with self._storage.guard:
            if upload_id in self._storage.uploads:
                raise FileExistsError(upload_id)
            self._storage.uploads[upload_id] = _StoredUpload(started_at)

    def _stored_size(self, upload_id: str) -> int:
        return len(self._upload(upload_id).data)

    def _started_at(self, upload_id: str) -> datetime:
        return self._upload(upload_id).started_at

    def _open_sink(self, upload_id: str) -> Sink:
        return _BytearraySink(self._upload(upload_id).data)

    def _read_upload(self, upload_id: str) -> Iterator[bytes]:
        data = self._upload(upload_id).data
        for offset in range(0, len(data), CHUNK_SIZE):
            yield bytes(data[offset : offset + CHUNK_SIZE])

    def _publish(self, upload_id: str, digest: Digest, size: int) -> BlobInfo:
        content = bytes(self._upload(upload_id).data)
        now = self._clock()
        with self._storage.guard:
            stored = self._storage.blobs.get(digest)
            if stored is not None and len(stored[0]) == size:
                content = stored[0]  # already there: only the mtime moves
            self._storage.blobs[digest] = (content, now)
        return BlobInfo(size, now)

    def _remove_upload(self, upload_id: str) -> bool:
        with self._storage.guard:
            return self._storage.uploads.pop(upload_id, None) is not None

    def _list_uploads(self) -> Iterator[str]:
        with self._storage.guard:
            return iter(list(self._storage.uploads))
