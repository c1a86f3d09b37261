"""Registry authentication as ECR does it: HTTP Basic with user ``AWS`` and a registry password.

The password is the one ``GetAuthorizationToken`` issues (an HMAC-signed grant for one account and region,
see :mod:`dockyard.services.ecr.tokens`). A request without a valid one is answered 401 UNAUTHORIZED with
the challenge ``WWW-Authenticate: Basic realm="<endpoint>",service="ecr.amazonaws.com"`` that makes
``docker login`` send credentials.

A layer download URL (ECR's ``GetDownloadUrlForLayer``) carries a layer token as ``?token=`` instead:
it reads the one blob it names, in the one repository, for minutes (see :mod:`.routes`).

Clients send the same header with every request, so verified headers are remembered (bounded, and never
past the grant's expiry): the hot path of a pull is one dictionary lookup.
"""

from __future__ import annotations

import base64
import binascii
import threading
from datetime import datetime
from typing import Protocol

from dockyard.services.ecr.tokens import RegistryGrant

REGISTRY_USER = "AWS"
SERVICE = "ecr.amazonaws.com"
# Longer Authorization headers are refused before decoding (a registry password is about 200 bytes).
_MAX_HEADER = 4096
_CACHE_SIZE = 4096


def challenge(realm: str) -> str:
    """The ``WWW-Authenticate`` value of a 401 answer."""
    return f'Basic realm="{realm}",service="{SERVICE}"'


def basic_password(header: str | None) -> str | None:
    """The password of ``Authorization: Basic base64(AWS:<password>)``; None if absent or another form."""
    if header is None or len(header) > _MAX_HEADER:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or user != REGISTRY_USER or not password:
        return None
    return password


class PasswordVerifier(Protocol):
    """What checks registry passwords (:class:`~dockyard.services.ecr.tokens.RegistryTokens`)."""

    def verify(self, password: str, now: datetime) -> RegistryGrant | None: ...

    def verify_layer_token(
        self, token: str, repository: str, digest: str, now: datetime
    ) -> RegistryGrant | None: ...


class RegistryAuthenticator:
    """Turns an ``Authorization`` header into the grant it carries, with a small cache of verified ones."""

    def __init__(self, tokens: PasswordVerifier, *, cache_size: int = _CACHE_SIZE) -> None:
        self._tokens = tokens
        self._cache_size = cache_size
        self._cache: dict[str, RegistryGrant] = {}
        self._lock = threading.Lock()

    def authenticate(self, header: str | None, now: datetime) -> RegistryGrant | None:
        """The grant of a valid, unexpired registry password in ``header``; None otherwise."""
        if header is None:
            return None
        grant = self._cache.get(header)
        if grant is not None:
            if now < grant.expires_at:
                return grant
            with self._lock:
                self._cache.pop(header, None)
            return None
        password = basic_password(header)
        if password is None:
            return None
        grant = self._tokens.verify(password, now)
        if grant is not None:
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()  # rare; cheaper and simpler than LRU bookkeeping on every hit
                self._cache[header] = grant
        return grant

    def authenticate_layer_token(
        self, token: str, repository: str, digest: str, now: datetime
    ) -> RegistryGrant | None:
        """The grant of a download URL's token for exactly this blob; not cached."""
        return self._tokens.verify_layer_token(token, repository, digest, now)
