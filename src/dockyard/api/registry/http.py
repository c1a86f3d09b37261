"""What every registry handler works with: the call (request, service, scope, target) and small helpers.

The registry service is blocking (SQL and disk), so handlers run its methods in worker threads through
:meth:`RegistryCall.run`; request bodies are streamed, never buffered whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from dockyard.api.registry.errors import API_VERSION, API_VERSION_HEADER
from dockyard.api.registry.ranges import upload_range
from dockyard.core.clock import Clock
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.registry import RegistryService

T = TypeVar("T")
P = ParamSpec("P")

DIGEST_HEADER = "Docker-Content-Digest"
UPLOAD_UUID_HEADER = "Docker-Upload-UUID"


@dataclass(slots=True)
class RegistryCall:
    """One authorised registry request, resolved to its repository and reference."""

    request: Request
    service: RegistryService
    scope: RegistryScope
    clock: Clock
    name: str = ""
    reference: str = ""
    error_headers: dict[str, str] = field(default_factory=dict)
    """Headers to send along if the call fails (e.g. ``Content-Range`` of a 416)."""

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking service call in a worker thread."""
        return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))

    def query(self, key: str) -> str | None:
        return self.request.query_params.get(key)

    @property
    def is_head(self) -> bool:
        return self.request.method == "HEAD"

    def declared_length(self) -> int | None:
        """The request's ``Content-Length``, if it sent one."""
        value = self.request.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    def has_body(self) -> bool:
        """Whether the request carries a (possibly chunked) body."""
        if "chunked" in self.request.headers.get("transfer-encoding", "").lower():
            return True
        length = self.declared_length()
        return length is not None and length > 0

    def body_chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives (ClientDisconnect if the client goes away)."""
        return self.request.stream()

    async def read_body(self, limit: int, too_large: Callable[[int], Exception]) -> bytes:
        """The whole body, refused with ``too_large(size)`` as soon as it grows past ``limit`` bytes."""
        data = bytearray()
        async for chunk in self.request.stream():
            data += chunk
            if len(data) > limit:
                raise too_large(len(data))
        return bytes(data)


def registry_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    return {API_VERSION_HEADER: API_VERSION, **(headers or {})}


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A bodyless answer (``Content-Length: 0`` where the status allows a body)."""
    return Response(b"", status, registry_headers(headers))


def blob_location(name: str, digest: str) -> str:
    return f"/v2/{name}/blobs/{digest}"


def upload_location(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    """Where an upload continues and how much of it the registry holds."""
    return {
        "Location": upload_location(name, upload_id),
        "Range": upload_range(size),
        UPLOAD_UUID_HEADER: upload_id,
    }
