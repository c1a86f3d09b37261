"""SigV4 verification against requests signed by botocore itself (its signers and real clients)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import given
from hypothesis import strategies as st

from dockyard.api.auth import canonical
from dockyard.api.auth.sigv4 import (
    ANY_SCOPE,
    SIGNATURE_MISMATCH,
    ScopePolicy,
    SignatureMismatchError,
    SignedRequest,
    VerifiedSignature,
    authenticate,
    verify_sigv4,
)
from dockyard.core.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    UnrecognizedClientError,
)

SIGNED_AT = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SECRETS = {AKID: SECRET}
ECS = "https://ecs.us-east-1.amazonaws.com"
LIST_CLUSTERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
}


@pytest.fixture(autouse=True)
def frozen_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make botocore sign at SIGNED_AT, whatever the real time."""
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: SIGNED_AT.replace(tzinfo=None)
    )


def to_wire(prepared: Any) -> SignedRequest:
    """What the server receives for a botocore prepared request (the HTTP client adds Host)."""
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    headers = [
        ("Host", parts.netloc),
        *((k, v if isinstance(v, str) else v.decode()) for k, v in prepared.headers.items()),
    ]
    return SignedRequest(
        method=prepared.method,
        path=parts.path,
        query_string=parts.query,
        headers=headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def sign(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | None = None,
    token: str | None = None,
    secret: str = SECRET,
    presign_expires: int | None = None,
    signer_class: type[SigV4Auth] | None = None,
    context: dict[str, Any] | None = None,
) -> SignedRequest:
    """Sign with botocore's own signer, then return the request as it arrives on the wire."""
    credentials = Credentials(AKID, secret, token)
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}), params=params or {})
    request.context.update(context or {})
    if presign_expires is not None:
        signer: SigV4Auth = (signer_class or SigV4QueryAuth)(
            credentials, "ecs", "us-east-1", expires=presign_expires
        )
    else:
        signer = (signer_class or SigV4Auth)(credentials, "ecs", "us-east-1")
    signer.add_auth(request)
    return to_wire(request.prepare())


def verify(
    request: SignedRequest,
    *,
    now: datetime = SIGNED_AT,
    secrets: dict[str, str] | None = None,
    policy: ScopePolicy = ANY_SCOPE,
) -> VerifiedSignature:
    table = SECRETS if secrets is None else secrets
    return verify_sigv4(request, now=now, lookup_secret=table.get, policy=policy)


def with_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """``request`` with every ``name`` header replaced by ``value`` (or removed when None)."""
    headers = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    if value is not None:
        headers.append((name, value))
    return dataclasses.replace(request, headers=headers)


def header(request: SignedRequest, name: str) -> str:
    return next(v for k, v in request.headers if k.lower() == name.lower())


def json_post(**kwargs: Any) -> SignedRequest:
    return sign("POST", f"{ECS}/", body=b'{"maxResults": 10}', headers=LIST_CLUSTERS, **kwargs)


# --- requests botocore signs verify ------------------------------------------------------------------------


def test_json_post_to_root_verifies_and_reports_the_scope() -> None:
    verified = verify(json_post())
    assert verified == VerifiedSignature(AKID, "us-east-1", "ecs", SIGNED_AT)
    assert verified.signed_at.tzinfo is not None


def test_a_session_token_on_a_long_term_key_is_not_recognised() -> None:
    # dockyard issues no temporary credentials: a token can only be a bogus one, correctly signed or not.
    request = json_post(token="session-token-value")
    assert header(request, "X-Amz-Security-Token") == "session-token-value"
    with pytest.raises(UnrecognizedClientError, match="security token included in the request is invalid"):
        verify(request)


@pytest.mark.parametrize(
    "params",
    [
        [("Action", "ListClusters"), ("Version", "2014-11-13")],
        [("tag", "b"), ("tag", "a"), ("tag", "a b"), ("z", ""), ("a", "1")],
        [("q", "a+b c/d?e=f&g"), ("emoji", "caf\u00e9 \u2603"), ("~tilde", "-_.~!*'()")],
        [("key with space", "%41%2F"), ("", "empty key"), ("Z", "upper"), ("a", "lower")],
    ],
)
def test_get_with_query_params_as_clients_encode_them(params: list[tuple[str, str]]) -> None:
    # Real clients put the query in the URL, percent-encoded the SigV4 way.
    in_url = sign("GET", f"{ECS}/clusters?{percent_encode_sequence(params)}")
    assert verify(in_url).access_key_id == AKID
    # AWSRequest params travel form-encoded ('+' for space) while botocore signs them %20-encoded.
    as_params = sign("GET", f"{ECS}/clusters", params=params)
    assert verify(as_params).access_key_id == AKID


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v2/a%2Fb",
        "/with%20space/and+plus",
        "/caf%C3%A9/%E2%98%83",
        "/a/./b/../c//d/",
        "/tilde~/percent%25/reserved!$&'()*,;=:@",
        "/%7Efoo",
    ],
)
def test_paths_with_encoded_characters(path: str) -> None:
    assert verify(sign("GET", f"{ECS}{path}")).access_key_id == AKID


