"""The ec2 protocol (EC2): botocore-serialized forms in, XML out and read back by botocore's parser; and
the gateway answering ec2-signed requests, errors included, in that protocol's shapes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import anyio
import botocore.parsers
import botocore.serialize
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request

from dockyard.api.gateway import AwsGateway
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.ec2_protocol import (
    parse_ec2_request,
    serialize_ec2_error,
    serialize_ec2_response,
)
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.context import Principal, RequestContext
from dockyard.core.errors import (
    ApiError,
    InternalError,
    NotImplementedOperationError,
    SerializationError,
    ValidationError,
)
from dockyard.services.base import Params, Provider, Result
from dockyard.store.credentials import AccessKey

EC2 = ServiceCatalog.default().service("ec2")
NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _fields(operation: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The form fields botocore sends for ``operation`` (its serializer yields them as a dict)."""
    request = botocore.serialize.create_serializer("ec2", include_validation=False).serialize_to_request(
        params, EC2.operation_model(operation)
    )
    fields: dict[str, str] = request["body"]
    return fields


def _form(operation: str, params: Mapping[str, Any]) -> bytes:
    return urlencode(_fields(operation, params)).encode()


def _parse(body: bytes, query_string: str = "") -> tuple[str, dict[str, Any]]:
    operation, params = parse_ec2_request(EC2, body, query_string)
    return operation.name, params


def _botocore_parse(reply: WireResponse, shape: Any) -> dict[str, Any]:
    response = {"status_code": reply.status, "headers": reply.headers, "body": reply.body}
    parsed: dict[str, Any] = botocore.parsers.create_parser("ec2").parse(response, shape)
    return parsed


def _tags(element: ElementTree.Element) -> list[str]:
    return [child.tag.removeprefix(f"{{{NAMESPACE}}}") for child in element]


# --- requests -------------------------------------------------------------------------------------------

DESCRIBE_SUBNETS = {
    "Filters": [
        {"Name": "vpc-id", "Values": ["vpc-123"]},
        {"Name": "default-for-az", "Values": ["true", "false"]},
    ],
    "SubnetIds": ["subnet-1", "subnet-2"],
    "DryRun": False,
    "MaxResults": 50,
}
AUTHORIZE_INGRESS = {
    "GroupId": "sg-0123456789abcdef0",
    "IpPermissions": [
        {
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "office & lab"}, {"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "123456789012"}, {"GroupName": "default"}],
            "PrefixListIds": [{"PrefixListId": "pl-1"}],
        },
        {"IpProtocol": "-1"},
    ],
    "TagSpecifications": [{"ResourceType": "security-group-rule", "Tags": [{"Key": "k", "Value": "v"}]}],
}
CREATE_SECURITY_GROUP = {
    "GroupName": "web",
    "Description": "web tier",
    "VpcId": "vpc-123",
    "TagSpecifications": [
        {
            "ResourceType": "security-group",
            "Tags": [{"Key": "tier", "Value": "web"}, {"Key": "env", "Value": ""}],
        }
    ],
}


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("DescribeSubnets", DESCRIBE_SUBNETS),
        ("AuthorizeSecurityGroupIngress", AUTHORIZE_INGRESS),
        ("CreateSecurityGroup", CREATE_SECURITY_GROUP),
        ("DescribeVpcs", {"VpcIds": ["vpc-1", "vpc-2", "vpc-3"]}),
        ("DescribeSecurityGroups", {"GroupNames": ["default"], "GroupIds": ["sg-1"]}),
        ("DescribeAvailabilityZones", {}),
    ],
)
def test_botocore_requests_read_back_as_sent(operation: str, params: dict[str, Any]) -> None:
    assert _parse(_form(operation, params)) == (operation, params)


