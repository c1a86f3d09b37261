from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.registry.digest import digest_of
from dockyard.registry.errors import ManifestInvalid, ManifestTooLarge
from dockyard.registry.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MAX_MANIFEST_BYTES,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    blob_references,
    check_manifest_size,
    parse_manifest,
)

CONFIG_DIGEST = str(digest_of(b"config"))
LAYER_DIGEST = str(digest_of(b"layer"))
CHILD_DIGEST = str(digest_of(b"child"))
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def image_manifest(media_type: str | None = OCI_MANIFEST, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": OCI_CONFIG, "digest": CONFIG_DIGEST, "size": 6},
        "layers": [{"mediaType": OCI_LAYER, "digest": LAYER_DIGEST, "size": 5}],
    }
    if media_type is not None:
        document["mediaType"] = media_type
    document.update(extra)
    return document


def index(media_type: str | None = OCI_INDEX, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": CHILD_DIGEST,
                "size": 500,
                "platform": {"architecture": "arm64", "os": "linux"},
            }
        ],
    }
    if media_type is not None:
        document["mediaType"] = media_type
    document.update(extra)
    return document


def raw(document: object) -> bytes:
    return json.dumps(document).encode()


# --- the four media types ------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_image_manifests(media_type: str) -> None:
    parsed = parse_manifest(raw(image_manifest(media_type)), media_type)
    assert parsed.media_type == media_type
    assert not parsed.is_index
    assert parsed.config is not None
    assert str(parsed.config.digest) == CONFIG_DIGEST
    assert [str(layer.digest) for layer in parsed.layers] == [LAYER_DIGEST]
    assert [str(d.digest) for d in blob_references(parsed)] == [CONFIG_DIGEST, LAYER_DIGEST]
    assert parsed.manifests == []


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_MANIFEST_LIST])
def test_indexes(media_type: str) -> None:
    parsed = parse_manifest(raw(index(media_type)), media_type)
    assert parsed.is_index
    assert parsed.config is None
    assert blob_references(parsed) == []
    (child,) = parsed.manifests
    assert (str(child.digest), child.size, child.platform) == (
        CHILD_DIGEST,
        500,
        {"architecture": "arm64", "os": "linux"},
    )


def test_content_type_parameters_and_case_are_ignored() -> None:
    parsed = parse_manifest(
        raw(image_manifest()), "Application/vnd.oci.image.manifest.v1+json; charset=utf-8"
    )
    assert parsed.media_type == OCI_MANIFEST


@pytest.mark.parametrize("content_type", [None, "", "application/json", "application/octet-stream"])
def test_a_generic_content_type_defers_to_the_document(content_type: str | None) -> None:
    assert parse_manifest(raw(image_manifest(DOCKER_MANIFEST)), content_type).media_type == DOCKER_MANIFEST
    assert parse_manifest(raw(image_manifest(None)), content_type).media_type == OCI_MANIFEST
    assert parse_manifest(raw(index(None)), content_type).media_type == OCI_INDEX


def test_a_manifest_without_mediatype_is_accepted_under_its_content_type() -> None:
    assert parse_manifest(raw(image_manifest(None)), OCI_MANIFEST).media_type == OCI_MANIFEST


# --- artifacts and referrers ---------------------------------------------------------------------------


def test_artifact_type_follows_the_referrers_rules() -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": CHILD_DIGEST, "size": 500}
    signature = image_manifest(
        artifactType="application/vnd.example.sig",
        subject=subject,
        annotations={"org.example": "yes"},
        config={"mediaType": OCI_EMPTY, "digest": CONFIG_DIGEST, "size": 2},
    )
    parsed = parse_manifest(raw(signature), OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example.sig"
    assert parsed.subject is not None
    assert str(parsed.subject.digest) == CHILD_DIGEST
    assert parsed.annotations == {"org.example": "yes"}

    sbom = image_manifest(
        config={"mediaType": "application/vnd.example.sbom", "digest": CONFIG_DIGEST, "size": 1}
    )
    assert parse_manifest(raw(sbom), OCI_MANIFEST).artifact_type == "application/vnd.example.sbom"
    assert parse_manifest(raw(image_manifest()), OCI_MANIFEST).artifact_type == OCI_CONFIG
    assert parse_manifest(raw(index()), OCI_INDEX).artifact_type is None
    indexed = index(artifactType="application/vnd.example.bundle", subject=subject)
    assert parse_manifest(raw(indexed), OCI_INDEX).artifact_type == "application/vnd.example.bundle"


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ],
)
def test_foreign_layers_are_valid_and_marked(media_type: str) -> None:
    document = image_manifest(
        layers=[{"mediaType": media_type, "digest": LAYER_DIGEST, "size": 5, "urls": ["https://x/y"]}]
    )
    parsed = parse_manifest(raw(document), OCI_MANIFEST)
    (layer,) = parsed.layers
    assert layer.is_foreign
    assert layer.urls == ("https://x/y",)
    assert [d.is_foreign for d in blob_references(parsed)] == [False, True]