def test_date_header_instead_of_x_amz_date() -> None:
    request = sign("POST", f"{ECS}/", body=b"{}", headers={**LIST_CLUSTERS, "Date": "placeholder"})
    assert header(request, "Date") == "Fri, 27 Nov 2026 12:00:00 -0000"  # botocore's formatdate
    assert not any(k.lower() == "x-amz-date" for k, _ in request.headers)
    assert verify(request).signed_at == SIGNED_AT


def test_repeated_headers_are_joined_and_whitespace_collapsed() -> None:
    request = sign("GET", f"{ECS}/", headers={"X-Custom": "  a   b  "})
    assert verify(request).access_key_id == AKID
    # Two wire headers that canonicalise to the single signed value "a b" would not: repeats join with ','.
    split = with_header(request, "X-Custom", "a")
    split = dataclasses.replace(split, headers=[*split.headers, ("x-custom", "b")])
    with pytest.raises(SignatureMismatchError):
        verify(split)


def test_unsigned_payload_declared_by_header_skips_the_hash_of_an_empty_body() -> None:
    request = sign("GET", f"{ECS}/ws", headers=LIST_CLUSTERS, context={"payload_signing_enabled": False})
    assert header(request, "X-Amz-Content-SHA256") == canonical.UNSIGNED_PAYLOAD
    assert verify(request).access_key_id == AKID
    with_body = sign(
        "POST", f"{ECS}/", body=b"{}", headers=LIST_CLUSTERS, context={"payload_signing_enabled": False}
    )
    with pytest.raises(InvalidSignatureError, match="must have an empty body"):
        verify(with_body)


def test_declared_content_sha256_must_match_the_body() -> None:
    body = b'{"cluster": "a"}'
    digest = hashlib.sha256(body).hexdigest()
    request = sign("POST", f"{ECS}/", body=body, headers={**LIST_CLUSTERS, "X-Amz-Content-SHA256": digest})
    assert verify(request).access_key_id == AKID
    tampered = dataclasses.replace(request, body_sha256=hashlib.sha256(b"{}").hexdigest())
    with pytest.raises(InvalidSignatureError, match="x-amz-content-sha256"):
        verify(tampered)


def test_streaming_payload_is_refused() -> None:
    request = sign("POST", f"{ECS}/", headers={"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
    with pytest.raises(InvalidSignatureError, match="Unsupported 'x-amz-content-sha256'"):
        verify(request)


def test_unsigned_extra_header_does_not_matter() -> None:
    request = json_post()
    added = dataclasses.replace(request, headers=[*request.headers, ("X-Forwarded-For", "10.0.0.1")])
    assert verify(added).access_key_id == AKID


def test_skew_is_accepted_up_to_the_limit_in_both_directions() -> None:
    request = json_post()
    assert verify(request, now=SIGNED_AT + timedelta(minutes=15)).access_key_id == AKID
    assert verify(request, now=SIGNED_AT - timedelta(minutes=15)).access_key_id == AKID
    assert verify(request, now=SIGNED_AT.replace(tzinfo=None)).access_key_id == AKID  # naive means UTC


def test_signing_keys_are_cached() -> None:
    request = json_post()
    verify(request)
    before = canonical.signing_key.cache_info().hits
    verify(request)
    assert canonical.signing_key.cache_info().hits == before + 1


# --- real botocore clients ---------------------------------------------------------------------------------


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _capture(service: str, call: str, **kwargs: Any) -> SignedRequest:
    """Run a real client call, stopping it at the moment it would send; return what it would send."""
    client = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url="http://localhost:4566",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 0}),
    )

    def stop(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", stop)
    with pytest.raises(_Captured) as captured:
        getattr(client, call)(**kwargs)
    return to_wire(captured.value.request)


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("ecs", "list_clusters", {"maxResults": 5}),
        ("ecr", "describe_repositories", {"repositoryNames": ["a/b"]}),
        ("sts", "get_caller_identity", {}),
        ("lambda", "get_function", {"FunctionName": "caf\u00e9/x y+z%"}),
        ("lambda", "list_functions", {"Marker": "a b/c+d~e", "MaxItems": 5}),
    ],
)
def test_real_clients_verify(service: str, call: str, kwargs: dict[str, Any]) -> None:
    verified = verify(_capture(service, call, **kwargs))
    assert (verified.service, verified.region) == (service, "us-east-1")


