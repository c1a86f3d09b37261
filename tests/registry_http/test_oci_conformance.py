"""OCI Distribution v1.1 conformance, over HTTP against a real server: every endpoint and error code.

Sections follow the OCI conformance suite's workflows: pull, push, content discovery, content management,
then the error codes, ECR's rules (auth, no auto-created repositories, immutable tags, account isolation).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.registry_http.conftest import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Account,
    Registry,
    errors_of,
    image_manifest,
    sha256,
)

API_VERSION = "registry/2.0"


def blob_url(name: str, digest: str) -> str:
    return f"/v2/{name}/blobs/{digest}"


def manifest_url(name: str, reference: str) -> str:
    return f"/v2/{name}/manifests/{reference}"


def index_of(*manifests: tuple[str, int], media_type: str = OCI_INDEX) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": size,
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
                for digest, size in manifests
            ],
        }
    ).encode()


# --- base and authentication --------------------------------------------------------------------------


def test_base_endpoint_answers_authorised_clients(registry: Registry) -> None:
    for method in ("GET", "HEAD"):
        response = registry.request(method, "/v2/")
        assert response.status_code == 200
        assert response.headers["docker-distribution-api-version"] == API_VERSION
    assert registry.request("GET", "/v2/").json() == {}


def test_anonymous_requests_get_the_basic_challenge(anonymous: Registry, repo: str) -> None:
    endpoint = anonymous.http.base_url
    realm = f"http://{endpoint.host}:{endpoint.port}"
    for method, url in (
        ("GET", "/v2/"),
        ("GET", manifest_url(repo, "latest")),
        ("HEAD", manifest_url(repo, "latest")),
        ("POST", f"/v2/{repo}/blobs/uploads/"),
        ("GET", "/v2/_catalog"),
        ("GET", "/v2/no/such/endpoint"),
    ):
        response = anonymous.request(method, url)
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"] == f'Basic realm="{realm}",service="ecr.amazonaws.com"'
        if method != "HEAD":
            assert errors_of(response) == ["UNAUTHORIZED"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + "QVdTOnYxLmZvcmdlZC5tYWM=",  # AWS:v1.forged.mac
        "Basic " + "bm90LWF3czpwYXNzd29yZA==",  # not-aws:password
        "Basic !!!not-base64!!!",
        "Bearer some-token",
    ],
)
def test_invalid_credentials_are_unauthorized(anonymous: Registry, authorization: str) -> None:
    response = anonymous.request("GET", "/v2/", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert errors_of(response) == ["UNAUTHORIZED"]


def test_the_token_password_needs_the_aws_user(anonymous: Registry, registry: Registry) -> None:
    token = registry.http.headers["authorization"].removeprefix("Basic ")
    password = base64.b64decode(token).decode().partition(":")[2]
    as_other_user = base64.b64encode(f"admin:{password}".encode()).decode()
    response = anonymous.request("GET", "/v2/", headers={"Authorization": f"Basic {as_other_user}"})
    assert response.status_code == 401


def test_download_url_token_reads_that_blob_only(
    alice: Account, anonymous: Registry, registry: Registry, repo: str
) -> None:
    digest = registry.push_blob(repo, b"downloadable")
    url = alice.ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=digest)["downloadUrl"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert urlsplit(url).path == blob_url(repo, digest)
    response = anonymous.request("GET", blob_url(repo, digest), params={"token": token})
    assert response.status_code == 200
    assert response.content == b"downloadable"
    assert anonymous.request("HEAD", blob_url(repo, digest), params={"token": token}).status_code == 200
    for method, url in (
        ("GET", manifest_url(repo, "latest")),
        ("GET", f"/v2/{repo}/tags/list"),
        ("POST", f"/v2/{repo}/blobs/uploads/"),
        ("DELETE", blob_url(repo, digest)),
        ("GET", "/v2/_catalog"),
    ):
        assert anonymous.request(method, url, params={"token": token}).status_code == 401, (method, url)
    forged = anonymous.request("GET", blob_url(repo, digest), params={"token": token[:-2] + "xx"})
    assert forged.status_code == 401
    # Good for that one blob: not another blob of the repository, and never a registry password.
    other = registry.push_blob(repo, b"another layer")
    assert anonymous.request("GET", blob_url(repo, other), params={"token": token}).status_code == 401
    as_password = base64.b64encode(f"AWS:{token}".encode()).decode()
    response = anonymous.request("GET", "/v2/", headers={"Authorization": f"Basic {as_password}"})
    assert response.status_code == 401
    response = anonymous.request(
        "GET", manifest_url(repo, "latest"), headers={"Authorization": f"Basic {as_password}"}
    )
    assert response.status_code == 401


# --- pull ---------------------------------------------------------------------------------------------


def test_pull_manifest_by_tag_and_digest(registry: Registry, repo: str) -> None:
    digest, body = registry.push_image(repo, "v1")
    assert digest == sha256(body)
    for reference in ("v1", digest):
        head = registry.request("HEAD", manifest_url(repo, reference))
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(body))
        assert head.headers["docker-content-digest"] == digest
        assert head.headers["content-type"] == OCI_MANIFEST
        get = registry.request("GET", manifest_url(repo, reference), headers={"Accept": OCI_MANIFEST})
        assert get.status_code == 200
        assert get.content == body
        assert get.headers["docker-content-digest"] == digest
        assert get.headers["content-type"] == OCI_MANIFEST
        assert get.headers["docker-distribution-api-version"] == API_VERSION


def test_manifest_is_returned_as_stored_whatever_the_accept_header(registry: Registry, repo: str) -> None:
    _, body = registry.push_image(repo, "v1")
    response = registry.request("GET", manifest_url(repo, "v1"), headers={"Accept": DOCKER_MANIFEST})
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == OCI_MANIFEST


def test_pull_blob(registry: Registry, repo: str) -> None:
    data = os.urandom(3000)
    digest = registry.push_blob(repo, data)
    head = registry.request("HEAD", blob_url(repo, digest))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "3000"
    assert head.headers["docker-content-digest"] == digest
    assert head.headers["accept-ranges"] == "bytes"
    get = registry.request("GET", blob_url(repo, digest))
    assert get.status_code == 200
    assert get.content == data
    assert get.headers["docker-content-digest"] == digest
    assert get.headers["content-length"] == "3000"


def test_pull_large_blob_streams_whole(registry: Registry, repo: str) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)  # several read chunks, not a multiple of the chunk size
    digest = registry.push_blob(repo, data)
    hasher = hashlib.sha256()
    received = 0
    with registry.http.stream("GET", blob_url(repo, digest)) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(data))
        for chunk in response.iter_bytes():
            hasher.update(chunk)
            received += len(chunk)
    assert received == len(data)
    assert f"sha256:{hasher.hexdigest()}" == digest


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=10-19", 10, 20),
        ("bytes=1048570-1048600", 1_048_570, 1_048_601),
        ("bytes=2000000-", 2_000_000, 2_100_000),
        ("bytes=-100", 2_099_900, 2_100_000),
        ("bytes=2099999-2099999", 2_099_999, 2_100_000),
        ("bytes=2000000-9999999", 2_000_000, 2_100_000),  # the end is clamped to the blob
        ("bytes=0-", 0, 2_100_000),
    ],
)
def test_blob_range_reads(
    registry: Registry, range_blob: tuple[str, str, bytes], header: str, start: int, end: int
) -> None:
    name, digest, data = range_blob
    response = registry.request("GET", blob_url(name, digest), headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(data)}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["docker-content-digest"] == digest
    assert response.content == data[start:end]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=2100000-",
        "bytes=2100000-2100010",
        "bytes=5000000-6000000",
        "bytes=20-10",
        "bytes=-0",
        "bytes=abc-def",
        "bytes=-",
    ],
)
def test_unsatisfiable_blob_ranges_are_416(
    registry: Registry, range_blob: tuple[str, str, bytes], header: str
) -> None:
    name, digest, data = range_blob
    response = registry.request("GET", blob_url(name, digest), headers={"Range": header})
    assert response.status_code == 416
    assert errors_of(response) == ["RANGE_INVALID"]
    if header.startswith("bytes=2100000") or header.startswith("bytes=5"):
        assert response.headers["content-range"] == f"bytes */{len(data)}"
    # The connection is still usable afterwards.
    assert registry.request("HEAD", blob_url(name, digest)).status_code == 200


def test_ranges_in_other_units_or_several_ranges_get_the_whole_blob(
    registry: Registry, range_blob: tuple[str, str, bytes]
) -> None:
    name, digest, data = range_blob
    for header in ("items=0-5", "bytes=0-1,5-6"):
        response = registry.request("GET", blob_url(name, digest), headers={"Range": header})
        assert response.status_code == 200
        assert response.content == data


@pytest.fixture(scope="module")
def range_blob(alice: Account) -> tuple[str, str, bytes]:
    name = alice.new_repository("ranges")
    data = os.urandom(2_100_000)
    return name, alice.registry.push_blob(name, data), data


# --- push ---------------------------------------------------------------------------------------------


def test_monolithic_push_post_then_put(registry: Registry, repo: str) -> None:
    data = b"monolithic blob"
    digest = sha256(data)
    start = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["location"]
    assert location.startswith(f"/v2/{repo}/blobs/uploads/")
    assert start.headers["docker-upload-uuid"] == location.rsplit("/", 1)[1]
    assert start.headers["range"] == "0-0"
    put = registry.request(
        "PUT",
        location,
        params={"digest": digest},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 201
    assert put.headers["location"] == blob_url(repo, digest)
    assert put.headers["docker-content-digest"] == digest
    assert registry.request("GET", blob_url(repo, digest)).content == data
    # The upload is finished: its URL names nothing any more.
    assert registry.request("GET", location).status_code == 404


def test_single_post_push(registry: Registry, repo: str) -> None:
    data = b"pushed in one POST"
    digest = sha256(data)
    response = registry.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201
    assert response.headers["location"] == blob_url(repo, digest)
    assert response.headers["docker-content-digest"] == digest
    assert registry.request("GET", blob_url(repo, digest)).content == data


def test_chunked_push_in_order_with_status_and_out_of_order_chunks(registry: Registry, repo: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    first, second, third = data[:1_000_000], data[1_000_000:2_500_000], data[2_500_000:]
    location = registry.start_upload(repo)

    def patch(chunk: bytes, offset: int) -> httpx.Response:
        return registry.request(
            "PATCH",
            location,
            content=chunk,
            headers={
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Type": "application/octet-stream",
            },
        )

    response = patch(first, 0)
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(first) - 1}"
    assert response.headers["location"] == location
    assert response.headers["docker-upload-uuid"] == location.rsplit("/", 1)[1]
    status = registry.request("GET", location)
    assert status.status_code == 204
    assert status.headers["range"] == f"0-{len(first) - 1}"
    assert status.headers["docker-upload-uuid"] == location.rsplit("/", 1)[1]

    # The same chunk again, or one that skips ahead, is out of order.
    assert patch(first, 0).status_code == 416
    assert errors_of(patch(third, 2_500_000)) == ["RANGE_INVALID"]
    assert registry.request("GET", location).headers["range"] == f"0-{len(first) - 1}"

    response = patch(second, 1_000_000)
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{2_500_000 - 1}"
    assert patch(third, 2_500_000).status_code == 202

    digest = sha256(data)
    put = registry.request("PUT", location, params={"digest": digest})
    assert put.status_code == 201
    assert put.headers["docker-content-digest"] == digest
    assert registry.request("GET", blob_url(repo, digest)).content == data


def test_chunk_length_must_match_its_content_range(registry: Registry, repo: str) -> None:
    location = registry.start_upload(repo)
    response = registry.request("PATCH", location, content=b"12345", headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert errors_of(response) == ["SIZE_INVALID"]


def test_malformed_content_range_is_blob_upload_invalid(registry: Registry, repo: str) -> None:
    location = registry.start_upload(repo)
    response = registry.request("PATCH", location, content=b"12345", headers={"Content-Range": "zero-four"})
    assert response.status_code == 400
    assert errors_of(response) == ["BLOB_UPLOAD_INVALID"]
    inverted = registry.request("PATCH", location, content=b"12345", headers={"Content-Range": "4-0"})
    assert inverted.status_code == 416


def test_streamed_patch_without_content_range(registry: Registry, repo: str) -> None:
    pieces = [os.urandom(300_000) for _ in range(7)]
    data = b"".join(pieces)
    location = registry.start_upload(repo)

    def body() -> Iterator[bytes]:
        yield from pieces  # no length known: chunked transfer encoding, as Docker streams layers

    response = registry.request(
        "PATCH", location, content=body(), headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) - 1}"
    location = response.headers["location"]
    digest = sha256(data)
    put = registry.request("PUT", location, params={"digest": digest})
    assert put.status_code == 201
    assert registry.request("GET", blob_url(repo, digest)).content == data


def test_final_chunk_in_the_put(registry: Registry, repo: str) -> None:
    data = b"first half|second half"
    location = registry.start_upload(repo)
    assert (
        registry.request("PATCH", location, content=data[:11], headers={"Content-Range": "0-10"}).status_code
        == 202
    )
    put = registry.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        content=data[11:],
        headers={"Content-Range": f"11-{len(data) - 1}"},
    )
    assert put.status_code == 201
    assert registry.request("GET", blob_url(repo, sha256(data))).content == data


def test_upload_status_of_an_empty_upload(registry: Registry, repo: str) -> None:
    location = registry.start_upload(repo)
    status = registry.request("GET", location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"
    assert status.headers["location"] == location


def test_cancel_upload(registry: Registry, repo: str) -> None:
    location = registry.start_upload(repo)
    registry.request("PATCH", location, content=b"partial", headers={"Content-Range": "0-6"})
    assert registry.request("DELETE", location).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        response = registry.request(method, location, content=b"x" if method == "PATCH" else None)
        assert response.status_code == 404, method
        assert errors_of(response) == ["BLOB_UPLOAD_UNKNOWN"]
    put = registry.request("PUT", location, params={"digest": sha256(b"partial")})
    assert errors_of(put) == ["BLOB_UPLOAD_UNKNOWN"]


def test_cross_repository_mount(alice: Account, registry: Registry) -> None:
    source, target = alice.new_repository("src"), alice.new_repository("dst")
    digest = registry.push_blob(source, b"shared layer")
    response = registry.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest, "from": source}
    )
    assert response.status_code == 201
    assert response.headers["location"] == blob_url(target, digest)
    assert response.headers["docker-content-digest"] == digest
    assert registry.request("GET", blob_url(target, digest)).content == b"shared layer"


def test_mount_falls_back_to_an_upload(alice: Account, bob: Account, registry: Registry) -> None:
    source, target = alice.new_repository("src"), alice.new_repository("dst")
    missing = sha256(b"never pushed")
    bobs = bob.new_repository("bobs")
    bobs_digest = bob.registry.push_blob(bobs, b"bob's layer")
    for params in (
        {"mount": missing, "from": source},  # the source does not have it
        {"mount": missing, "from": "no-such-repository"},
        {"mount": bobs_digest, "from": bobs},  # another account's repository: invisible
        {"mount": missing},  # no source
    ):
        response = registry.request("POST", f"/v2/{target}/blobs/uploads/", params=params)
        assert response.status_code == 202, params
        location = response.headers["location"]
        assert location.startswith(f"/v2/{target}/blobs/uploads/")
        assert registry.request("GET", location).status_code == 204
    assert registry.request("HEAD", blob_url(target, bobs_digest)).status_code == 404


def test_mount_without_from_of_a_blob_already_in_the_repository(registry: Registry, repo: str) -> None:
    digest = registry.push_blob(repo, b"already here")
    response = registry.request("POST", f"/v2/{repo}/blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201


def test_pushing_an_existing_blob_again_is_fine(registry: Registry, repo: str) -> None:
    assert registry.push_blob(repo, b"twice") == registry.push_blob(repo, b"twice")


def test_sha512_digests(registry: Registry, repo: str) -> None:
    data = b"hashed with sha512"
    digest = f"sha512:{hashlib.sha512(data).hexdigest()}"
    location = registry.start_upload(repo)
    put = registry.request("PUT", location, params={"digest": digest}, content=data)
    assert put.status_code == 201
    assert put.headers["docker-content-digest"] == digest
    response = registry.request("GET", blob_url(repo, digest))
    assert response.status_code == 200
    assert response.content == data


# --- manifests ----------------------------------------------------------------------------------------


def test_push_manifest_by_tag_and_by_digest(registry: Registry, repo: str) -> None:
    config, layer = b"{}", b"layer bytes"
    body = image_manifest(registry.push_blob(repo, config), 2, registry.push_blob(repo, layer), len(layer))
    digest = sha256(body)
    by_digest = registry.push_manifest(repo, digest, body)
    assert by_digest.status_code == 201
    assert by_digest.headers["location"] == manifest_url(repo, digest)
    assert by_digest.headers["docker-content-digest"] == digest
    assert "oci-subject" not in by_digest.headers
    by_tag = registry.push_manifest(repo, "stable", body)
    assert by_tag.status_code == 201
    assert by_tag.headers["docker-content-digest"] == digest
    assert registry.request("GET", manifest_url(repo, "stable")).content == body


def test_manifests_are_stored_byte_exact(registry: Registry, repo: str) -> None:
    config, layer = b"{}", b"exact"
    config_digest, layer_digest = registry.push_blob(repo, config), registry.push_blob(repo, layer)
    body = (
        f'{{\n\t"schemaVersion" :2,   "mediaType":"{OCI_MANIFEST}",\r\n  "layers": [ {{"size": {len(layer)}, '
        f'"digest": "{layer_digest}", "mediaType": "application/vnd.oci.image.layer.v1.tar"}} ],\n'
        f'"config":{{"mediaType":"{OCI_CONFIG}","size":2,"digest":"{config_digest}"}}   }}\n\n'
    ).encode()
    response = registry.push_manifest(repo, "odd", body)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == sha256(body)
    assert registry.request("GET", manifest_url(repo, "odd")).content == body
    assert registry.request("GET", manifest_url(repo, sha256(body))).content == body


def test_docker_manifest_and_indexes(registry: Registry, repo: str) -> None:
    config, layer = b'{"os":"linux"}', b"docker layer"
    docker = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": registry.push_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": registry.push_blob(repo, layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    assert registry.push_manifest(repo, "docker", docker, DOCKER_MANIFEST).status_code == 201
    response = registry.request("GET", manifest_url(repo, "docker"))
    assert response.headers["content-type"] == DOCKER_MANIFEST
    oci_digest, oci_body = registry.push_image(repo, "oci")
    index = index_of((oci_digest, len(oci_body)))
    assert registry.push_manifest(repo, "multi", index, OCI_INDEX).status_code == 201
    fetched = registry.request("GET", manifest_url(repo, "multi"))
    assert fetched.headers["content-type"] == OCI_INDEX
    assert fetched.content == index
    docker_list = index_of(
        (sha256(docker), len(docker)), media_type="application/vnd.docker.distribution.manifest.list.v2+json"
    )
    response = registry.push_manifest(
        repo, "list", docker_list, "application/vnd.docker.distribution.manifest.list.v2+json"
    )
    assert response.status_code == 201


def test_index_naming_an_unknown_manifest_is_refused(registry: Registry, repo: str) -> None:
    index = index_of((sha256(b"not a manifest here"), 100))
    response = registry.push_manifest(repo, "multi", index, OCI_INDEX)
    assert response.status_code == 400
    assert errors_of(response) == ["MANIFEST_BLOB_UNKNOWN"]


def test_non_distributable_layers_need_no_blob(registry: Registry, repo: str) -> None:
    config_digest = registry.push_blob(repo, b"{}")
    for layer_type in (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ):
        body = image_manifest(config_digest, 2, sha256(layer_type.encode()), 12345, layer_type=layer_type)
        response = registry.push_manifest(repo, "foreign", body)
        assert response.status_code == 201, (layer_type, response.text)


def test_manifest_up_to_4_mib_is_accepted_and_larger_is_413(registry: Registry, repo: str) -> None:
    config_digest, layer_digest = registry.push_blob(repo, b"{}"), registry.push_blob(repo, b"big")

    def padded(total: int) -> bytes:
        base = image_manifest(config_digest, 2, layer_digest, 3, annotations={"pad": ""})
        return base.replace(b'"pad": ""', b'"pad": "' + b"x" * (total - len(base)) + b'"')

    limit = 4 * 1024 * 1024
    at_limit = padded(limit)
    assert len(at_limit) == limit
    response = registry.push_manifest(repo, "big", at_limit)
    assert response.status_code == 201, response.text
    assert registry.request("GET", manifest_url(repo, "big")).content == at_limit

    too_big = padded(limit + 1)
    response = registry.push_manifest(repo, "too-big", too_big)
    assert response.status_code == 413
    assert errors_of(response) == ["MANIFEST_INVALID"]

    # Without a Content-Length (chunked), the body is cut off as soon as it passes the limit.
    response = registry.request(
        "PUT",
        manifest_url(repo, "too-big"),
        content=iter([too_big[:limit], too_big[limit:]]),
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 413
    assert registry.request("GET", manifest_url(repo, "too-big")).status_code == 404


# --- content discovery --------------------------------------------------------------------------------


def test_tags_list_with_pagination(registry: Registry, repo: str) -> None:
    _, body = registry.push_image(repo, "a")
    tags = ["a", "b", "c", "d", "e"]
    for tag in tags[1:]:
        assert registry.push_manifest(repo, tag, body).status_code == 201
    response = registry.request("GET", f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": repo, "tags": tags}
    assert "link" not in response.headers

    seen: list[str] = []
    url = f"/v2/{repo}/tags/list?n=2"
    pages = 0
    while url:
        page = registry.request("GET", url)
        assert page.status_code == 200
        assert len(page.json()["tags"]) <= 2
        seen += page.json()["tags"]
        pages += 1
        link = page.headers.get("link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        url = link[1 : link.index(">")]
        assert url.startswith(f"/v2/{repo}/tags/list?")
        assert parse_qs(urlsplit(url).query) == {"n": ["2"], "last": [seen[-1]]}
    assert seen == tags
    assert pages == 3

    after = registry.request("GET", f"/v2/{repo}/tags/list", params={"n": 10, "last": "b"})
    assert after.json()["tags"] == ["c", "d", "e"]
    assert "link" not in after.headers
    exact = registry.request("GET", f"/v2/{repo}/tags/list", params={"n": 5})
    assert exact.json()["tags"] == tags
    assert "link" not in exact.headers


def test_tags_list_n_zero_is_empty_without_link(registry: Registry, repo: str) -> None:
    registry.push_image(repo, "only")
    response = registry.request("GET", f"/v2/{repo}/tags/list", params={"n": 0})
    assert response.status_code == 200
    assert response.json() == {"name": repo, "tags": []}
    assert "link" not in response.headers


def test_tags_list_of_an_empty_repository(registry: Registry, repo: str) -> None:
    assert registry.request("GET", f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": []}


def test_referrers(registry: Registry, repo: str) -> None:
    subject_digest, subject_body = registry.push_image(repo, "app")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_body)}
    empty = registry.push_blob(repo, b"{}")
    pushed = {}
    for artifact_type, payload in (
        ("application/vnd.example.sbom", b"sbom"),
        ("application/vnd.example.signature", b"sig"),
    ):
        body = image_manifest(
            empty,
            2,
            registry.push_blob(repo, payload),
            len(payload),
            config_type="application/vnd.oci.empty.v1+json",
            subject=subject,
            artifact_type=artifact_type,
            annotations={"org.example.kind": artifact_type},
        )
        response = registry.push_manifest(repo, sha256(body), body)
        assert response.status_code == 201
        assert response.headers["oci-subject"] == subject_digest
        pushed[artifact_type] = body

    response = registry.request("GET", f"/v2/{repo}/referrers/{subject_digest}")
    assert response.status_code == 200
    assert response.headers["content-type"] == OCI_INDEX
    assert "oci-filters-applied" not in response.headers
    index = response.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    found = {d["artifactType"]: d for d in index["manifests"]}
    assert set(found) == set(pushed)
    for artifact_type, body in pushed.items():
        assert found[artifact_type]["digest"] == sha256(body)
        assert found[artifact_type]["size"] == len(body)
        assert found[artifact_type]["mediaType"] == OCI_MANIFEST
        assert found[artifact_type]["annotations"] == {"org.example.kind": artifact_type}

    filtered = registry.request(
        "GET",
        f"/v2/{repo}/referrers/{subject_digest}",
        params={"artifactType": "application/vnd.example.sbom"},
    )
    assert filtered.status_code == 200
    assert filtered.headers["oci-filters-applied"] == "artifactType"
    assert [d["artifactType"] for d in filtered.json()["manifests"]] == ["application/vnd.example.sbom"]


def test_referrers_of_an_unknown_digest_is_an_empty_index(registry: Registry, repo: str) -> None:
    response = registry.request("GET", f"/v2/{repo}/referrers/{sha256(b'nothing refers to me')}")
    assert response.status_code == 200
    assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    malformed = registry.request("GET", f"/v2/{repo}/referrers/sha256:nothex")
    assert malformed.status_code == 400
    assert errors_of(malformed) == ["DIGEST_INVALID"]


def test_subject_may_be_missing(registry: Registry, repo: str) -> None:
    missing_subject = sha256(b"a manifest that was never pushed")
    body = image_manifest(
        registry.push_blob(repo, b"{}"),
        2,
        registry.push_blob(repo, b"sig"),
        3,
        config_type="application/vnd.oci.empty.v1+json",
        subject={"mediaType": OCI_MANIFEST, "digest": missing_subject, "size": 123},
        artifact_type="application/vnd.example.signature",
    )
    response = registry.push_manifest(repo, "sig", body)
    assert response.status_code == 201
    assert response.headers["oci-subject"] == missing_subject
    referrers = registry.request("GET", f"/v2/{repo}/referrers/{missing_subject}").json()["manifests"]
    assert [d["digest"] for d in referrers] == [sha256(body)]


def test_catalog(alice: Account, bob: Account) -> None:
    names = sorted(alice.new_repository(f"cat{i}") for i in range(3))
    bobs = bob.new_repository("cat-bob")
    response = alice.registry.request("GET", "/v2/_catalog")
    assert response.status_code == 200
    repositories = response.json()["repositories"]
    assert set(names) <= set(repositories)
    assert bobs not in repositories
    assert repositories == sorted(repositories)

    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=2"
    while url:
        page = alice.registry.request("GET", url)
        seen += page.json()["repositories"]
        link = page.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert seen == repositories
    empty = alice.registry.request("GET", "/v2/_catalog", params={"n": 0})
    assert empty.json() == {"repositories": []} and "link" not in empty.headers


# --- content management -------------------------------------------------------------------------------


def test_delete_tag(registry: Registry, repo: str) -> None:
    digest, body = registry.push_image(repo, "one")
    assert registry.push_manifest(repo, "two", body).status_code == 201
    assert registry.request("DELETE", manifest_url(repo, "one")).status_code == 202
    gone = registry.request("GET", manifest_url(repo, "one"))
    assert gone.status_code == 404
    assert errors_of(gone) == ["MANIFEST_UNKNOWN"]
    assert registry.request("GET", manifest_url(repo, digest)).status_code == 200
    assert registry.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["two"]


def test_delete_manifest_by_digest(registry: Registry, repo: str) -> None:
    digest, _ = registry.push_image(repo, "doomed")
    assert registry.request("DELETE", manifest_url(repo, digest)).status_code == 202
    for reference in (digest, "doomed"):
        response = registry.request("GET", manifest_url(repo, reference))
        assert response.status_code == 404
        assert errors_of(response) == ["MANIFEST_UNKNOWN"]
    assert registry.request("HEAD", manifest_url(repo, digest)).status_code == 404
    again = registry.request("DELETE", manifest_url(repo, digest))
    assert again.status_code == 404
    assert errors_of(again) == ["MANIFEST_UNKNOWN"]


def test_delete_blob(registry: Registry, repo: str) -> None:
    digest = registry.push_blob(repo, b"delete me")
    response = registry.request("DELETE", blob_url(repo, digest))
    assert response.status_code == 202
    head = registry.request("HEAD", blob_url(repo, digest))
    assert head.status_code == 404
    get = registry.request("GET", blob_url(repo, digest))
    assert errors_of(get) == ["BLOB_UNKNOWN"]
    again = registry.request("DELETE", blob_url(repo, digest))
    assert again.status_code == 404
    assert errors_of(again) == ["BLOB_UNKNOWN"]


# --- error codes --------------------------------------------------------------------------------------


def test_blob_unknown(registry: Registry, repo: str) -> None:
    digest = sha256(b"never pushed")
    get = registry.request("GET", blob_url(repo, digest))
    assert get.status_code == 404
    assert errors_of(get) == ["BLOB_UNKNOWN"]
    assert get.headers["docker-distribution-api-version"] == API_VERSION
    head = registry.request("HEAD", blob_url(repo, digest))
    assert head.status_code == 404
    assert head.content == b""


def test_blob_upload_unknown(alice: Account, registry: Registry, repo: str) -> None:
    for upload_id in ("0a1b2c3d-0000-4000-8000-000000000000", "not-an-upload", "x" * 200, "a.b~c"):
        location = f"/v2/{repo}/blobs/uploads/{upload_id}"
        for method in ("GET", "PATCH", "DELETE"):
            response = registry.request(method, location)
            assert response.status_code == 404, (upload_id, method)
            assert errors_of(response) == ["BLOB_UPLOAD_UNKNOWN"]
        put = registry.request("PUT", location, params={"digest": sha256(b"")})
        assert errors_of(put) == ["BLOB_UPLOAD_UNKNOWN"]
    # An upload of another repository cannot be continued through this one.
    other = alice.new_repository("other")
    foreign = registry.start_upload(other).rsplit("/", 1)[1]
    response = registry.request("PATCH", f"/v2/{repo}/blobs/uploads/{foreign}", content=b"x")
    assert errors_of(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_digest_mismatch_is_digest_invalid_and_discards_the_upload(registry: Registry, repo: str) -> None:
    location = registry.start_upload(repo)
    response = registry.request("PUT", location, params={"digest": sha256(b"other content")}, content=b"data")
    assert response.status_code == 400
    assert errors_of(response) == ["DIGEST_INVALID"]
    assert registry.request("HEAD", blob_url(repo, sha256(b"other content"))).status_code == 404
    assert registry.request("GET", location).status_code == 404
    single = registry.request(
        "POST", f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(b"other")}, content=b"data"
    )
    assert errors_of(single) == ["DIGEST_INVALID"]


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "sha256:" + "G" * 64,
        "md5:" + "0" * 32,
        "nodigest",
        "sha512:" + "0" * 64,
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 6000,
    ],
)
def test_malformed_digests_are_client_errors(registry: Registry, repo: str, digest: str) -> None:
    for method, url, kwargs in (
        ("GET", blob_url(repo, digest), {}),
        ("HEAD", blob_url(repo, digest), {}),
        ("DELETE", blob_url(repo, digest), {}),
        ("GET", manifest_url(repo, digest), {}),
        ("DELETE", manifest_url(repo, digest), {}),
        ("GET", f"/v2/{repo}/referrers/{digest}", {}),
        ("POST", f"/v2/{repo}/blobs/uploads/", {"params": {"digest": digest}, "content": b"x"}),
        ("POST", f"/v2/{repo}/blobs/uploads/", {"params": {"mount": digest, "from": repo}}),
        ("PUT", registry.start_upload(repo), {"params": {"digest": digest}, "content": b"x"}),
    ):
        response = registry.request(method, url, **kwargs)
        assert 400 <= response.status_code < 500, (method, url, response.status_code)
        if method != "HEAD" and response.status_code != 404:
            assert errors_of(response) == ["DIGEST_INVALID"], (method, url)


def test_put_upload_without_digest_is_digest_invalid(registry: Registry, repo: str) -> None:
    response = registry.request("PUT", registry.start_upload(repo), content=b"x")
    assert response.status_code == 400
    assert errors_of(response) == ["DIGEST_INVALID"]


def test_manifest_blob_unknown(registry: Registry, repo: str) -> None:
    config = registry.push_blob(repo, b"{}")
    body = image_manifest(config, 2, sha256(b"layer never pushed"), 18)
    response = registry.push_manifest(repo, "v1", body)
    assert response.status_code == 400
    assert errors_of(response) == ["MANIFEST_BLOB_UNKNOWN"]
    # A layer pushed to another repository is not readable through this one either.
    body = image_manifest(sha256(b"config elsewhere"), 16, config, 2)
    assert errors_of(registry.push_manifest(repo, "v1", body)) == ["MANIFEST_BLOB_UNKNOWN"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"schemaVersion": 1}',
        b"",
        b'{"schemaVersion": 2, "mediaType": "'
        + OCI_MANIFEST.encode()
        + b'", "config": {"digest": "sha256:zz"}, "layers": []}',
    ],
)
def test_manifest_invalid(registry: Registry, repo: str, body: bytes) -> None:
    response = registry.push_manifest(repo, "bad", body)
    assert response.status_code == 400
    assert errors_of(response) == ["MANIFEST_INVALID"]


def test_manifest_pushed_under_another_digest_is_refused(registry: Registry, repo: str) -> None:
    _, body = registry.push_image(repo, "v1")
    response = registry.push_manifest(repo, sha256(body + b" "), body)
    assert response.status_code == 400
    assert errors_of(response)[0] in {"MANIFEST_INVALID", "DIGEST_INVALID"}


def test_manifest_unknown(registry: Registry, repo: str) -> None:
    for reference in ("missing-tag", sha256(b"missing manifest")):
        for method in ("GET", "HEAD"):
            response = registry.request(method, manifest_url(repo, reference))
            assert response.status_code == 404
            if method == "GET":
                assert errors_of(response) == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize("name", ["UPPER", "trailing-", "a..b", "x" * 300, "-lead/ok"])
def test_name_invalid(registry: Registry, name: str) -> None:
    for method, url in (
        ("GET", manifest_url(name, "latest")),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("GET", f"/v2/{name}/tags/list"),
    ):
        response = registry.request(method, url)
        assert response.status_code == 400, (method, url)
        assert errors_of(response) == ["NAME_INVALID"]


def test_name_unknown_and_no_repository_is_created_on_push(alice: Account, registry: Registry) -> None:
    name = "never-created/app"
    for method, url in (
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("PUT", manifest_url(name, "latest")),
        ("GET", manifest_url(name, "latest")),
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", blob_url(name, sha256(b"x"))),
        ("GET", f"/v2/{name}/referrers/{sha256(b'x')}"),
    ):
        body = image_manifest(sha256(b"c"), 1, sha256(b"l"), 1) if method == "PUT" else None
        response = registry.request(method, url, content=body, headers={"Content-Type": OCI_MANIFEST})
        assert response.status_code == 404, (method, url)
        assert response.json()["errors"][0] == {
            "code": "NAME_UNKNOWN",
            "message": f"The repository with name '{name}' does not exist in the registry with id "
            f"'{alice.keys.account_id}'",
            "detail": {"name": name},
        }
    assert name not in registry.request("GET", "/v2/_catalog").json()["repositories"]


def test_immutable_tag_cannot_be_overwritten(alice: Account, registry: Registry) -> None:
    repo = alice.new_repository("immutable", imageTagMutability="IMMUTABLE")
    digest, body = registry.push_image(repo, "v1")
    # The same manifest again under the same tag is fine (a retried push).
    assert registry.push_manifest(repo, "v1", body).status_code == 201
    _, other = registry.push_image(repo, "v2", layer=b"other layer")
    response = registry.push_manifest(repo, "v1", other)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "TAG_INVALID"
    assert error["message"] == (
        f"The image tag 'v1' already exists in the '{repo}' repository and cannot be overwritten "
        "because the tag is immutable."
    )
    assert registry.request("GET", manifest_url(repo, "v1")).headers["docker-content-digest"] == digest


def test_wrong_method_is_unsupported(registry: Registry, repo: str) -> None:
    digest = registry.push_blob(repo, b"x")
    for method, url in (
        ("PUT", blob_url(repo, digest)),
        ("POST", manifest_url(repo, "latest")),
        ("DELETE", f"/v2/{repo}/tags/list"),
        ("POST", "/v2/_catalog"),
    ):
        response = registry.request(method, url)
        assert response.status_code == 405, (method, url)
        assert errors_of(response) == ["UNSUPPORTED"]


def test_unknown_registry_path_is_404(registry: Registry) -> None:
    response = registry.request("GET", "/v2/just-a-name")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


# --- names, accounts ----------------------------------------------------------------------------------


def test_names_with_endpoint_words_and_slashes(alice: Account, registry: Registry) -> None:
    name = alice.new_repository("team/blobs/manifests/tags/referrers")
    digest, body = registry.push_image(name, "v1")
    assert registry.request("GET", manifest_url(name, "v1")).content == body
    assert registry.request("GET", f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert registry.request("GET", f"/v2/{name}/referrers/{digest}").status_code == 200


def test_accounts_cannot_see_each_others_repositories(alice: Account, bob: Account) -> None:
    repo = alice.new_repository("private")
    digest, _ = alice.registry.push_image(repo, "v1")
    layer = alice.registry.push_blob(repo, b"private layer")
    for method, url in (
        ("GET", manifest_url(repo, "v1")),
        ("HEAD", manifest_url(repo, digest)),
        ("GET", blob_url(repo, layer)),
        ("GET", f"/v2/{repo}/tags/list"),
        ("POST", f"/v2/{repo}/blobs/uploads/"),
        ("DELETE", manifest_url(repo, "v1")),
        ("DELETE", blob_url(repo, layer)),
    ):
        response = bob.registry.request(method, url)
        assert response.status_code == 404, (method, url)
        if method != "HEAD":
            error = response.json()["errors"][0]
            assert error["code"] == "NAME_UNKNOWN"
            assert bob.keys.account_id in error["message"]
    assert repo not in bob.registry.request("GET", "/v2/_catalog").json()["repositories"]
    # Bob's upload is no way into alice's account, nor hers into his.
    bobs = bob.new_repository("bobs")
    location = bob.registry.start_upload(bobs)
    assert errors_of(alice.registry.request("GET", location)) == ["NAME_UNKNOWN"]
    upload_id = location.rsplit("/", 1)[1]
    stolen = alice.registry.request("PATCH", f"/v2/{repo}/blobs/uploads/{upload_id}", content=b"x")
    assert errors_of(stolen) == ["BLOB_UPLOAD_UNKNOWN"]
    assert bob.registry.request("GET", location).headers["range"] == "0-0"
    # And alice's image is intact.
    assert alice.registry.request("GET", manifest_url(repo, "v1")).status_code == 200
