"""Registry passwords as ECR issues them: signed, scoped to one account and region, valid 12 hours.

``GetAuthorizationToken`` returns ``base64("AWS:" + password)``; ``docker login`` sends the password back
as Basic auth. The password is ``v1.<payload>.<mac>``, both parts base64url without padding, so it never
contains ':' (the aws CLI splits the decoded token on ':'). The MAC is HMAC-SHA256 under a server secret
kept in the store, so tokens survive a restart and cannot be forged or altered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from dockyard.store import ecr as store
from dockyard.store.database import Database

TOKEN_LIFETIME = timedelta(hours=12)
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class RegistryGrant:
    """What a valid registry password allows: this account's repositories in this region."""

    account_id: str
    region: str
    principal_arn: str
    expires_at: datetime


def issue_password(secret: bytes, grant: RegistryGrant) -> str:
    payload = _b64(
        orjson.dumps(
            {
                "a": grant.account_id,
                "r": grant.region,
                "p": grant.principal_arn,
                "x": int(grant.expires_at.timestamp()),
            }
        )
    )
    return f"{_VERSION}.{payload}.{_mac(secret, payload)}"


def verify_password(secret: bytes, password: str, now: datetime) -> RegistryGrant | None:
    """The grant ``password`` carries, or ``None`` if it is malformed, forged, altered or expired."""
    parts = password.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    _, payload, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        fields = orjson.loads(_unb64(payload))
        grant = RegistryGrant(
            account_id=str(fields["a"]),
            region=str(fields["r"]),
            principal_arn=str(fields["p"]),
            expires_at=datetime.fromtimestamp(int(fields["x"]), UTC),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return grant if now < grant.expires_at else None


def authorization_token(password: str) -> str:
    """The ``authorizationToken`` field: base64 of ``AWS:<password>``."""
    return base64.b64encode(f"AWS:{password}".encode()).decode()


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


TOKEN_SECRET_NAME = "registry-token-key"  # noqa: S105 - the name of the secret, not a secret


class RegistryTokens:
    """Issues and checks registry passwords with a key kept in the store (so restarts keep tokens valid)."""

    def __init__(self, db: Database, now: datetime) -> None:
        with db.write() as tx:
            self._key = store.get_or_create_secret(
                tx, TOKEN_SECRET_NAME, secrets.token_urlsafe(32), now
            ).encode()

    def issue(self, grant: RegistryGrant) -> str:
        return issue_password(self._key, grant)

    def verify(self, password: str, now: datetime) -> RegistryGrant | None:
        return verify_password(self._key, password, now)
