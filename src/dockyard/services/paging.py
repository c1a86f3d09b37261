"""Pagination as AWS's list operations do it: ``maxResults`` checked, ``nextToken`` opaque.

A token holds the listing position of the last item returned (its sort key), so the next page starts
strictly after it whatever was added or removed meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import orjson

from dockyard.core.errors import InvalidParameterError

INVALID_TOKEN_MESSAGE = "Invalid nextToken."  # noqa: S105 - a message, not a secret


def page_size(requested: int | None, *, default: int, maximum: int) -> int:
    """``maxResults`` as given (``default`` when absent); InvalidParameterException outside 1..maximum.

    Zero is a value, not an absence: AWS refuses it.
    """
    if requested is None:
        return default
    if not 1 <= requested <= maximum:
        raise InvalidParameterError(f"maxResults must be between 1 and {maximum}.")
    return requested


def encode_token(position: Sequence[str | int]) -> str:
    """An opaque page token for the listing position ``position`` (the last item returned)."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": list(position)})).decode()


def decode_token(
    token: str | None, shape: tuple[type, ...], *, message: str = INVALID_TOKEN_MESSAGE
) -> list[Any] | None:
    """The position a token from :func:`encode_token` holds, its items of the types in ``shape``;
    InvalidParameterException with ``message`` if the token is not one."""
    if not token:
        return None
    try:
        after: object = orjson.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterError(message) from exc
    if not isinstance(after, list) or len(after) != len(shape):
        raise InvalidParameterError(message)
    if not all(
        isinstance(item, kind) and not isinstance(item, bool) for item, kind in zip(after, shape, strict=True)
    ):
        raise InvalidParameterError(message)
    return after
