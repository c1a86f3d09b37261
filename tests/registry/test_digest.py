from __future__ import annotations

import hashlib

import pytest

from dockyard.registry.digest import Digest, Hasher, digest_of, is_digest, parse_digest
from dockyard.registry.errors import DigestInvalid

SHA256_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_parse_and_print_round_trip() -> None:
    digest = parse_digest(SHA256_EMPTY)
    assert (digest.algorithm, digest.hex) == ("sha256", SHA256_EMPTY[7:])
    assert str(digest) == SHA256_EMPTY
    sha512 = "sha512:" + hashlib.sha512(b"x").hexdigest()
    assert str(parse_digest(sha512)) == sha512


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        SHA256_EMPTY.upper(),
        "SHA256:" + SHA256_EMPTY[7:],
        SHA256_EMPTY[:-1],
        SHA256_EMPTY + "0",
        SHA256_EMPTY + "\n",
        " " + SHA256_EMPTY,
        "sha512:" + SHA256_EMPTY[7:],
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:" + "g" * 64,
        "sha256:" + "a" * 10_000,
        "sha256+b64:" + "a" * 64,
    ],
)
def test_malformed_digests_are_digest_invalid(text: str) -> None:
    with pytest.raises(DigestInvalid) as caught:
        parse_digest(text)
    assert caught.value.status == 400
    assert caught.value.code == "DIGEST_INVALID"
    assert not is_digest(text)


def test_a_digest_is_valid_by_construction() -> None:
    with pytest.raises(DigestInvalid):
        Digest("sha256", "abc")
    assert is_digest(SHA256_EMPTY)


def test_digest_of_matches_hashlib() -> None:
    assert str(digest_of(b"")) == SHA256_EMPTY
    assert digest_of(b"abc", "sha512").hex == hashlib.sha512(b"abc").hexdigest()
    with pytest.raises(DigestInvalid):
        digest_of(b"abc", "md5")


def test_hasher_streams_and_counts() -> None:
    hasher = Hasher()
    hasher.update(b"hello ")
    snapshot = hasher.copy()
    hasher.update_all([bytearray(b"wor"), memoryview(b"ld")])
    assert hasher.size == 11
    assert hasher.digest() == digest_of(b"hello world")
    assert snapshot.digest() == digest_of(b"hello ")
    assert snapshot.size == 6


def test_digests_are_hashable_and_ordered() -> None:
    a, b = digest_of(b"a"), digest_of(b"b")
    assert {a, parse_digest(str(a))} == {a}
    assert sorted([b, a]) == sorted([a, b])
