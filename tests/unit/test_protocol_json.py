"""JSON 1.1: requests built by botocore's own serializer, replies read back by botocore's own parser."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import orjson
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ServiceModel

from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.json_protocol import (
    parse_json_request,
    serialize_json_error,
    serialize_json_response,
)
from dockyard.api.protocol.wire import WireResponse
from dockyard.core.errors import ApiError, NotFoundError, SerializationError, UnknownOperationError

CATALOG = ServiceCatalog.default()


def _op(service: str, name: str) -> Any:
    return CATALOG.operation(service, name)


def _botocore_request(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = botocore.serialize.create_serializer("json").serialize_to_request(
        params, _op(service, operation)
    )
    return request


def _round_trip(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    request = _botocore_request(service, operation, params)
    target = request["headers"]["X-Amz-Target"]
    _, op = CATALOG.resolve_target(target)
    assert op.name == operation
    return parse_json_request(op, request["body"])


def _botocore_parse(reply: WireResponse, shape: Any) -> dict[str, Any]:
    response = {"status_code": reply.status, "headers": reply.headers, "body": reply.body}
    parsed: dict[str, Any] = botocore.parsers.create_parser("json").parse(response, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


# --- catalog --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "service", "operation"),
    [
        ("AmazonEC2ContainerServiceV20141113.CreateCluster", "ecs", "CreateCluster"),
        ("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", "ecr", "GetAuthorizationToken"),
        ("Logs_20140328.PutLogEvents", "logs", "PutLogEvents"),
    ],
)
def test_resolve_target(target: str, service: str, operation: str) -> None:
    model, op = CATALOG.resolve_target(target)
    assert model.service_name == service
    assert op.name == operation
    assert CATALOG.resolve_target(target)[1] is op  # memoised


@pytest.mark.parametrize(
    "target",
    ["AmazonEC2ContainerServiceV20141113.Bogus", "Nope_20200101.CreateCluster", "CreateCluster", ""],
)
def test_unknown_target_is_named(target: str) -> None:
    with pytest.raises(UnknownOperationError) as excinfo:
        CATALOG.resolve_target(target)
    assert repr(target) in excinfo.value.message
    assert excinfo.value.code == "UnknownOperationException"


def test_service_and_operation_lookups() -> None:
    assert CATALOG.service("sts").metadata["protocol"] == "query"
    assert CATALOG.operation("ecr", "PutImage").name == "PutImage"
    with pytest.raises(UnknownOperationError):
        CATALOG.service("s3")
    with pytest.raises(UnknownOperationError):
        CATALOG.operation("ecs", "PutImage")


def test_default_catalog_is_a_singleton() -> None:
    assert ServiceCatalog.default() is CATALOG


def test_server_faults_come_from_the_raw_model() -> None:
    # botocore's parsed shape does not expose the trait, which is why the catalog reads the raw JSON.
    assert "fault" not in CATALOG.service("ecs").shape_for("ServerException").metadata
    assert CATALOG.is_server_fault("ecs", "ServerException")
    assert CATALOG.is_server_fault("ecr", "ServerException")
    assert CATALOG.is_server_fault("logs", "ServiceUnavailableException")
    assert not CATALOG.is_server_fault("ecs", "ClusterNotFoundException")
    assert not CATALOG.is_server_fault("ecs", "InvalidParameterException")
    assert not CATALOG.is_server_fault("nope", "ServerException")


# --- requests -------------------------------------------------------------------------------------------


def test_create_cluster_round_trip() -> None:
    params = {
        "clusterName": "prod",
        "tags": [{"key": "team", "value": "platform"}, {"key": "env", "value": "prod"}],
        "settings": [{"name": "containerInsights", "value": "enabled"}],
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategy": [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
        ],
        "configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}},
    }
    assert _round_trip("ecs", "CreateCluster", params) == params


def test_list_clusters_without_parameters() -> None:
    assert _round_trip("ecs", "ListClusters", {}) == {}
    assert _round_trip("ecs", "ListClusters", {"maxResults": 10, "nextToken": "t"}) == {
        "maxResults": 10,
        "nextToken": "t",
    }


def test_ecr_blob_round_trip() -> None:
    params = {
        "registryId": "123456789012",
        "repositoryName": "team/app",
        "uploadId": "0f2a8c3e-1b7d-4e6f-9a01-23456789abcd",
        "partFirstByte": 0,
        "partLastByte": 2**33,
        "layerPartBlob": bytes(range(256)),
    }
    assert _round_trip("ecr", "UploadLayerPart", params) == params


def test_ecr_nested_lists_round_trip() -> None:
    params = {
        "repositoryName": "app",
        "imageIds": [{"imageTag": "latest"}, {"imageDigest": "sha256:" + "a" * 64}],
        "acceptedMediaTypes": ["application/vnd.oci.image.manifest.v1+json"],
    }
    assert _round_trip("ecr", "BatchGetImage", params) == params


def test_timestamp_round_trip() -> None:
    after = datetime(2026, 11, 27, 13, 0, 0, 250000, tzinfo=UTC)
    params = {"service": "web", "createdAt": {"after": after, "before": datetime(2027, 1, 1, tzinfo=UTC)}}
    assert _round_trip("ecs", "ListServiceDeployments", params) == params


def test_logs_map_round_trip() -> None:
    params = {"logGroupName": "/ecs/app", "tags": {"team": "platform", "cost center": "42"}}
    assert _round_trip("logs", "CreateLogGroup", params) == params


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body_is_an_empty_request(body: bytes) -> None:
    assert parse_json_request(_op("ecs", "ListClusters"), body) == {}


@pytest.mark.parametrize("body", [b"{", b"[]", b'"cluster"', b"\xff\xfe", b"{'a': 1}"])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(SerializationError) as excinfo:
        parse_json_request(_op("ecs", "ListClusters"), body)
    assert excinfo.value.code == "SerializationException"
    assert excinfo.value.status == 400


# --- replies --------------------------------------------------------------------------------------------


def test_output_shape_is_an_allow_list() -> None:
    op = _op("ecs", "DescribeClusters")
    result = {
        "clusters": [
            {
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "clusterName": "prod",
                "status": "ACTIVE",
                "activeServicesCount": 2,
                "tags": [{"key": "k", "value": "v", "internal": "x"}],
                "settings": None,
                "_row_version": 7,
            }
        ],
        "failures": [],
        "internal_cursor": "secret",
    }
    reply = serialize_json_response(op, result)
    assert reply.status == 200
    assert reply.headers == {"Content-Type": "application/x-amz-json-1.1"}
    expected = {
        "clusters": [
            {
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "clusterName": "prod",
                "status": "ACTIVE",
                "activeServicesCount": 2,
                "tags": [{"key": "k", "value": "v"}],
            }
        ],
        "failures": [],
    }
    assert orjson.loads(reply.body) == expected
    assert _botocore_parse(reply, op.output_shape) == expected


def test_reply_timestamps_are_epoch_seconds() -> None:
    op = _op("ecr", "DescribeRepositories")
    created = datetime(2026, 11, 27, 13, 0, 0, 500000, tzinfo=UTC)
    naive = datetime(2026, 11, 27, 14, 0, 0)  # naive means UTC
    result = {
        "repositories": [
            {"repositoryName": "a", "createdAt": created, "imageScanningConfiguration": {"scanOnPush": True}},
            {"repositoryName": "b", "createdAt": naive},
        ]
    }
    reply = serialize_json_response(op, result)
    assert orjson.loads(reply.body)["repositories"][0]["createdAt"] == 1795784400.5
    parsed = _botocore_parse(reply, op.output_shape)
    assert parsed["repositories"][0] == {
        "repositoryName": "a",
        "createdAt": created,
        "imageScanningConfiguration": {"scanOnPush": True},
    }
    assert parsed["repositories"][1]["createdAt"] == naive.replace(tzinfo=UTC)


def test_operation_without_output_writes_an_empty_object() -> None:
    reply = serialize_json_response(_op("logs", "CreateLogGroup"), {"ignored": True})
    assert (reply.status, reply.body) == (200, b"{}")


# --- errors ---------------------------------------------------------------------------------------------


def test_client_error_is_parsed_by_botocore() -> None:
    error = NotFoundError("Cluster not found.", code="ClusterNotFoundException")
    reply = serialize_json_error(error, server_fault=CATALOG.is_server_fault("ecs", error.code))
    assert reply.status == 400
    assert reply.headers["x-amzn-ErrorType"] == "ClusterNotFoundException"
    assert orjson.loads(reply.body) == {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
    parsed = _botocore_parse(reply, None)
    assert parsed["Error"] == {"Code": "ClusterNotFoundException", "Message": "Cluster not found."}


def test_modelled_fault_is_a_500() -> None:
    error = ApiError("Something broke.", code="ServerException")
    reply = serialize_json_error(error, server_fault=CATALOG.is_server_fault("ecs", "ServerException"))
    assert reply.status == 500
    assert _botocore_parse(reply, None)["Error"] == {"Code": "ServerException", "Message": "Something broke."}


# --- synthetic model: shapes the served operations lack in their replies -----------------------------------

_SYNTHETIC = {
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "synthetic",
        "jsonVersion": "1.1",
        "protocol": "json",
        "serviceId": "Synthetic",
        "signatureVersion": "v4",
        "targetPrefix": "Synthetic_20200101",
    },
    "operations": {
        "Echo": {
            "name": "Echo",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "Node"},
            "output": {"shape": "Node"},
        }
    },
    "shapes": {
        "Node": {
            "type": "structure",
            "members": {
                "data": {"shape": "Data"},
                "labels": {"shape": "Labels"},
                "children": {"shape": "Children"},
                "doc": {"shape": "Doc"},
                "ratio": {"shape": "Ratio"},
            },
        },
        "Data": {"type": "blob"},
        "Labels": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Stamp"}},
        "Children": {"type": "list", "member": {"shape": "Node"}},
        "Doc": {"type": "structure", "members": {}, "document": True},
        "Ratio": {"type": "double"},
        "Text": {"type": "string"},
        "Stamp": {"type": "timestamp"},
    },
}


def test_recursive_blob_map_and_document_shapes() -> None:
    op = ServiceModel(_SYNTHETIC, service_name="synthetic").operation_model("Echo")
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {
        "data": b"\x00\x01",
        "labels": {"built": stamp},
        "doc": {"free": ["form", 1, None]},
        "ratio": 0.5,
        "children": [{"data": b"child", "children": [{"ratio": 1.5}]}],
    }
    request = botocore.serialize.create_serializer("json").serialize_to_request(value, op)
    assert parse_json_request(op, request["body"]) == value

    with_extras = {**value, "children": [{"data": b"child", "children": [{"ratio": 1.5, "junk": 1}]}]}
    reply = serialize_json_response(op, with_extras)
    assert orjson.loads(reply.body)["data"] == base64.b64encode(b"\x00\x01").decode()
    assert orjson.loads(reply.body)["labels"] == {"built": stamp.timestamp()}
    assert _botocore_parse(reply, op.output_shape) == value


# --- end to end through a real botocore client -------------------------------------------------------------


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


Handler = Callable[[str, dict[str, Any]], Mapping[str, Any]]


def _client(service: str, handler: Handler) -> Any:
    """A botocore client whose HTTP layer is replaced by dockyard's protocol functions and ``handler``."""
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        endpoint_url="http://dockyard.test",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        _, op = CATALOG.resolve_target(request.headers["X-Amz-Target"].decode())
        try:
            params = parse_json_request(op, request.body or b"")
            reply = serialize_json_response(op, handler(op.name, params))
        except ApiError as exc:
            reply = serialize_json_error(exc, server_fault=CATALOG.is_server_fault(service, exc.code))
        return AWSResponse(request.url, reply.status, reply.headers, _RawBody(reply.body))

    client.meta.events.register("before-send", send)
    return client


def test_real_client_success_and_errors() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(op_name: str, params: dict[str, Any]) -> Mapping[str, Any]:
        seen.append((op_name, params))
        if op_name == "DeleteCluster":
            raise ApiError("Internal error.", code="ServerException")
        return {"cluster": {"clusterName": params["clusterName"], "status": "ACTIVE", "hidden": 1}}

    client = _client("ecs", handler)
    reply = client.create_cluster(clusterName="prod", tags=[{"key": "a", "value": "b"}])
    assert reply["cluster"] == {"clusterName": "prod", "status": "ACTIVE"}
    assert seen == [("CreateCluster", {"clusterName": "prod", "tags": [{"key": "a", "value": "b"}]})]

    with pytest.raises(ClientError) as excinfo:
        client.delete_cluster(cluster="prod")
    assert excinfo.value.response["Error"]["Code"] == "ServerException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert type(excinfo.value).__name__ == "ServerException"  # botocore maps it to the modelled class
