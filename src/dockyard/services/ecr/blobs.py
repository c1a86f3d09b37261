"""Blob reads, uploads, cross-repository mounts and garbage collection, for the registry service.

A blob is readable through a repository only once linked to it (pushed or mounted there): the store holds
the links, the driver the bytes. Garbage collection runs online: it only removes links no manifest
references and blobs nothing links to when they are older than a grace period, and a push refreshes both
clocks, so a layer pushed for a manifest that is not there yet is never collected under it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from dockyard.registry.digest import BytesLike, parse_digest
from dockyard.registry.driver import BlobDriver, ChunkReader, UploadWriter
from dockyard.registry.errors import BlobUnknown, BlobUploadUnknown, TooManyRequests
from dockyard.store import ecr as store
from dockyard.store.database import Database
from dockyard.store.ecr import RepositoryRecord

log = logging.getLogger(__name__)

GC_GRACE = timedelta(hours=1)
UPLOAD_EXPIRY = timedelta(hours=24)
"""An upload session ends this long after it started, whatever is done with it meanwhile."""
MAX_UPLOADS_PER_REPOSITORY = 256
UPLOAD_EVICTABLE_AFTER = timedelta(minutes=10)
"""At the cap, sessions older than this make room for new ones (oldest first)."""


@dataclass(frozen=True, slots=True)
class RegistryScope:
    """Whose registry a request addresses: an account's repositories in one region."""

    account_id: str
    region: str


@dataclass(frozen=True, slots=True)
class GcReport:
    expired_uploads: int
    pruned_links: int
    deleted_blobs: int


