"""AWS rest-json (EKS): routing by the model's URI templates, request parsing, reply and error writing.

A request is addressed by its method and path, not by a header::

    GET /clusters/web/node-groups?maxResults=10      →  ListNodegroups(clusterName=web, maxResults=10)
    POST /clusters/web/access-entries/arn%3Aaws%3A…/access-policies  →  AssociateAccessPolicy(…)

:class:`RestJsonRouter` compiles every operation's ``http.method`` + ``requestUri`` once. The raw path is
split on ``/`` before percent-decoding, so an ARN in a label (``%2F`` inside) stays one segment; a greedy
label (``{key+}``) takes the remaining segments with their slashes. When several templates match, the one
with more literal segments wins (``/clusters/{name}/updates`` over a label in that place).

Members are read from where the model puts them (``location``: ``uri``, ``querystring``, ``header``,
``headers``; anything else from the JSON body, or the whole body for a ``payload`` structure), converted
from text to the member's type, then checked with the same :func:`validate_input` as every protocol.
Replies carry ``http.responseCode`` (200 unless the model says otherwise) and the output shape's body
members as JSON (the output shape is the allow-list); errors are ``x-amzn-ErrorType: <code>`` with a JSON
body ``{"message": …}``, which is what botocore's rest-json parser reads.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from dockyard.api.protocol.json_protocol import serialize_json_structure
from dockyard.api.protocol.validate import parse_timestamp, validate_input
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, SerializationError, UnknownOperationError

CONTENT_TYPE = "application/json"

_LABEL = re.compile(r"^\{([^}+]+)(\+?)\}$")
_TRUE, _FALSE = "true", "false"


# --- routing -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    literal: str | None
    """The segment's text, or None for a label."""
    label: str = ""
    greedy: bool = False


@dataclass(frozen=True, slots=True)
class _Template:
    method: str
    segments: tuple[_Segment, ...]
    query: tuple[tuple[str, str], ...]
    """Literal query pairs of the template (``/path?versions``); the request must carry them."""
    operation: OperationModel

    @property
    def specificity(self) -> tuple[int, int]:
        literals = sum(1 for s in self.segments if s.literal is not None)
        return (literals, -sum(1 for s in self.segments if s.greedy))


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: OperationModel
    labels: dict[str, str]
    """Each URI label's value, percent-decoded."""


class RestJsonRouter:
    """Finds the operation of a rest-json service a request's method and raw path address."""

    def __init__(self, service: ServiceModel) -> None:
        templates = [_compile_template(service.operation_model(name)) for name in service.operation_names]
        self._templates = sorted(templates, key=lambda t: t.specificity, reverse=True)
        self.first_segments: frozenset[str] = frozenset(
            t.segments[0].literal for t in templates if t.segments and t.segments[0].literal
        )
        """The literal first path segments of the service's URIs (``clusters``, ``tags``…): the paths to
        route to it."""

    def match(self, method: str, raw_path: str, query: Mapping[str, Sequence[str]]) -> RouteMatch:
        """The operation and labels for ``method`` on ``raw_path`` (still percent-encoded).

        Raises UnknownOperationError (404) when no template matches path and method.
        """
        segments = _split_path(raw_path)
        for template in self._templates:
            if template.method != method:
                continue
            labels = _match_segments(template.segments, segments)
            if labels is None:
                continue
            if not all(_has_pair(query, key, value) for key, value in template.query):
                continue
            return RouteMatch(template.operation, labels)
        raise UnknownOperationError(f"No operation matches {method} {raw_path}.", status=404)


def _has_pair(query: Mapping[str, Sequence[str]], key: str, value: str) -> bool:
    """Whether the request's query carries a template's literal pair (any value for ``?flag``)."""
    return key in query and (not value or value in query[key])


def _compile_template(operation: OperationModel) -> _Template:
    uri: str = operation.http["requestUri"]
    path, _, query_text = uri.partition("?")
    segments = []
    for part in path.strip("/").split("/"):
        if not part:
            continue
        label = _LABEL.match(part)
        if label:
            segments.append(_Segment(None, label.group(1), bool(label.group(2))))
        else:
            segments.append(_Segment(part))
    query = tuple((k, v) for k, v in parse_qsl(query_text, keep_blank_values=True))
    return _Template(operation.http["method"].upper(), tuple(segments), query, operation)


def _split_path(raw_path: str) -> list[str]:
    """The path's segments, still percent-encoded; empty segments (``//``, a trailing ``/``) dropped."""
    return [segment for segment in raw_path.split("?", 1)[0].split("/") if segment]


