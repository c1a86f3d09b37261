"""Who presents a ``k8s-aws-v1.`` bearer token to a cluster's Kubernetes API.

``aws eks get-token`` (and aws-iam-authenticator) encode a presigned STS ``GetCallerIdentity`` URL whose
signed headers include ``x-k8s-aws-id: <cluster name>``. EKS sends that URL to STS; dockyard is STS, so it
checks the signature locally with :mod:`dockyard.api.auth.sigv4`::

    token ─▶ base64url-decode ─▶ URL (Action, Version, lifetime ≤ 15 min, x-k8s-aws-id signed)
          ─▶ SigV4 over GET <host>/?<query> with x-k8s-aws-id = this cluster's name ─▶ key ─▶ Principal

The URL's host is whatever the CLI signed: ``sts.<region>.amazonaws.com``, the global
``sts.amazonaws.com``, or the endpoint override's ``host:port`` (with ``AWS_ENDPOINT_URL`` the CLI signs
``http://127.0.0.1:4566/``). The host is covered by the signature, so any host is accepted; the scope must
name ``sts`` and a region dockyard serves.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from dockyard.api.auth import canonical
from dockyard.api.auth.sigv4 import EMPTY_SHA256, ScopePolicy, SignedRequest, verify_sigv4
from dockyard.core.context import Principal
from dockyard.core.errors import AuthError
from dockyard.store.credentials import AccessKey

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - a scheme marker, not a secret
CLUSTER_ID_HEADER = "x-k8s-aws-id"
MAX_TOKEN_LIFETIME = timedelta(minutes=15)  # EKS accepts a token for 15 minutes, whatever it states
MAX_TOKEN_CHARS = 8192  # a real token is ~700 characters; refuse to decode megabytes
DEFAULT_MAX_SKEW = timedelta(minutes=15)  # as the gateway allows

KeyLookup = Callable[[str], AccessKey | None]
"""Maps an access key id to its key (with principal), or ``None``: e.g. ``KeyResolver.find``."""


class TokenRejectedError(Exception):
    """The token does not prove who is calling; ``reason`` is for server logs, never for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """The caller a token proves: the principal of its key, and the STS region it was signed for."""

    principal: Principal
    region: str
    signed_at: datetime


def authenticate_token(
    token: str,
    *,
    cluster_name: str,
    now: datetime,
    lookup_key: KeyLookup,
    regions: Container[str] | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> TokenIdentity:
    """The identity behind bearer ``token`` presented to cluster ``cluster_name`` at ``now``.

    Returns only if the token is a presigned STS GetCallerIdentity URL, signed (SigV4, service ``sts``,
    a region in ``regions``; ``None``: any) by a key ``lookup_key`` knows, with ``x-k8s-aws-id`` signed
    and equal to ``cluster_name``, stating a lifetime of at most 15 minutes that has not run out. Raises
    TokenRejectedError otherwise. No I/O besides ``lookup_key``.
    """
    url = _decode(token)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise TokenRejectedError(f"not an absolute http(s) URL: {url[:100]!r}")
    if parts.path not in ("", "/"):
        raise TokenRejectedError(f"unexpected path {parts.path!r}")
    params = _single_params(parts.query)
    if params.get("Action") != "GetCallerIdentity" or params.get("Version") != "2011-06-15":
        raise TokenRejectedError("not an STS GetCallerIdentity (2011-06-15) URL")
    _check_lifetime(params.get("X-Amz-Expires"))
    signed = params.get("X-Amz-SignedHeaders", "").lower().split(";")
    if CLUSTER_ID_HEADER not in signed:
        raise TokenRejectedError(f"{CLUSTER_ID_HEADER} is not a signed header")
    if set(signed) - {"host", CLUSTER_ID_HEADER}:
        # Only these two can be re-created here; any other signed header came from a request we never see.
        raise TokenRejectedError(f"unexpected signed headers {params['X-Amz-SignedHeaders']!r}")
    keys: dict[str, AccessKey] = {}

    def secret_for(access_key_id: str) -> str | None:
        key = lookup_key(access_key_id)
        if key is None:
            return None
        keys[access_key_id] = key
        return key.secret_access_key

    request = SignedRequest(
        method="GET",
        path=parts.path or "/",
        query_string=parts.query,
        headers=(("host", parts.netloc), (CLUSTER_ID_HEADER, cluster_name)),
        body_sha256=EMPTY_SHA256,
    )
    try:
        verified = verify_sigv4(
            request,
            now=now,
            lookup_secret=secret_for,
            policy=ScopePolicy(service="sts", regions=regions),
            max_skew=max_skew,
        )
    except AuthError as error:
        raise TokenRejectedError(f"{type(error).__name__}: {error}") from error
    key = keys[verified.access_key_id]
    return TokenIdentity(principal=key.principal, region=verified.region, signed_at=verified.signed_at)


def _decode(token: str) -> str:
    """The URL inside a ``k8s-aws-v1.`` token (base64url, padding optional)."""
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRejectedError(f"token does not start with {TOKEN_PREFIX!r}")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejectedError("token too long")
    body = token[len(TOKEN_PREFIX) :].rstrip("=")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise TokenRejectedError(f"token is not base64url-encoded UTF-8: {error}") from error


def _single_params(raw_query: str) -> dict[str, str]:
    """The query's parameters, decoded; a repeated parameter is refused (which one would STS read?)."""
    params: dict[str, str] = {}
    for key, value in canonical.query_pairs(raw_query):
        name = key.decode("utf-8", "replace")
        if name in params:
            raise TokenRejectedError(f"parameter {name!r} is repeated")
        params[name] = value.decode("utf-8", "replace")
    return params


def _check_lifetime(expires: str | None) -> None:
    if expires is None or not expires.isascii() or not expires.isdigit():
        raise TokenRejectedError("X-Amz-Expires is missing or not a number")
    if int(expires) > MAX_TOKEN_LIFETIME.total_seconds():
        raise TokenRejectedError(f"X-Amz-Expires={expires} exceeds {MAX_TOKEN_LIFETIME.total_seconds():g} s")
