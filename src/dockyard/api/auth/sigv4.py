"""Server-side verification of AWS Signature Version 4, by Authorization header or presigned query string.

Pure logic: the caller hands over the request as received (:class:`SignedRequest`), the current time, a
way to find secrets and the scope the request must be signed for (:class:`ScopePolicy`);
:func:`verify_sigv4` returns who signed it or raises the :class:`~dockyard.core.errors.AuthError` AWS would
answer with. Checks run in the order AWS runs them (as observed on its JSON services), so the same bad
request earns the same error. Reading the parameters is in :mod:`dockyard.api.auth.presented`, the
canonicalisation in :mod:`dockyard.api.auth.canonical`.

Verification comes in two steps so that a server can refuse a request before reading its body:
:func:`authenticate` checks everything the head of the request decides (parameters, dates, scope, key,
which headers are signed), :func:`confirm` then checks the signature over the whole request.

What a signature covers is what the request does: the scope names the one service and region it is good
for, a header that selects the operation (``X-Amz-Target``) must be signed, and a body is covered only by
its hash (``UNSIGNED-PAYLOAD`` is accepted for empty bodies only). dockyard issues no temporary
credentials, so any ``X-Amz-Security-Token`` is one it does not recognise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dockyard.api.auth import canonical
from dockyard.api.auth.presented import (
    AMZ_DATE_FORMAT,
    HeaderMap,
    Presented,
    first,
    header_map,
    read_presented,
)
from dockyard.core.errors import IncompleteSignatureError, InvalidSignatureError, UnrecognizedClientError

SecretLookup = Callable[[str], str | None]
"""Maps an access key id to its secret access key, or to ``None`` if the key is unknown."""

UNRECOGNIZED_CLIENT = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SIGNATURE_PARAM = b"X-Amz-Signature"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Headers that choose what a request does: a signature that leaves them out could be replayed as another
# operation (a presigned STS URL plus an X-Amz-Target header would otherwise run an ECR call).
OPERATION_HEADERS = ("x-amz-target",)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An HTTP request as received, reduced to what SigV4 covers.

    ``path`` is the raw, still percent-encoded path (decoded from the wire bytes as UTF-8), ``query_string``
    the raw query without ``?``, ``headers`` every header received (any case, repeats allowed) and
    ``body_sha256`` the lowercase hex SHA-256 of the body.
    """

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body_sha256: str


@dataclass(frozen=True, slots=True)
class ScopePolicy:
    """What a credential scope must name: ``service`` (``None``: any) and a region in ``regions``
    (``None``: any)."""

    service: str | None = None
    regions: Container[str] | None = None


