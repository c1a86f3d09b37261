"""ECR image operations: list, describe, get, delete and put images, over the registry service.

Registry errors (OCI codes) become the ECR exceptions the API model names; the rules themselves (tag
immutability, manifest validation) live in the registry service, shared with the ``/v2/`` API.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dockyard.core.context import RequestContext
from dockyard.registry.digest import digest_of, parse_digest
from dockyard.registry.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    RegistryError,
    TagInvalid,
    TooManyRequests,
)
from dockyard.registry.names import valid_tag
from dockyard.services.base import Params, Result
from dockyard.services.ecr import errors as ecr_errors
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.repositories import decode_token, encode_token
from dockyard.services.paging import page_size
from dockyard.store import ecr as store
from dockyard.store.ecr import ImageRecord, RepositoryRecord

LIST_PAGE_DEFAULT = 100
LIST_PAGE_MAX = 1000
NOT_FOUND_REASON = "Requested image not found"


class ImageOperations:
    """Mixed into the ECR provider; needs ``_registry``."""

    _registry: RegistryService

    def list_images(self, ctx: RequestContext, params: Params) -> Result:
        tag_status = params.get("filter", {}).get("tagStatus", "ANY")
        with self._read_repository(ctx, params) as (_repo, tx_images, tags):
            ids: list[dict[str, str]] = []
            for image in tx_images:
                image_tags = tags.get(image.digest, [])
                if image_tags and tag_status in {"TAGGED", "ANY"}:
                    ids.extend({"imageDigest": image.digest, "imageTag": tag} for tag in image_tags)
                elif not image_tags and tag_status in {"UNTAGGED", "ANY"}:
                    ids.append({"imageDigest": image.digest})
        return _page(ids, params, "imageIds", key=lambda i: f"{i['imageDigest']}/{i.get('imageTag', '')}")

    def describe_images(self, ctx: RequestContext, params: Params) -> Result:
        tag_status = params.get("filter", {}).get("tagStatus", "ANY")
        with self._read_repository(ctx, params) as (repo, images, tags):
            by_digest = {image.digest: image for image in images}
            if params.get("imageIds"):
                selected = [
                    self._resolve_id(repo, by_digest, tags, image_id) for image_id in params["imageIds"]
                ]
                selected = list({image.digest: image for image in selected}.values())
            else:
                selected = [i for i in images if _tag_status_matches(tag_status, bool(tags.get(i.digest)))]
        details = [_image_detail(repo, image, tags.get(image.digest, [])) for image in selected]
        return _page(
            details,
            params,
            "imageDetails",
            key=lambda d: f"{d['imagePushedAt'].isoformat()}/{d['imageDigest']}",
        )

    def batch_get_image(self, ctx: RequestContext, params: Params) -> Result:
        accepted = set(params.get("acceptedMediaTypes") or [])
        scope = registry_scope(ctx, params)
        name = params["repositoryName"]
        images: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for image_id in params["imageIds"]:
            try:
                with ecr_exceptions():
                    content = self._registry.get_manifest(scope, name, _reference(image_id), now=ctx.now)
            except ecr_errors.ImageNotFoundException:
                failures.append(_failure(image_id, "ImageNotFound", NOT_FOUND_REASON))
                continue
            except ecr_errors.InvalidParameterException as exc:
                failures.append(_failure(image_id, _invalid_code(image_id), exc.message))
                continue
            if accepted and content.media_type not in accepted:
                failures.append(
                    _failure(image_id, "UnsupportedImageType", "Image media type is not accepted")
                )
                continue
            images.append(
                {
                    "registryId": ctx.account_id,
                    "repositoryName": name,
                    "imageId": {**image_id, "imageDigest": content.digest},
                    "imageManifest": content.body.decode(),
                    "imageManifestMediaType": content.media_type,
                }
            )
        return {"images": images, "failures": failures}

    def batch_delete_image(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name = params["repositoryName"]
        with ecr_exceptions():
            self._registry.tags(scope, name, limit=0, last=None)  # the repository must exist
        deleted: list[dict[str, str]] = []
        failures: list[dict[str, Any]] = []
        for image_id in params["imageIds"]:
            if not image_id.get("imageDigest") and not image_id.get("imageTag"):
                failures.append(_failure(image_id, "MissingDigestAndTag", "Missing image digest and tag"))
                continue
            try:
                digest = self._matching_digest(scope, name, image_id)
                with ecr_exceptions():
                    self._registry.delete_manifest(scope, name, _reference(image_id))
            except ecr_errors.ImageNotFoundException:
                failures.append(_failure(image_id, "ImageNotFound", NOT_FOUND_REASON))
                continue
            except _TagDigestMismatchError:
                failures.append(
                    _failure(image_id, "ImageTagDoesNotMatchDigest", "Invalid image tag for digest")
                )
                continue
            except ecr_errors.InvalidParameterException as exc:
                failures.append(_failure(image_id, _invalid_code(image_id), exc.message))
                continue
            deleted.append(
                {k: v for k, v in {"imageDigest": digest, "imageTag": image_id.get("imageTag")}.items() if v}
            )
        return {"imageIds": deleted, "failures": failures}

    def put_image(self, ctx: RequestContext, params: Params) -> Result:
        scope = registry_scope(ctx, params)
        name = params["repositoryName"]
        body = params["imageManifest"].encode()
        tag = params.get("imageTag")
        digest = params.get("imageDigest")
        if tag is not None and not valid_tag(tag):
            raise ecr_errors.InvalidParameterException(
                f"Invalid parameter at 'imageTag' failed to satisfy constraint: '{tag}'"
            )
        reference = digest if digest is not None and tag is None else tag or ""
        if digest is not None:
            self._check_digest(body, digest)
        if not reference:
            raise ecr_errors.InvalidParameterException("An image tag or an image digest is required.")
        existing = self._existing_tagged(scope, name, tag, body)
        if existing:
            raise ecr_errors.ImageAlreadyExistsException(
                f"Image with digest '{existing}' and tag '{tag}' already exists in the repository with name "
                f"'{name}' in registry with id '{ctx.account_id}'"
            )
        with ecr_exceptions():
            pushed = self._registry.put_manifest(
                scope,
                name,
                reference,
                content_type=params.get("imageManifestMediaType"),
                body=body,
                now=ctx.now,
            )
        media_type = params.get("imageManifestMediaType") or _stored_media_type(
            self._registry, scope, name, pushed.digest
        )
        image_id = {"imageDigest": pushed.digest, **({"imageTag": tag} if tag else {})}
        return {
            "image": {
                "registryId": ctx.account_id,
                "repositoryName": name,
                "imageId": image_id,
                "imageManifest": params["imageManifest"],
                "imageManifestMediaType": media_type,
            }
        }

    # --- helpers -----------------------------------------------------------------------------------------

    @contextmanager
    def _read_repository(
        self, ctx: RequestContext, params: Params
    ) -> Iterator[tuple[RepositoryRecord, list[ImageRecord], dict[str, list[str]]]]:
        scope = registry_scope(ctx, params)
        with self._registry.db.read() as tx:
            with ecr_exceptions():
                repo = self._registry.repository(tx, scope, params["repositoryName"])
            yield repo, store.list_images(tx, repo.id), store.tags_by_digest(tx, repo.id)

    def _resolve_id(
        self,
        repo: RepositoryRecord,
        by_digest: Mapping[str, ImageRecord],
        tags: Mapping[str, list[str]],
        image_id: Mapping[str, str],
    ) -> ImageRecord:
        digest = image_id.get("imageDigest")
        tag = image_id.get("imageTag")
        if tag and not digest:
            digest = next((d for d, t in tags.items() if tag in t), None)
        image = by_digest.get(digest or "")
        if image is None or (tag and tag not in tags.get(image.digest, [])):
            raise ecr_errors.ImageNotFoundException(
                f"The image with imageId {dict(image_id)} does not exist within the repository with name "
                f"'{repo.name}' in the registry with id '{repo.account_id}'"
            )
        return image

    def _matching_digest(self, scope: RegistryScope, name: str, image_id: Mapping[str, str]) -> str:
        with ecr_exceptions():
            content = self._registry.get_manifest(scope, name, _reference(image_id), now=None)
        wanted = image_id.get("imageDigest")
        if image_id.get("imageTag") and wanted and wanted != content.digest:
            raise _TagDigestMismatchError
        return content.digest

    def _check_digest(self, body: bytes, digest: str) -> None:
        try:
            named = parse_digest(digest)
        except DigestInvalid as exc:
            raise ecr_errors.InvalidParameterException(
                f"Invalid parameter at 'imageDigest' failed to satisfy constraint: '{digest}'"
            ) from exc
        actual = str(digest_of(body, named.algorithm))
        if actual != digest:
            raise ecr_errors.ImageDigestDoesNotMatchException(
                f"Provided digest {digest} does not match the digest of the image manifest {actual}"
            )

    def _existing_tagged(self, scope: RegistryScope, name: str, tag: str | None, body: bytes) -> str | None:
        if tag is None:
            return None
        try:
            with ecr_exceptions():
                content = self._registry.get_manifest(scope, name, tag, now=None)
        except ecr_errors.ImageNotFoundException:
            return None
        return content.digest if content.digest == str(digest_of(body)) else None


class _TagDigestMismatchError(Exception):
    pass


def registry_scope(ctx: RequestContext, params: Params) -> RegistryScope:
    """The caller's registry; a ``registryId`` of another account names a repository that cannot exist."""
    registry_id = params.get("registryId")
    if registry_id is not None and registry_id != ctx.account_id:
        raise ecr_errors.RepositoryNotFoundException.named(params.get("repositoryName", ""), registry_id)
    return RegistryScope(ctx.account_id, ctx.region)


