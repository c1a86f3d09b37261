"""Authentication and request errors on the wire, exactly as AWS's clients see them.

Requests are signed with botocore's own SigV4 signer and sent raw, so malformed bodies and bad
signatures reach the server as a misbehaving client would send them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, ServerProcess

ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
JSON_TYPE = "application/x-amz-json-1.1"


def signed_post(
    server: ServerProcess,
    *,
    body: bytes,
    headers: dict[str, str],
    service: str = "ecs",
    key_id: str = ROOT_KEY_ID,
    secret: str = ROOT_SECRET,
    region: str = "us-east-1",
) -> httpx.Response:
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    prepared = request.prepare()
    return httpx.post(prepared.url, content=body, headers=dict(prepared.headers), timeout=10)


def ecs_call(server: ServerProcess, operation: str, body: bytes = b"{}", **kwargs: Any) -> httpx.Response:
    headers = {"X-Amz-Target": ECS_TARGET + operation, "Content-Type": JSON_TYPE}
    return signed_post(server, body=body, headers=headers, **kwargs)


def assert_aws_error(response: httpx.Response, status: int, code: str, *message_parts: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-ErrorType"].split(":")[0] == code
    assert response.headers.get("x-amzn-RequestId")
    body = response.json()
    assert body["__type"].split("#")[-1] == code
    for part in message_parts:
        assert part in body["message"], body["message"]


def test_a_good_request_succeeds(server: ServerProcess) -> None:
    response = ecs_call(server, "ListClusters")
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_TYPE
    assert "clusterArns" in response.json()


def test_wrong_secret_is_invalid_signature(server: ServerProcess) -> None:
    response = ecs_call(server, "ListClusters", secret="wrong-secret")
    assert_aws_error(response, 403, "InvalidSignatureException", "signature")


def test_unknown_key_is_unrecognized_client(server: ServerProcess) -> None:
    response = ecs_call(server, "ListClusters", key_id="AKIANOSUCHKEY0000000")
    assert_aws_error(response, 403, "UnrecognizedClientException", "security token")


def test_no_signature_is_missing_authentication_token(server: ServerProcess) -> None:
    response = httpx.post(
        server.endpoint + "/",
        content=b"{}",
        headers={"X-Amz-Target": ECS_TARGET + "ListClusters", "Content-Type": JSON_TYPE},
    )
    assert response.status_code in {400, 403}
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_date_twenty_minutes_off_is_refused(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    skewed = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    response = ecs_call(server, "ListClusters")
    assert_aws_error(response, 403, "InvalidSignatureException", "Signature")


def test_tampered_body_is_invalid_signature(server: ServerProcess) -> None:
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=b'{"clusterName": "a"}',
        headers={"X-Amz-Target": ECS_TARGET + "CreateCluster", "Content-Type": JSON_TYPE},
    )
    SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "ecs", "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = httpx.post(prepared.url, content=b'{"clusterName": "b"}', headers=dict(prepared.headers))
    assert_aws_error(response, 403, "InvalidSignatureException")


def test_malformed_json_is_serialization_exception(server: ServerProcess) -> None:
    assert_aws_error(ecs_call(server, "ListClusters", body=b"{not json"), 400, "SerializationException")


def test_missing_required_parameter_names_it(server: ServerProcess) -> None:
    response = ecs_call(server, "DeleteCluster", body=b"{}")
    assert_aws_error(response, 400, "ValidationException", "cluster")


def test_wrong_type_names_the_parameter(server: ServerProcess) -> None:
    response = ecs_call(server, "ListClusters", body=b'{"maxResults": "ten"}')
    assert_aws_error(response, 400, "SerializationException", "maxResults")


def test_out_of_enum_value_names_the_parameter(server: ServerProcess) -> None:
    response = ecs_call(server, "DescribeClusters", body=b'{"include": ["EVERYTHING"]}')
    assert_aws_error(response, 400, "ValidationException", "include", "enum")


def test_over_long_string_names_the_parameter(server: ServerProcess) -> None:
    body = (
        b'{"resourceArn": "arn:aws:ecs:us-east-1:1:cluster/x", "tags": [{"key": "'
        + b"k" * 129
        + b'", "value": "v"}]}'
    )
    response = ecs_call(server, "TagResource", body=body)
    assert_aws_error(response, 400, "ValidationException", "key", "length")


def test_unknown_target_is_unknown_operation(server: ServerProcess) -> None:
    response = ecs_call(server, "LaunchRockets")
    assert_aws_error(response, 400, "UnknownOperationException")
    response = signed_post(
        server, body=b"{}", headers={"X-Amz-Target": "NoSuchService.Op", "Content-Type": JSON_TYPE}
    )
    assert_aws_error(response, 400, "UnknownOperationException")


def test_modelled_but_unimplemented_operation_says_so(server: ServerProcess) -> None:
    response = ecs_call(
        server,
        "CreateCapacityProvider",
        body=b'{"name": "cp", "autoScalingGroupProvider": {"autoScalingGroupArn": "a"}}',
    )
    assert response.status_code == 501
    assert "CreateCapacityProvider" in response.json()["message"]


def test_sts_errors_use_the_query_protocol_shape(server: ServerProcess) -> None:
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    response = signed_post(server, body=body, headers=headers, service="sts", secret="wrong")
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
    ok = signed_post(server, body=body, headers=headers, service="sts")
    assert ok.status_code == 200 and "<Arn>arn:aws:iam::" in ok.text


def test_an_oversized_body_is_refused_with_413(server: ServerProcess) -> None:
    body = b'{"clusterName": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = ecs_call(server, "CreateCluster", body=body)
    assert response.status_code == 413
    assert response.json()["__type"] == "RequestEntityTooLargeException"