# --- presigned URLs ----------------------------------------------------------------------------------------


def presigned(**kwargs: Any) -> SignedRequest:
    return sign("GET", f"{ECS}/v2/a%2Fb?Action=ListClusters&x=a%20b", presign_expires=300, **kwargs)


def test_presigned_get_verifies() -> None:
    request = presigned()
    assert "X-Amz-Signature=" in request.query_string
    assert not any(k.lower() == "authorization" for k, _ in request.headers)
    assert verify(request).access_key_id == AKID
    assert verify(request, now=SIGNED_AT + timedelta(seconds=300)).access_key_id == AKID


def test_presigned_with_session_token_is_not_recognised() -> None:
    with pytest.raises(UnrecognizedClientError):
        verify(presigned(token="tok"))


def test_s3_style_presign_over_unsigned_payload_verifies() -> None:
    request = sign("GET", f"{ECS}/?Action=ListClusters", presign_expires=60, signer_class=S3SigV4QueryAuth)
    assert verify(request).access_key_id == AKID


def test_expired_presign() -> None:
    with pytest.raises(InvalidSignatureError) as error:
        verify(presigned(), now=SIGNED_AT + timedelta(seconds=301))
    assert error.value.message == (
        "Signature expired: 20261127T120000Z is now earlier than 20261127T120001Z "
        "(20261127T120501Z - 300 sec.)"
    )


def test_presign_from_the_future() -> None:
    with pytest.raises(InvalidSignatureError, match="Signature not yet current"):
        verify(presigned(), now=SIGNED_AT - timedelta(minutes=20))


def test_tampered_presigned_query() -> None:
    request = presigned()
    tampered = dataclasses.replace(request, query_string=request.query_string.replace("x=a%20b", "x=a%20c"))
    with pytest.raises(SignatureMismatchError):
        verify(tampered)


def test_presign_missing_parameters() -> None:
    request = presigned()
    stripped = "&".join(
        p for p in request.query_string.split("&") if not p.startswith(("X-Amz-Credential", "X-Amz-Date"))
    )
    with pytest.raises(IncompleteSignatureError) as error:
        verify(dataclasses.replace(request, query_string=stripped))
    assert error.value.message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
    )


@pytest.mark.parametrize(
    ("expires", "message"), [("abc", "should be a number"), ("604801", "less than a week")]
)
def test_presign_bad_expires(expires: str, message: str) -> None:
    request = presigned()
    query = request.query_string.replace("X-Amz-Expires=300", f"X-Amz-Expires={expires}")
    with pytest.raises(IncompleteSignatureError, match=message):
        verify(dataclasses.replace(request, query_string=query))


def test_presign_and_authorization_header_together() -> None:
    request = with_header(presigned(), "Authorization", header(json_post(), "Authorization"))
    with pytest.raises(InvalidSignatureError, match="Found both 'X-Amz-Algorithm'"):
        verify(request)


# --- rejections --------------------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    with pytest.raises(SignatureMismatchError) as error:
        verify(json_post(secret="not-the-secret"))
    assert error.value.message == SIGNATURE_MISMATCH
    assert error.value.status == 403
    assert error.value.canonical_request.startswith("POST\n/\n\n")


def test_unknown_access_key() -> None:
    with pytest.raises(UnrecognizedClientError) as error:
        verify(json_post(), secrets={})
    assert error.value.message == "The security token included in the request is invalid."


def test_no_authentication() -> None:
    request = with_header(json_post(), "Authorization", None)
    with pytest.raises(MissingAuthenticationTokenError) as error:
        verify(request)
    assert (error.value.message, error.value.status) == ("Missing Authentication Token", 403)


def test_other_authorization_scheme_counts_as_none() -> None:
    with pytest.raises(MissingAuthenticationTokenError):
        verify(with_header(json_post(), "Authorization", "Bearer abc"))


