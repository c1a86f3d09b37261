"""AWS JSON 1.1 (ECS, ECR, CloudWatch Logs): request parsing, reply and error serialization.

Replies are written through the operation's output shape used as an allow-list, compiled once per shape
into small writer functions: keys the model does not name are dropped (recursively) and so are ``None``
values, so a provider can never leak internal fields onto the wire.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape

from dockyard.api.protocol.validate import validate_input
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, SerializationError

_json_loads: Callable[[bytes], Any]
_json_dumps: Callable[[Any], bytes]
try:
    import orjson

    _json_loads = orjson.loads
    _json_dumps = orjson.dumps
except ImportError:  # pragma: no cover - orjson is a declared dependency; json keeps the module usable
    _json_loads = json.loads
    _json_dumps = lambda payload: json.dumps(payload, separators=(",", ":")).encode()  # noqa: E731

CONTENT_TYPE = "application/x-amz-json-1.1"

#: Converts one Python value to its JSON form; ``None`` in a writer table means "write as is".
Writer = Callable[[Any], Any]

_MAX_CACHED_WRITERS = 4096
_WRITERS: dict[Any, Writer] = {}
_MISSING = object()


def parse_json_request(operation: OperationModel, body: bytes) -> dict[str, Any]:
    """Decode and validate a JSON 1.1 request body for ``operation``.

    An empty body is ``{}``. Returns the validated, converted parameters (see ``validate_input``); raises
    SerializationError for malformed JSON or a non-object body, ValidationError for constraint breaches.
    """
    params = _decode(body) if body and not body.isspace() else {}
    if not isinstance(params, dict):
        raise SerializationError("Start of structure or map found where not expected.")
    shape = operation.input_shape
    if shape is None:
        return {}
    return validate_input(shape, params)


def serialize_json_response(operation: OperationModel, result: Mapping[str, Any]) -> WireResponse:
    """Write ``result`` through the operation's output shape as a 200 JSON 1.1 reply.

    Guarantees: only members of the output shape appear, ``None`` values are omitted, datetimes become
    epoch seconds (floats), bytes become base64 text.
    """
    shape = operation.output_shape
    payload = {} if shape is None else _writer_for(shape)(result)
    return WireResponse(200, {"Content-Type": CONTENT_TYPE}, _encode(payload))


def serialize_json_structure(shape: Shape, value: Mapping[str, Any]) -> bytes:
    """``value`` written through the structure ``shape`` as JSON, with the same guarantees as a reply (an
    event of an event stream is written this way)."""
    return _encode(_writer_for(shape)(value))


def serialize_json_error(error: ApiError, *, server_fault: bool) -> WireResponse:
    """Write an error as AWS JSON 1.1 does: ``{"__type", "message"}`` plus ``x-amzn-ErrorType``.

    The status is 500 when ``server_fault`` (a modelled fault such as ECS ``ServerException``), else the
    error's own status.
    """
    body = _encode({"__type": error.code, "message": error.message})
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": error.code}
    return WireResponse(500 if server_fault else error.status, headers, body)


# --- JSON codec ----------------------------------------------------------------------------------------


def _decode(body: bytes) -> Any:
    try:
        return _json_loads(body)
    except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError both derive from ValueError
        raise SerializationError("The request body is not valid JSON.") from None


def _encode(payload: Any) -> bytes:
    return _json_dumps(payload)


# --- output writers ------------------------------------------------------------------------------------


def _writer_for(shape: Shape) -> Writer:
    """Return the cached writer of a root output shape (compiled on first use)."""
    writer = _WRITERS.get(shape)
    if writer is None:
        if len(_WRITERS) >= _MAX_CACHED_WRITERS:
            _WRITERS.clear()
        writer = _compile(shape, {}) or dict  # output shapes are structures: the fallback never applies
        _WRITERS[shape] = writer
    return writer


def _compile(shape: Shape, memo: dict[str, Writer | None]) -> Writer | None:
    """Build the writer of ``shape``, or None when its values are written unchanged (plain scalars)."""
    if shape.name in memo:
        return memo[shape.name]
    kind = shape.type_name
    writer: Writer | None
    if kind == "structure" and not shape.metadata.get("document"):
        members: dict[str, Writer | None] = {}
        writer = _structure_writer(members)
        memo[shape.name] = writer
        # Filled after registration so that recursive shapes find their own writer in ``memo``.
        members.update((name, _compile(member, memo)) for name, member in shape.members.items())
    elif kind == "list":
        writer = _list_writer(_compile(shape.member, memo))
    elif kind == "map":
        writer = _map_writer(_compile(shape.value, memo))
    elif kind == "timestamp":
        writer = _write_timestamp
    elif kind == "blob":
        writer = _write_blob
    else:
        writer = None
    memo[shape.name] = writer
    return writer


def _structure_writer(members: dict[str, Writer | None]) -> Writer:
    def write(value: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            writer = members.get(key, _MISSING)
            if writer is _MISSING:
                continue
            if writer is None or (type(item) is list and not item):  # empty lists are common: skip a call
                out[key] = item
            else:
                out[key] = writer(item)  # type: ignore[operator]
        return out

    return write


def _list_writer(member: Writer | None) -> Writer:
    if member is None:
        return list

    # An explicit loop: cheaper than a comprehension for the short lists replies are made of.
    def write(value: Any) -> list[Any]:
        out = []
        for item in value:
            if item is not None:
                out.append(member(item))
        return out

    return write


def _map_writer(value_writer: Writer | None) -> Writer:
    if value_writer is None:
        return dict

    def write(value: Mapping[Any, Any]) -> dict[Any, Any]:
        out = {}
        for key, item in value.items():
            if item is not None:
                out[key] = value_writer(item)
        return out

    return write


def _write_timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # naive datetimes are UTC throughout dockyard
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return value  # already epoch seconds


def _write_blob(value: Any) -> str:
    return base64.b64encode(value).decode("ascii")
