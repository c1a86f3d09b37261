"""Registry credentials for dockyard's own images: fetched once, kept until near expiry, only for its host."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import EndpointConnectionError

from dockyard.agent.registry_auth import REFRESH_MARGIN_S, RegistryCredentials, image_registry
from dockyard.agent.runtime import PullAuth


class FakeEcr:
    def __init__(self, expires_at: float, *, fail: bool = False) -> None:
        self.calls = 0
        self.expires_at = expires_at
        self.fail = fail

    def get_authorization_token(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise EndpointConnectionError(endpoint_url="http://localhost:4566")
        token = base64.b64encode(f"AWS:secret-{self.calls}".encode()).decode()
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": datetime.fromtimestamp(self.expires_at, UTC),
                    "proxyEndpoint": "http://localhost:4566",
                }
            ]
        }


def test_image_registry_host() -> None:
    assert image_registry("localhost:4566/web:1") == "localhost:4566"
    assert image_registry("registry.example.com/team/web") == "registry.example.com"
    assert image_registry("localhost/web") == "localhost"
    assert image_registry("busybox") is None
    assert image_registry("library/busybox:latest") is None


def test_credentials_only_for_the_control_planes_registry_and_cached() -> None:
    now = [1_000_000.0]
    ecr = FakeEcr(expires_at=now[0] + 12 * 3600)
    credentials = RegistryCredentials(ecr, clock=lambda: now[0])

    assert credentials("busybox") is None
    assert ecr.calls == 0
    assert credentials("localhost:4566/web:1") == PullAuth("AWS", "secret-1")
    assert credentials("registry.example.com/web") is None
    assert credentials("localhost:4566/other@sha256:" + "a" * 64) == PullAuth("AWS", "secret-1")
    assert ecr.calls == 1

    now[0] = ecr.expires_at - REFRESH_MARGIN_S + 1
    ecr.expires_at = now[0] + 12 * 3600
    assert credentials("localhost:4566/web:1") == PullAuth("AWS", "secret-2")
    assert ecr.calls == 2


def test_an_unreachable_control_plane_means_no_credentials() -> None:
    credentials = RegistryCredentials(FakeEcr(expires_at=0, fail=True), clock=lambda: 0.0)
    assert credentials("localhost:4566/web:1") is None