def test_date_20_minutes_in_the_past() -> None:
    with pytest.raises(InvalidSignatureError) as error:
        verify(json_post(), now=SIGNED_AT + timedelta(minutes=20))
    assert error.value.message == (
        "Signature expired: 20261127T120000Z is now earlier than 20261127T120500Z "
        "(20261127T122000Z - 15 min.)"
    )


def test_date_20_minutes_in_the_future() -> None:
    with pytest.raises(InvalidSignatureError) as error:
        verify(json_post(), now=SIGNED_AT - timedelta(minutes=20))
    assert error.value.message == (
        "Signature not yet current: 20261127T120000Z is still later than 20261127T115500Z "
        "(20261127T114000Z + 15 min.)"
    )


def test_tampered_body() -> None:
    request = json_post()
    with pytest.raises(SignatureMismatchError):
        verify(dataclasses.replace(request, body_sha256=hashlib.sha256(b'{"maxResults": 11}').hexdigest()))


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster"), ("Host", "evil.example")],
)
def test_tampered_signed_header(name: str, value: str) -> None:
    with pytest.raises(SignatureMismatchError):
        verify(with_header(json_post(), name, value))


@pytest.mark.parametrize(
    ("change", "value"),
    [("method", "PUT"), ("path", "/other"), ("query_string", "a=1")],
)
def test_tampered_request_line(change: str, value: str) -> None:
    changes: dict[str, Any] = {change: value}
    with pytest.raises(SignatureMismatchError):
        verify(dataclasses.replace(json_post(), **changes))


GOOD = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/ecs/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=abcd"
)


@pytest.mark.parametrize(
    ("authorization", "error", "message"),
    [
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abcd",
            IncompleteSignatureError,
            "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 "
            "SignedHeaders=host;x-amz-date, Signature=abcd",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/ecs/aws4_request, Signature=abcd",
            IncompleteSignatureError,
            "Authorization header requires 'SignedHeaders' parameter.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/ecs/aws4_request,SignedHeaders=host",
            IncompleteSignatureError,
            "Authorization header requires 'Signature' parameter.",
        ),
        ("AWS4-HMAC-SHA256 Credential, Signature=abcd", IncompleteSignatureError, "missing equal-sign"),
        (GOOD.replace("HMAC-SHA256", "HMAC-SHA512"), IncompleteSignatureError, "Unsupported AWS 'algorithm'"),
        (
            GOOD.replace("/ecs/", "/"),
            IncompleteSignatureError,
            "Credential must have exactly 5 slash-delimited",
        ),
        (
            GOOD.replace("aws4_request", "aws5_request"),
            InvalidSignatureError,
            "valid terminator: 'aws4_request', not 'aws5_request'",
        ),
        (GOOD.replace("/us-east-1/", "//"), InvalidSignatureError, "scoped to a valid region"),
        (
            GOOD.replace("20261127", "20261126"),
            InvalidSignatureError,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            "'20261126' != '20261127', from '20261127T120000Z'.",
        ),
        (GOOD.replace("host;", ""), InvalidSignatureError, "'Host' must be a 'SignedHeader'"),
        (GOOD.replace("AKIDEXAMPLE", ""), UnrecognizedClientError, "security token included"),
        (GOOD, SignatureMismatchError, "signature we calculated does not match"),
    ],
)
def test_malformed_authorization(authorization: str, error: type[Exception], message: str) -> None:
    request = with_header(json_post(), "Authorization", authorization)
    with pytest.raises(error) as raised:
        verify(request)
    assert type(raised.value) is error
    assert message in str(raised.value)


def test_missing_date_is_incomplete() -> None:
    request = with_header(json_post(), "X-Amz-Date", None)
    with pytest.raises(IncompleteSignatureError) as error:
        verify(request)
    assert error.value.message.startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-"
    )
    assert error.value.status == 400


def test_everything_missing_is_reported_at_once() -> None:
    request = with_header(with_header(json_post(), "X-Amz-Date", None), "Authorization", "AWS4-HMAC-SHA256")
    with pytest.raises(IncompleteSignatureError) as error:
        verify(request)
    assert error.value.message == (
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
        "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires "
        "existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
    )


@pytest.mark.parametrize("value", ["2026-11-27T12:00:00Z", "20261327T120000Z", "yesterday"])
def test_malformed_date(value: str) -> None:
    with pytest.raises(IncompleteSignatureError, match="Date must be in ISO-8601 'basic format'"):
        verify(with_header(json_post(), "X-Amz-Date", value))


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    request = with_header(json_post(), "Authorization", GOOD.replace("abcd", "\u00e9\u00e9"))
    with pytest.raises(SignatureMismatchError):
        verify(request)