def test_empty_layers_are_allowed_for_artifacts() -> None:
    assert parse_manifest(raw(image_manifest(layers=[])), OCI_MANIFEST).layers == []


# --- invalid manifests ---------------------------------------------------------------------------------


def _layer(**changes: Any) -> dict[str, Any]:
    layer = {"mediaType": OCI_LAYER, "digest": LAYER_DIGEST, "size": 5}
    layer.update(changes)
    return {k: v for k, v in layer.items() if v is not None}


INVALID: dict[str, tuple[bytes, str | None]] = {
    "not JSON": (b"{nope", OCI_MANIFEST),
    "not an object": (b"[1, 2]", OCI_MANIFEST),
    "not UTF-8": (b'{"schemaVersion": 2, "x": "\xff"}', OCI_MANIFEST),
    "schema 1": (raw(image_manifest(schemaVersion=1)), OCI_MANIFEST),
    "schema as string": (raw(image_manifest(schemaVersion="2")), OCI_MANIFEST),
    "schema as bool": (raw(image_manifest(schemaVersion=True)), OCI_MANIFEST),
    "no schema": (raw({k: v for k, v in image_manifest().items() if k != "schemaVersion"}), OCI_MANIFEST),
    "no config": (raw({k: v for k, v in image_manifest().items() if k != "config"}), OCI_MANIFEST),
    "no layers": (raw({k: v for k, v in image_manifest().items() if k != "layers"}), OCI_MANIFEST),
    "layers not a list": (raw(image_manifest(layers={"a": 1})), OCI_MANIFEST),
    "layer not an object": (raw(image_manifest(layers=["sha256:abc"])), OCI_MANIFEST),
    "bad digest": (raw(image_manifest(layers=[_layer(digest="sha256:1234")])), OCI_MANIFEST),
    "no digest": (raw(image_manifest(layers=[_layer(digest=None)])), OCI_MANIFEST),
    "negative size": (raw(image_manifest(layers=[_layer(size=-1)])), OCI_MANIFEST),
    "size as bool": (raw(image_manifest(layers=[_layer(size=True)])), OCI_MANIFEST),
    "size as float": (raw(image_manifest(layers=[_layer(size=5.0)])), OCI_MANIFEST),
    "no media type": (raw(image_manifest(layers=[_layer(mediaType=None)])), OCI_MANIFEST),
    "annotations": (raw(image_manifest(annotations={"a": 1})), OCI_MANIFEST),
    "layer annotations": (raw(image_manifest(layers=[_layer(annotations=["a"])])), OCI_MANIFEST),
    "urls": (raw(image_manifest(layers=[_layer(urls="https://x")])), OCI_MANIFEST),
    "artifactType": (raw(image_manifest(artifactType=7)), OCI_MANIFEST),
    "subject": (raw(image_manifest(subject="sha256:abc")), OCI_MANIFEST),
    "mismatched mediaType": (raw(image_manifest(DOCKER_MANIFEST)), OCI_MANIFEST),
    "index sent as manifest": (raw(index()), OCI_MANIFEST),
    "manifest sent as index": (raw(image_manifest(None)), OCI_INDEX),
    "manifest with manifests": (raw(image_manifest(manifests=[])), OCI_MANIFEST),
    "index with layers": (raw(index(layers=[])), OCI_INDEX),
    "unsupported type": (
        raw(image_manifest(None)),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    ),
    "unsupported declared type": (raw(image_manifest("application/vnd.example")), None),
    "unknown shape": (raw({"schemaVersion": 2}), None),
    "platform": (raw(index(manifests=[{**_layer(), "platform": "linux"}])), OCI_INDEX),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifests(case: str) -> None:
    data, content_type = INVALID[case]
    with pytest.raises(ManifestInvalid) as caught:
        parse_manifest(data, content_type)
    assert (caught.value.code, caught.value.status) == ("MANIFEST_INVALID", 400)
    assert isinstance(caught.value.detail, str)
    assert caught.value.detail


def test_manifests_over_4_mib_are_413() -> None:
    padding = "x" * MAX_MANIFEST_BYTES
    with pytest.raises(ManifestTooLarge) as caught:
        parse_manifest(raw(image_manifest(annotations={"pad": padding})), OCI_MANIFEST)
    assert (caught.value.code, caught.value.status) == ("MANIFEST_INVALID", 413)
    check_manifest_size(MAX_MANIFEST_BYTES)
    with pytest.raises(ManifestTooLarge):
        check_manifest_size(MAX_MANIFEST_BYTES + 1)


def test_a_manifest_just_under_the_limit_is_accepted() -> None:
    document = image_manifest(annotations={"pad": ""})
    overhead = len(raw(document))
    document["annotations"]["pad"] = "x" * (MAX_MANIFEST_BYTES - overhead)
    data = raw(document)
    assert len(data) == MAX_MANIFEST_BYTES
    assert parse_manifest(data, OCI_MANIFEST).annotations["pad"].startswith("x")
