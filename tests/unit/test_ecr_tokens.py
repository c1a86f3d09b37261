"""Registry passwords: round trip, tamper, expiry, and the aws CLI's ':' split."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from dockyard.services.ecr.tokens import (
    LAYER_URL_LIFETIME,
    TOKEN_LIFETIME,
    RegistryGrant,
    authorization_token,
    issue_layer_token,
    issue_password,
    verify_layer_token,
    verify_password,
)

SECRET = b"s" * 32
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GRANT = RegistryGrant("111122223333", "us-east-1", "arn:aws:iam::111122223333:root", NOW + TOKEN_LIFETIME)


def test_round_trip_and_cli_split() -> None:
    password = issue_password(SECRET, GRANT)
    assert ":" not in password
    assert verify_password(SECRET, password, NOW) == GRANT
    user, secret_part = base64.b64decode(authorization_token(password)).decode().split(":")
    assert (user, secret_part) == ("AWS", password)


def test_expired_forged_and_altered_passwords_are_refused() -> None:
    password = issue_password(SECRET, GRANT)
    assert verify_password(SECRET, password, NOW + TOKEN_LIFETIME) is None
    assert verify_password(SECRET, password, NOW + TOKEN_LIFETIME + timedelta(seconds=1)) is None
    assert verify_password(b"other-secret" * 3, password, NOW) is None
    version, payload, mac = password.split(".")
    other = issue_password(SECRET, RegistryGrant("999999999999", "us-east-1", "x", GRANT.expires_at))
    assert verify_password(SECRET, f"{version}.{other.split('.')[1]}.{mac}", NOW) is None
    for garbage in ("", "v1", "v1.a.b", "v2." + payload + "." + mac, "AWS"):
        assert verify_password(SECRET, garbage, NOW) is None


def test_a_layer_token_reads_one_blob_for_minutes_and_is_no_password() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    assert timedelta(minutes=15) >= LAYER_URL_LIFETIME
    grant = RegistryGrant(
        "123456789012", "us-east-1", "arn:aws:iam::123456789012:root", now + LAYER_URL_LIFETIME
    )
    token = issue_layer_token(b"k", grant, "repo", "sha256:" + "a" * 64)
    assert verify_layer_token(b"k", token, "repo", "sha256:" + "a" * 64, now) == grant
    assert verify_layer_token(b"k", token, "repo", "sha256:" + "a" * 64, now + LAYER_URL_LIFETIME) is None
    assert verify_layer_token(b"k", token, "other", "sha256:" + "a" * 64, now) is None
    assert verify_password(b"k", token, now) is None