def test_the_wire_spells_lists_flat_and_names_capitalized() -> None:
    """What the round trips above rest on: keys as EC2Serializer writes them, no ``.member.`` level."""
    assert _fields("DescribeSubnets", DESCRIBE_SUBNETS) == {
        "Action": "DescribeSubnets",
        "Version": "2016-11-15",
        "Filter.1.Name": "vpc-id",
        "Filter.1.Value.1": "vpc-123",
        "Filter.2.Name": "default-for-az",
        "Filter.2.Value.1": "true",
        "Filter.2.Value.2": "false",
        "SubnetId.1": "subnet-1",
        "SubnetId.2": "subnet-2",
        "DryRun": "false",
        "MaxResults": 50,
    }
    fields = _fields("AuthorizeSecurityGroupIngress", AUTHORIZE_INGRESS)
    assert fields["IpPermissions.1.Groups.1.GroupId"] == "sg-1"  # UserIdGroupPairs: locationName "groups"
    assert fields["IpPermissions.1.IpRanges.2.CidrIp"] == "0.0.0.0/0"
    assert fields["TagSpecification.1.Tag.1.Key"] == "k"


def test_list_order_follows_indexes_not_field_order() -> None:
    body = urlencode(
        {"Action": "DescribeVpcs", "Version": "2016-11-15", "VpcId.10": "ten", "VpcId.2": "two"}
    ).encode()
    assert _parse(body) == ("DescribeVpcs", {"VpcIds": ["two", "ten"]})


def test_action_in_the_query_string() -> None:
    assert _parse(b"", "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1") == (
        "DescribeVpcs",
        {"VpcIds": ["vpc-1"]},
    )


def test_members_the_model_does_not_name_are_dropped() -> None:
    body = b"Action=DescribeVpcs&Version=2016-11-15&VpcIds.member.1=vpc-1&Bogus=1"
    assert _parse(body) == ("DescribeVpcs", {})


def test_missing_and_unknown_action() -> None:
    with pytest.raises(ApiError) as excinfo:
        _parse(b"Version=2016-11-15")
    assert excinfo.value.code == "MissingAction"
    with pytest.raises(ApiError) as excinfo:
        _parse(b"Action=GetCallerIdentity&Version=2016-11-15")
    assert (excinfo.value.code, excinfo.value.status) == ("InvalidAction", 400)
    assert "GetCallerIdentity" in excinfo.value.message


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (b"Action=CreateSecurityGroup&GroupDescription=d", "GroupName"),
        (b"Action=CreateSecurityGroup&GroupName=web", "GroupDescription"),  # locationName, capitalized
        (b"Action=ModifyManagedPrefixList&PrefixListId=pl-1&AddEntry.1.Description=x", "AddEntry.1.Cidr"),
    ],
)
def test_a_missing_required_member_is_a_missing_parameter(body: bytes, parameter: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        _parse(body)
    assert (excinfo.value.code, excinfo.value.status) == ("MissingParameter", 400)
    assert excinfo.value.message == f"The request must contain the parameter {parameter}."


def test_constraint_breaches_are_invalid_parameter_values() -> None:
    body = _form(
        "CreateSecurityGroup",
        {**CREATE_SECURITY_GROUP, "TagSpecifications": [{"ResourceType": "teapot", "Tags": []}]},
    )
    with pytest.raises(ValidationError) as excinfo:
        _parse(body)
    assert excinfo.value.code == "InvalidParameterValue"
    assert "Value 'teapot' at 'tagSpecifications.1.member.resourceType'" in excinfo.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("IpPermissions.1.FromPort", "eighty"),
        ("DryRun", "maybe"),
        ("IpPermissions.x.IpProtocol", "tcp"),
        ("IpPermissions.1.IpRanges", "10.0.0.0/8"),
        ("GroupId.1", "sg-1"),
    ],
)
def test_unreadable_values_are_invalid_parameter_values(field: str, value: str) -> None:
    body = urlencode({"Action": "AuthorizeSecurityGroupIngress", field: value}).encode()
    with pytest.raises(SerializationError) as excinfo:
        _parse(body)
    assert excinfo.value.code == "InvalidParameterValue"
    assert field.partition(".")[0] in excinfo.value.message


