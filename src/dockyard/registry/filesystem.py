"""Blob storage in a local directory.

Layout under ``root``::

    blobs/<algorithm>/<first two hex digits>/<hex>     complete, verified blobs (content-addressed)
    uploads/<upload id>/data                            bytes received so far (append-only)
    uploads/<upload id>/startedat                       ISO-8601 start time

A blob path only ever holds complete, verified content: an upload's ``data`` file is synced and then
renamed into place (same filesystem, so the rename is atomic), and the directory is synced so the rename
survives a crash. A crash mid-upload leaves only the upload's directory, which can be resumed or expired.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.core.clock import Clock, IdFactory, system_clock
from dockyard.registry.base import (
    Sink,
    UploadingBlobDriver,
    check_upload_id,
    is_upload_id,
    random_upload_id,
)
from dockyard.registry.digest import ALGORITHMS, BytesLike, Digest
from dockyard.registry.driver import CHUNK_SIZE, BlobInfo, ChunkReader, check_range
from dockyard.registry.errors import BlobUnknown, BlobUploadUnknown, DigestInvalid

if TYPE_CHECKING:
    from collections.abc import Iterator

_DATA = "data"
_STARTED_AT = "startedat"


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, syncing the parent of each new directory (so the new entry is
    durable before a file inside it is renamed into place)."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return  # another commit created it; that one syncs it
    _fsync_dir(path.parent)


class FilesystemBlobDriver(UploadingBlobDriver):
    """A :class:`~dockyard.registry.driver.BlobDriver` over a directory; safe for many threads of one
    process (uploads are coordinated in memory, so two processes must not share a root)."""

    def __init__(
        self, root: Path, *, clock: Clock = system_clock, new_upload_id: IdFactory = random_upload_id
    ) -> None:
        super().__init__(clock=clock, new_upload_id=new_upload_id)
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    # --- blobs -------------------------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        """Where the blob ``digest`` lives (whether or not it exists)."""
        return self._blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def stat(self, digest: Digest) -> BlobInfo | None:
        try:
            st = self.blob_path(digest).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(st.st_size, _mtime(st))

    def open_read(self, digest: Digest, start: int = 0, end: int | None = None) -> ChunkReader:
        try:
            # Unbuffered: each read is one syscall straight into the returned bytes, no extra copy.
            fh = self.blob_path(digest).open("rb", buffering=0)
        except FileNotFoundError:
            raise BlobUnknown({"digest": str(digest)}) from None
        try:
            size = os.fstat(fh.fileno()).st_size
            first, stop = check_range(start, end, size)
            return ChunkReader(fh, start=first, end=stop, total_size=size)
        except BaseException:
            fh.close()
            raise

    def local_path(self, digest: Digest) -> Path | None:
        path = self.blob_path(digest)
        return path if path.is_file() else None

    def delete(self, digest: Digest, *, older_than: datetime | None = None) -> bool:
        target = self.blob_path(digest)
        if older_than is None:
            try:
                target.unlink()
            except FileNotFoundError:
                return False
            return True
        # Move it aside first: a commit racing with us then either refreshed the mtime before the move
        # (seen below, and the blob goes back) or finds no blob and publishes its own verified copy.
        doomed = _doomed_path(target)
        try:
            target.rename(doomed)
            fresh = _mtime(doomed.stat()) >= older_than
            if fresh:
                doomed.replace(target)  # same content as anything committed there meanwhile
            else:
                doomed.unlink()
        except FileNotFoundError:
            return False  # another delete (or iter_blobs' recovery) got there first
        return not fresh

    def iter_blobs(self) -> Iterator[tuple[Digest, BlobInfo]]:
        for algorithm in ALGORITHMS:
            for prefix in _scan(self._blobs / algorithm):
                for entry in _scan(Path(prefix.path)):
                    digest = _blob_digest(algorithm, prefix.name, entry.name)
                    if digest is None:
                        _undo_interrupted_delete(Path(entry.path))
                        continue  # a stray file; never a blob
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue  # deleted while listing
                    yield digest, BlobInfo(st.st_size, _mtime(st))

    # --- upload storage ----------------------------------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        return self._uploads / check_upload_id(upload_id)

    def _create_upload(self, upload_id: str, started_at: datetime) -> None:
        directory = self._upload_dir(upload_id)
        directory.mkdir()
        (directory / _STARTED_AT).write_text(started_at.isoformat())
        (directory / _DATA).touch()

    def _stored_size(self, upload_id: str) -> int:
        try:
            return (self._upload_dir(upload_id) / _DATA).stat().st_size
        except FileNotFoundError:
            raise BlobUploadUnknown({"upload": upload_id}) from None

    def _started_at(self, upload_id: str) -> datetime:
        directory = self._upload_dir(upload_id)
        try:
            return datetime.fromisoformat((directory / _STARTED_AT).read_text())
        except (FileNotFoundError, ValueError):
            pass
        try:  # a crash while the upload was being created: its directory's time is close enough
            return _mtime(directory.stat())
        except FileNotFoundError:
            raise BlobUploadUnknown({"upload": upload_id}) from None

    def _open_sink(self, upload_id: str) -> Sink:
        try:
            return _AppendOnlyFile(self._upload_dir(upload_id) / _DATA)
        except FileNotFoundError:
            raise BlobUploadUnknown({"upload": upload_id}) from None

    def _read_upload(self, upload_id: str) -> Iterator[bytes]:
        with (self._upload_dir(upload_id) / _DATA).open("rb", buffering=0) as fh:
            while chunk := fh.read(CHUNK_SIZE):
                yield chunk

    def _publish(self, upload_id: str, digest: Digest, size: int) -> BlobInfo:
        target = self.blob_path(digest)
        if not _refresh_existing(target, size):
            data = self._upload_dir(upload_id) / _DATA
            with data.open("rb") as fh:
                os.fsync(fh.fileno())
            _make_dirs(target.parent)
            data.replace(target)  # atomic; also replaces a (never expected) truncated copy
            _fsync_dir(target.parent)
        # Only a concurrent delete makes the blob vanish this fast; the commit itself succeeded.
        return self.stat(digest) or BlobInfo(size, self._clock())

    def _remove_upload(self, upload_id: str) -> bool:
        directory = self._upload_dir(upload_id)
        if not directory.exists():
            return False
        shutil.rmtree(directory, ignore_errors=True)
        return True

    def _list_uploads(self) -> Iterator[str]:
        for entry in _scan(self._uploads):
            if entry.is_dir() and is_upload_id(entry.name):
                yield entry.name


def _refresh_existing(target: Path, size: int) -> bool:
    """Whether a complete copy of the blob exists; if so its mtime is refreshed, so that a garbage
    collector's grace period counts from this latest push of it."""
    try:
        if target.stat().st_size != size:
            return False
        os.utime(target)
    except FileNotFoundError:
        return False
    return True


