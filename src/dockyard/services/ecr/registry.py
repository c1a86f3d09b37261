"""The registry's domain service: what the OCI ``/v2/`` API and the ECR API both do to images.

Both front ends call this one service, so an image pushed through one shows up in the other. It owns the
rules: repository scoping (account + region), tag immutability, manifest validation against the blobs the
repository can read, referrers. Blob bytes go through the :class:`~dockyard.registry.driver.BlobDriver`;
metadata through :mod:`dockyard.store.ecr`, one transaction per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from dockyard.registry import manifest as manifests
from dockyard.registry.digest import digest_of, parse_digest
from dockyard.registry.driver import BlobDriver
from dockyard.registry.errors import (
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    TagInvalid,
)
from dockyard.registry.names import valid_repository_name, valid_tag
from dockyard.services.ecr.blobs import MAX_UPLOADS_PER_REPOSITORY, BlobOperations, RegistryScope
from dockyard.services.ecr.manifest_cache import ManifestCache
from dockyard.services.ecr.repositories import tag_is_immutable
from dockyard.store import ecr as store
from dockyard.store.database import Database
from dockyard.store.ecr import ImageRecord, RepositoryRecord

# ECR promises to refresh lastRecordedPullTime at least once a day; recording at most once a minute keeps
# pulls from turning every manifest GET into a synced write.
PULL_RECORD_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ManifestContent:
    digest: str
    media_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class PushedManifest:
    digest: str
    subject_digest: str | None
    created: bool


class RegistryService(BlobOperations):
    def __init__(
        self,
        db: Database,
        driver: BlobDriver,
        *,
        max_uploads_per_repository: int = MAX_UPLOADS_PER_REPOSITORY,
    ) -> None:
        self.db = db
        self.driver = driver
        self.max_uploads_per_repository = max_uploads_per_repository
        self._manifests = ManifestCache()

    # --- repositories ------------------------------------------------------------------------------------

    def repository(self, tx: Connection, scope: RegistryScope, name: str) -> RepositoryRecord:
        """The repository ``name`` of the scope; NAME_INVALID or NAME_UNKNOWN (with ECR's message) if not."""
        if not valid_repository_name(name):
            raise NameInvalid({"name": name})
        record = store.find_repository(tx, scope.account_id, scope.region, name)
        if record is None:
            raise NameUnknown(
                {"name": name},
                message=f"The repository with name '{name}' does not exist in the registry "
                f"with id '{scope.account_id}'",
            )
        return record

    def catalog(self, scope: RegistryScope, *, limit: int | None, last: str | None) -> list[str]:
        with self.db.read() as tx:
            repos = store.list_repositories(tx, scope.account_id, scope.region, after_name=last, limit=limit)
        return [r.name for r in repos]

    def tags(self, scope: RegistryScope, name: str, *, limit: int | None, last: str | None) -> list[str]:
        with self.db.read() as tx:
            repo = self.repository(tx, scope, name)
            return store.list_tags(tx, repo.id, after=last, limit=limit)

    # --- manifests ---------------------------------------------------------------------------------------

    def get_manifest(
        self, scope: RegistryScope, name: str, reference: str, *, now: datetime | None
    ) -> ManifestContent:
        """The manifest a tag or digest names. ``now`` records a pull (GET); ``None`` for a HEAD."""
        cached = self.cached_manifest(scope, name, reference, now=now)
        if cached is not None:
            return cached
        lookup = (
            {"digest": str(parse_digest(reference))}
            if _is_digest(reference)
            else {"tag": _checked_tag(reference)}
        )
        generation = self.db.generation
        with self.db.read() as tx:
            repository_id, image = store.resolve_image(tx, scope.account_id, scope.region, name, **lookup)
            if repository_id is None:
                self.repository(tx, scope, name)  # raises NAME_INVALID or NAME_UNKNOWN
        if image is None:
            raise _manifest_unknown(name, reference)
        if now is not None and _pull_due(image, now):
            with self.db.write() as tx:
                store.touch_pull(tx, image.repository_id, image.digest, now)
        else:
            self._manifests.put((scope.account_id, scope.region, name, reference), image, generation)
        return ManifestContent(image.digest, image.media_type, image.manifest)

    def cached_manifest(
        self, scope: RegistryScope, name: str, reference: str, *, now: datetime | None
    ) -> ManifestContent | None:
        """The manifest from the cache, without blocking; None when it must be read from the store
        (not cached, stale, or a pull time is due to be recorded)."""
        image = self._manifests.get((scope.account_id, scope.region, name, reference), self.db.generation)
        if image is None or (now is not None and _pull_due(image, now)):
            return None
        return ManifestContent(image.digest, image.media_type, image.manifest)

    def put_manifest(
        self,
        scope: RegistryScope,
        name: str,
        reference: str,
        content_type: str | None,
        body: bytes,
        now: datetime,
    ) -> PushedManifest:
        """Store a manifest byte-exact under its digest and, if ``reference`` is a tag, tag it.

        Refuses manifests over the size limit, invalid ones, ones naming blobs (or, for an index, manifests)
        the repository cannot read, a digest reference that does not match the body, and moving an
        immutable tag. The subject of a referrer need not exist.
        """
        if len(body) > manifests.MAX_MANIFEST_BYTES:
            raise ManifestTooLarge({"size": len(body), "limit": manifests.MAX_MANIFEST_BYTES})
        tag, digest = self._reference_for_put(reference, body)
        parsed = manifests.parse_manifest(body, content_type)
        refs = _references(parsed)
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            self._check_references(tx, repo, parsed, refs)
            created = store.find_image(tx, repo.id, digest, with_manifest=False) is None
            if created:
                store.insert_image(tx, _image_record(repo, digest, parsed, body, now), refs)
            if tag is not None:
                self._move_tag(tx, repo, tag, digest, now)
        subject = str(parsed.subject.digest) if parsed.subject is not None else None
        return PushedManifest(digest, subject, created)

    def delete_manifest(self, scope: RegistryScope, name: str, reference: str) -> None:
        """Delete by digest (the image and all its tags) or by tag (the tag; the image with its last tag)."""
        with self.db.write() as tx:
            repo = self.repository(tx, scope, name)
            image = self._image(tx, repo, reference)
            if _is_digest(reference):
                store.delete_image(tx, repo.id, image.digest)
                return
            store.delete_tag(tx, repo.id, reference)
            if not store.tags_by_digest(tx, repo.id).get(image.digest):
                store.delete_image(tx, repo.id, image.digest)

    def referrers(
        self, scope: RegistryScope, name: str, subject: str, *, artifact_type: str | None
    ) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose subject is ``subject``, optionally of one artifact type."""
        parse_digest(subject)
        with self.db.read() as tx:
            repo = self.repository(tx, scope, name)
            images = store.referrers(tx, repo.id, subject)
        descriptors = []
        for image in images:
            if artifact_type is not None and image.artifact_type != artifact_type:
                continue
            descriptor: dict[str, Any] = {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": len(image.manifest),
            }
            if image.artifact_type:
                descriptor["artifactType"] = image.artifact_type
            annotations = manifests.parse_manifest(image.manifest, image.media_type).annotations
            if annotations:
                descriptor["annotations"] = annotations
            descriptors.append(descriptor)
        return descriptors

    # --- helpers -----------------------------------------------------------------------------------------

    def _image(self, tx: Connection, repo: RepositoryRecord, reference: str) -> ImageRecord:
        digest = reference if _is_digest(reference) else store.find_tag(tx, repo.id, _checked_tag(reference))
        if _is_digest(reference):
            parse_digest(reference)
        image = store.find_image(tx, repo.id, digest) if digest else None
        if image is None:
            raise _manifest_unknown(repo.name, reference)
        return image

    def _reference_for_put(self, reference: str, body: bytes) -> tuple[str | None, str]:
        if _is_digest(reference):
            named = parse_digest(reference)
            actual = str(digest_of(body, named.algorithm))
            if actual != reference:
                raise ManifestInvalid(
                    {"reference": reference, "digest": actual},
                    message="manifest digest does not match the digest in the reference",
                )
            return None, actual
        return _checked_tag(reference), str(digest_of(body))

    def _check_references(
        self,
        tx: Connection,
        repo: RepositoryRecord,
        parsed: manifests.ParsedManifest,
        refs: Sequence[tuple[str, str]],
    ) -> None:
        blob_refs = [d for d, kind in refs if kind == "blob"]
        linked = store.linked_sizes(tx, repo.id, blob_refs)
        missing = [d for d in blob_refs if d not in linked]
        if missing:
            raise ManifestBlobUnknown({"digest": missing[0]})
        child_refs = [d for d, kind in refs if kind == "manifest"]
        present = store.existing_images(tx, repo.id, child_refs)
        missing = [d for d in child_refs if d not in present]
        if missing:
            raise ManifestBlobUnknown({"digest": missing[0]}, message="manifest unknown to registry")

    def _move_tag(self, tx: Connection, repo: RepositoryRecord, tag: str, digest: str, now: datetime) -> None:
        current = store.find_tag(tx, repo.id, tag)
        if current == digest:
            return
        if current is not None and tag_is_immutable(repo, tag):
            raise TagInvalid(
                {"tag": tag},
                message=f"The image tag '{tag}' already exists in the '{repo.name}' repository and cannot be "
                "overwritten because the tag is immutable.",
            )
        try:
            store.set_tag(tx, repo.id, tag, digest, now)
        except IntegrityError as exc:  # pragma: no cover - serialized by the write transaction
            raise TagInvalid({"tag": tag}) from exc


def _pull_due(image: ImageRecord, now: datetime) -> bool:
    return image.last_pulled_at is None or now - image.last_pulled_at >= PULL_RECORD_INTERVAL


def _manifest_unknown(name: str, reference: str) -> ManifestUnknown:
    return ManifestUnknown(
        {"reference": reference},
        message=f"Requested image not found: repository '{name}', reference '{reference}'",
    )


def _is_digest(reference: str) -> bool:
    return ":" in reference


def _checked_tag(tag: str) -> str:
    if not valid_tag(tag):
        raise TagInvalid({"tag": tag}, message=f"invalid tag '{tag}'")
    return tag


def _references(parsed: manifests.ParsedManifest) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    if parsed.config is not None:
        refs.append((str(parsed.config.digest), "blob"))
    refs.extend((str(layer.digest), "blob") for layer in parsed.layers if not layer.is_foreign)
    refs.extend((str(child.digest), "manifest") for child in parsed.manifests)
    return refs


def _image_record(
    repo: RepositoryRecord, digest: str, parsed: manifests.ParsedManifest, body: bytes, now: datetime
) -> ImageRecord:
    layer_bytes = sum(layer.size for layer in parsed.layers)
    return ImageRecord(
        repository_id=repo.id,
        digest=digest,
        media_type=parsed.media_type,
        artifact_type=parsed.artifact_type,
        subject_digest=str(parsed.subject.digest) if parsed.subject is not None else None,
        size=layer_bytes if parsed.layers else len(body),
        pushed_at=now,
        last_pulled_at=None,
        manifest=body,
    )