def test_a_body_that_is_not_utf8_is_an_invalid_parameter_value() -> None:
    with pytest.raises(SerializationError) as excinfo:
        _parse(b"Action=DescribeVpcs&VpcId.1=\xff\xfe")
    assert excinfo.value.code == "InvalidParameterValue"


# --- replies --------------------------------------------------------------------------------------------


def test_describe_vpcs_reply() -> None:
    op = EC2.operation_model("DescribeVpcs")
    vpc = {
        "VpcId": "vpc-1",
        "CidrBlock": "172.31.0.0/16",
        "State": "available",
        "IsDefault": True,
        "OwnerId": "123456789012",
        "DhcpOptionsId": "dopt-1",
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-1",
                "CidrBlock": "172.31.0.0/16",
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Tags": [{"Key": "Name", "Value": "a<b>&c"}],
    }
    reply = serialize_ec2_response(
        op, {"Vpcs": [vpc, {"VpcId": "vpc-2", "IsDefault": False}], "Extra": 1}, "req-1"
    )
    assert (reply.status, reply.headers) == (200, {"Content-Type": "text/xml"})
    root = ElementTree.fromstring(reply.body)
    assert root.tag == f"{{{NAMESPACE}}}DescribeVpcsResponse"
    assert _tags(root) == ["requestId", "vpcSet"]  # no Result wrapper; unknown keys dropped
    vpc_set = root.find(f"{{{NAMESPACE}}}vpcSet")
    assert vpc_set is not None
    assert _tags(vpc_set) == ["item", "item"]
    assert b"<isDefault>true</isDefault>" in reply.body
    assert b"<tagSet><item><key>Name</key><value>a&lt;b&gt;&amp;c</value></item></tagSet>" in reply.body
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == {"Vpcs": [vpc, {"VpcId": "vpc-2", "IsDefault": False}]}


def test_describe_security_groups_reply_with_nested_lists() -> None:
    op = EC2.operation_model("DescribeSecurityGroups")
    group = {
        "GroupId": "sg-1",
        "GroupName": "default",
        "Description": "default VPC security group",
        "OwnerId": "123456789012",
        "VpcId": "vpc-1",
        "IpPermissions": [
            {
                "IpProtocol": "-1",
                "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "123456789012"}],
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
            }
        ],
        "IpPermissionsEgress": [
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "UserIdGroupPairs": [],
            }
        ],
        "Tags": [],
    }
    reply = serialize_ec2_response(op, {"SecurityGroups": [group], "NextToken": None}, "req-2")
    assert b"<groups><item><userId>123456789012</userId><groupId>sg-1</groupId></item></groups>" in reply.body
    assert b"<fromPort>0</fromPort>" in reply.body  # falsy numbers are written
    parsed = _botocore_parse(reply, op.output_shape)
    del parsed["ResponseMetadata"]
    assert parsed == {"SecurityGroups": [group]}


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("CreateSecurityGroup", {"GroupId": "sg-2", "Tags": [{"Key": "tier", "Value": "web"}]}),
        ("AuthorizeSecurityGroupIngress", {"Return": True, "SecurityGroupRules": []}),
        ("DeleteSecurityGroup", {"Return": False, "GroupId": "sg-2"}),
        (
            "DescribeSubnets",
            {
                "Subnets": [
                    {
                        "SubnetId": "subnet-1",
                        "AvailabilityZone": "us-east-1a",
                        "AvailabilityZoneId": "use1-az1",
                        "AvailableIpAddressCount": 4091,
                        "CidrBlock": "172.31.0.0/20",
                        "DefaultForAz": True,
                        "MapPublicIpOnLaunch": True,
                        "State": "available",
                        "VpcId": "vpc-1",
                    }
                ],
                "NextToken": "t1",
            },
        ),
        (
            "CreateVolume",
            {
                "VolumeId": "vol-1",
                "Size": 8,
                "CreateTime": datetime(2026, 11, 27, 13, 0, 0, 250000, tzinfo=UTC),
            },
        ),
    ],
)
def test_replies_read_back_by_botocore(operation: str, result: dict[str, Any]) -> None:
    op = EC2.operation_model(operation)
    reply = serialize_ec2_response(op, result, "req-3")
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-3"
    assert parsed == result


