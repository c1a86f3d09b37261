"""The AWS query protocol (STS): form-encoded requests, XML replies and XML errors.

Requests flatten nested values into dotted keys (``Tags.member.1.Key``, ``Map.entry.1.key``). They are
rebuilt into a tree, read through the operation's input shape (form strings converted to the member
types), then checked by the same validator as JSON requests. Query services name their errors
differently: constraint breaches are ``ValidationError`` and unreadable values ``MalformedQueryString``.

The form reading and XML writing are shared with the ec2 protocol (:mod:`.ec2_protocol`), a dialect of
this one: a :class:`FormStyle` says how each spells member keys, lists and list items.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from botocore.model import OperationModel, ServiceModel, Shape

from dockyard.api.protocol.validate import parse_timestamp, validate_input
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, SerializationError, ValidationError

CONTENT_TYPE = "text/xml"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"

_INTEGER = re.compile(r"-?[0-9]+")
# Characters XML 1.0 cannot carry at all, even escaped; a value echoing one back (an id in an error
# message, say) would make the whole reply unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BOOLEANS = {"true": True, "false": False}


def parse_query_request(
    service: ServiceModel, body: bytes, query_string: str
) -> tuple[OperationModel, dict[str, Any]]:
    """Read a query-protocol request (``Action=...&Version=...&...``) of ``service``.

    Returns the operation and its validated, converted parameters. Raises ApiError ``MissingAction`` or
    ``InvalidAction`` for a missing or unknown action, SerializationError (code ``MalformedQueryString``)
    for unreadable values, ValidationError (code ``ValidationError``) for constraint breaches.
    """
    form = parse_form(query_string, body)
    action = form.pop("Action", "")
    if not action:
        raise ApiError("Missing Action", code="MissingAction")
    if action not in service.operation_names:
        raise ApiError(
            f"Could not find operation {action} for version {service.api_version}", code="InvalidAction"
        )
    operation = service.operation_model(action)
    shape = operation.input_shape
    if shape is None:
        return operation, {}
    try:
        params = read_form(shape, form_tree(form), QUERY_STYLE)
        return operation, validate_input(shape, params, lower_camel_paths=True)
    except ValidationError as exc:
        raise ValidationError(exc.message, code="ValidationError") from None
    except SerializationError as exc:
        raise SerializationError(exc.message, code="MalformedQueryString") from None


def serialize_query_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str
) -> WireResponse:
    """Write ``result`` as the query protocol's XML reply, members in output-shape order.

    Guarantees: only members of the output shape appear, ``None`` values are omitted, lists are
    ``<member>`` children, timestamps ISO 8601 UTC (``2026-11-27T13:00:00Z``), text is XML-escaped.
    """
    name = operation.name
    parts = [f"<{name}Response xmlns={quoteattr(xml_namespace(operation.service_model))}>"]
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        parts.append(f"<{wrapper}>")
        write_xml_members(shape, result, parts, QUERY_STYLE)
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{xml_text(request_id)}</RequestId></ResponseMetadata>")
    parts.append(f"</{name}Response>")
    return WireResponse(200, {"Content-Type": CONTENT_TYPE}, "".join(parts).encode())


def serialize_query_error(
    error: ApiError, request_id: str, *, server_fault: bool, namespace: str = STS_NAMESPACE
) -> WireResponse:
    """Write an error as the query protocol's ``<ErrorResponse>``; status 500 when ``server_fault``."""
    fault = "Receiver" if server_fault or not error.sender_fault else "Sender"
    body = (
        f"<ErrorResponse xmlns={quoteattr(namespace)}><Error><Type>{fault}</Type>"
        f"<Code>{xml_text(error.code)}</Code><Message>{xml_text(error.message)}</Message></Error>"
        f"<RequestId>{xml_text(request_id)}</RequestId></ErrorResponse>"
    )
    return WireResponse(500 if server_fault else error.status, {"Content-Type": CONTENT_TYPE}, body.encode())


def xml_text(value: str) -> str:
    """``value`` as XML character data: escaped, with characters XML cannot hold replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value))


def xml_namespace(service: ServiceModel) -> str:
    """The service's XML namespace from its model (a string, or ``{"uri": ...}`` in some models)."""
    namespace = service.metadata.get("xmlNamespace")
    if isinstance(namespace, dict):
        namespace = namespace.get("uri")
    return namespace or f"https://{service.endpoint_prefix}.amazonaws.com/doc/{service.api_version}/"


