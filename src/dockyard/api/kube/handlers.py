"""The Kubernetes API's HTTP handlers (being built: /version and health only so far)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.types import Receive, Scope, Send

from dockyard.api.principals import KeyResolver
from dockyard.control.kube.discovery import version_info
from dockyard.core.clock import Clock
from dockyard.services.kube.objects import KubeObjects
from dockyard.store.database import Database

if TYPE_CHECKING:
    from dockyard.api.kube.app import KubeCluster


class KubeHandlers:
    def __init__(
        self, cluster: KubeCluster, db: Database, objects: KubeObjects, keys: KeyResolver, *, clock: Clock
    ) -> None:
        self.cluster = cluster
        self._db = db
        self._objects = objects
        self._keys = keys
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/")
        if path == "/version":
            await _send(send, 200, orjson.dumps(version_info()), "application/json")
        elif path in ("/healthz", "/livez", "/readyz"):
            await _send(send, 200, b"ok", "text/plain; charset=utf-8")
        else:
            await _send(send, 404, b"404 page not found", "text/plain; charset=utf-8")


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
