"""ECR's registry metadata: repositories, images (manifests stored byte-exact), tags, blob links, uploads.

Blob *content* lives in the registry's blob driver; these tables say which repository may read which blob
(``ecr_blob_links``), what each manifest references (``ecr_image_refs``) and which uploads are open. All
functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, and_, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.store.schema import (
    ecr_blob_links,
    ecr_image_refs,
    ecr_images,
    ecr_repositories,
    ecr_tags,
    ecr_uploads,
    server_secrets,
)


@dataclass(frozen=True, slots=True)
class RepositoryRecord:
    id: int
    account_id: str
    region: str
    name: str
    arn: str
    tag_mutability: str
    mutability_exclusions: list[dict[str, Any]]
    scan_on_push: bool
    encryption: dict[str, Any]
    policy_text: str | None
    lifecycle_policy_text: str | None
    lifecycle_updated_at: datetime | None
    created_at: datetime
    lifecycle_preview_text: str | None = None


@dataclass(frozen=True, slots=True)
class ImageRecord:
    repository_id: int
    digest: str
    media_type: str
    artifact_type: str | None
    subject_digest: str | None
    size: int
    pushed_at: datetime
    last_pulled_at: datetime | None
    manifest: bytes = b""


# --- repositories ------------------------------------------------------------------------------------


def find_repository(conn: Connection, account_id: str, region: str, name: str) -> RepositoryRecord | None:
    row = conn.execute(
        select(ecr_repositories).where(
            ecr_repositories.c.account_id == account_id,
            ecr_repositories.c.region == region,
            ecr_repositories.c.name == name,
        )
    ).first()
    return None if row is None else _repository(row._mapping)


def list_repositories(
    conn: Connection, account_id: str, region: str, *, after_name: str | None = None, limit: int | None = None
) -> list[RepositoryRecord]:
    """Repositories in name order, strictly after ``after_name``."""
    query = select(ecr_repositories).where(
        ecr_repositories.c.account_id == account_id, ecr_repositories.c.region == region
    )
    if after_name is not None:
        query = query.where(ecr_repositories.c.name > after_name)
    query = query.order_by(ecr_repositories.c.name)
    if limit is not None:
        query = query.limit(limit)
    return [_repository(row._mapping) for row in conn.execute(query)]


def insert_repository(conn: Connection, record: RepositoryRecord) -> RepositoryRecord:
    """Insert ``record`` (its ``id`` is ignored); returns it with the assigned id.

    Raises ``IntegrityError`` when the name is taken in the account and region.
    """
    values = _repository_row(record)
    result = conn.execute(insert(ecr_repositories).values(**values).returning(ecr_repositories.c.id))
    return _replace_id(record, int(result.scalar_one()))


def update_repository(conn: Connection, repository_id: int, **values: Any) -> None:
    for key in ("mutability_exclusions", "encryption"):
        if key in values:
            values[key] = _dump(values[key])
    if "scan_on_push" in values:
        values["scan_on_push"] = int(values["scan_on_push"])
    conn.execute(update(ecr_repositories).where(ecr_repositories.c.id == repository_id).values(**values))


def delete_repository(conn: Connection, repository_id: int) -> None:
    for table in (ecr_tags, ecr_image_refs, ecr_images, ecr_blob_links, ecr_uploads):
        conn.execute(delete(table).where(table.c.repository_id == repository_id))
    conn.execute(delete(ecr_repositories).where(ecr_repositories.c.id == repository_id))


def count_images(conn: Connection, repository_id: int) -> int:
    query = select(func.count()).select_from(ecr_images).where(ecr_images.c.repository_id == repository_id)
    return int(conn.execute(query).scalar_one())


# --- images and tags -----------------------------------------------------------------------------------


def find_image(
    conn: Connection, repository_id: int, digest: str, *, with_manifest: bool = True
) -> ImageRecord | None:
    columns = _image_columns(with_manifest)
    row = conn.execute(
        select(*columns).where(ecr_images.c.repository_id == repository_id, ecr_images.c.digest == digest)
    ).first()
    return None if row is None else _image(row._mapping)


def list_images(conn: Connection, repository_id: int) -> list[ImageRecord]:
    """Every image of the repository, without manifest bytes, oldest push first."""
    rows = conn.execute(
        select(*_image_columns(False))
        .where(ecr_images.c.repository_id == repository_id)
        .order_by(ecr_images.c.pushed_at, ecr_images.c.digest)
    )
    return [_image(row._mapping) for row in rows]


def insert_image(conn: Connection, image: ImageRecord, refs: Sequence[tuple[str, str]]) -> None:
    """Store a manifest and what it references (``(digest, kind)`` with kind ``blob`` or ``manifest``)."""
    conn.execute(
        insert(ecr_images).values(
            repository_id=image.repository_id,
            digest=image.digest,
            media_type=image.media_type,
            artifact_type=image.artifact_type,
            subject_digest=image.subject_digest,
            manifest=image.manifest,
            size=image.size,
            pushed_at=image.pushed_at,
            last_pulled_at=None,
        )
    )
    unique_refs = dict(refs)
    if unique_refs:
        conn.execute(
            insert(ecr_image_refs),
            [
                {
                    "repository_id": image.repository_id,
                    "image_digest": image.digest,
                    "ref_digest": d,
                    "kind": k,
                }
                for d, k in unique_refs.items()
            ],
        )


def delete_image(conn: Connection, repository_id: int, digest: str) -> None:
    conn.execute(
        delete(ecr_tags).where(ecr_tags.c.repository_id == repository_id, ecr_tags.c.digest == digest)
    )
    conn.execute(
        delete(ecr_image_refs).where(
            ecr_image_refs.c.repository_id == repository_id, ecr_image_refs.c.image_digest == digest
        )
    )
    conn.execute(
        delete(ecr_images).where(ecr_images.c.repository_id == repository_id, ecr_images.c.digest == digest)
    )


def touch_pull(conn: Connection, repository_id: int, digest: str, now: datetime) -> None:
    conn.execute(
        update(ecr_images)
        .where(ecr_images.c.repository_id == repository_id, ecr_images.c.digest == digest)
        .values(last_pulled_at=now)
    )


def find_tag(conn: Connection, repository_id: int, tag: str) -> str | None:
    row = conn.execute(
        select(ecr_tags.c.digest).where(ecr_tags.c.repository_id == repository_id, ecr_tags.c.tag == tag)
    ).first()
    return None if row is None else str(row[0])


def set_tag(conn: Connection, repository_id: int, tag: str, digest: str, now: datetime) -> None:
    updated = conn.execute(
        update(ecr_tags)
        .where(ecr_tags.c.repository_id == repository_id, ecr_tags.c.tag == tag)
        .values(digest=digest, tagged_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(
            insert(ecr_tags).values(repository_id=repository_id, tag=tag, digest=digest, tagged_at=now)
        )


def delete_tag(conn: Connection, repository_id: int, tag: str) -> None:
    conn.execute(delete(ecr_tags).where(ecr_tags.c.repository_id == repository_id, ecr_tags.c.tag == tag))


def list_tags(
    conn: Connection, repository_id: int, *, after: str | None = None, limit: int | None = None
) -> list[str]:
    """Tag names in lexical order, strictly after ``after``."""
    query = select(ecr_tags.c.tag).where(ecr_tags.c.repository_id == repository_id)
    if after is not None:
        query = query.where(ecr_tags.c.tag > after)
    query = query.order_by(ecr_tags.c.tag)
    if limit is not None:
        query = query.limit(limit)
    return [str(row[0]) for row in conn.execute(query)]


def tags_by_digest(conn: Connection, repository_id: int) -> dict[str, list[str]]:
    rows = conn.execute(
        select(ecr_tags.c.digest, ecr_tags.c.tag)
        .where(ecr_tags.c.repository_id == repository_id)
        .order_by(ecr_tags.c.tag)
    )
    result: dict[str, list[str]] = {}
    for digest, tag in rows:
        result.setdefault(str(digest), []).append(str(tag))
    return result


def referrers(conn: Connection, repository_id: int, subject_digest: str) -> list[ImageRecord]:
    rows = conn.execute(
        select(*_image_columns(True))
        .where(ecr_images.c.repository_id == repository_id, ecr_images.c.subject_digest == subject_digest)
        .order_by(ecr_images.c.pushed_at, ecr_images.c.digest)
    )
    return [_image(row._mapping) for row in rows]


def existing_images(conn: Connection, repository_id: int, digests: Iterable[str]) -> set[str]:
    wanted = list(set(digests))
    if not wanted:
        return set()
    rows = conn.execute(
        select(ecr_images.c.digest).where(
            ecr_images.c.repository_id == repository_id, ecr_images.c.digest.in_(wanted)
        )
    )
    return {str(row[0]) for row in rows}


# --- blob links ----------------------------------------------------------------------------------------


def find_blob_link(conn: Connection, repository_id: int, digest: str) -> int | None:
    """The size of the blob if the repository may read it, else ``None``."""
    row = conn.execute(
        select(ecr_blob_links.c.size).where(
            ecr_blob_links.c.repository_id == repository_id, ecr_blob_links.c.digest == digest
        )
    ).first()
    return None if row is None else int(row[0])


def link_blob(conn: Connection, repository_id: int, digest: str, size: int, now: datetime) -> None:
    """Let the repository read the blob; refreshes ``linked_at`` (the garbage collector's grace clock)."""
    refreshed = conn.execute(
        update(ecr_blob_links)
        .where(ecr_blob_links.c.repository_id == repository_id, ecr_blob_links.c.digest == digest)
        .values(linked_at=now)
    )
    if refreshed.rowcount == 0:
        conn.execute(
            insert(ecr_blob_links).values(
                repository_id=repository_id, digest=digest, size=size, linked_at=now
            )
        )


def linked_sizes(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    wanted = list(set(digests))
    if not wanted:
        return {}
    rows = conn.execute(
        select(ecr_blob_links.c.digest, ecr_blob_links.c.size).where(
            ecr_blob_links.c.repository_id == repository_id, ecr_blob_links.c.digest.in_(wanted)
        )
    )
    return {str(d): int(s) for d, s in rows}


def unlink_blob(conn: Connection, repository_id: int, digest: str) -> bool:
    result = conn.execute(
        delete(ecr_blob_links).where(
            ecr_blob_links.c.repository_id == repository_id, ecr_blob_links.c.digest == digest
        )
    )
    return bool(result.rowcount)


def prune_unreferenced_links(conn: Connection, linked_before: datetime) -> int:
    """Remove links older than ``linked_before`` that no manifest of their repository references."""
    referenced = exists().where(
        and_(
            ecr_image_refs.c.repository_id == ecr_blob_links.c.repository_id,
            ecr_image_refs.c.ref_digest == ecr_blob_links.c.digest,
        )
    )
    result = conn.execute(
        delete(ecr_blob_links).where(ecr_blob_links.c.linked_at < linked_before, ~referenced)
    )
    return int(result.rowcount)


# --- uploads -------------------------------------------------------------------------------------------


def insert_upload(conn: Connection, upload_id: str, repository_id: int, now: datetime) -> None:
    conn.execute(insert(ecr_uploads).values(upload_id=upload_id, repository_id=repository_id, started_at=now))


def find_upload(conn: Connection, upload_id: str) -> tuple[int, datetime] | None:
    row = conn.execute(
        select(ecr_uploads.c.repository_id, ecr_uploads.c.started_at).where(
            ecr_uploads.c.upload_id == upload_id
        )
    ).first()
    return None if row is None else (int(row[0]), row[1])


def delete_upload(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(ecr_uploads).where(ecr_uploads.c.upload_id == upload_id))


def repository_uploads(conn: Connection, repository_id: int) -> list[tuple[str, datetime]]:
    """The repository's open uploads as (id, started at), oldest first."""
    rows = conn.execute(
        select(ecr_uploads.c.upload_id, ecr_uploads.c.started_at)
        .where(ecr_uploads.c.repository_id == repository_id)
        .order_by(ecr_uploads.c.started_at, ecr_uploads.c.upload_id)
    )
    return [(str(row[0]), row[1]) for row in rows]


def uploads_started_before(conn: Connection, cutoff: datetime) -> list[str]:
    rows = conn.execute(select(ecr_uploads.c.upload_id).where(ecr_uploads.c.started_at < cutoff))
    return [str(row[0]) for row in rows]


# --- server secrets ----------------------------------------------------------------------------------------


def get_or_create_secret(conn: Connection, name: str, candidate: str, now: datetime) -> str:
    """The stored secret ``name``; ``candidate`` becomes it if there is none yet."""
    row = conn.execute(select(server_secrets.c.value).where(server_secrets.c.name == name)).first()
    if row is not None:
        return str(row[0])
    try:
        with conn.begin_nested():
            conn.execute(insert(server_secrets).values(name=name, value=candidate, created_at=now))
    except IntegrityError:
        row = conn.execute(select(server_secrets.c.value).where(server_secrets.c.name == name)).one()
        return str(row[0])
    return candidate


# --- row mapping -----------------------------------------------------------------------------------------


def _image_columns(with_manifest: bool) -> list[Any]:
    return [c for c in ecr_images.c if with_manifest or c.name != "manifest"]


def _image(row: RowMapping) -> ImageRecord:
    return ImageRecord(
        repository_id=row["repository_id"],
        digest=row["digest"],
        media_type=row["media_type"],
        artifact_type=row["artifact_type"],
        subject_digest=row["subject_digest"],
        size=row["size"],
        pushed_at=row["pushed_at"],
        last_pulled_at=row["last_pulled_at"],
        manifest=bytes(row["manifest"]) if "manifest" in row else b"",
    )


def _repository(row: RowMapping) -> RepositoryRecord:
    return RepositoryRecord(
        id=row["id"],
        account_id=row["account_id"],
        region=row["region"],
        name=row["name"],
        arn=row["arn"],
        tag_mutability=row["tag_mutability"],
        mutability_exclusions=orjson.loads(row["mutability_exclusions"]),
        scan_on_push=bool(row["scan_on_push"]),
        encryption=orjson.loads(row["encryption"]),
        policy_text=row["policy_text"],
        lifecycle_policy_text=row["lifecycle_policy_text"],
        lifecycle_updated_at=row["lifecycle_updated_at"],
        created_at=row["created_at"],
        lifecycle_preview_text=row["lifecycle_preview_text"],
    )


def _repository_row(record: RepositoryRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "region": record.region,
        "name": record.name,
        "arn": record.arn,
        "tag_mutability": record.tag_mutability,
        "mutability_exclusions": _dump(record.mutability_exclusions),
        "scan_on_push": int(record.scan_on_push),
        "encryption": _dump(record.encryption),
        "policy_text": record.policy_text,
        "lifecycle_policy_text": record.lifecycle_policy_text,
        "lifecycle_updated_at": record.lifecycle_updated_at,
        "lifecycle_preview_text": record.lifecycle_preview_text,
        "created_at": record.created_at,
    }


def _replace_id(record: RepositoryRecord, new_id: int) -> RepositoryRecord:
    return replace(record, id=new_id)


def _dump(value: object) -> str:
    return orjson.dumps(value).decode()


def is_blob_linked(conn: Connection, digest: str) -> bool:
    """Whether any repository links the blob (checked just before the collector deletes it)."""
    return (
        conn.execute(
            select(ecr_blob_links.c.digest).where(ecr_blob_links.c.digest == digest).limit(1)
        ).first()
        is not None
    )


def repositories_with_lifecycle_policy(conn: Connection) -> list[RepositoryRecord]:
    """Every repository, of every account, that has a lifecycle policy."""
    rows = conn.execute(select(ecr_repositories).where(ecr_repositories.c.lifecycle_policy_text.is_not(None)))
    return [_repository(row._mapping) for row in rows]


def resolve_image(
    conn: Connection,
    account_id: str,
    region: str,
    name: str,
    *,
    tag: str | None = None,
    digest: str | None = None,
) -> tuple[int | None, ImageRecord | None]:
    """In one query: the repository's id (None if it does not exist) and the image a tag or digest names.

    This is the manifest pull path, so it avoids one round trip per lookup.
    """
    repos = ecr_repositories
    query = select(repos.c.id, *_image_columns(True)).select_from(repos)
    if tag is not None:
        query = query.outerjoin(ecr_tags, and_(ecr_tags.c.repository_id == repos.c.id, ecr_tags.c.tag == tag))
        image_digest: Any = ecr_tags.c.digest
    else:
        image_digest = digest
    query = query.outerjoin(
        ecr_images, and_(ecr_images.c.repository_id == repos.c.id, ecr_images.c.digest == image_digest)
    ).where(repos.c.account_id == account_id, repos.c.region == region, repos.c.name == name)
    row = conn.execute(query).first()
    if row is None:
        return None, None
    mapping = row._mapping
    repository_id = int(mapping[repos.c.id])
    if mapping[ecr_images.c.digest] is None:
        return repository_id, None
    return repository_id, _image({c.name: mapping[c] for c in _image_columns(True)})  # type: ignore[arg-type]