# --- the query family's spelling ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormStyle:
    """How a protocol of the query family (query, ec2) names members in its forms and replies.

    ``request_key`` gives a structure member's form key (from its name and shape), ``list_items`` the key
    between a list's own key and the item index (None: items directly under the list, ``List.1``), and
    ``item_tag`` the reply tag of list items whose shape names none.
    """

    request_key: Callable[[str, Shape], str]
    list_items: Callable[[Shape], str | None]
    item_tag: str


def _query_request_key(name: str, member: Shape) -> str:
    return str(member.serialization.get("name", name))


def _query_list_items(shape: Shape) -> str | None:
    if shape.serialization.get("flattened"):
        return None
    return str(shape.member.serialization.get("name", "member"))


#: The query protocol's: ``Tags.member.1.Key`` (a list's member name, else ``member``), ``<member>`` items.
QUERY_STYLE = FormStyle(request_key=_query_request_key, list_items=_query_list_items, item_tag="member")


# --- request reading -----------------------------------------------------------------------------------


def parse_form(query_string: str, body: bytes) -> dict[str, str]:
    """Merge the URL's and the body's form fields; the body wins (botocore sends everything there).

    Raises SerializationError (code ``MalformedQueryString``) for a body that is not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SerializationError("The request body is not UTF-8.", code="MalformedQueryString") from None
    form = dict(parse_qsl(query_string, keep_blank_values=True))
    form.update(parse_qsl(text, keep_blank_values=True))
    return form


def form_tree(form: Mapping[str, str]) -> dict[str, Any]:
    """Nest dotted keys: ``{"A.member.1.B": v}`` becomes ``{"A": {"member": {"1": {"B": v}}}}``."""
    root: dict[str, Any] = {}
    for key, value in form.items():
        *parents, leaf = key.split(".")
        node = root
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):  # a container wins over a scalar given for the same key
                child = node[part] = {}
            node = child
        if not isinstance(node.get(leaf), dict):
            node[leaf] = value
    return root


def read_form(shape: Shape, tree: Any, style: FormStyle) -> dict[str, Any]:
    """Read a :func:`form_tree` through the structure ``shape``, spelled in ``style``.

    Returns the members by their model names, form text converted to each member's type (integers,
    booleans, floats; timestamps and blobs stay text for the validator). Raises SerializationError, naming
    the form key, for a value of the wrong kind; checks no constraint (see ``validate_input``).
    """
    return _read_structure(shape, tree, "", style)


def _read(shape: Shape, node: Any, path: str, style: FormStyle) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _read_structure(shape, node, path, style)
    if kind == "list":
        return _read_list(shape, node, path, style)
    if kind == "map":
        return _read_map(shape, node, path, style)
    if isinstance(node, dict):
        raise SerializationError(f"Parameter '{path}' must be a single value.")
    return _read_scalar(kind, node, path)


def _read_structure(shape: Shape, node: Any, path: str, style: FormStyle) -> dict[str, Any]:
    if node == "":
        return {}
    if not isinstance(node, dict):
        raise SerializationError(f"Parameter '{path}' must be a structure.")
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = style.request_key(name, member)
        if key in node:
            out[name] = _read(member, node[key], f"{path}.{key}" if path else key, style)
    return out


def _read_list(shape: Shape, node: Any, path: str, style: FormStyle) -> list[Any]:
    if node == "":  # botocore sends ``List=`` for an empty list
        return []
    member_key = style.list_items(shape)
    if member_key is not None:
        node = node.get(member_key, {}) if isinstance(node, dict) else node
        path = f"{path}.{member_key}"
    items = _indexed(node, path)
    return [_read(shape.member, item, f"{path}.{index}", style) for index, item in items]


def _read_map(shape: Shape, node: Any, path: str, style: FormStyle) -> dict[Any, Any]:
    if node == "":
        return {}
    if not shape.serialization.get("flattened"):
        node = node.get("entry", {}) if isinstance(node, dict) else node
        path = f"{path}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    out: dict[Any, Any] = {}
    for index, entry in _indexed(node, path):
        if not isinstance(entry, dict) or key_name not in entry:
            raise SerializationError(f"Parameter '{path}.{index}' must have a {key_name}.")
        key = _read(shape.key, entry[key_name], f"{path}.{index}.{key_name}", style)
        value = entry.get(value_name)
        out[key] = None if value is None else _read(shape.value, value, f"{path}.{index}.{value_name}", style)
    return out


def _indexed(node: Any, path: str) -> list[tuple[int, Any]]:
    """The 1-based ``N`` children of a flattened list or map, in index order."""
    if not isinstance(node, dict) or not all(key.isdigit() for key in node):
        raise SerializationError(f"Parameter '{path}' must be a list of numbered entries.")
    return sorted((int(key), item) for key, item in node.items())


def _read_scalar(kind: str, text: str, path: str) -> Any:
    """Convert form text to the member's JSON-like type; timestamps and blobs stay text for the validator."""
    if kind in ("integer", "long"):
        if _INTEGER.fullmatch(text) is None:
            raise SerializationError(f"Value '{text}' at '{path}' is not a valid {kind}.")
        return int(text)
    if kind == "boolean":
        if text.lower() not in _BOOLEANS:
            raise SerializationError(f"Value '{text}' at '{path}' is not a valid boolean.")
        return _BOOLEANS[text.lower()]
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise SerializationError(f"Value '{text}' at '{path}' is not a valid number.") from None
    return text


