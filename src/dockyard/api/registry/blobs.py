"""``GET``/``HEAD``/``DELETE /v2/<name>/blobs/<digest>``: blob reads, whole or by range, and unlinking.

Reads stream the blob file in :data:`~dockyard.registry.driver.READ_CHUNK_SIZE` pieces, each read in a worker
thread while the previous one is being sent, so memory stays flat whatever the blob's size and a client
that goes away stops the stream. Small blobs (configs) are answered in one piece.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

from dockyard.api.registry.http import DIGEST_HEADER, RegistryCall, empty_response, registry_headers
from dockyard.api.registry.ranges import ReadRange, content_range, parse_read_range, unsatisfied_range
from dockyard.registry.digest import parse_digest
from dockyard.registry.driver import READ_CHUNK_SIZE, ChunkReader
from dockyard.registry.errors import RangeInvalid
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.registry import RegistryService

OCTET_STREAM = "application/octet-stream"


@dataclass(slots=True)
class _OpenedBlob:
    total_size: int
    start: int
    end: int
    reader: ChunkReader | None
    first_chunk: bytes | None
    """The whole range, when it is small enough to send in one piece."""


async def get_blob(call: RegistryCall) -> Response:
    """GET and HEAD: the blob, or the requested range of it (206), with its digest and size."""
    digest = str(parse_digest(call.reference))
    wanted = parse_read_range(call.request.headers.get("range"))
    blob = await call.run(
        _open_blob, call.service, call.scope, call.name, digest, wanted, call.is_head, call.error_headers
    )
    headers = registry_headers(
        {
            DIGEST_HEADER: digest,
            "Content-Length": str(blob.end - blob.start),
            "Accept-Ranges": "bytes",
            "Content-Type": OCTET_STREAM,
            "ETag": f'"{digest}"',
            "Cache-Control": "max-age=31536000",
        }
    )
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = content_range(blob.start, blob.end, blob.total_size)
    if blob.reader is None:
        return Response(blob.first_chunk or b"", status, headers)
    return StreamingResponse(_stream(blob.reader), status, headers)


async def delete_blob(call: RegistryCall) -> Response:
    await call.run(call.service.delete_blob, call.scope, call.name, call.reference)
    return empty_response(202)


def _open_blob(
    service: RegistryService,
    scope: RegistryScope,
    name: str,
    digest: str,
    wanted: ReadRange | None,
    head: bool,
    error_headers: dict[str, str],
) -> _OpenedBlob:
    size = service.blob_size(scope, name, digest)
    if wanted is None:
        start, end = 0, size
    else:
        try:
            start, end = wanted.resolve(size)
        except RangeInvalid:
            error_headers["Content-Range"] = unsatisfied_range(size)
            raise
    if head:
        return _OpenedBlob(size, start, end, None, None)
    reader = service.driver.open_read(parse_digest(digest), start, end)
    if reader.length <= READ_CHUNK_SIZE:
        with reader:
            return _OpenedBlob(size, start, end, None, reader.read_all())
    return _OpenedBlob(size, start, end, reader, None)


async def _stream(reader: ChunkReader) -> AsyncIterator[bytes]:
    """The reader's chunks, each next one read in a worker thread while the current one is sent."""
    loop = asyncio.get_running_loop()
    upcoming = loop.run_in_executor(None, _next_chunk, reader)
    try:
        while chunk := await upcoming:
            upcoming = loop.run_in_executor(None, _next_chunk, reader)
            yield chunk
    finally:
        # Close only once no read is in flight (the client may have gone away mid-stream).
        upcoming.add_done_callback(lambda _: reader.close())


def _next_chunk(reader: ChunkReader) -> bytes:
    return next(reader, b"")