def _match_segments(template: Sequence[_Segment], segments: Sequence[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.greedy:
            rest = segments[index:]
            if not rest:
                return None
            labels[part.label] = unquote("/".join(rest))
            return labels if index == len(template) - 1 else None
        if index >= len(segments):
            return None
        if part.literal is None:
            labels[part.label] = unquote(segments[index])
        elif part.literal != segments[index]:
            return None
    return labels if len(segments) == len(template) else None


def query_values(raw_query: str) -> dict[str, list[str]]:
    """A raw query string as each key's values in order (``+`` is a space, as botocore's encoding)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return values


# --- requests ------------------------------------------------------------------------------------------


def parse_rest_json_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    """The validated parameters of a rest-json request: each member read from its location.

    Raises SerializationError for a body that is not a JSON object or a value that does not convert to
    its member's type, ValidationError for the model's constraints (see ``validate_input``).
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    lowered: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    params: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    named = {
        m.serialization.get("name", n)
        for n, m in shape.members.items()
        if m.serialization.get("location") == "querystring" and m.type_name != "map"
    }
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = _from_text(member, labels[wire_name], name)
        elif location == "querystring":
            _read_query(params, name, member, wire_name, query, named)
        elif location == "header":
            if wire_name.lower() in lowered:
                params[name] = _from_header(member, lowered[wire_name.lower()], name)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {k[len(prefix) :]: v for k, v in lowered.items() if k.startswith(prefix)}
            if found:
                params[name] = found
    if payload_name is not None:
        member = shape.members[payload_name]
        if member.type_name == "structure":
            document = _json_object(body)
            if document is not None:
                params[payload_name] = document
        elif body:
            # A blob or string payload is the body itself; a blob goes through validation as base64.
            raw = body.decode("utf-8", "replace")
            params[payload_name] = base64.b64encode(body).decode() if member.type_name == "blob" else raw
    else:
        document = _json_object(body) or {}
        for name, member in shape.members.items():
            if member.serialization.get("location") is None and name in document:
                params[name] = document[name]
    return validate_input(shape, params)


def _read_query(
    params: dict[str, Any],
    name: str,
    member: Shape,
    wire_name: str,
    query: Mapping[str, Sequence[str]],
    named: set[str],
) -> None:
    if member.type_name == "map":
        # A map bound to the query string takes every pair that no other member names.
        many = member.value.type_name == "list"
        found = {k: list(v) if many else v[0] for k, v in query.items() if k not in named and v}
        if found:
            params[name] = found
        return
    values = query.get(wire_name)
    if not values:
        return
    if member.type_name == "list":
        params[name] = [_from_text(member.member, value, name) for value in values]
    else:
        params[name] = _from_text(member, values[0], name)


def _from_text(member: Shape, text: str, name: str) -> Any:
    """A value read from a path label, the query string or a header, as its member's JSON type."""
    kind = member.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise SerializationError(f"Value at '{name}' must be an integer, not '{text}'.") from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise SerializationError(f"Value at '{name}' must be a number, not '{text}'.") from None
    if kind == "boolean":
        if text not in (_TRUE, _FALSE):
            raise SerializationError(f"Value at '{name}' must be true or false, not '{text}'.")
        return text == _TRUE
    if kind == "timestamp":
        return parse_timestamp(text, name).isoformat()
    return text


def _from_header(member: Shape, text: str, name: str) -> Any:
    if member.type_name == "list":
        return [_from_text(member.member, item.strip(), name) for item in text.split(",")]
    if member.type_name == "string" and member.serialization.get("jsonvalue"):
        try:
            return base64.b64decode(text, validate=True).decode()
        except (binascii.Error, ValueError):
            raise SerializationError(f"Value at '{name}' is not valid base64.") from None
    return _from_text(member, text, name)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; None for an empty body."""
    if not body or body.isspace():
        return None
    try:
        document = orjson.loads(body)
    except ValueError:
        raise SerializationError("The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise SerializationError("Start of structure or map found where not expected.")
    return document


# --- replies -------------------------------------------------------------------------------------------


def serialize_rest_json_response(operation: OperationModel, result: Mapping[str, Any]) -> WireResponse:
    """Write ``result`` as the operation's rest-json reply: status ``http.responseCode`` (default 200),
    header members as headers, the other members of the output shape as a JSON body (only those)."""
    status = int(operation.http.get("responseCode", 200))
    headers = {"Content-Type": CONTENT_TYPE}
    shape = operation.output_shape
    if shape is None:
        return WireResponse(status, headers, b"{}")
    body_values: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    for name, value in result.items():
        member = shape.members.get(name)
        if member is None or value is None:
            continue
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "header":
            headers[wire_name] = _to_header(member, value)
        elif location == "headers":
            headers.update({f"{wire_name}{k}": str(v) for k, v in value.items()})
        elif location == "statusCode":
            status = int(value)
        elif location is None:
            body_values[name] = value
    if payload_name is not None:
        payload = body_values.get(payload_name)
        member = shape.members[payload_name]
        if member.type_name == "structure":
            body = b"{}" if payload is None else serialize_json_structure(member, payload)
        else:
            body = payload if isinstance(payload, bytes) else str(payload or "").encode()
        return WireResponse(status, headers, body)
    return WireResponse(status, headers, serialize_json_structure(shape, body_values))


def _to_header(member: Shape, value: Any) -> str:
    kind = member.type_name
    if kind == "boolean":
        return _TRUE if value else _FALSE
    if kind == "timestamp" and isinstance(value, datetime):
        return format_datetime(value, usegmt=True)
    if kind == "list":
        return ",".join(str(item) for item in value)
    return str(value)


def serialize_rest_json_error(error: ApiError, *, server_fault: bool) -> WireResponse:
    """An error as rest-json services write one: ``x-amzn-ErrorType`` names the code, the JSON body
    carries ``message``; status 500 for a modelled server fault, else the error's own."""
    body = orjson.dumps({"message": error.message})
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": error.code}
    return WireResponse(500 if server_fault else error.status, headers, body)
