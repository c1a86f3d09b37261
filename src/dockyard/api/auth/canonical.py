"""The arithmetic of AWS Signature Version 4: canonical request, string to sign, signing key, signature.

Everything here is a pure function of its arguments and reproduces, byte for byte, what botocore's
``SigV4Auth`` computes for non-S3 services, seen from the server: inputs are the path and query string
exactly as they arrived on the wire. Policy (which request is acceptable) lives in
:mod:`dockyard.api.auth.sigv4`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# RFC 3986 unreserved characters besides alphanumerics; everything else is percent-encoded.
_QUERY_SAFE = "-_.~"


def canonical_uri(raw_path: str) -> str:
    """The CanonicalURI for a path as received (still percent-encoded).

    Guarantees the value botocore signs for non-S3 services: dot segments and empty segments removed,
    then every byte outside ``A-Za-z0-9-_.~/`` percent-encoded. Because the client signed the path it
    had already encoded, the server encodes the received path once more (``%2F`` becomes ``%252F``).
    """
    # surrogateescape lets a caller that decoded raw wire bytes with it get those bytes back verbatim.
    return quote(_remove_dot_segments(raw_path) or "/", safe="/~", errors="surrogateescape")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, plus collapsing repeated slashes, as botocore's ``remove_dot_segments``."""
    if not path:
        return ""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment and segment != ".":
            output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last


def query_pairs(raw_query: str) -> list[tuple[bytes, bytes]]:
    """Every ``key=value`` pair of a raw query string, percent-decoded to bytes, in wire order.

    A pair without ``=`` has an empty value; empty segments (``a=1&&b=2``) are skipped. ``+`` means a
    space, as in form encoding: that is how a query built by ``urlencode`` reaches us, while clients that
    follow the SigV4 rules encode a literal plus as ``%2B`` and never send a bare one.
    """
    pairs: list[tuple[bytes, bytes]] = []
    for segment in raw_query.split("&"):
        if not segment:
            continue
        key, _, value = segment.replace("+", " ").partition("=")
        pairs.append((unquote_to_bytes(key), unquote_to_bytes(value)))
    return pairs


def canonical_query(pairs: Iterable[tuple[bytes, bytes]], *, exclude: frozenset[bytes] = frozenset()) -> str:
    """The CanonicalQueryString: pairs URI-encoded, sorted by encoded key then encoded value.

    Keys in ``exclude`` (decoded form, e.g. ``b"X-Amz-Signature"``) are left out.
    """
    encoded = sorted(
        (quote_from_bytes(key, safe=_QUERY_SAFE), quote_from_bytes(value, safe=_QUERY_SAFE))
        for key, value in pairs
        if key not in exclude
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def canonical_headers(headers: Mapping[str, Sequence[str]], signed: Sequence[str]) -> str:
    """The CanonicalHeaders block (each line ending in a newline) for the ``signed`` names, in that order.

    ``headers`` maps lowercase names to every value received. Values are trimmed with inner whitespace
    runs collapsed to one space, repeated headers joined with ``,``; a signed header that is absent
    contributes an empty value, so the signature cannot match.
    """
    lines = []
    for name in signed:
        values = headers.get(name.lower(), ())
        lines.append(f"{name.lower()}:{','.join(' '.join(value.split()) for value in values)}\n")
    return "".join(lines)


def canonical_request(
    *, method: str, uri: str, query: str, headers: str, signed_headers: str, payload_hash: str
) -> str:
    """The CanonicalRequest from its already canonical parts."""
    return "\n".join((method.upper(), uri, query, headers, signed_headers, payload_hash))


def string_to_sign(*, amz_date: str, scope: str, canonical_request: str) -> str:
    """The StringToSign for a request signed at ``amz_date`` (ISO 8601 basic) within ``scope``."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key ``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``.

    Cached: a key is valid for a whole day and the four HMACs would otherwise dominate verification.
    """
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(key: bytes, string_to_sign: str) -> str:
    """The lowercase hex signature of ``string_to_sign`` under a derived ``key``."""
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