ANY_SCOPE = ScopePolicy()


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """Who signed a request, for which region and service, and when (timezone-aware, UTC)."""

    access_key_id: str
    region: str
    service: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A request whose head passed every check (:func:`authenticate`); its signature is still unchecked."""

    presented: Presented
    scope: _Scope
    secret: str = dataclasses.field(repr=False)
    headers: HeaderMap = dataclasses.field(repr=False)
    query: Sequence[tuple[bytes, bytes]] = dataclasses.field(repr=False)

    @property
    def access_key_id(self) -> str:
        return self.scope.access_key_id


class SignatureMismatchError(InvalidSignatureError):
    """The signature is wrong; carries what the server signed, for server-side logs only."""

    def __init__(self, *, canonical_request: str, string_to_sign: str) -> None:
        super().__init__(SIGNATURE_MISMATCH)
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign


@dataclass(frozen=True, slots=True)
class _Scope:
    access_key_id: str
    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{canonical.TERMINATOR}"


def verify_sigv4(
    request: SignedRequest,
    *,
    now: datetime,
    lookup_secret: SecretLookup,
    policy: ScopePolicy = ANY_SCOPE,
    max_skew: timedelta = timedelta(minutes=15),
) -> VerifiedSignature:
    """Verify ``request``'s SigV4 signature at time ``now`` (naive means UTC): :func:`authenticate`, then
    :func:`confirm`.

    Returns the verified identity only if the signature is a valid signature by the secret of the
    presented access key over this exact request, scoped as ``policy`` requires and made within
    ``max_skew`` of ``now`` (or, for a presigned URL, not yet expired). Otherwise raises
    MissingAuthenticationTokenError, IncompleteSignatureError, InvalidSignatureError
    (SignatureMismatchError for a wrong signature) or UnrecognizedClientError, with AWS's messages.
    """
    authenticated = authenticate(
        request, now=now, lookup_secret=lookup_secret, policy=policy, max_skew=max_skew
    )
    return confirm(authenticated, request)


def authenticate(
    request: SignedRequest,
    *,
    now: datetime,
    lookup_secret: SecretLookup,
    policy: ScopePolicy = ANY_SCOPE,
    max_skew: timedelta = timedelta(minutes=15),
) -> Authenticated:
    """Every check the head of ``request`` decides; ``request.body_sha256`` is not read.

    Raises what :func:`verify_sigv4` raises for a problem outside the signature itself.
    """
    headers = header_map(request.headers)
    query = canonical.query_pairs(request.query_string)
    presented = read_presented(headers, query)
    _check_freshness(presented.signed_at, presented.expires, _as_utc(now), max_skew)
    _check_signed_headers(presented.signed_headers, headers)
    if presented.algorithm != canonical.ALGORITHM:
        raise IncompleteSignatureError(
            f"Unsupported AWS 'algorithm': '{presented.algorithm}' (only AWS4-HMAC-SHA256 for now)."
        )
    scope = _parse_scope(presented.credential, presented.amz_date, policy)
    secret = lookup_secret(scope.access_key_id) if scope.access_key_id else None
    if secret is None or presented.session_token is not None:
        raise UnrecognizedClientError(UNRECOGNIZED_CLIENT)
    return Authenticated(presented, scope, secret, headers, query)


def confirm(authenticated: Authenticated, request: SignedRequest) -> VerifiedSignature:
    """The identity of a request :func:`authenticate` passed, once its signature covers all of ``request``
    (the same request, body included); SignatureMismatchError or InvalidSignatureError otherwise."""
    presented, scope = authenticated.presented, authenticated.scope
    _check_signature(
        request,
        headers=authenticated.headers,
        query=authenticated.query,
        presented=presented,
        scope=scope,
        secret=authenticated.secret,
    )
    return VerifiedSignature(scope.access_key_id, scope.region, scope.service, presented.signed_at)


def _check_signature(
    request: SignedRequest,
    *,
    headers: HeaderMap,
    query: Sequence[tuple[bytes, bytes]],
    presented: Presented,
    scope: _Scope,
    secret: str,
) -> None:
    """Return only if ``presented.signature`` signs exactly this request with ``secret``.

    Raises SignatureMismatchError otherwise, carrying the (first) canonical request the server tried.
    """
    key = canonical.signing_key(secret, scope.date, scope.region, scope.service)
    exclude = frozenset({_SIGNATURE_PARAM}) if presented.presigned else frozenset()
    uri = canonical.canonical_uri(request.path)
    canonical_query = canonical.canonical_query(query, exclude=exclude)
    canonical_headers = canonical.canonical_headers(headers, presented.signed_headers.split(";"))
    mismatch: SignatureMismatchError | None = None
    for payload_hash in _payload_hashes(request.body_sha256, headers, query, presented.presigned):
        creq = canonical.canonical_request(
            method=request.method,
            uri=uri,
            query=canonical_query,
            headers=canonical_headers,
            signed_headers=presented.signed_headers,
            payload_hash=payload_hash,
        )
        sts = canonical.string_to_sign(amz_date=presented.amz_date, scope=str(scope), canonical_request=creq)
        # Constant-time comparison, on bytes because compare_digest rejects non-ASCII str.
        if hmac.compare_digest(canonical.signature(key, sts).encode(), presented.signature.encode()):
            return
        mismatch = mismatch or SignatureMismatchError(canonical_request=creq, string_to_sign=sts)
    if mismatch is not None:
        raise mismatch


def _check_freshness(signed_at: datetime, expires: int | None, now: datetime, max_skew: timedelta) -> None:
    """Reject a signature from too far in the future, or one past its validity window."""
    if signed_at > now + max_skew:
        raise InvalidSignatureError(
            f"Signature not yet current: {_fmt(signed_at)} is still later than {_fmt(now + max_skew)} "
            f"({_fmt(now)} + {_minutes(max_skew)} min.)"
        )
    if expires is None and signed_at < now - max_skew:
        raise InvalidSignatureError(
            f"Signature expired: {_fmt(signed_at)} is now earlier than {_fmt(now - max_skew)} "
            f"({_fmt(now)} - {_minutes(max_skew)} min.)"
        )
    if expires is not None and signed_at + timedelta(seconds=expires) < now:
        raise InvalidSignatureError(
            f"Signature expired: {_fmt(signed_at)} is now earlier than "
            f"{_fmt(now - timedelta(seconds=expires))} ({_fmt(now)} - {expires} sec.)"
        )


def _check_signed_headers(signed_headers: str, headers: HeaderMap) -> None:
    """Raise InvalidSignatureError unless SignedHeaders covers ``host`` and every operation header sent.

    AWS requires ``host``, so that a signature cannot be replayed against another endpoint; an unsigned
    ``X-Amz-Target`` would let a signature for one operation run another.
    """
    signed = {name.lower() for name in signed_headers.split(";")}
    if "host" not in signed:
        raise InvalidSignatureError("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    for name in OPERATION_HEADERS:
        if name in headers and name not in signed:
            raise InvalidSignatureError(
                f"'{_header_title(name)}' must be a 'SignedHeader' in the AWS Authorization."
            )


def _header_title(name: str) -> str:
    """``x-amz-target`` → ``X-Amz-Target``."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _parse_scope(credential: str, amz_date: str, policy: ScopePolicy) -> _Scope:
    """The credential scope, well-formed, dated the day the request was signed and naming the service
    and a region ``policy`` accepts."""
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureError(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
            f" got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    problems = []
    if not region or (policy.regions is not None and region not in policy.regions):
        problems.append(f"Credential should be scoped to a valid region, not '{region}'.")
    if not service:
        problems.append("Credential should be scoped to a valid service, not ''.")
    elif policy.service is not None and service != policy.service:
        problems.append(f"Credential should be scoped to correct service: '{policy.service}'.")
    if terminator != canonical.TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{canonical.TERMINATOR}', "
            f"not '{terminator}'."
        )
    if date != amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if problems:
        raise InvalidSignatureError(" ".join(problems))
    return _Scope(access_key_id, date, region, service)