def test_a_timestamp_is_iso8601_utc() -> None:
    op = EC2.operation_model("CreateVolume")
    reply = serialize_ec2_response(
        op, {"VolumeId": "vol-1", "CreateTime": datetime(2026, 11, 27, 13, 0)}, "r"
    )
    assert b"<createTime>2026-11-27T13:00:00Z</createTime>" in reply.body


def test_an_operation_without_output_answers_return_true() -> None:
    op = EC2.operation_model("DeleteVpc")
    reply = serialize_ec2_response(op, {}, "req-4")
    assert (
        reply.body
        == (
            f'<DeleteVpcResponse xmlns="{NAMESPACE}"><requestId>req-4</requestId><return>true</return>'
            "</DeleteVpcResponse>"
        ).encode()
    )
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-4"
    assert parsed == {}


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "server_fault", "status"),
    [
        (
            ApiError("The security group 'sg-1' does not exist & more", code="InvalidGroup.NotFound"),
            False,
            400,
        ),
        (ApiError("Ouch", code="AuthFailure", status=403), False, 403),
        (NotImplementedOperationError("DescribeInstances is not implemented."), False, 501),
        (InternalError("boom"), False, 500),
        (ApiError("boom", code="Unavailable"), True, 500),
    ],
)
def test_errors_read_back_by_botocore(error: ApiError, server_fault: bool, status: int) -> None:
    reply = serialize_ec2_error(error, "req-5", server_fault=server_fault)
    assert reply.status == status
    assert reply.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>')
    parsed = _botocore_parse(reply, None)
    assert parsed["Error"] == {"Code": error.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-5"


# --- through the gateway ----------------------------------------------------------------------------------

KEY_ID = "AKIAEC2PROTOCOLTEST1"
SECRET = "ec2-protocol-test-secret"
PRINCIPAL = Principal(
    account_id="123456789012",
    arn="arn:aws:iam::123456789012:root",
    user_id="123456789012",
    access_key_id=KEY_ID,
)


class _Keys:
    def find_key(self, access_key_id: str) -> AccessKey | None:
        if access_key_id != KEY_ID:
            return None
        return AccessKey(access_key_id=KEY_ID, secret_access_key=SECRET, principal=PRINCIPAL, is_root=True)


class _Ec2(Provider):
    """A stand-in provider: two operations, one of which fails the EC2 way."""

    service_name = "ec2"

    def __init__(self) -> None:
        self.calls: list[tuple[RequestContext, Params]] = []

    def describe_vpcs(self, ctx: RequestContext, params: Params) -> Result:
        self.calls.append((ctx, params))
        return {"Vpcs": [{"VpcId": vpc_id, "IsDefault": False} for vpc_id in params.get("VpcIds", [])]}

    def delete_security_group(self, ctx: RequestContext, params: Params) -> Result:
        raise ApiError(
            f"The security group '{params.get('GroupId')}' does not exist", code="InvalidGroup.NotFound"
        )


def _gateway(provider: Provider) -> AwsGateway:
    return AwsGateway(
        catalog=ServiceCatalog.default(),
        providers={"ec2": provider},
        keys=KeyResolver(_Keys()),  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
    )


def _send(
    gateway: AwsGateway,
    operation: str,
    params: Mapping[str, Any],
    *,
    secret: str = SECRET,
    service: str = "ec2",
    extra_headers: Mapping[str, str] | None = None,
    presigned: bool = False,
) -> WireResponse:
    """Sign ``operation`` as botocore does (for ``service``; in the Authorization header, or as a presigned
    URL, which carries the form in its query string) and hand it to the gateway as an ASGI request."""
    request = AWSRequest(
        method="POST",
        url="http://localhost:4566/",
        data=_fields(operation, params),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(extra_headers or {})},
    )
    signer = SigV4QueryAuth if presigned else SigV4Auth
    signer(Credentials(KEY_ID, secret), service, "us-east-1").add_auth(request)
    body = request.body or b""
    headers = [(b"host", b"localhost:4566")] + [
        (name.lower().encode(), str(value).encode()) for name, value in request.headers.items()
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": urlsplit(request.url).query.encode(),
        "headers": headers,
        "state": {"request_id": "req-gw"},
    }
    chunks = [body]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    async def run() -> WireResponse:
        response = await gateway.handle(Request(scope, receive))
        return WireResponse(response.status_code, dict(response.headers), bytes(response.body))

    return anyio.run(run)


