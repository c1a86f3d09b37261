"""Reading and checking image manifests and indexes (the caller stores the bytes exactly as received).

Four media types are accepted: Docker schema 2 manifests and manifest lists, OCI image manifests and OCI
image indexes. The type is the request's Content-Type; when that is missing or generic
(``application/json``…), the document's ``mediaType`` field decides, and failing that its shape
(``manifests`` → index, ``config`` → manifest). Anything malformed raises MANIFEST_INVALID with a detail
naming the offending field; a body over :data:`MAX_MANIFEST_BYTES` raises MANIFEST_TOO_LARGE (413).

Checking that referenced blobs and manifests exist is the caller's job: :func:`blob_references` lists the
blobs, :attr:`ParsedManifest.manifests` the child manifests, and :attr:`Descriptor.is_foreign` marks
layers whose bytes live elsewhere and need not be present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from dockyard.registry.digest import Digest, parse_digest
from dockyard.registry.errors import DigestInvalid, ManifestInvalid, ManifestTooLarge

MAX_MANIFEST_BYTES = 4 * 1024 * 1024

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFEST_MEDIA_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES

OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_NONDISTRIBUTABLE_LAYER_PREFIX = "application/vnd.oci.image.layer.nondistributable."
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

# Content-Types that say nothing about which kind of manifest the body is.
_GENERIC_CONTENT_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})

Annotations = dict[str, str]


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to content by media type, digest and size (OCI image-spec ``descriptor``)."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: Annotations = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None
    """Only on entries of an index: ``{"architecture": …, "os": …}`` as sent."""

    @property
    def is_foreign(self) -> bool:
        """A non-distributable layer: valid in a manifest, but its blob need not be in the registry."""
        return self.media_type == DOCKER_FOREIGN_LAYER or self.media_type.startswith(
            OCI_NONDISTRIBUTABLE_LAYER_PREFIX
        )


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    """One of :data:`MANIFEST_MEDIA_TYPES`."""
    config: Descriptor | None
    """The config blob of an image manifest; None for an index."""
    layers: list[Descriptor]
    manifests: list[Descriptor]
    """The child manifests of an index; empty for an image manifest."""
    subject: Descriptor | None
    artifact_type: str | None
    """As the referrers API reports it: ``artifactType`` if set, else, for an image manifest, the
    config's media type; None for an index without ``artifactType``."""
    annotations: Annotations

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def check_manifest_size(size: int) -> None:
    """MANIFEST_TOO_LARGE if a body of ``size`` bytes is over the limit (check Content-Length early)."""
    if size > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge({"size": size, "limit": MAX_MANIFEST_BYTES})


def parse_manifest(data: bytes, content_type: str | None) -> ParsedManifest:
    """Parse and check a manifest body sent with ``content_type`` (None when the request had none)."""
    check_manifest_size(len(data))
    document = _load_object(data)
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2 or isinstance(document.get("schemaVersion"), bool):
        raise ManifestInvalid("schemaVersion must be 2")
    if media_type in INDEX_TYPES:
        return _parse_index(document, media_type)
    return _parse_image_manifest(document, media_type)


def blob_references(parsed: ParsedManifest) -> list[Descriptor]:
    """The blobs an image manifest references (config, then layers), foreign layers included; none for an
    index, whose children are manifests."""
    if parsed.config is None:
        return []
    return [parsed.config, *parsed.layers]


# --- document level ------------------------------------------------------------------------------------


