"""A signature is good for what it signed and nothing more: one service, one region, one operation.

Each request here is signed by botocore's own signers and then bent the way a hostile client would bend
it: a presigned STS URL (what an EKS token is) with an ECR target added, a call signed for another
service or for a region that does not exist, a bogus session token on a long-term key.
"""

from __future__ import annotations

import socket

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, Keys, ServerProcess
from tests.integration.test_wire_errors import JSON_TYPE, assert_aws_error, ecs_call, signed_post

ECR_TOKEN_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"


def presigned_caller_identity(server: ServerProcess) -> str:
    request = AWSRequest(method="GET", url=f"{server.endpoint}/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4QueryAuth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "sts", "us-east-1", expires=60).add_auth(request)
    return str(request.url)


def test_a_presigned_sts_url_does_not_become_an_ecr_password(server: ServerProcess) -> None:
    url = presigned_caller_identity(server)
    assert httpx.get(url).status_code == 200  # the URL is good for what it was signed for
    hijacked = httpx.get(url, headers={"X-Amz-Target": ECR_TOKEN_TARGET, "Content-Type": JSON_TYPE})
    assert_aws_error(hijacked, 403, "InvalidSignatureException", "'X-Amz-Target' must be a 'SignedHeader'")
    assert "authorizationData" not in hijacked.text
    posted = httpx.post(url, content=b"{}", headers={"X-Amz-Target": ECR_TOKEN_TARGET})
    assert_aws_error(posted, 403, "InvalidSignatureException")


def test_a_presigned_url_carries_no_unsigned_body(server: ServerProcess) -> None:
    """The query protocol reads parameters from the body too: an unsigned body must not add any."""
    url = presigned_caller_identity(server)
    response = httpx.post(
        url,
        content=b"Action=GetAuthorizationToken",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(
    ("signed_for", "target", "expected"),
    [
        ("sts", "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs"),
        ("ecr", "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs"),
        ("ecs", ECR_TOKEN_TARGET, "ecr"),
        ("api.ecr", ECR_TOKEN_TARGET, "ecr"),
    ],
)
def test_a_signature_for_another_service_is_refused(
    server: ServerProcess, signed_for: str, target: str, expected: str
) -> None:
    response = signed_post(
        server, body=b"{}", headers={"X-Amz-Target": target, "Content-Type": JSON_TYPE}, service=signed_for
    )
    assert_aws_error(
        response,
        403,
        "InvalidSignatureException",
        f"Credential should be scoped to correct service: '{expected}'.",
    )


def test_a_signature_for_an_unknown_region_is_refused(server: ServerProcess) -> None:
    response = ecs_call(server, "ListClusters", region="mars-north-9")
    assert_aws_error(response, 403, "InvalidSignatureException", "valid region, not 'mars-north-9'")
    assert ecs_call(server, "ListClusters", region="eu-west-3").status_code == 200


def test_a_bogus_session_token_on_a_long_term_key_is_unrecognized(
    server: ServerProcess, root_keys: Keys
) -> None:
    for service, code in (("ecs", "UnrecognizedClientException"), ("sts", "InvalidClientTokenId")):
        client = boto3.client(
            service,
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=root_keys.access_key_id,
            aws_secret_access_key=root_keys.secret_access_key,
            aws_session_token="bogus-token",
        )
        call = client.list_clusters if service == "ecs" else client.get_caller_identity
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == code


def test_an_unsigned_request_is_refused_before_its_body_is_read(server: ServerProcess) -> None:
    """A client that announces 30 MB and sends none of it gets its answer at once."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n"
            b"Content-Length: 30000000\r\n\r\n"
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 4"), answer
    assert b"MissingAuthenticationTokenException" in answer