# --- reply writing -------------------------------------------------------------------------------------


def write_xml_members(shape: Shape, value: Mapping[str, Any], parts: list[str], style: FormStyle) -> None:
    """Append the members of ``value`` the structure ``shape`` names, in model order, as XML to ``parts``.

    Each member's tag is its locationName (else its name); ``None`` values are left out, lists are
    ``<tag><item/></tag>`` (the list member's locationName, else ``style.item_tag``), booleans
    ``true``/``false``, timestamps ISO 8601 UTC, blobs base64; text is XML-escaped.
    """
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None:
            _write_element(member, member.serialization.get("name", name), item, parts, style)


def _write_element(shape: Shape, tag: str, value: Any, parts: list[str], style: FormStyle) -> None:
    kind = shape.type_name
    if kind == "list":
        _write_list(shape, tag, value, parts, style)
    elif kind == "map":
        _write_map(shape, tag, value, parts, style)
    elif kind == "structure":
        parts.append(f"<{tag}>")
        write_xml_members(shape, value, parts, style)
        parts.append(f"</{tag}>")
    else:
        parts.append(f"<{tag}>{xml_text(_scalar_text(kind, value))}</{tag}>")


def _write_list(shape: Shape, tag: str, value: Any, parts: list[str], style: FormStyle) -> None:
    """``<tag><member>..</member></tag>``, or repeated ``<tag>`` elements when the list is flattened."""
    flattened = shape.serialization.get("flattened", False)
    member_tag = shape.member.serialization.get("name", tag if flattened else style.item_tag)
    if not flattened:
        parts.append(f"<{tag}>")
    for item in value:
        if item is not None:
            _write_element(shape.member, member_tag, item, parts, style)
    if not flattened:
        parts.append(f"</{tag}>")


def _write_map(shape: Shape, tag: str, value: Mapping[Any, Any], parts: list[str], style: FormStyle) -> None:
    """``<tag><entry><key/><value/></entry></tag>``, or repeated ``<tag>`` entries when flattened."""
    flattened = shape.serialization.get("flattened", False)
    entry_tag = tag if flattened else "entry"
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    if not flattened:
        parts.append(f"<{tag}>")
    for key, item in value.items():
        if item is not None:
            parts.append(f"<{entry_tag}>")
            _write_element(shape.key, key_tag, key, parts, style)
            _write_element(shape.value, value_tag, item, parts, style)
            parts.append(f"</{entry_tag}>")
    if not flattened:
        parts.append(f"</{tag}>")


def _scalar_text(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _iso8601(value)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _iso8601(value: Any) -> str:
    """``2026-11-27T13:00:00Z``; milliseconds only when the time has a fraction."""
    moment = value if isinstance(value, datetime) else parse_timestamp(value, "timestamp")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"
