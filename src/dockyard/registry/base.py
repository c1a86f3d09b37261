"""The upload lifecycle shared by every driver, written once on top of a few storage primitives.

A driver subclasses :class:`UploadingBlobDriver` and supplies raw upload storage (create, size, append
sink, read back, publish as a blob, remove, list); this class owns the rules: id checks, one writer per
upload, offset checks, the running hash and its rebuild after a restart, digest verification, idempotent
commits and expiry. Keeping the rules here means the filesystem and in-memory drivers cannot drift apart.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from abc import abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self

from dockyard.core.clock import Clock, IdFactory, system_clock
from dockyard.registry.digest import DEFAULT_ALGORITHM, BytesLike, Digest, Hasher
from dockyard.registry.driver import BlobDriver, BlobInfo, UploadInfo, UploadWriter
from dockyard.registry.errors import (
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    RegistryError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime
    from types import TracebackType

# Upload ids become path components and URL segments: a strict alphabet rules out traversal and escaping.
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")
# How many finished uploads are remembered, so a retried commit (lost reply) still succeeds.
_REMEMBERED_COMMITS = 4096


def random_upload_id() -> str:
    """A random UUID4: URL-safe, and the form ECR's API requires of upload ids."""
    return str(uuid.uuid4())


def is_upload_id(text: str) -> bool:
    return _UPLOAD_ID.fullmatch(text) is not None


def check_upload_id(upload_id: str) -> str:
    """``upload_id`` if well-formed; BLOB_UPLOAD_UNKNOWN otherwise (it cannot name an upload)."""
    if not is_upload_id(upload_id):
        raise BlobUploadUnknown({"upload": upload_id[:128]})
    return upload_id


class Sink(Protocol):
    """Raw appending storage for one upload."""

    def write(self, data: BytesLike, /) -> object: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class _UploadState:
    """What the process knows about an upload beyond its stored bytes; lost on restart by design."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    hasher: Hasher | None = None
    """Digest of exactly the stored bytes so far, or None when it must be rebuilt from them."""


class _UploadStates:
    """Per-upload state and the memory of recent commits, safe to use from many threads."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._states: dict[str, _UploadState] = {}
        self._committed: OrderedDict[str, Digest] = OrderedDict()

    def acquire(self, upload_id: str) -> _UploadState | None:
        """The upload's state, locked for the caller; None if another request holds it."""
        with self._guard:
            state = self._states.setdefault(upload_id, _UploadState())
        return state if state.lock.acquire(blocking=False) else None

    def is_busy(self, upload_id: str) -> bool:
        with self._guard:
            state = self._states.get(upload_id)
        return state is not None and state.lock.locked()

    def forget(self, upload_id: str) -> None:
        with self._guard:
            self._states.pop(upload_id, None)

    def remember_commit(self, upload_id: str, digest: Digest) -> None:
        with self._guard:
            self._committed[upload_id] = digest
            while len(self._committed) > _REMEMBERED_COMMITS:
                self._committed.popitem(last=False)

    def committed_digest(self, upload_id: str) -> Digest | None:
        with self._guard:
            return self._committed.get(upload_id)


class _HashingWriter:
    """Writes to a sink and feeds the upload's running hash with exactly what was written."""

    def __init__(self, sink: Sink, state: _UploadState, hasher: Hasher) -> None:
        self._sink = sink
        self._state = state
        self._hasher = hasher
        self._closed = False

    @property
    def size(self) -> int:
        return self._hasher.size

    def write(self, data: BytesLike) -> None:
        if self._closed:
            raise ValueError("write to a closed upload writer")
        try:
            self._sink.write(data)
        except BaseException:
            # Part of ``data`` may be stored: the hash is rebuilt from the stored bytes next time.
            self._state.hasher = None
            raise
        self._hasher.update(data)

    def close(self) -> int:
        if self._closed:
            return self._hasher.size
        self._closed = True
        try:
            self._sink.close()
        except BaseException:
            self._state.hasher = None
            raise
        finally:
            self._state.lock.release()
        return self._hasher.size

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A writer dropped without close() must not keep its upload locked (and unexpirable) forever.
        if not self._closed:
            with contextlib.suppress(Exception):
                self.close()