# --- canonical forms equal botocore's, for any input -------------------------------------------------------

_SEGMENTS = st.one_of(
    st.sampled_from(
        ["", ".", "..", "a", "%2F", "%2f", "caf%C3%A9", "\u00e9", " ", "~", "%7E", "+", "!$&'()*,;=:@"]
    ),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
_SIGNER = SigV4Auth(Credentials(AKID, SECRET), "ecs", "us-east-1")


@given(st.lists(_SEGMENTS, max_size=6), st.booleans())
def test_canonical_uri_matches_botocore(segments: list[str], trailing: bool) -> None:
    path = "/" + "/".join(segments) + ("/" if trailing else "")
    assert canonical.canonical_uri(path) == _SIGNER._normalize_url_path(path)


_PARAM_TEXT = st.text(st.characters(codec="utf-8"), max_size=6)


@given(st.lists(st.tuples(_PARAM_TEXT, _PARAM_TEXT), max_size=6))
def test_canonical_query_matches_botocore(params: list[tuple[str, str]]) -> None:
    raw = percent_encode_sequence(params)
    expected = _SIGNER.canonical_query_string(AWSRequest(method="GET", url=f"{ECS}/?{raw}"))
    assert canonical.canonical_query(canonical.query_pairs(raw)) == expected


# --- what a signature is good for: its scope, its operation, its body ---------------------------------------

ECS_ONLY = ScopePolicy(service="ecs", regions=frozenset({"us-east-1", "eu-west-1"}))


def test_a_signature_for_another_service_is_refused_with_aws_wording() -> None:
    with pytest.raises(
        InvalidSignatureError, match=r"Credential should be scoped to correct service: 'ecr'\."
    ):
        verify(json_post(), policy=ScopePolicy(service="ecr"))
    assert verify(json_post(), policy=ECS_ONLY).service == "ecs"


def test_a_signature_for_an_unknown_region_is_refused() -> None:
    request = sign("POST", f"{ECS}/", body=b"{}", headers=LIST_CLUSTERS)
    with pytest.raises(InvalidSignatureError, match="scoped to a valid region, not 'us-east-1'"):
        verify(request, policy=ScopePolicy(regions=frozenset({"eu-west-1"})))


def test_an_unsigned_target_header_on_a_presigned_url_is_refused() -> None:
    # A presigned GetCallerIdentity URL (what an EKS token is) must not become an ECR or ECS call.
    request = sign("GET", f"{ECS}/?Action=GetCallerIdentity&Version=2011-06-15", presign_expires=60)
    assert verify(request).access_key_id == AKID
    hijacked = with_header(
        request, "X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    )
    with pytest.raises(InvalidSignatureError, match="'X-Amz-Target' must be a 'SignedHeader'"):
        verify(hijacked)


def test_a_target_header_added_after_header_signing_is_refused() -> None:
    request = sign("POST", f"{ECS}/", body=b"{}", headers={"Content-Type": "application/x-amz-json-1.1"})
    hijacked = with_header(request, "X-Amz-Target", LIST_CLUSTERS["X-Amz-Target"])
    with pytest.raises(InvalidSignatureError, match="'X-Amz-Target' must be a 'SignedHeader'"):
        verify(hijacked)


def test_an_unsigned_payload_presign_covers_no_body() -> None:
    request = sign(
        "POST", f"{ECS}/?Action=GetCallerIdentity", presign_expires=60, signer_class=S3SigV4QueryAuth
    )
    assert verify(request).access_key_id == AKID
    with_body = dataclasses.replace(request, body_sha256=hashlib.sha256(b"Action=AssumeRole").hexdigest())
    with pytest.raises(InvalidSignatureError):
        verify(with_body)


def test_authenticate_decides_without_the_body() -> None:
    """The head alone settles missing auth, scope and key: the body is never needed to refuse those."""
    unsigned = SignedRequest("POST", "/", "", [("Host", "x")], body_sha256="not read")
    with pytest.raises(MissingAuthenticationTokenError):
        authenticate(unsigned, now=SIGNED_AT, lookup_secret=SECRETS.get)
    request = dataclasses.replace(json_post(), body_sha256="not read")
    with pytest.raises(UnrecognizedClientError):
        authenticate(request, now=SIGNED_AT, lookup_secret={}.get)
    assert authenticate(request, now=SIGNED_AT, lookup_secret=SECRETS.get).access_key_id == AKID
