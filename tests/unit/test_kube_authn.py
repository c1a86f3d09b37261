"""k8s-aws-v1 bearer tokens: built with botocore's own presigner, exactly as ``aws eks get-token`` does."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from unittest import mock

import botocore.session
import pytest

from dockyard.api.kube.authn import TokenRejectedError, authenticate_token
from dockyard.core.context import Principal
from dockyard.store.credentials import AccessKey

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
KEY = AccessKey(
    access_key_id="AKIADOCKYARDTEST0001",
    secret_access_key="s3cr3t/secret+secret",
    principal=Principal(
        account_id="123456789012",
        arn="arn:aws:iam::123456789012:user/alice",
        user_id="AIDAALICE",
        access_key_id="AKIADOCKYARDTEST0001",
    ),
    is_root=False,
)
REGIONS = {"us-east-1", "eu-west-1"}


def make_token(
    cluster: str = "demo",
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    secret: str = KEY.secret_access_key,
    access_key_id: str = KEY.access_key_id,
    expires: int = 60,
    at: datetime = NOW,
) -> str:
    """What awscli's eks get-token TokenGenerator produces (same events, same presign call)."""
    session = botocore.session.get_session()
    client = session.create_client(
        "sts",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
    )

    def retrieve(params: dict[str, str], context: dict[str, str], **_: object) -> None:
        if "x-k8s-aws-id" in params:
            context["x-k8s-aws-id"] = params.pop("x-k8s-aws-id")

    def inject(request: object, **_: object) -> None:
        request.headers["x-k8s-aws-id"] = request.context["x-k8s-aws-id"]  # type: ignore[attr-defined]

    client.meta.events.register("provide-client-params.sts.GetCallerIdentity", retrieve)
    client.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        url = client.generate_presigned_url(
            "get_caller_identity", Params={"x-k8s-aws-id": cluster}, ExpiresIn=expires, HttpMethod="GET"
        )
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def lookup(access_key_id: str) -> AccessKey | None:
    return KEY if access_key_id == KEY.access_key_id else None


def verify(token: str, cluster: str = "demo", now: datetime = NOW) -> Principal:
    return authenticate_token(
        token, cluster_name=cluster, now=now, lookup_key=lookup, regions=REGIONS
    ).principal


def url_of(token: str) -> str:
    body = token[len("k8s-aws-v1.") :]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def token_of(url: str) -> str:
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "endpoint_url", [None, "https://sts.amazonaws.com", "http://127.0.0.1:4566", "https://localhost:8443"]
)
def test_a_cli_token_names_the_keys_principal(endpoint_url: str | None) -> None:
    token = make_token(endpoint_url=endpoint_url)
    assert verify(token) == KEY.principal


def test_the_token_is_the_presigned_url_the_cli_prints() -> None:
    url = url_of(make_token())
    assert url.startswith("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&")
    assert "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" in url


def test_another_region_dockyard_serves_is_accepted() -> None:
    identity = authenticate_token(
        make_token(region="eu-west-1"), cluster_name="demo", now=NOW, lookup_key=lookup, regions=REGIONS
    )
    assert identity.region == "eu-west-1"


def test_a_region_dockyard_does_not_serve_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="valid region"):
        verify(make_token(region="ap-south-1"))


def test_a_token_for_another_cluster_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="does not match"):
        verify(make_token("other"), cluster="demo")


def test_an_expired_token_is_refused_and_a_fresh_one_is_not() -> None:
    token = make_token()
    assert verify(token, now=NOW + timedelta(seconds=59)) == KEY.principal
    with pytest.raises(TokenRejectedError, match="expired"):
        verify(token, now=NOW + timedelta(seconds=61))


def test_a_lifetime_over_fifteen_minutes_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="X-Amz-Expires"):
        verify(make_token(expires=901))
    assert verify(make_token(expires=900), now=NOW + timedelta(minutes=14)) == KEY.principal


def test_a_token_from_the_future_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="not yet current"):
        verify(make_token(at=NOW + timedelta(minutes=16)))


def test_a_bad_signature_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="does not match"):
        verify(make_token(secret="wrong"))


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(TokenRejectedError, match="UnrecognizedClient"):
        verify(make_token(access_key_id="AKIAUNKNOWN000000000"))


def test_a_tampered_action_is_refused() -> None:
    url = url_of(make_token()).replace("Action=GetCallerIdentity", "Action=AssumeRole")
    with pytest.raises(TokenRejectedError, match="GetCallerIdentity"):
        verify(token_of(url))


def test_a_tampered_host_breaks_the_signature() -> None:
    url = url_of(make_token()).replace("sts.us-east-1.amazonaws.com", "sts.amazonaws.com")
    with pytest.raises(TokenRejectedError, match="does not match"):
        verify(token_of(url))


def test_the_cluster_header_must_be_signed() -> None:
    url = url_of(make_token()).replace("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id", "X-Amz-SignedHeaders=host")
    with pytest.raises(TokenRejectedError, match="x-k8s-aws-id is not a signed header"):
        verify(token_of(url))


@pytest.mark.parametrize(
    "token",
    ["Bearer abc", "k8s-aws-v1.!!!", "k8s-aws-v1." + base64.urlsafe_b64encode(b"\xff\xfe").decode(), ""],
)
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(TokenRejectedError):
        verify(token)


def test_a_session_token_is_refused_since_dockyard_issues_none() -> None:
    url = url_of(make_token()) + "&X-Amz-Security-Token=abc"
    with pytest.raises(TokenRejectedError):
        verify(token_of(url))
