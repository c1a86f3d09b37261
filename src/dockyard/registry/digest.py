"""Content digests: parsing, computing, and hashing while streaming.

Only the two algorithms the OCI distribution spec requires are accepted: ``sha256`` (64 lowercase hex
digits) and ``sha512`` (128). A :class:`Digest` is valid by construction, so code holding one never
re-checks it, and its string form is safe to use as a path component.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.registry.errors import DigestInvalid

if TYPE_CHECKING:
    from collections.abc import Iterable

BytesLike = bytes | bytearray | memoryview

DEFAULT_ALGORITHM = "sha256"
# algorithm → length of its lowercase hex encoding
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_HEX = re.compile(r"[0-9a-f]+")
# Anything longer cannot be a digest; checked first so a huge header is never scanned.
_MAX_DIGEST_TEXT = len("sha512:") + 128


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as ``sha256:e3b0…``; constructing one with a bad value raises DigestInvalid."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = ALGORITHMS.get(self.algorithm)
        if length is None:
            raise DigestInvalid(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != length or not _HEX.fullmatch(self.hex):
            raise DigestInvalid(f"{self.algorithm} digests have {length} lowercase hex digits")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def parse_digest(text: str) -> Digest:
    """Parse ``<algorithm>:<hex>``; anything but sha256/sha512 in lowercase hex raises DigestInvalid."""
    if len(text) > _MAX_DIGEST_TEXT:
        raise DigestInvalid("digest is too long")
    algorithm, sep, hex_part = text.partition(":")
    if not sep:
        raise DigestInvalid(f"invalid digest {text!r}: expected <algorithm>:<hex>")
    try:
        return Digest(algorithm, hex_part)
    except DigestInvalid as exc:
        raise DigestInvalid(f"invalid digest {text!r}: {exc.detail}") from None


def is_digest(text: str) -> bool:
    """Whether ``text`` is a valid digest (a manifest reference is either a digest or a tag)."""
    try:
        parse_digest(text)
    except DigestInvalid:
        return False
    return True


def digest_of(data: BytesLike, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    """The digest of ``data`` with ``algorithm`` (DigestInvalid for an unsupported algorithm)."""
    hasher = Hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


class Hasher:
    """Incremental digest of a byte stream, counting the bytes it has seen.

    Feed it the chunks as they stream past (``hashlib`` releases the GIL for large buffers, so hashing in
    a worker thread does not stall the event loop); ``digest()`` may be called at any point and does not
    end the stream.
    """

    __slots__ = ("_hash", "algorithm", "size")

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        if algorithm not in ALGORITHMS:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.size = 0
        self._hash = hashlib.new(algorithm)

    def update(self, data: BytesLike) -> None:
        self._hash.update(data)
        self.size += data.nbytes if isinstance(data, memoryview) else len(data)

    def update_all(self, chunks: Iterable[BytesLike]) -> None:
        for chunk in chunks:
            self.update(chunk)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hash.hexdigest())

    def copy(self) -> Hasher:
        """An independent hasher with the same state (to try a digest without ending the stream)."""
        clone = Hasher.__new__(Hasher)
        clone.algorithm = self.algorithm
        clone.size = self.size
        clone._hash = self._hash.copy()
        return clone