def _parsed_error(reply: WireResponse) -> dict[str, Any]:
    parsed = _botocore_parse(reply, None)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-gw"
    error: dict[str, Any] = parsed["Error"]
    return error


def test_the_gateway_serves_an_ec2_call() -> None:
    provider = _Ec2()
    reply = _send(_gateway(provider), "DescribeVpcs", {"VpcIds": ["vpc-1", "vpc-2"]})
    assert reply.status == 200
    op = EC2.operation_model("DescribeVpcs")
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed["Vpcs"] == [{"VpcId": "vpc-1", "IsDefault": False}, {"VpcId": "vpc-2", "IsDefault": False}]
    assert parsed["ResponseMetadata"]["RequestId"] == "req-gw"
    ((ctx, params),) = provider.calls
    assert (ctx.principal, ctx.region, params) == (PRINCIPAL, "us-east-1", {"VpcIds": ["vpc-1", "vpc-2"]})


def test_the_gateway_writes_provider_and_parse_errors_in_the_ec2_shape() -> None:
    gateway = _gateway(_Ec2())
    reply = _send(gateway, "DeleteSecurityGroup", {"GroupId": "sg-9"})
    assert reply.status == 400
    assert _parsed_error(reply) == {
        "Code": "InvalidGroup.NotFound",
        "Message": "The security group 'sg-9' does not exist",
    }
    reply = _send(gateway, "CreateSecurityGroup", {"GroupName": "web"})
    assert reply.status == 400
    assert _parsed_error(reply)["Code"] == "MissingParameter"


def test_an_unimplemented_ec2_operation_is_a_501_in_the_ec2_shape() -> None:
    reply = _send(_gateway(_Ec2()), "DescribeInstances", {})
    assert reply.status == 501
    error = _parsed_error(reply)
    assert error["Code"] == "NotImplementedException"
    assert "DescribeInstances" in error["Message"]


def test_authentication_failures_of_ec2_requests_are_auth_failures() -> None:
    reply = _send(_gateway(_Ec2()), "DescribeVpcs", {}, secret="wrong")
    assert reply.status == 403
    assert _parsed_error(reply)["Code"] == "AuthFailure"


@pytest.mark.parametrize("presigned", [False, True])
def test_an_ec2_call_by_presigned_url(presigned: bool) -> None:
    gateway = _gateway(_Ec2())
    reply = _send(gateway, "DescribeVpcs", {"VpcIds": ["vpc-1"]}, presigned=presigned)
    assert reply.status == 200
    assert b"<vpcId>vpc-1</vpcId></item></vpcSet>" in reply.body
    reply = _send(gateway, "DescribeVpcs", {}, presigned=presigned, secret="wrong")
    assert (reply.status, _parsed_error(reply)["Code"]) == (403, "AuthFailure")


def test_a_json_request_signed_for_ec2_still_fails_in_the_json_shape() -> None:
    target = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"}
    reply = _send(_gateway(_Ec2()), "DescribeVpcs", {}, extra_headers=target)
    assert reply.status in (400, 403)
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"


def test_a_query_request_signed_for_sts_keeps_the_query_shape() -> None:
    reply = _send(_gateway(_Ec2()), "DescribeVpcs", {}, secret="wrong", service="sts")
    assert reply.status == 403
    assert reply.body.startswith(b"<ErrorResponse")
    assert b"<Code>SignatureDoesNotMatch</Code>" in reply.body