class _AppendOnlyFile:
    """Unbuffered appends: each chunk goes straight from the caller's buffer to the kernel. Measured at
    2-3x the throughput of a buffered writer, whose copy into its buffer costs more than the syscall."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def write(self, data: BytesLike, /) -> None:
        if self._fd is None:
            raise ValueError("write to a closed upload file")
        view = memoryview(data).cast("B")
        while view:  # a regular file may take less than asked (e.g. when the disk fills)
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


_DOOMED_SUFFIX = ".deleting"


def _doomed_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{_DOOMED_SUFFIX}")


def _undo_interrupted_delete(path: Path) -> None:
    """A blob a crash left moved aside mid-delete goes back; the next collection decides again."""
    if not (path.name.startswith(".") and path.name.endswith(_DOOMED_SUFFIX)):
        return
    target = path.with_name(path.name[1 : -len(_DOOMED_SUFFIX)])
    try:
        if target.exists():
            path.unlink()
        else:
            path.rename(target)
    except FileNotFoundError:
        pass  # a delete in progress finished it


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _blob_digest(algorithm: str, prefix: str, name: str) -> Digest | None:
    if not name.startswith(prefix) or len(prefix) != 2:
        return None
    try:
        return Digest(algorithm, name)
    except DigestInvalid:
        return None