def _reference(image_id: Mapping[str, str]) -> str:
    return image_id.get("imageTag") or image_id.get("imageDigest") or ""


def _invalid_code(image_id: Mapping[str, str]) -> str:
    return "InvalidImageTag" if image_id.get("imageTag") else "InvalidImageDigest"


def _failure(image_id: Mapping[str, str], code: str, reason: str) -> dict[str, Any]:
    return {"imageId": dict(image_id), "failureCode": code, "failureReason": reason}


def _tag_status_matches(tag_status: str, tagged: bool) -> bool:
    return tag_status == "ANY" or (tag_status == "TAGGED") == tagged


def _image_detail(repo: RepositoryRecord, image: ImageRecord, tags: Sequence[str]) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": repo.account_id,
        "repositoryName": repo.name,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "imageStatus": "ACTIVE",
    }
    if tags:
        detail["imageTags"] = list(tags)
    if image.artifact_type:
        detail["artifactMediaType"] = image.artifact_type
    if image.last_pulled_at is not None:
        detail["lastRecordedPullTime"] = image.last_pulled_at
    if image.subject_digest:
        detail["subjectManifestDigest"] = image.subject_digest
    return detail


def _page(items: list[dict[str, Any]], params: Params, field: str, *, key: Any) -> Result:
    limit = page_size(params.get("maxResults"), default=LIST_PAGE_DEFAULT, maximum=LIST_PAGE_MAX)
    after = decode_token(params.get("nextToken"))
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    result: Result = {field: ordered[:limit]}
    if len(ordered) > limit:
        result["nextToken"] = encode_token(key(ordered[limit - 1]))
    return result


