"""The one place registry errors are written on the wire.

A :class:`~dockyard.registry.errors.RegistryError` raised anywhere below a registry handler becomes its
status and the OCI error body ``{"errors": [{"code", "message", "detail"}]}`` as ``application/json``;
anything else is logged with its stack trace and answered as a bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from starlette.responses import Response

from dockyard.registry.errors import RegistryError

log = logging.getLogger(__name__)

JSON = "application/json"
API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"

_INTERNAL_BODY = orjson.dumps({"errors": [{"code": "UNKNOWN", "message": "internal server error"}]})


def error_response(error: RegistryError, headers: Mapping[str, str] | None = None) -> Response:
    """``error`` as the registry answers it, with any extra ``headers`` (e.g. ``WWW-Authenticate``)."""
    body = orjson.dumps(error.to_json(), default=str)
    return Response(body, error.status, {API_VERSION_HEADER: API_VERSION, **(headers or {})}, JSON)


def internal_error_response(exc: BaseException, *, method: str, path: str) -> Response:
    """Log an unexpected failure with its stack trace; answer a 500 without any detail."""
    log.error("registry request failed", exc_info=exc, extra={"method": method, "path": path})
    return Response(_INTERNAL_BODY, 500, {API_VERSION_HEADER: API_VERSION}, JSON)
