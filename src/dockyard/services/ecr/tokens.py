"""Registry passwords as ECR issues them: signed, scoped to one account and region, valid 12 hours;
and layer download tokens: signed, good for one blob of one repository for minutes.

``GetAuthorizationToken`` returns ``base64("AWS:" + password)``; ``docker login`` sends the password back
as Basic auth. The password is ``v1.<payload>.<mac>``, both parts base64url without padding, so it never
contains ':' (the aws CLI splits the decoded token on ':'). The MAC is HMAC-SHA256 under a server secret
kept in the store, so tokens survive a restart and cannot be forged or altered.

A layer download URL (``GetDownloadUrlForLayer``; on AWS a presigned S3 URL) carries a ``l1.<payload>.<mac>``
token naming the repository and the digest: it reads that blob until it expires and is no password (the
version prefix keeps each kind out of the other's place).
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
LAYER_URL_LIFETIME = timedelta(minutes=10)
_VERSION = "v1"
_LAYER_VERSION = "l1"


@dataclass(frozen=True, slots=True)
class RegistryGrant:
    """What a valid registry password allows: this account's repositories in this region."""

    account_id: str
    region: str
    principal_arn: str
    expires_at: datetime


def issue_password(secret: bytes, grant: RegistryGrant) -> str:
    return _sign(secret, _VERSION, _grant_fields(grant))


def verify_password(secret: bytes, password: str, now: datetime) -> RegistryGrant | None:
    """The grant ``password`` carries, or ``None`` if it is malformed, forged, altered or expired."""
    fields = _signed_fields(secret, password, _VERSION)
    return None if fields is None else _live_grant(fields, now)


def issue_layer_token(secret: bytes, grant: RegistryGrant, repository: str, digest: str) -> str:
    """A token that reads ``digest`` in ``repository`` of the grant's registry until ``grant.expires_at``."""
    return _sign(secret, _LAYER_VERSION, {**_grant_fields(grant), "n": repository, "d": digest})


def verify_layer_token(
    secret: bytes, token: str, repository: str, digest: str, now: datetime
) -> RegistryGrant | None:
    """The grant of a valid, unexpired layer token for exactly this repository and digest; else None."""
    fields = _signed_fields(secret, token, _LAYER_VERSION)
    if fields is None or fields.get("n") != repository or fields.get("d") != digest:
        return None
    return _live_grant(fields, now)


def _grant_fields(grant: RegistryGrant) -> dict[str, object]:
    return {
        "a": grant.account_id,
        "r": grant.region,
        "p": grant.principal_arn,
        "x": int(grant.expires_at.timestamp()),
    }


def _live_grant(fields: dict[str, object], now: datetime) -> RegistryGrant | None:
    try:
        grant = RegistryGrant(
            account_id=str(fields["a"]),
            region=str(fields["r"]),
            principal_arn=str(fields["p"]),
            expires_at=datetime.fromtimestamp(int(fields["x"]), UTC),  # type: ignore[call-overload]
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        return None
    return grant if now < grant.expires_at else None


def _sign(secret: bytes, version: str, fields: dict[str, object]) -> str:
    payload = _b64(orjson.dumps(fields))
    return f"{version}.{payload}.{_mac(secret, payload)}"


def _signed_fields(secret: bytes, token: str, version: str) -> dict[str, object] | None:
    """The payload of ``<version>.<payload>.<mac>`` if the MAC is ours; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != version:
        return None
    _, payload, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        fields = orjson.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    return fields if isinstance(fields, dict) else None


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

    def issue_layer_token(self, grant: RegistryGrant, repository: str, digest: str) -> str:
        return issue_layer_token(self._key, grant, repository, digest)

    def verify_layer_token(
        self, token: str, repository: str, digest: str, now: datetime
    ) -> RegistryGrant | None:
        return verify_layer_token(self._key, token, repository, digest, now)
