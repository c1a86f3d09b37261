"""ECR's image and layer API through boto3: upload layers in parts, put, describe, get, delete images."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def ecr(server: ServerProcess, account_keys: Keys) -> Any:
    return make_client(server, "ecr", account_keys)


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_layer(ecr: Any, repo: str, data: bytes, part_size: int) -> str:
    """Upload ``data`` through the layer API in parts of ``part_size`` bytes; returns its digest."""
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    for first in range(0, len(data), part_size):
        part = data[first : first + part_size]
        last = ecr.upload_layer_part(
            repositoryName=repo,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(part) - 1,
            layerPartBlob=part,
        )["lastByteReceived"]
        assert last == first + len(part) - 1
    digest = sha256(data)
    assert (
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[digest])[
            "layerDigest"
        ]
        == digest
    )
    return digest


def push_image(ecr: Any, repo: str, tag: str, *, seed: bytes = b"") -> tuple[str, str]:
    """Push a small image through the API; returns (manifest text, manifest digest)."""
    layer = os.urandom(3000) + seed
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed.hex()}).encode()
    layer_digest = upload_layer(ecr, repo, layer, 1024)
    config_digest = upload_layer(ecr, repo, config, 1 << 20)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": SCHEMA2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        },
        indent=3,
    )
    image = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)["image"]
    assert image["imageId"] == {"imageDigest": sha256(manifest.encode()), "imageTag": tag}
    return manifest, image["imageId"]["imageDigest"]


def test_layer_upload_put_describe_get_delete(ecr: Any) -> None:
    repo = unique_name("img")
    ecr.create_repository(repositoryName=repo)
    manifest, digest = push_image(ecr, repo, "v1")

    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest, ["v1"])]
    assert details[0]["imageManifestMediaType"] == SCHEMA2
    assert details[0]["imageSizeInBytes"] == 3000  # the sum of the layers, as ECR reports it

    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}])
    assert got["images"][0]["imageManifest"] == manifest  # byte-exact, whitespace included
    assert got["images"][0]["imageId"]["imageDigest"] == digest
    assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]

    # Retag without re-pushing anything.
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="latest")
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted(i["imageTag"] for i in ids) == ["latest", "v1"]
    with pytest.raises(ClientError) as excinfo:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="latest")
    assert code_of(excinfo) == "ImageAlreadyExistsException"

    deleted = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert deleted["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}] and deleted["failures"] == []
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 1
    deleted = ecr.batch_delete_image(
        repositoryName=repo, imageIds=[{"imageDigest": digest}, {"imageTag": "gone"}]
    )
    assert [f["failureCode"] for f in deleted["failures"]] == ["ImageNotFound"]
    assert ecr.describe_images(repositoryName=repo)["imageDetails"] == []


def test_layer_api_errors(ecr: Any) -> None:
    repo = unique_name("layers")
    ecr.create_repository(repositoryName=repo)
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    with pytest.raises(ClientError) as excinfo:
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha256(b"")])
    assert code_of(excinfo) == "EmptyUploadException"
    ecr.upload_layer_part(
        repositoryName=repo, uploadId=upload_id, partFirstByte=0, partLastByte=3, layerPartBlob=b"abcd"
    )
    with pytest.raises(ClientError) as excinfo:  # out of order: the next part must start at byte 4
        ecr.upload_layer_part(
            repositoryName=repo, uploadId=upload_id, partFirstByte=8, partLastByte=11, layerPartBlob=b"efgh"
        )
    assert code_of(excinfo) == "InvalidLayerPartException"
    with pytest.raises(ClientError) as excinfo:
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha256(b"wrong")])
    assert code_of(excinfo) == "InvalidLayerException"
    with pytest.raises(ClientError) as excinfo:
        ecr.upload_layer_part(
            repositoryName=repo,
            uploadId="00000000-0000-4000-8000-000000000000",
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"a",
        )
    assert code_of(excinfo) == "UploadNotFoundException"

    digest = upload_layer(ecr, repo, b"layer-bytes", 4)
    available = ecr.batch_check_layer_availability(
        repositoryName=repo, layerDigests=[digest, sha256(b"missing")]
    )
    assert [(layer["layerAvailability"], layer.get("layerSize")) for layer in available["layers"]] == [
        ("AVAILABLE", 11),
        ("UNAVAILABLE", None),
    ]
    with pytest.raises(ClientError) as excinfo:
        upload_layer(ecr, repo, b"layer-bytes", 4)
    assert code_of(excinfo) == "LayerAlreadyExistsException"

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": SCHEMA2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": sha256(b"x"),
            },
            "layers": [],
        }
    )
    with pytest.raises(ClientError) as excinfo:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="t")
    assert code_of(excinfo) == "LayersNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecr.put_image(repositoryName=repo, imageManifest="{not json", imageTag="t")
    assert code_of(excinfo) == "InvalidParameterException"


def test_immutable_tags_refuse_overwrite(ecr: Any) -> None:
    repo = unique_name("immutable")
    ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    push_image(ecr, repo, "v1", seed=b"one")
    with pytest.raises(ClientError) as excinfo:
        push_image(ecr, repo, "v1", seed=b"two")
    assert code_of(excinfo) == "ImageTagAlreadyExistsException"
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 1


def test_download_url_serves_the_layer(ecr: Any) -> None:
    import httpx

    repo = unique_name("dl")
    ecr.create_repository(repositoryName=repo)
    digest = upload_layer(ecr, repo, b"downloadable layer", 8)
    url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=digest)["downloadUrl"]
    response = httpx.get(url, follow_redirects=True)
    assert response.status_code == 200 and response.content == b"downloadable layer"
    with pytest.raises(ClientError) as excinfo:
        ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha256(b"absent"))
    assert code_of(excinfo) == "LayersNotFoundException"
