"""Reading the SigV4 parameters a request presents, from its Authorization header or presigned query.

This only establishes that the parameters are there and readable (raising what AWS raises when they are
not); whether they are acceptable is decided in :mod:`dockyard.api.auth.sigv4`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dockyard.core.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
)

MISSING_AUTHENTICATION = "Missing Authentication Token"
MAX_PRESIGN_EXPIRES = 604800  # one week, the longest lifetime AWS grants a presigned URL
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)
_AUTH_SEPARATORS = re.compile(r"[,\s]+")
_QUERY_AUTH_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders")

HeaderMap = Mapping[str, Sequence[str]]
"""Lowercase header name to every value received for it, in order."""


@dataclass(frozen=True, slots=True)
class Presented:
    """The authentication parameters of a request: all present and readable, none yet checked."""

    algorithm: str
    credential: str
    signed_headers: str
    signature: str
    signed_at: datetime  # timezone-aware, UTC
    amz_date: str  # signed_at in ISO 8601 basic format, as it enters the string to sign
    expires: int | None  # seconds; only a presigned URL may state it
    presigned: bool
    session_token: str | None


def header_map(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Lowercase header name to all its values, in the order received."""
    result: dict[str, list[str]] = {}
    for name, value in headers:
        result.setdefault(name.lower(), []).append(value)
    return result


def first(headers: HeaderMap, name: str) -> str | None:
    """The first value of header ``name`` (lowercase), if any."""
    values = headers.get(name)
    return values[0] if values else None


def read_presented(headers: HeaderMap, query: Sequence[tuple[bytes, bytes]]) -> Presented:
    """The auth parameters from the Authorization header or else the query string.

    Raises MissingAuthenticationTokenError when the request carries no SigV4 authentication at all,
    IncompleteSignatureError when required parameters are missing or unreadable.
    """
    authorization = first(headers, "authorization")
    params = _query_auth_params(query)
    if authorization is not None and "X-Amz-Algorithm" in params:
        raise InvalidSignatureError(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
        )
    if authorization is not None:
        return _from_header(authorization, headers)
    if "X-Amz-Algorithm" in params:
        return _from_query(params, headers)
    raise MissingAuthenticationTokenError(MISSING_AUTHENTICATION)


def _query_auth_params(query: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """The ``X-Amz-*`` query parameters, decoded, first occurrence winning."""
    params: dict[str, str] = {}
    for key, value in query:
        if key.startswith(b"X-Amz-"):
            params.setdefault(key.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
    return params


def _from_header(authorization: str, headers: HeaderMap) -> Presented:
    algorithm, _, rest = authorization.strip().partition(" ")
    if not algorithm.startswith("AWS4-"):
        # Another scheme (Basic, Bearer, SigV2...) is no SigV4 authentication at all, as AWS sees it.
        raise MissingAuthenticationTokenError(MISSING_AUTHENTICATION)
    fields = _authorization_fields(authorization, rest)
    amz_date, http_date = first(headers, "x-amz-date"), first(headers, "date")
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        # SignedHeaders may be empty here; the check that it covers Host comes later.
        if not fields.get(name) and not (name == "SignedHeaders" and name in fields)
    ]
    if amz_date is None and http_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise IncompleteSignatureError(f"{' '.join(problems)} Authorization={authorization}")
    # X-Amz-Date takes precedence over Date, so a client can sign even where it cannot set Date.
    signed_at, amz_date = _amz_date(amz_date) if amz_date is not None else _http_date(http_date or "")
    return Presented(
        algorithm=algorithm,
        credential=fields["Credential"],
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        signed_at=signed_at,
        amz_date=amz_date,
        expires=None,
        presigned=False,
        session_token=first(headers, "x-amz-security-token"),
    )


def _authorization_fields(authorization: str, rest: str) -> dict[str, str]:
    """The ``name=value`` fields after the algorithm, separated by commas and/or whitespace."""
    fields: dict[str, str] = {}
    for part in filter(None, _AUTH_SEPARATORS.split(rest)):
        name, equals, value = part.partition("=")
        if not equals:
            raise IncompleteSignatureError(
                f"'{name}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'."
            )
        fields.setdefault(name, value)
    return fields


def _from_query(params: Mapping[str, str], headers: HeaderMap) -> Presented:
    problems = [
        f"AWS query-string parameters must include '{name}'."
        for name in (*_QUERY_AUTH_PARAMS, "X-Amz-Date")
        if not params.get(name)
    ]
    if problems:
        raise IncompleteSignatureError(f"{' '.join(problems)} Re-examine the query-string parameters.")
    signed_at, amz_date = _amz_date(params["X-Amz-Date"])
    return Presented(
        algorithm=params["X-Amz-Algorithm"],
        credential=params["X-Amz-Credential"],
        signed_headers=params["X-Amz-SignedHeaders"],
        signature=params["X-Amz-Signature"],
        signed_at=signed_at,
        amz_date=amz_date,
        expires=_parse_expires(params.get("X-Amz-Expires")),
        presigned=True,
        session_token=params.get("X-Amz-Security-Token") or first(headers, "x-amz-security-token"),
    )


def _parse_expires(value: str | None) -> int | None:
    """A presigned URL's lifetime in seconds, or None when it states none (the usual skew then applies)."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise IncompleteSignatureError("X-Amz-Expires should be a number")
    expires = int(value)
    if expires > MAX_PRESIGN_EXPIRES:
        raise IncompleteSignatureError(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
        )
    return expires


def _amz_date(value: str) -> tuple[datetime, str]:
    """An ISO 8601 basic timestamp (``20261127T120000Z``) as an aware UTC datetime, and as given."""
    match = _AMZ_DATE.fullmatch(value)
    if match:
        # Not strptime: this runs on every request and strptime costs more than the HMACs.
        year, month, day, hour, minute, second = (int(group) for group in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC), value
        except ValueError:  # well-shaped but impossible, e.g. month 13
            pass
    raise _bad_date(value)


def _http_date(value: str) -> tuple[datetime, str]:
    """An RFC 7231 ``Date`` header value as an aware UTC datetime, and in ISO 8601 basic format."""
    try:
        moment = parsedate_to_datetime(value)
    except (ValueError, TypeError):
        raise _bad_date(value) from None
    # A Date without a zone (or with -0000) is taken as UTC, the only zone HTTP dates may use.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment, moment.strftime(AMZ_DATE_FORMAT)


def _bad_date(value: str) -> IncompleteSignatureError:
    return IncompleteSignatureError(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )
