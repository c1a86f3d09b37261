"""Registry credentials for task images that live in dockyard's own registry (ECR's GetAuthorizationToken).

The real ECS agent pulls ECR images with a token it fetches with the task execution role; ours fetches one
with its own credentials from the control plane it is joined to. A token is good for 12 hours: it is kept
and fetched again once less than :data:`REFRESH_MARGIN_S` remains. Images from any other registry are
pulled without credentials (``None``).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent.runtime import PullAuth

log = logging.getLogger("dockyard.agent")

REFRESH_MARGIN_S = 3600.0


class EcrClient(Protocol):
    def get_authorization_token(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Token:
    registry_host: str
    auth: PullAuth
    expires_at: float


def image_registry(image: str) -> str | None:
    """The registry host of an image reference, or ``None`` for Docker Hub's short names (``busybox``)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


class RegistryCredentials:
    """``credentials(image)`` → :class:`PullAuth` for dockyard's registry, else ``None``. Thread-safe."""

    def __init__(self, client: EcrClient, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def __call__(self, image: str) -> PullAuth | None:
        host = image_registry(image)
        if host is None:
            return None
        token = self._current()
        if token is None or token.registry_host != host:
            return None
        return token.auth

    def _current(self) -> _Token | None:
        with self._lock:
            if self._token is None or self._token.expires_at - self._clock() < REFRESH_MARGIN_S:
                try:
                    self._token = _fetch(self._client)
                except (BotoCoreError, ClientError, KeyError, IndexError, ValueError) as exc:
                    log.warning("cannot get registry credentials from the control plane: %s", exc)
                    return self._token
            return self._token


def _fetch(client: EcrClient) -> _Token:
    data = client.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    expires = data.get("expiresAt")
    expires_at = expires.timestamp() if isinstance(expires, datetime) else float(expires or 0)
    host = urlsplit(str(data["proxyEndpoint"])).netloc
    return _Token(registry_host=host, auth=PullAuth(username, password), expires_at=expires_at)
