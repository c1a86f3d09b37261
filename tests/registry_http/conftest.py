"""A real ``dockyard server`` and an httpx client that speaks the registry API with an ECR token."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys, ServerProcess, make_client

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def errors_of(response: httpx.Response) -> list[str]:
    """The OCI error codes of an error answer (which must be JSON)."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return [e["code"] for e in response.json()["errors"]]


@dataclass
class Account:
    keys: Keys
    ecr: Any
    registry: Registry

    def new_repository(self, prefix: str = "repo", **kwargs: Any) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.ecr.create_repository(repositoryName=name, **kwargs)
        return name


class Registry:
    """The registry API of one account: an httpx client with that account's Basic credentials."""

    def __init__(self, endpoint: str, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        self.http = httpx.Client(base_url=endpoint, headers=headers, timeout=60)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, **kwargs)

    def start_upload(self, name: str) -> str:
        response = self.http.post(f"/v2/{name}/blobs/uploads/")
        assert response.status_code == 202, response.text
        return response.headers["location"]

    def push_blob(self, name: str, data: bytes) -> str:
        """Push ``data`` the POST + PUT (monolithic) way; returns its digest."""
        digest = sha256(data)
        location = self.start_upload(name)
        response = self.http.put(
            location,
            params={"digest": digest},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 201, response.text
        return digest

    def push_manifest(
        self, name: str, reference: str, manifest: bytes, media_type: str = OCI_MANIFEST
    ) -> httpx.Response:
        return self.http.put(
            f"/v2/{name}/manifests/{reference}", content=manifest, headers={"Content-Type": media_type}
        )

    def push_image(self, name: str, tag: str, *, layer: bytes = b"layer", **extra: Any) -> tuple[str, bytes]:
        """Push a config, one layer and an OCI manifest tagged ``tag``; returns the manifest's digest and
        body."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
        manifest = image_manifest(
            self.push_blob(name, config), len(config), self.push_blob(name, layer), len(layer), **extra
        )
        response = self.push_manifest(name, tag, manifest)
        assert response.status_code == 201, response.text
        return response.headers["docker-content-digest"], manifest


def image_manifest(
    config_digest: str,
    config_size: int,
    layer_digest: str,
    layer_size: int,
    *,
    layer_type: str = OCI_LAYER,
    config_type: str = OCI_CONFIG,
    subject: dict[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer_size}],
    }
    if subject is not None:
        document["subject"] = subject
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations is not None:
        document["annotations"] = annotations
    return json.dumps(document, indent=2).encode()


def authorization_for(server: ServerProcess, keys: Keys) -> str:
    ecr = make_client(server, "ecr", keys)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, _ = base64.b64decode(token).decode().partition(":")
    assert user == "AWS"
    return f"Basic {token}"


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("registry-server"))
    proc.start()
    yield proc
    proc.stop()


def _account(server: ServerProcess, user: str) -> Iterator[Account]:
    keys = server.create_key(f"{user}-{uuid.uuid4().hex[:6]}")
    registry = Registry(server.endpoint, authorization_for(server, keys))
    yield Account(keys, make_client(server, "ecr", keys), registry)
    registry.close()


@pytest.fixture(scope="session")
def alice(registry_server: ServerProcess) -> Iterator[Account]:
    yield from _account(registry_server, "alice")


@pytest.fixture(scope="session")
def bob(registry_server: ServerProcess) -> Iterator[Account]:
    yield from _account(registry_server, "bob")


@pytest.fixture
def registry(alice: Account) -> Registry:
    return alice.registry


@pytest.fixture
def repo(alice: Account) -> str:
    """A fresh, empty repository in alice's account."""
    return alice.new_repository()


@pytest.fixture
def anonymous(registry_server: ServerProcess) -> Iterator[Registry]:
    client = Registry(registry_server.endpoint, None)
    yield client
    client.close()
