"""The AWS API gateway: one entry point for every JSON 1.1, query, ec2 and rest-json request.

Flow of a request::

    head ─▶ SigV4 authenticate (scope names the target's service and a known region, key → principal)
         ─▶ body (read only now, streamed up to the limit) ─▶ SigV4 confirm (signature over it all)
         ─▶ resolve operation (X-Amz-Target | Action of the signing service: query or ec2 protocol |
            method + path of the signing service: rest-json, EKS)
         ─▶ parse + validate against the botocore input shape ─▶ provider method (in a worker thread)
         ─▶ serialize through the output shape ─▶ response

Every failure is an :class:`ApiError` written in the protocol's error shape; anything else is logged with
its stack trace and answered as a bare 500 ``InternalFailure``. The error shape is the protocol of the
service called; for errors raised before the service is known (authentication), the one the request looks
like: JSON with an ``X-Amz-Target``, else the protocol of the service its credential scope names (ec2 for
``.../ec2/aws4_request``, rest-json for ``.../eks/aws4_request``), else query.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockyard.api.auth.sigv4 import ScopePolicy, SignedRequest, authenticate, confirm
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.ec2_protocol import (
    parse_ec2_request,
    serialize_ec2_error,
    serialize_ec2_response,
)
from dockyard.api.protocol.event_stream import WireStream, serialize_json_event_stream
from dockyard.api.protocol.json_protocol import (
    parse_json_request,
    serialize_json_error,
    serialize_json_response,
)
from dockyard.api.protocol.query_protocol import (
    parse_query_request,
    serialize_query_error,
    serialize_query_response,
)
from dockyard.api.protocol.rest_json_protocol import (
    parse_rest_json_request,
    query_values,
    serialize_rest_json_error,
    serialize_rest_json_response,
)
from dockyard.api.protocol.wire import WireResponse
from dockyard.api.streaming import StreamedResponse
from dockyard.core.clock import Clock
from dockyard.core.context import RequestContext
from dockyard.core.errors import (
    ApiError,
    InternalError,
    NotImplementedOperationError,
    UnknownOperationError,
    UnrecognizedClientError,
    ValidationError,
)
from dockyard.services.base import Provider

log = logging.getLogger(__name__)

# The query protocol (STS) names the same authentication failures differently.
_QUERY_AUTH_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
}
# So does the ec2 protocol (EC2), which also calls its server faults ``InternalError``.
_EC2_CODES = {
    "InvalidSignatureException": "AuthFailure",
    "UnrecognizedClientException": "AuthFailure",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "InternalFailure": "InternalError",
}
# Services that report the model's constraint violations under their own code (CloudWatch Logs:
# "InvalidParameterException: 1 validation error detected: …").
_VALIDATION_CODES = {"logs": "InvalidParameterException", "eks": "InvalidParameterException"}
# The service a SigV4 credential scope names: ``Credential=KEY/20261127/us-east-1/ec2/aws4_request``.
_SCOPE_SERVICE = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]+)/")
# The largest AWS JSON request we serve: ECR's UploadLayerPart carries up to 20 MiB, base64-encoded.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
PROVIDER_THREADS = 2


#: The wire protocol of a request, as botocore's models name them: how it is read and answered.
Protocol = Literal["json", "query", "ec2", "rest-json"]


@dataclass(frozen=True, slots=True)
class _Call:
    service: str
    operation: Any  # botocore OperationModel
    params: dict[str, Any]
    protocol: Protocol


class AwsGateway:
    def __init__(
        self,
        *,
        catalog: ServiceCatalog,
        providers: Mapping[str, Provider],
        keys: KeyResolver,
        clock: Clock,
        local_store: bool = False,
        default_region: str = "us-east-1",
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._keys = keys
        self._clock = clock
        self._local_store = local_store
        self._regions = catalog.regions | {default_region}
        # Few provider threads: more only make them fight over the GIL and the store (measured in
        # bench/api_throughput.py: 8 threads served fewer requests than 2).
        self._limiter = anyio.CapacityLimiter(PROVIDER_THREADS)

    async def handle(self, request: Request) -> Response:
        """Answer one AWS API request; never raises."""
        request_id: str = request.scope["state"]["request_id"]
        try:
            wire = await self._handle(request, request_id)
        except ApiError as error:
            protocol = self._claimed_protocol(request)
            wire = self._error_response(error, request_id, protocol=protocol, service=None)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            internal = InternalError("An internal error occurred.")
            wire = self._error_response(
                internal, request_id, protocol=self._claimed_protocol(request), service=None
            )
        if isinstance(wire, WireStream):
            return StreamedResponse(wire)
        return Response(content=wire.body, status_code=wire.status, headers=wire.headers)

    async def _handle(self, request: Request, request_id: str) -> WireResponse | WireStream:
        now = self._clock()
        # Everything the head decides is checked before the body is read: an unsigned or mis-scoped
        # request costs the server no more than its headers.
        authenticated = authenticate(
            signed_request_from_scope(request.scope, b""),
            now=now,
            lookup_secret=self._keys.secret_for,
            policy=self._scope_policy(request),
        )
        body = await _read_body(request, MAX_REQUEST_BYTES)
        signature = confirm(authenticated, signed_request_from_scope(request.scope, body))
        key = self._keys.find(signature.access_key_id)
        if key is None:  # removed between the two lookups
            raise UnrecognizedClientError("The security token included in the request is invalid.")
        request.scope["state"]["account_id"] = key.principal.account_id
        call = self._resolve(request, body, signature.service)
        request.scope["state"]["operation"] = f"{call.service}:{call.operation.name}"
        provider = self._providers.get(call.service)
        method = provider.find_operation(call.operation.name) if provider else None
        if method is None:
            raise NotImplementedOperationError(
                f"The operation {call.operation.name} of service {call.service} "
                "is not implemented by dockyard yet."
            )
        ctx = RequestContext(principal=key.principal, region=signature.region, request_id=request_id, now=now)
        try:
            if self._runs_inline(provider, call.operation.name):
                result = method(ctx, call.params)
            else:
                result = await anyio.to_thread.run_sync(method, ctx, call.params, limiter=self._limiter)
        except ApiError as error:
            return self._error_response(error, request_id, protocol=call.protocol, service=call.service)
        if call.operation.has_event_stream_output:
            return serialize_json_event_stream(call.operation, result)
        if call.protocol == "ec2":
            return serialize_ec2_response(call.operation, result, request_id)
        if call.protocol == "query":
            return serialize_query_response(call.operation, result, request_id)
        if call.protocol == "rest-json":
            return serialize_rest_json_response(call.operation, result)
        return serialize_json_response(call.operation, result)

    def rest_routes(self) -> list[BaseRoute]:
        """The HTTP routes of the rest-json services (EKS): every path under their URIs' first segments
        (``/clusters…``, ``/tags/…``), answered by :meth:`handle`."""
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
        routes: list[BaseRoute] = []
        for prefix in sorted(self._catalog.rest_path_prefixes):
            routes.append(Route(f"/{prefix}", self.handle, methods=methods))
            routes.append(Route(f"/{prefix}/{{rest:path}}", self.handle, methods=methods))
        return routes

    def _scope_policy(self, request: Request) -> ScopePolicy:
        """A JSON request must be signed for the service its target names; any request for a known region.

        A query- or ec2-protocol request has no target: the signing service picks the model (see
        ``_resolve``).
        """
        target = request.headers.get("x-amz-target")
        service = self._catalog.signing_name_for_target(target) if target is not None else None
        return ScopePolicy(service=service, regions=self._regions)

    def _runs_inline(self, provider: Provider | None, operation: str) -> bool:
        """Whether to run the operation on the event loop: handing a short call to a worker thread costs
        more than the call itself (measured in bench/api_throughput.py) when it does no I/O or only reads a
        local store."""
        if provider is None:
            return False
        if operation in provider.cpu_only_operations:
            return True
        return self._local_store and operation in provider.store_read_operations

    def _resolve(self, request: Request, body: bytes, signing_service: str) -> _Call:
        target = request.headers.get("x-amz-target")
        if target is not None:
            service_model, operation = self._catalog.resolve_target(target)
            name = service_model.service_name
            try:
                params = parse_json_request(operation, body)
            except ValidationError as error:
                raise _renamed(error, name) from None
            return _Call(name, operation, params, "json")
        service_model = self._catalog.service_for_signing_name(signing_service)
        router = self._catalog.rest_router(service_model.service_name) if service_model else None
        if service_model is not None and router is not None:
            name = service_model.service_name
            query = query_values(request.scope["query_string"].decode("latin-1"))
            raw_path = (request.scope.get("raw_path") or request.scope["path"].encode()).decode("latin-1")
            route = router.match(request.method, raw_path, query)
            try:
                params = parse_rest_json_request(
                    route.operation, route.labels, query, request.headers.items(), body
                )
            except ValidationError as error:
                raise _renamed(error, name) from None
            return _Call(name, route.operation, params, "rest-json")
        if request.scope["path"] != "/":
            raise UnknownOperationError(f"No operation matches {request.method} {request.scope['path']}.")
        if service_model is None or service_model.protocol not in ("query", "ec2"):
            raise UnknownOperationError("Missing X-Amz-Target header.")
        name = service_model.service_name
        if service_model.protocol == "ec2":
            operation, params = parse_ec2_request(service_model, body, request.url.query)
            return _Call(name, operation, params, "ec2")
        operation, params = parse_query_request(service_model, body, request.url.query)
        return _Call(name, operation, params, "query")

    def _claimed_protocol(self, request: Request) -> Protocol:
        """The protocol to answer an error in when the service is not known yet (or no longer: the error
        came out of ``_handle``): JSON for a request with an ``X-Amz-Target``; else the protocol of the
        service the credential scope names (Authorization header, or ``X-Amz-Credential`` of a presigned
        URL), if it is ec2; else query. Read from the request as sent, before or without any verification:
        it picks only the shape of the error."""
        if "x-amz-target" in request.headers:
            return "json"
        service = _claimed_signing_service(request)
        model = self._catalog.service_for_signing_name(service) if service else None
        if model is not None and model.protocol in ("ec2", "rest-json"):
            return "rest-json" if model.protocol == "rest-json" else "ec2"
        return "query"

    def _error_response(
        self, error: ApiError, request_id: str, *, protocol: Protocol, service: str | None
    ) -> WireResponse:
        # A provider error whose shape the model marks as a fault is a 500; other errors keep their status.
        fault = service is not None and self._catalog.is_server_fault(service, error.code)
        if protocol == "json":
            return serialize_json_error(error, server_fault=fault)
        if protocol == "rest-json":
            return serialize_rest_json_error(error, server_fault=fault)
        renames = _EC2_CODES if protocol == "ec2" else _QUERY_AUTH_CODES
        code = renames.get(error.code)
        if code is not None:
            error = ApiError(error.message, code=code, status=error.status)
        if protocol == "ec2":
            return serialize_ec2_error(error, request_id, server_fault=fault)
        return serialize_query_error(error, request_id, server_fault=fault)


def _renamed(error: ValidationError, service: str) -> ApiError:
    """A constraint violation under the code the service reports it with (``_VALIDATION_CODES``)."""
    code = _VALIDATION_CODES.get(service)
    return error if code is None else ApiError(error.message, code=code)


def _claimed_signing_service(request: Request) -> str | None:
    """The service named by the credential scope a request presents, unverified; None when it names none."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        match = _SCOPE_SERVICE.search(authorization)
        return match.group(1) if match else None
    for key, value in parse_qsl(request.scope["query_string"].decode("latin-1")):
        if key == "X-Amz-Credential":
            parts = value.split("/")
            return parts[3] if len(parts) == 5 else None
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = ApiError(
        f"Request body exceeds {limit} bytes.", code="RequestEntityTooLargeException", status=413
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def signed_request_from_scope(scope: Mapping[str, Any], body: bytes) -> SignedRequest:
    """The request an ASGI ``scope`` (HTTP or websocket) describes, as SigV4 verification reads it."""
    return SignedRequest(
        method=scope.get("method", "GET"),
        path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
        query_string=scope["query_string"].decode("latin-1"),
        headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]],
        body_sha256=hashlib.sha256(body).hexdigest(),
    )