def _payload_hashes(
    body_sha256: str,
    headers: HeaderMap,
    query: Sequence[tuple[bytes, bytes]],
    presigned: bool,
) -> tuple[str, ...]:
    """The payload hashes the client may have signed with, most likely first (never empty).

    A declared ``x-amz-content-sha256`` (header, or query parameter on a presigned URL) is what the
    client signed; when it is a hash it must be the body's, or a tampered body would pass under an
    intact signature. Presigned URLs are signed over the body hash by botocore's generic presigner but
    over ``UNSIGNED-PAYLOAD`` by S3-style ones, so both are tried. ``UNSIGNED-PAYLOAD`` stands only for
    an empty body: here the body carries the operation's parameters, which a signature must cover.
    """
    declared = first(headers, "x-amz-content-sha256")
    if declared is None and presigned:
        declared = next(
            (v.decode("utf-8", "replace") for k, v in query if k == b"X-Amz-Content-Sha256"), None
        )
    unsigned_allowed = body_sha256 == EMPTY_SHA256
    if declared is None:
        return (body_sha256, canonical.UNSIGNED_PAYLOAD) if presigned and unsigned_allowed else (body_sha256,)
    if _HEX_SHA256.fullmatch(declared):
        if declared.lower() != body_sha256.lower():
            raise InvalidSignatureError(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        return (declared,)
    if declared != canonical.UNSIGNED_PAYLOAD:
        # Streaming (aws-chunked) bodies need per-chunk signatures checked; no service here takes them.
        raise InvalidSignatureError(f"Unsupported 'x-amz-content-sha256' value: '{declared}'.")
    if not unsigned_allowed:
        raise InvalidSignatureError("An 'UNSIGNED-PAYLOAD' request must have an empty body.")
    return (declared,)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fmt(moment: datetime) -> str:
    return moment.strftime(AMZ_DATE_FORMAT)


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g}"