def _load_object(data: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ManifestInvalid(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ManifestInvalid("a manifest must be a JSON object")
    return document


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    """The manifest's media type from the Content-Type, else the document; they must agree."""
    declared = _optional_string(document, "mediaType", "manifest")
    header = (content_type or "").split(";", 1)[0].strip().lower()
    if header not in _GENERIC_CONTENT_TYPES:
        if header not in MANIFEST_MEDIA_TYPES:
            raise ManifestInvalid(f"unsupported manifest media type {header!r}")
        if declared is not None and declared != header:
            raise ManifestInvalid(f"mediaType {declared!r} does not match Content-Type {header!r}")
        return header
    if declared is not None:
        if declared not in MANIFEST_MEDIA_TYPES:
            raise ManifestInvalid(f"unsupported manifest media type {declared!r}")
        return declared
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document:
        return OCI_MANIFEST
    raise ManifestInvalid("cannot tell the manifest's media type: no Content-Type and no mediaType")


def _parse_image_manifest(document: dict[str, Any], media_type: str) -> ParsedManifest:
    if "manifests" in document:  # an index in disguise would smuggle unchecked references
        raise ManifestInvalid("an image manifest cannot have 'manifests'")
    if "config" not in document:
        raise ManifestInvalid("config is required")
    config = _descriptor(document["config"], "config")
    layers = _descriptor_list(document, "layers")
    artifact_type = _optional_string(document, "artifactType", "manifest")
    return ParsedManifest(
        media_type=media_type,
        config=config,
        layers=layers,
        manifests=[],
        subject=_optional_descriptor(document, "subject"),
        artifact_type=artifact_type or config.media_type,
        annotations=_annotations(document, "manifest"),
    )


def _parse_index(document: dict[str, Any], media_type: str) -> ParsedManifest:
    for key in ("config", "layers"):
        if key in document:
            raise ManifestInvalid(f"an index cannot have {key!r}")
    return ParsedManifest(
        media_type=media_type,
        config=None,
        layers=[],
        manifests=_descriptor_list(document, "manifests"),
        subject=_optional_descriptor(document, "subject"),
        artifact_type=_optional_string(document, "artifactType", "index"),
        annotations=_annotations(document, "index"),
    )


# --- descriptors and fields -----------------------------------------------------------------------------


def _descriptor_list(document: dict[str, Any], key: str) -> list[Descriptor]:
    values = document.get(key)
    if not isinstance(values, list):
        raise ManifestInvalid(f"{key} is required and must be an array")
    return [_descriptor(value, f"{key}[{i}]") for i, value in enumerate(values)]


def _optional_descriptor(document: dict[str, Any], key: str) -> Descriptor | None:
    value = document.get(key)
    return None if value is None else _descriptor(value, key)


def _descriptor(value: object, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be an object")
    media_type = _optional_string(value, "mediaType", where)
    if not media_type:
        raise ManifestInvalid(f"{where}.mediaType is required")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise ManifestInvalid(f"{where}.platform must be an object")
    return Descriptor(
        media_type=media_type,
        digest=_digest(value, where),
        size=_size(value, where),
        artifact_type=_optional_string(value, "artifactType", where),
        annotations=_annotations(value, where),
        urls=_urls(value, where),
        platform=platform,
    )


def _digest(value: dict[str, Any], where: str) -> Digest:
    text = value.get("digest")
    if not isinstance(text, str):
        raise ManifestInvalid(f"{where}.digest is required and must be a string")
    try:
        return parse_digest(text)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"{where}.digest: {exc.detail}") from None


def _size(value: dict[str, Any], where: str) -> int:
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size is required and must be a non-negative integer")
    return size


def _optional_string(value: dict[str, Any], key: str, where: str) -> str | None:
    text = value.get(key)
    if text is not None and not isinstance(text, str):
        raise ManifestInvalid(f"{where}.{key} must be a string")
    return text


def _annotations(value: dict[str, Any], where: str) -> Annotations:
    annotations = value.get("annotations")
    if annotations is None:
        return {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise ManifestInvalid(f"{where}.annotations must map strings to strings")
    return annotations


def _urls(value: dict[str, Any], where: str) -> tuple[str, ...]:
    urls = value.get("urls")
    if urls is None:
        return ()
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ManifestInvalid(f"{where}.urls must be an array of strings")
    return tuple(urls)
