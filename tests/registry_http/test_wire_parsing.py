"""The registry API's pure parsing: byte ranges, upload ranges, endpoint paths, Basic credentials."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.api.registry.auth import RegistryAuthenticator, basic_password, challenge
from dockyard.api.registry.paths import Endpoint, Target, parse_target
from dockyard.api.registry.ranges import (
    ReadRange,
    content_range,
    parse_read_range,
    parse_upload_range,
    unsatisfied_range,
    upload_range,
)
from dockyard.registry.errors import BlobUploadInvalid, RangeInvalid
from dockyard.services.ecr.tokens import RegistryGrant, issue_password, verify_password

# --- read ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ReadRange(0, 9)),
        ("bytes=5-", ReadRange(5, None)),
        ("bytes=-20", ReadRange(None, 20)),
        ("BYTES = 1 - 2", ReadRange(1, 2)),
        ("bytes=7-7", ReadRange(7, 7)),
    ],
)
def test_parse_read_range(header: str, expected: ReadRange) -> None:
    assert parse_read_range(header) == expected


@pytest.mark.parametrize("header", [None, "items=0-5", "bytes=0-1,4-5", "nonsense"])
def test_ranges_served_whole(header: str | None) -> None:
    assert parse_read_range(header) is None


@pytest.mark.parametrize(
    "header", ["bytes=9-3", "bytes=-", "bytes=a-b", "bytes=1-2-3", "bytes=" + "9" * 30 + "-", "bytes="]
)
def test_malformed_or_inverted_read_ranges(header: str) -> None:
    with pytest.raises(RangeInvalid):
        parse_read_range(header)


@pytest.mark.parametrize(
    ("wanted", "size", "resolved"),
    [
        (ReadRange(0, 9), 100, (0, 10)),
        (ReadRange(90, 200), 100, (90, 100)),
        (ReadRange(99, None), 100, (99, 100)),
        (ReadRange(None, 10), 100, (90, 100)),
        (ReadRange(None, 1000), 100, (0, 100)),
    ],
)
def test_resolve_read_range(wanted: ReadRange, size: int, resolved: tuple[int, int]) -> None:
    assert wanted.resolve(size) == resolved


@pytest.mark.parametrize(
    ("wanted", "size"),
    [
        (ReadRange(100, None), 100),
        (ReadRange(150, 160), 100),
        (ReadRange(None, 0), 100),
        (ReadRange(0, 0), 0),
        (ReadRange(None, 5), 0),
    ],
)
def test_unsatisfiable_read_ranges(wanted: ReadRange, size: int) -> None:
    with pytest.raises(RangeInvalid) as excinfo:
        wanted.resolve(size)
    assert excinfo.value.status == 416


def test_range_headers() -> None:
    assert content_range(0, 10, 100) == "bytes 0-9/100"
    assert unsatisfied_range(100) == "bytes */100"
    assert upload_range(0) == "0-0"
    assert upload_range(1) == "0-0"
    assert upload_range(1000) == "0-999"


# --- upload ranges ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-99", (0, 99)),
        ("100-100", (100, 100)),
        (" 5-6 ", (5, 6)),
        ("bytes 0-9/10", (0, 9)),
        ("bytes=0-9", (0, 9)),
        ("0-9/*", (0, 9)),
    ],
)
def test_parse_upload_range(header: str, expected: tuple[int, int]) -> None:
    assert parse_upload_range(header) == expected


@pytest.mark.parametrize("header", ["", "0", "-5", "a-b", "0-", "0-9-10", "1" * 25 + "-" + "2" * 25])
def test_malformed_upload_ranges(header: str) -> None:
    with pytest.raises(BlobUploadInvalid):
        parse_upload_range(header)


def test_inverted_upload_range_is_out_of_order() -> None:
    with pytest.raises(RangeInvalid):
        parse_upload_range("10-5")


# --- paths --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("", Target(Endpoint.BASE)),
        ("_catalog", Target(Endpoint.CATALOG)),
        ("app/blobs/sha256:abc", Target(Endpoint.BLOB, "app", "sha256:abc")),
        ("team/app/blobs/uploads/", Target(Endpoint.UPLOADS, "team/app")),
        ("team/app/blobs/uploads", Target(Endpoint.UPLOADS, "team/app")),
        ("team/app/blobs/uploads/u-1", Target(Endpoint.UPLOAD, "team/app", "u-1")),
        ("a/b/c/manifests/latest", Target(Endpoint.MANIFEST, "a/b/c", "latest")),
        ("a/tags/list", Target(Endpoint.TAGS, "a")),
        ("a/referrers/sha256:x", Target(Endpoint.REFERRERS, "a", "sha256:x")),
        # The last endpoint segment wins: earlier ones belong to the name.
        ("x/manifests/y/blobs/sha256:1", Target(Endpoint.BLOB, "x/manifests/y", "sha256:1")),
        ("a/blobs/blobs/uploads/", Target(Endpoint.UPLOADS, "a/blobs")),
        ("a/manifests/tags/list", Target(Endpoint.TAGS, "a/manifests")),
        ("r/referrers/manifests/v1", Target(Endpoint.MANIFEST, "r/referrers", "v1")),
        ("a/blobs/uploadsx", Target(Endpoint.BLOB, "a", "uploadsx")),
    ],
)
def test_parse_target(path: str, target: Target) -> None:
    assert parse_target(path) == target


@pytest.mark.parametrize(
    "path",
    ["app", "app/manifests", "app/manifests/", "/blobs/x", "app/tags/other", "a/manifests/x/y", "a" * 2000],
)
def test_unknown_paths(path: str) -> None:
    assert parse_target(path).endpoint is Endpoint.UNKNOWN


# --- authentication -----------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_password() -> None:
    assert basic_password(basic("AWS", "v1.a.b")) == "v1.a.b"
    assert basic_password("basic " + base64.b64encode(b"AWS:p").decode()) == "p"
    for header in (
        None,
        basic("admin", "p"),
        basic("AWS", ""),
        "Bearer x",
        "Basic %%%",
        "Basic " + "A" * 5000,
    ):
        assert basic_password(header) is None


def test_challenge() -> None:
    assert (
        challenge("http://localhost:5000")
        == 'Basic realm="http://localhost:5000",service="ecr.amazonaws.com"'
    )


class FakeTokens:
    """Verifies real passwords with a fixed key, counting verifications."""

    key = b"k" * 32

    def __init__(self) -> None:
        self.verified = 0

    def verify(self, password: str, now: datetime) -> RegistryGrant | None:
        self.verified += 1
        return verify_password(self.key, password, now)


def test_authenticator_caches_verified_headers_until_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tokens = FakeTokens()
    grant = RegistryGrant(
        "123456789012", "us-east-1", "arn:aws:iam::123456789012:root", now + timedelta(hours=1)
    )
    header = basic("AWS", issue_password(tokens.key, grant))
    auth = RegistryAuthenticator(tokens, cache_size=2)
    assert auth.authenticate(header, now) == grant
    assert auth.authenticate(header, now + timedelta(minutes=5)) == grant
    assert tokens.verified == 1
    assert auth.authenticate(header, now + timedelta(hours=2)) is None
    assert auth.authenticate(header, now + timedelta(hours=2)) is None
    assert auth.authenticate(None, now) is None
    forged = basic("AWS", issue_password(b"x" * 32, grant))
    assert auth.authenticate(forged, now) is None
    # The cache is bounded.
    for i in range(5):
        other = RegistryGrant(f"{i:012d}", "us-east-1", "arn", now + timedelta(hours=1))
        assert auth.authenticate(basic("AWS", issue_password(tokens.key, other)), now) == other
    assert len(auth._cache) <= 2