class UploadingBlobDriver(BlobDriver):
    """Implements the upload half of :class:`BlobDriver` over the abstract storage primitives below."""

    def __init__(self, *, clock: Clock = system_clock, new_upload_id: IdFactory = random_upload_id) -> None:
        self._clock = clock
        self._new_upload_id = new_upload_id
        self._states = _UploadStates()

    # --- storage primitives a driver provides ------------------------------------------------------------

    @abstractmethod
    def _create_upload(self, upload_id: str, started_at: datetime) -> None: ...

    @abstractmethod
    def _stored_size(self, upload_id: str) -> int:
        """Bytes stored for the upload; BLOB_UPLOAD_UNKNOWN if there is no such upload."""

    @abstractmethod
    def _started_at(self, upload_id: str) -> datetime:
        """When the upload started; BLOB_UPLOAD_UNKNOWN if there is no such upload."""

    @abstractmethod
    def _open_sink(self, upload_id: str) -> Sink:
        """Append to the upload's stored bytes; BLOB_UPLOAD_UNKNOWN if there is no such upload."""

    @abstractmethod
    def _read_upload(self, upload_id: str) -> Iterator[bytes]: ...

    @abstractmethod
    def _publish(self, upload_id: str, digest: Digest, size: int) -> BlobInfo:
        """Make the verified upload the blob ``digest`` in one atomic step (durably, where that applies);
        when the blob exists already, leave it and refresh its mtime."""

    @abstractmethod
    def _remove_upload(self, upload_id: str) -> bool: ...

    @abstractmethod
    def _list_uploads(self) -> Iterator[str]: ...

    # --- the upload lifecycle ----------------------------------------------------------------------------

    def start_upload(self) -> str:
        upload_id = check_upload_id(self._new_upload_id())
        self._create_upload(upload_id, self._clock())
        return upload_id

    def upload_info(self, upload_id: str) -> UploadInfo:
        check_upload_id(upload_id)
        started_at = self._started_at(upload_id)
        return UploadInfo(upload_id, self._stored_size(upload_id), started_at)

    def open_upload_writer(self, upload_id: str, expected_offset: int | None = None) -> UploadWriter:
        check_upload_id(upload_id)
        # Out of order by definition: the other request's bytes come first.
        state = self._lock_upload(upload_id, RangeInvalid("another request is writing to this upload"))
        try:
            size = self._stored_size(upload_id)
            if expected_offset is not None and expected_offset != size:
                raise RangeInvalid({"expected_offset": expected_offset, "size": size})
            hasher = self._running_hasher(state, upload_id, size, DEFAULT_ALGORITHM)
            return _HashingWriter(self._open_sink(upload_id), state, hasher)
        except BaseException as exc:
            self._unlock_upload(upload_id, state, exc)
            raise

    def commit(self, upload_id: str, digest: Digest, final_chunks: Iterable[BytesLike] = ()) -> BlobInfo:
        check_upload_id(upload_id)
        final = list(final_chunks)
        if final and self._states.committed_digest(upload_id) is None:
            self.append(upload_id, final)
        state = self._lock_upload(upload_id, BlobUploadInvalid("another request is writing to this upload"))
        try:
            info = self._commit_locked(upload_id, digest, state)
        except BaseException as exc:
            self._unlock_upload(upload_id, state, exc)
            raise
        self._unlock_upload(upload_id, state, None)
        return info

    def _lock_upload(self, upload_id: str, busy: RegistryError) -> _UploadState:
        state = self._states.acquire(upload_id)
        if state is None:
            raise busy
        return state

    def _unlock_upload(self, upload_id: str, state: _UploadState, error: BaseException | None) -> None:
        state.lock.release()
        if isinstance(error, BlobUploadUnknown):
            self._states.forget(upload_id)  # no state piles up for ids that name nothing

    def _commit_locked(self, upload_id: str, digest: Digest, state: _UploadState) -> BlobInfo:
        committed = self._states.committed_digest(upload_id)
        if committed is not None:
            return self._repeat_commit(upload_id, digest, committed)
        size = self._stored_size(upload_id)
        actual = self._running_hasher(state, upload_id, size, digest.algorithm).digest()
        if actual != digest:
            self.cancel(upload_id)
            raise DigestInvalid({"digest": str(digest), "actual": str(actual)})
        info = self._publish(upload_id, digest, size)
        self._states.remember_commit(upload_id, digest)
        self._remove_upload(upload_id)
        self._states.forget(upload_id)
        return info

    def _repeat_commit(self, upload_id: str, digest: Digest, committed: Digest) -> BlobInfo:
        info = self.stat(digest) if digest == committed else None
        if info is None:  # another digest, or the blob was deleted since: the upload is simply gone
            raise BlobUploadUnknown({"upload": upload_id})
        return info

    def cancel(self, upload_id: str) -> bool:
        try:
            check_upload_id(upload_id)
        except BlobUploadUnknown:
            return False
        # A writer still open on the upload keeps writing into storage that no longer counts.
        removed = self._remove_upload(upload_id)
        self._states.forget(upload_id)
        return removed

    def expire_uploads(self, older_than: datetime) -> int:
        expired = 0
        for upload_id in list(self._list_uploads()):
            if self._states.is_busy(upload_id):
                continue
            try:
                started_at = self._started_at(upload_id)
            except BlobUploadUnknown:
                continue  # removed meanwhile
            if started_at < older_than and self.cancel(upload_id):
                expired += 1
        return expired

    def _running_hasher(self, state: _UploadState, upload_id: str, size: int, algorithm: str) -> Hasher:
        """A hasher over exactly the stored bytes, reused when the state still matches them."""
        hasher = state.hasher
        if hasher is not None and hasher.algorithm == algorithm and hasher.size == size:
            return hasher
        hasher = Hasher(algorithm)
        hasher.update_all(self._read_upload(upload_id))
        if algorithm == DEFAULT_ALGORITHM:
            state.hasher = hasher
        return hasher
