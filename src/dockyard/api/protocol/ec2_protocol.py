"""The AWS ec2 protocol (EC2): form-encoded requests, XML replies and XML errors.

A dialect of the query protocol (botocore's ``EC2Serializer`` derives from its ``QuerySerializer``), read
and written by the same code in :mod:`dockyard.api.protocol.query_protocol` with EC2's spelling:

* requests name a member by its ``queryName``, else its ``locationName`` capitalized, else its model name,
  and flatten every list as ``Key.N`` (``Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1``, ``GroupId.1=sg-1``);
* replies carry ``<requestId>`` and then the output members, with no ``Result`` wrapper, each tagged with
  its ``locationName`` (``vpcSet``), list items as ``<item>``;
* errors are ``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``.

EC2 names its errors in its own way: a constraint breach or an unreadable value is
``InvalidParameterValue``, a missing required member ``MissingParameter``, an unknown action
``InvalidAction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from botocore.model import OperationModel, ServiceModel, Shape

from dockyard.api.protocol.query_protocol import (
    CONTENT_TYPE,
    FormStyle,
    form_tree,
    parse_form,
    read_form,
    write_xml_members,
    xml_namespace,
    xml_text,
)
from dockyard.api.protocol.validate import validate_input
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, SerializationError, ValidationError

INVALID_PARAMETER_VALUE = "InvalidParameterValue"
MISSING_PARAMETER = "MissingParameter"


def _ec2_request_key(name: str, member: Shape) -> str:
    """``queryName``, else the ``locationName`` with its first letter capitalized, else the member name."""
    serialization = member.serialization
    query_name = serialization.get("queryName")
    if query_name:
        return str(query_name)
    location = serialization.get("name")
    if location:
        return str(location[0].upper() + location[1:])
    return name


def _ec2_list_items(shape: Shape) -> str | None:
    return None  # ``Key.N``: never a ``member`` level


#: EC2's spelling: ``Filter.1.Value.1`` in requests, ``<item>`` list items in replies.
EC2_STYLE = FormStyle(request_key=_ec2_request_key, list_items=_ec2_list_items, item_tag="item")


def parse_ec2_request(
    service: ServiceModel, body: bytes, query_string: str
) -> tuple[OperationModel, dict[str, Any]]:
    """Read an ec2-protocol request (``Action=...&Version=2016-11-15&...``) of ``service``.

    Returns the operation and its validated, converted parameters (model member names, as botocore takes
    them). Raises ApiError ``MissingAction`` or ``InvalidAction`` for a missing or unknown action,
    ApiError ``MissingParameter`` naming the form key of a missing required member, and
    SerializationError / ValidationError with code ``InvalidParameterValue`` for unreadable values and
    constraint breaches.
    """
    try:
        form = parse_form(query_string, body)
    except SerializationError as exc:
        raise SerializationError(exc.message, code=INVALID_PARAMETER_VALUE) from None
    action = form.pop("Action", "")
    if not action:
        raise ApiError("The request must contain the parameter Action.", code="MissingAction")
    if action not in service.operation_names:
        raise ApiError(f"The action {action} is not valid for this web service.", code="InvalidAction")
    operation = service.operation_model(action)
    shape = operation.input_shape
    if shape is None:
        return operation, {}
    try:
        params = read_form(shape, form_tree(form), EC2_STYLE)
    except SerializationError as exc:
        raise SerializationError(exc.message, code=INVALID_PARAMETER_VALUE) from None
    try:
        return operation, validate_input(shape, params, lower_camel_paths=True)
    except SerializationError as exc:
        raise SerializationError(exc.message, code=INVALID_PARAMETER_VALUE) from None
    except ValidationError as exc:
        # The validator only says what is wrong; look for a missing member first (there are few errors).
        missing = _missing_required(shape, params, "")
        if missing is not None:
            raise ApiError(
                f"The request must contain the parameter {missing}.", code=MISSING_PARAMETER
            ) from None
        raise ValidationError(exc.message, code=INVALID_PARAMETER_VALUE) from None


def serialize_ec2_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str
) -> WireResponse:
    """Write ``result`` as the ec2 protocol's XML reply: ``<{Operation}Response>``, then ``<requestId>``,
    then the output members directly (in output-shape order, tagged by their locationName).

    Guarantees: only members of the output shape appear, ``None`` values are omitted, lists are
    ``<tag><item>..</item></tag>``, booleans ``true``/``false``, timestamps ISO 8601 UTC, text is
    XML-escaped. An operation without an output shape answers ``<return>true</return>``, as EC2 does.
    """
    name = operation.name
    parts = [
        f"<{name}Response xmlns={quoteattr(ec2_namespace(operation.service_model))}>",
        f"<requestId>{xml_text(request_id)}</requestId>",
    ]
    shape = operation.output_shape
    if shape is None:
        parts.append("<return>true</return>")
    else:
        write_xml_members(shape, result, parts, EC2_STYLE)
    parts.append(f"</{name}Response>")
    return WireResponse(200, {"Content-Type": CONTENT_TYPE}, "".join(parts).encode())


def serialize_ec2_error(error: ApiError, request_id: str, *, server_fault: bool) -> WireResponse:
    """Write an error as the ec2 protocol's ``<Response><Errors>``; status 500 when ``server_fault``,
    else the error's own (400 for client errors, 501 for an operation dockyard does not implement)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{xml_text(error.code)}</Code>"
        f"<Message>{xml_text(error.message)}</Message></Error></Errors>"
        f"<RequestID>{xml_text(request_id)}</RequestID></Response>"
    )
    return WireResponse(500 if server_fault else error.status, {"Content-Type": CONTENT_TYPE}, body.encode())


def ec2_namespace(service: ServiceModel) -> str:
    """EC2's XML namespace as its replies carry it: the model's, with the trailing slash the model lacks
    (``http://ec2.amazonaws.com/doc/2016-11-15/``)."""
    namespace = xml_namespace(service)
    return namespace if namespace.endswith("/") else f"{namespace}/"


def _missing_required(shape: Shape, value: Any, path: str) -> str | None:
    """The form key (``IpPermissions.1.IpProtocol``) of the first required member absent from ``value``."""
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                return _join(path, _ec2_request_key(name, members[name]))
        for name, item in value.items():
            member = members.get(name)
            if member is not None:
                found = _missing_required(member, item, _join(path, _ec2_request_key(name, member)))
                if found is not None:
                    return found
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value, 1):
            found = _missing_required(shape.member, item, f"{path}.{index}")
            if found is not None:
                return found
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
