"""``GET``/``HEAD``/``PUT``/``DELETE /v2/<name>/manifests/<tag|digest>``.

Manifests are answered byte-exact with the media type they were pushed with, whatever the client's
``Accept`` says. A PUT body is read up to the 4 MiB limit and refused (413) as soon as it goes past it, or
before reading anything when its ``Content-Length`` already does.
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.api.registry.http import DIGEST_HEADER, RegistryCall, empty_response, registry_headers
from dockyard.registry.errors import ManifestTooLarge
from dockyard.registry.manifest import MAX_MANIFEST_BYTES, check_manifest_size

SUBJECT_HEADER = "OCI-Subject"


async def get_manifest(call: RegistryCall) -> Response:
    """GET (records a pull) and HEAD (does not)."""
    now = None if call.is_head else call.clock()
    content = call.service.cached_manifest(call.scope, call.name, call.reference, now=now)
    if content is None:
        content = await call.run(call.service.get_manifest, call.scope, call.name, call.reference, now=now)
    headers = registry_headers(
        {
            "Content-Type": content.media_type,
            "Content-Length": str(len(content.body)),
            DIGEST_HEADER: content.digest,
            "ETag": f'"{content.digest}"',
        }
    )
    return Response(b"" if call.is_head else content.body, 200, headers)


async def put_manifest(call: RegistryCall) -> Response:
    declared = call.declared_length()
    if declared is not None:
        check_manifest_size(declared)
    body = await call.read_body(MAX_MANIFEST_BYTES, _too_large)
    content_type = call.request.headers.get("content-type", "").split(";", 1)[0].strip() or None
    pushed = await call.run(
        call.service.put_manifest, call.scope, call.name, call.reference, content_type, body, call.clock()
    )
    headers = {"Location": f"/v2/{call.name}/manifests/{pushed.digest}", DIGEST_HEADER: pushed.digest}
    if pushed.subject_digest is not None:
        headers[SUBJECT_HEADER] = pushed.subject_digest
    return empty_response(201, headers)


async def delete_manifest(call: RegistryCall) -> Response:
    await call.run(call.service.delete_manifest, call.scope, call.name, call.reference)
    return empty_response(202)


def _too_large(size: int) -> ManifestTooLarge:
    return ManifestTooLarge({"size": f"over {size - 1}", "limit": MAX_MANIFEST_BYTES})