class BlobOperations:
    """Mixed into :class:`~dockyard.services.ecr.registry.RegistryService`."""

    db: Database
    driver: BlobDriver
    max_uploads_per_repository: int = MAX_UPLOADS_PER_REPOSITORY

    def repository(self, tx: Connection, scope: RegistryScope, name: str) -> RepositoryRecord:
        raise NotImplementedError

    # --- reads -------------------------------------------------------------------------------------------

    def blob_size(self, scope: RegistryScope, name: str, digest: str) -> int:
        """The size of a blob the repository can read; BLOB_UNKNOWN otherwise."""
        parsed = parse_digest(digest)
        with self.db.read() as tx:
            repo = self.repository(tx, scope, name)
            size = store.find_blob_link(tx, repo.id, str(parsed))
        if size is None or self.driver.stat(parsed) is None:
            raise BlobUnknown({"digest": digest})
        return size

    def open_blob(
        self, scope: RegistryScope, name: str, digest: str, *, start: int = 0, end: int | None = None
    ) -> ChunkReader:
        self.blob_size(scope, name, digest)
        return self.driver.open_read(parse_digest(digest), start, end)

    def delete_blob(self, scope: RegistryScope, name: str, digest: str) -> None:
        """Unlink the blob from the repository; its bytes go once nothing links them (see collect_garbage)."""
        parsed = parse_digest(digest)
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            if not store.unlink_blob(tx, repo.id, str(parsed)):
                raise BlobUnknown({"digest": digest})

    # --- uploads -----------------------------------------------------------------------------------------

    def start_upload(self, scope: RegistryScope, name: str, now: datetime) -> str:
        """A new upload session in the repository.

        A repository holds at most ``max_uploads_per_repository`` sessions. At the cap, the oldest ones
        started more than ``UPLOAD_EVICTABLE_AFTER`` ago are ended to make room (a client that opens
        sessions and walks away cannot block the repository for long); when none is that old, the new
        session is refused with TOOMANYREQUESTS.
        """
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            evicted = self._make_room_for_upload(tx, repo.id, name, now)
            upload_id = self.driver.start_upload()
            store.insert_upload(tx, upload_id, repo.id, now)
        for old in evicted:
            self.driver.cancel(old)
        return upload_id

    def _make_room_for_upload(self, tx: Connection, repo_id: int, name: str, now: datetime) -> list[str]:
        """Delete the rows of the sessions that must end for one more to fit; their ids."""
        sessions = store.repository_uploads(tx, repo_id)
        excess = len(sessions) - self.max_uploads_per_repository + 1
        if excess <= 0:
            return []
        evictable = [upload_id for upload_id, started in sessions if started < now - UPLOAD_EVICTABLE_AFTER]
        if len(evictable) < excess:
            raise TooManyRequests(
                {"repository": name, "uploads": len(sessions)},
                message=f"The repository '{name}' has {len(sessions)} uploads in progress, the most it "
                "may have; complete or cancel some, or retry later.",
            )
        for upload_id in evictable[:excess]:
            store.delete_upload(tx, upload_id)
        return evictable[:excess]

    def upload_size(self, scope: RegistryScope, name: str, upload_id: str) -> int:
        self._check_upload(scope, name, upload_id)
        return self.driver.upload_size(upload_id)

    def open_upload_writer(
        self, scope: RegistryScope, name: str, upload_id: str, expected_offset: int | None
    ) -> UploadWriter:
        """A writer appending to the upload (RANGE_INVALID if ``expected_offset`` is not its size)."""
        self._check_upload(scope, name, upload_id)
        return self.driver.open_upload_writer(upload_id, expected_offset)

    def complete_upload(
        self,
        scope: RegistryScope,
        name: str,
        upload_id: str,
        *,
        digest: str,
        final_chunks: Iterable[BytesLike] = (),
        now: datetime,
    ) -> int:
        """Verify and publish the upload as ``digest``, link it to the repository; returns its size."""
        parsed = parse_digest(digest)
        repo_id = self._check_upload(scope, name, upload_id)
        try:
            info = self.driver.commit(upload_id, parsed, final_chunks)
        finally:
            if self.driver_upload_gone(upload_id):
                with self.db.write() as tx:
                    store.delete_upload(tx, upload_id)
        with self.db.write() as tx:
            # The repository is looked up again: it may have been deleted while the bytes were verified,
            # and then the push fails as a push to a missing repository does (NAME_UNKNOWN).
            if self.repository(tx, scope, name).id != repo_id:
                raise BlobUploadUnknown({"upload": upload_id})
            store.link_blob(tx, repo_id, str(parsed), info.size, now)
        return info.size

    def cancel_upload(self, scope: RegistryScope, name: str, upload_id: str) -> None:
        self._check_upload(scope, name, upload_id)
        self.driver.cancel(upload_id)
        with self.db.write() as tx:
            store.delete_upload(tx, upload_id)

    def mount_blob(
        self, scope: RegistryScope, name: str, digest: str, source: str, now: datetime
    ) -> int | None:
        """Link a blob the scope can read in ``source`` into ``name``; its size, or None if it cannot."""
        parsed = str(parse_digest(digest))
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            source_repo = store.find_repository(tx, scope.account_id, scope.region, source)
            size = store.find_blob_link(tx, source_repo.id, parsed) if source_repo is not None else None
            if size is None or self.driver.stat(parse_digest(parsed)) is None:
                return None
            store.link_blob(tx, repo.id, parsed, size, now)
        return size

    def link_existing_blob(self, scope: RegistryScope, name: str, digest: str, now: datetime) -> int | None:
        """Link a blob already linked in this repository again (refreshing it); its size or None."""
        parsed = parse_digest(digest)
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            size = store.find_blob_link(tx, repo.id, str(parsed))
            if size is None or self.driver.stat(parsed) is None:
                return None
            store.link_blob(tx, repo.id, str(parsed), size, now)
        return size

    # --- garbage collection ------------------------------------------------------------------------------

    def collect_garbage(self, now: datetime, *, grace: timedelta = GC_GRACE) -> GcReport:
        """Expire abandoned uploads, prune unreferenced links and delete blobs nothing links to.

        Only what has been untouched for ``grace`` is removed: pushing a blob refreshes its link and the
        blob's mtime, so layers of a push in progress survive a collection that runs during it.
        """
        with self.db.write() as tx:
            stale = store.uploads_started_before(tx, now - UPLOAD_EXPIRY)
            for upload_id in stale:
                store.delete_upload(tx, upload_id)
        for upload_id in stale:
            self.driver.cancel(upload_id)
        self.driver.expire_uploads(now - UPLOAD_EXPIRY)
        with self.db.write() as tx:
            pruned = store.prune_unreferenced_links(tx, now - grace)
        deleted = 0
        for digest, info in list(self.driver.iter_blobs()):
            if info.mtime >= now - grace:
                continue
            with self.db.read() as tx:
                live = store.is_blob_linked(tx, str(digest))
            if not live and self.driver.delete(digest, older_than=now - grace):
                deleted += 1
        report = GcReport(len(stale), pruned, deleted)
        log.info("garbage collected", extra={"report": report})
        return report

    # --- helpers -----------------------------------------------------------------------------------------

    def _check_upload(self, scope: RegistryScope, name: str, upload_id: str) -> int:
        with self.db.read() as tx:
            repo = self.repository(tx, scope, name)
            found = store.find_upload(tx, upload_id)
        if found is None or found[0] != repo.id:
            raise BlobUploadUnknown({"upload": upload_id})
        return repo.id

    def driver_upload_gone(self, upload_id: str) -> bool:
        try:
            self.driver.upload_size(upload_id)
        except BlobUploadUnknown:
            return True
        return False
