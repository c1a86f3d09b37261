"""The OCI Distribution v1.1 API under ``/v2/``: authentication, routing, and the one error writer.

::

    request ─▶ Basic auth (AWS:<registry password>) ─▶ grant: account + region = the registry scope
            ─▶ endpoint from the path (split at the last /blobs/, /manifests/, /tags/, /referrers/)
            ─▶ handler (blobs, uploads, manifests, listing) ─▶ RegistryService in worker threads
            ─▶ response, or the RegistryError it raised as {"errors": [...]} (see errors.py)

Repositories are resolved within the grant's account and region only, so another account's repository
is NAME_UNKNOWN, exactly like one that does not exist; and pushing does not create repositories (ECR).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockyard.api.registry import blobs, listing, manifests, uploads
from dockyard.api.registry.auth import RegistryAuthenticator, challenge
from dockyard.api.registry.errors import JSON, error_response, internal_error_response
from dockyard.api.registry.http import RegistryCall, registry_headers
from dockyard.api.registry.paths import Endpoint, Target, parse_target
from dockyard.core.clock import Clock
from dockyard.registry.errors import UNAUTHORIZED, NameUnknown, RegistryError, Unsupported
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import RegistryTokens

log = logging.getLogger(__name__)

Handler = Callable[[RegistryCall], Awaitable[Response]]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


async def _base(_call: RegistryCall) -> Response:
    """``GET /v2/``: the API version check ``docker login`` makes."""
    return Response(b"{}", 200, registry_headers(), JSON)


# (endpoint, method) → (operation name for the access log, handler)
_HANDLERS: dict[tuple[Endpoint, str], tuple[str, Handler]] = {
    (Endpoint.BASE, "GET"): ("registry.Base", _base),
    (Endpoint.BASE, "HEAD"): ("registry.Base", _base),
    (Endpoint.CATALOG, "GET"): ("registry.Catalog", listing.catalog),
    (Endpoint.BLOB, "GET"): ("registry.GetBlob", blobs.get_blob),
    (Endpoint.BLOB, "HEAD"): ("registry.HeadBlob", blobs.get_blob),
    (Endpoint.BLOB, "DELETE"): ("registry.DeleteBlob", blobs.delete_blob),
    (Endpoint.UPLOADS, "POST"): ("registry.StartUpload", uploads.start_upload),
    (Endpoint.UPLOAD, "PATCH"): ("registry.PatchUpload", uploads.patch_upload),
    (Endpoint.UPLOAD, "PUT"): ("registry.FinishUpload", uploads.finish_upload),
    (Endpoint.UPLOAD, "GET"): ("registry.UploadStatus", uploads.upload_status),
    (Endpoint.UPLOAD, "DELETE"): ("registry.CancelUpload", uploads.cancel_upload),
    (Endpoint.MANIFEST, "GET"): ("registry.GetManifest", manifests.get_manifest),
    (Endpoint.MANIFEST, "HEAD"): ("registry.HeadManifest", manifests.get_manifest),
    (Endpoint.MANIFEST, "PUT"): ("registry.PutManifest", manifests.put_manifest),
    (Endpoint.MANIFEST, "DELETE"): ("registry.DeleteManifest", manifests.delete_manifest),
    (Endpoint.TAGS, "GET"): ("registry.ListTags", listing.list_tags),
    (Endpoint.REFERRERS, "GET"): ("registry.Referrers", listing.referrers),
}


class RegistryApi:
    """Serves ``/v2/`` for :class:`RegistryService`, authenticating with ECR registry passwords."""

    def __init__(self, service: RegistryService, tokens: RegistryTokens, clock: Clock) -> None:
        self.service = service
        self.clock = clock
        self.auth = RegistryAuthenticator(tokens)

    def routes(self) -> list[BaseRoute]:
        return [Route("/v2/{path:path}", self.handle, methods=METHODS, include_in_schema=False)]

    async def handle(self, request: Request) -> Response:
        call: RegistryCall | None = None
        try:
            target = parse_target(request.path_params["path"])
            call = self._authorize(request, target)
            return await self._dispatch(call, target)
        except RegistryError as error:
            headers = call.error_headers if call is not None else {}
            if error.error_code is UNAUTHORIZED:
                headers = {**headers, "WWW-Authenticate": challenge(_realm(request))}
            return error_response(error, headers)
        except ClientDisconnect:
            log.info("client went away", extra={"method": request.method, "path": request.url.path})
            return Response(b"", 400)
        except Exception as exc:
            return internal_error_response(exc, method=request.method, path=request.url.path)

    def _authorize(self, request: Request, target: Target) -> RegistryCall:
        now = self.clock()
        grant = self.auth.authenticate(request.headers.get("authorization"), now)
        if grant is None and target.endpoint is Endpoint.BLOB and request.method in ("GET", "HEAD"):
            # A layer download URL (GetDownloadUrlForLayer) authorises reading that blob, nothing else.
            token = request.query_params.get("token")
            if token:
                grant = self.auth.authenticate_layer_token(token, target.name, target.reference, now)
        if grant is None:
            raise RegistryError(UNAUTHORIZED)
        request.scope.setdefault("state", {})["account_id"] = grant.account_id
        scope = RegistryScope(grant.account_id, grant.region)
        return RegistryCall(request, self.service, scope, self.clock, target.name, target.reference)

    async def _dispatch(self, call: RegistryCall, target: Target) -> Response:
        found = _HANDLERS.get((target.endpoint, call.request.method))
        if found is None:
            if target.endpoint is Endpoint.UNKNOWN:
                raise NameUnknown(message="unknown registry endpoint")
            raise Unsupported({"method": call.request.method, "endpoint": target.endpoint.value})
        operation, handler = found
        call.request.scope["state"]["operation"] = operation
        return await handler(call)


def _realm(request: Request) -> str:
    """The registry endpoint as the client addressed it, e.g. ``http://localhost:5000``."""
    host = request.headers.get("host")
    if host is None and request.url.hostname:
        host = request.url.netloc
    return f"{request.url.scheme}://{host or 'localhost'}"
