"""The query protocol (STS): botocore-serialized forms in, XML out and read back by botocore's parser."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import botocore.parsers
import botocore.serialize
import pytest

from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.query_protocol import (
    STS_NAMESPACE,
    parse_query_request,
    serialize_query_error,
    serialize_query_response,
)
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, InternalError, SerializationError, ValidationError

STS = ServiceCatalog.default().service("sts")


def _form(operation: str, params: Mapping[str, Any]) -> bytes:
    """The body botocore sends for ``operation`` (its serializer yields the form fields as a dict)."""
    request = botocore.serialize.create_serializer("query").serialize_to_request(
        params, STS.operation_model(operation)
    )
    return urlencode(request["body"]).encode()


def _parse(body: bytes, query_string: str = "") -> tuple[str, dict[str, Any]]:
    operation, params = parse_query_request(STS, body, query_string)
    return operation.name, params


def _botocore_parse(reply: WireResponse, shape: Any) -> dict[str, Any]:
    response = {"status_code": reply.status, "headers": reply.headers, "body": reply.body}
    parsed: dict[str, Any] = botocore.parsers.create_parser("query").parse(response, shape)
    return parsed


# --- requests -------------------------------------------------------------------------------------------


def test_get_caller_identity() -> None:
    assert _parse(_form("GetCallerIdentity", {})) == ("GetCallerIdentity", {})


def test_assume_role_with_nested_lists() -> None:
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/deploy",
        "RoleSessionName": "ci-session",
        "DurationSeconds": 3600,
        "Tags": [{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": "prod"}],
        "TransitiveTagKeys": ["team"],
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "ExternalId": "ext-1",
    }
    assert _parse(_form("AssumeRole", params)) == ("AssumeRole", params)


def test_list_order_follows_indexes_not_field_order() -> None:
    body = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "RoleSessionName": "s1",
            "TransitiveTagKeys.member.10": "ten",
            "TransitiveTagKeys.member.2": "two",
        }
    ).encode()
    assert _parse(body)[1]["TransitiveTagKeys"] == ["two", "ten"]


def test_empty_list_is_sent_as_a_blank_field() -> None:
    body = _form("AssumeRole", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s1", "Tags": []})
    assert b"Tags=" in body
    assert _parse(body)[1]["Tags"] == []


def test_action_in_the_query_string() -> None:
    assert _parse(b"", "Action=GetCallerIdentity&Version=2011-06-15") == ("GetCallerIdentity", {})


def test_missing_and_unknown_action() -> None:
    with pytest.raises(ApiError) as excinfo:
        _parse(b"Version=2011-06-15")
    assert excinfo.value.code == "MissingAction"
    with pytest.raises(ApiError) as excinfo:
        _parse(b"Action=CreateCluster&Version=2011-06-15")
    assert excinfo.value.code == "InvalidAction"
    assert "CreateCluster" in excinfo.value.message


def test_constraint_breaches_use_the_query_error_code_and_camel_paths() -> None:
    body = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": "arn:aws:iam::1:role/r",
            "RoleSessionName": "bad name!",
            "DurationSeconds": "99999",
        }
    ).encode()
    with pytest.raises(ValidationError) as excinfo:
        _parse(body)
    assert excinfo.value.code == "ValidationError"
    assert excinfo.value.message == (
        "2 validation errors detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]*; "
        "Value '99999' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200"
    )


def test_missing_required_parameter() -> None:
    with pytest.raises(ValidationError) as excinfo:
        _parse(b"Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1")
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in (
        excinfo.value.message
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("DurationSeconds", "ninety"), ("DurationSeconds", "1_000"), ("Tags.member.x.Key", "k")],
)
def test_unreadable_values_are_malformed(field: str, value: str) -> None:
    body = urlencode(
        {"Action": "AssumeRole", "RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s1", field: value}
    ).encode()
    with pytest.raises(SerializationError) as excinfo:
        _parse(body)
    assert excinfo.value.code == "MalformedQueryString"
    assert field.partition(".")[0] in excinfo.value.message


# --- replies --------------------------------------------------------------------------------------------


def test_get_caller_identity_reply() -> None:
    op = STS.operation_model("GetCallerIdentity")
    result = {"UserId": "AIDA1", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/a&b"}
    reply = serialize_query_response(op, {**result, "Internal": "x"}, "req-1")
    assert reply.status == 200
    assert reply.headers == {"Content-Type": "text/xml"}
    root = ElementTree.fromstring(reply.body)
    assert root.tag == f"{{{STS_NAMESPACE}}}GetCallerIdentityResponse"
    wrapper = root.find(f"{{{STS_NAMESPACE}}}GetCallerIdentityResult")
    assert wrapper is not None
    names = [child.tag.removeprefix(f"{{{STS_NAMESPACE}}}") for child in wrapper]
    assert names == ["UserId", "Account", "Arn"]  # output-shape order, unknown keys dropped
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


def test_assume_role_reply_with_timestamp() -> None:
    op = STS.operation_model("AssumeRole")
    expiration = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    result = {
        "Credentials": {
            "AccessKeyId": "ASIA1",
            "SecretAccessKey": "secret<>",
            "SessionToken": "token",
            "Expiration": expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROA1:s1", "Arn": "arn:aws:sts::1:assumed-role/r/s1"},
        "PackedPolicySize": 6,
        "SourceIdentity": None,
    }
    reply = serialize_query_response(op, result, "req-2")
    assert b"<Expiration>2026-11-27T13:00:00Z</Expiration>" in reply.body
    parsed = _botocore_parse(reply, op.output_shape)
    del parsed["ResponseMetadata"]
    assert parsed == {key: value for key, value in result.items() if value is not None}


# --- errors ---------------------------------------------------------------------------------------------


def test_sender_error() -> None:
    error = ApiError("Not authorized to perform sts:AssumeRole & more", code="AccessDenied", status=403)
    reply = serialize_query_error(error, "req-3", server_fault=False)
    assert reply.status == 403
    parsed = _botocore_parse(reply, None)
    assert parsed["Error"] == {"Type": "Sender", "Code": "AccessDenied", "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-3"


@pytest.mark.parametrize(
    ("error", "server_fault"),
    [(ApiError("boom", code="ServiceFailure"), True), (InternalError("boom"), False)],
)
def test_receiver_errors(error: ApiError, server_fault: bool) -> None:
    reply = serialize_query_error(error, "req-4", server_fault=server_fault)
    assert reply.status == 500
    parsed = _botocore_parse(reply, None)
    assert parsed["Error"] == {"Type": "Receiver", "Code": error.code, "Message": "boom"}


def test_characters_xml_cannot_hold_are_replaced_so_the_reply_stays_readable() -> None:
    from dockyard.api.protocol.query_protocol import xml_text

    assert xml_text("id '\x00' <b>") == "id '\ufffd' &lt;b&gt;"
