"""Blob pushes: ``POST``/``PATCH``/``PUT``/``GET``/``DELETE`` on ``/v2/<name>/blobs/uploads/``.

::

    POST uploads/                      ─► 202 Location: uploads/<id>  (or ?mount=&from= ─► 201 / 202,
                                                                        ?digest= with the body ─► 201)
    PATCH uploads/<id>   [Content-Range: first-last]  body ─► 202 Range: 0-<last byte>
    PUT   uploads/<id>?digest=<d>      [final body]        ─► 201 Location: blobs/<d>
    GET   uploads/<id>                                     ─► 204 Range: 0-<last byte>
    DELETE uploads/<id>                                    ─► 204

Bodies stream into the upload through :func:`~dockyard.registry.driver.append_stream` (network reads
overlap disk writes and hashing; memory stays at a few MiB per request). A chunk whose ``Content-Range``
does not start at the upload's current size is refused with 416 before anything is written.
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.api.registry.http import (
    DIGEST_HEADER,
    RegistryCall,
    blob_location,
    empty_response,
    upload_headers,
)
from dockyard.api.registry.ranges import parse_upload_range
from dockyard.registry.digest import parse_digest
from dockyard.registry.driver import append_stream
from dockyard.registry.errors import DigestInvalid, SizeInvalid


async def start_upload(call: RegistryCall) -> Response:
    """POST: a cross-repository mount, a whole blob in one request, or a new upload session."""
    mount = call.query("mount")
    digest = call.query("digest")
    if mount is not None:
        mounted = await _mount(call, str(parse_digest(mount)), call.query("from"))
        if mounted is not None:
            return mounted
        digest = None  # could not mount: the client pushes the blob through the new session instead
    elif digest is not None:
        digest = str(parse_digest(digest))
    upload_id = await call.run(call.service.start_upload, call.scope, call.name, call.clock())
    if digest is not None:
        return await _complete(call, upload_id, digest)
    return empty_response(202, upload_headers(call.name, upload_id, 0))


async def patch_upload(call: RegistryCall) -> Response:
    """PATCH: append a chunk (Content-Range must continue the upload) or a streamed body (no range)."""
    upload_id = call.reference
    await call.run(call.service.upload_size, call.scope, call.name, upload_id)
    size = await _append(call, upload_id)
    return empty_response(202, upload_headers(call.name, upload_id, size))


async def finish_upload(call: RegistryCall) -> Response:
    """PUT ?digest=: append the final chunk if there is one, verify the digest, publish the blob."""
    text = call.query("digest")
    if text is None:
        raise DigestInvalid({"digest": None}, message="digest query parameter is required")
    digest = str(parse_digest(text))
    if call.has_body():
        await call.run(call.service.upload_size, call.scope, call.name, call.reference)
        await _append(call, call.reference)
    return await _complete(call, call.reference, digest)


async def upload_status(call: RegistryCall) -> Response:
    """GET: how much of the upload the registry holds (204 with ``Range: 0-<last byte>``)."""
    size = await call.run(call.service.upload_size, call.scope, call.name, call.reference)
    return empty_response(204, upload_headers(call.name, call.reference, size))


async def cancel_upload(call: RegistryCall) -> Response:
    await call.run(call.service.cancel_upload, call.scope, call.name, call.reference)
    return empty_response(204)


async def _mount(call: RegistryCall, digest: str, source: str | None) -> Response | None:
    """Link ``digest`` from ``source`` (or find it already here, when ``from`` is absent): 201, else None."""
    now = call.clock()
    if source is None:
        size = await call.run(call.service.link_existing_blob, call.scope, call.name, digest, now)
    else:
        size = await call.run(call.service.mount_blob, call.scope, call.name, digest, source, now)
    if size is None:
        return None
    return _created(call.name, digest)


async def _append(call: RegistryCall, upload_id: str) -> int:
    """Stream the request body into the upload; returns the upload's new size."""
    expected_offset = None
    header = call.request.headers.get("content-range")
    if header is not None:
        first, last = parse_upload_range(header)
        length = call.declared_length()
        if length is not None and length != last - first + 1:
            raise SizeInvalid({"content-range": header, "content-length": length})
        expected_offset = first
    return await append_stream(call.service.driver, upload_id, call.body_chunks(), expected_offset)


async def _complete(call: RegistryCall, upload_id: str, digest: str) -> Response:
    if call.request.method == "POST" and call.has_body():
        await _append(call, upload_id)
    await call.run(
        call.service.complete_upload, call.scope, call.name, upload_id, digest=digest, now=call.clock()
    )
    return _created(call.name, digest)


def _created(name: str, digest: str) -> Response:
    return empty_response(201, {"Location": blob_location(name, digest), DIGEST_HEADER: digest})