def _stored_media_type(registry: RegistryService, scope: RegistryScope, name: str, digest: str) -> str:
    return registry.get_manifest(scope, name, digest, now=None).media_type


@contextmanager
def ecr_exceptions() -> Iterator[None]:
    """Turn registry (OCI) errors raised inside the block into the ECR API's exceptions."""
    try:
        yield
    except RegistryError as error:
        raise _ecr_error(error) from error


def _ecr_error(error: RegistryError) -> Exception:
    if isinstance(error, NameUnknown):
        return ecr_errors.RepositoryNotFoundException(error.message)
    if isinstance(error, ManifestUnknown):
        return ecr_errors.ImageNotFoundException(NOT_FOUND_REASON)
    if isinstance(error, TagInvalid) and "immutable" in error.message:
        return ecr_errors.ImageTagAlreadyExistsException(error.message)
    if isinstance(error, ManifestBlobUnknown):
        return ecr_errors.LayersNotFoundException(
            f"The image manifest references layers that do not exist in the repository: {error.detail}"
        )
    if isinstance(error, TooManyRequests):
        return ecr_errors.LimitExceededException(error.message)
    if isinstance(error, (ManifestInvalid, ManifestTooLarge, NameInvalid, DigestInvalid, TagInvalid)):
        return ecr_errors.InvalidParameterException(f"Invalid parameter: {error.message}")
    return ecr_errors.InvalidParameterException(error.message)
