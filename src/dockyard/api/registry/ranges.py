"""Byte ranges on the registry's wire, parsed and formatted without I/O.

Two different grammars meet here:

* reads (``GET /v2/<name>/blobs/<digest>``) take an RFC 9110 ``Range: bytes=<first>-<last>`` header
  (``bytes=<first>-`` and the suffix form ``bytes=-<n>`` too) and answer ``206`` with
  ``Content-Range: bytes <first>-<last>/<size>``; a range that is inverted, malformed or starts past the
  end is ``416`` (RANGE_INVALID), never a dropped connection;
* chunked uploads (``PATCH``) carry ``Content-Range: <first>-<last>`` (inclusive, no ``bytes`` unit, as
  the OCI spec writes it) and every upload response reports ``Range: 0-<last byte>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.registry.errors import BlobUploadInvalid, RangeInvalid

# Offsets are 64-bit on every client; longer digit strings are nonsense, refused before int() sees them.
_MAX_DIGITS = 19
_READ_RANGE = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")
_UPLOAD_RANGE = re.compile(r"(?:bytes[ =])?\s*(\d{1,19})\s*-\s*(\d{1,19})\s*(?:/\s*(?:\d{1,19}|\*))?")


@dataclass(frozen=True, slots=True)
class ReadRange:
    """One requested read range, not yet resolved against a size.

    ``first=None`` is the suffix form: the last ``last`` bytes. Otherwise ``last`` is the inclusive last
    byte, or None for "to the end".
    """

    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int]:
        """``(start, end)`` with ``end`` exclusive within a blob of ``size`` bytes; RANGE_INVALID if the
        range selects nothing (starts at or past the end, or a zero-length suffix)."""
        if self.first is None:
            length = self.last or 0
            if length == 0 or size == 0:
                raise RangeInvalid({"range": self.header_text(), "size": size})
            return max(size - length, 0), size
        if self.first >= size:
            raise RangeInvalid({"range": self.header_text(), "size": size})
        end = size if self.last is None else min(self.last + 1, size)
        return self.first, end

    def header_text(self) -> str:
        first = "" if self.first is None else str(self.first)
        last = "" if self.last is None else str(self.last)
        return f"bytes={first}-{last}"


def parse_read_range(header: str | None) -> ReadRange | None:
    """The range a ``Range`` header asks for; None when the whole blob is to be served.

    A unit other than ``bytes`` and multi-range requests are ignored (RFC 9110 lets a server answer those
    with the full representation). A malformed or inverted byte range raises RANGE_INVALID.
    """
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _READ_RANGE.fullmatch(spec)
    if match is None or len(match[1]) > _MAX_DIGITS or len(match[2]) > _MAX_DIGITS:
        raise RangeInvalid({"range": header[:64]})
    first_text, last_text = match[1], match[2]
    if not first_text and not last_text:
        raise RangeInvalid({"range": header[:64]})
    if not first_text:
        return ReadRange(None, int(last_text))
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        raise RangeInvalid({"range": header[:64]})
    return ReadRange(first, last)


def content_range(start: int, end: int, size: int) -> str:
    """``Content-Range`` of a 206 answer for ``[start, end)`` of ``size`` bytes."""
    return f"bytes {start}-{end - 1}/{size}"


def unsatisfied_range(size: int) -> str:
    """``Content-Range`` of a 416 answer."""
    return f"bytes */{size}"


def parse_upload_range(header: str) -> tuple[int, int]:
    """``(first, last)``, both inclusive, from an upload chunk's ``Content-Range``.

    The OCI form is ``<first>-<last>``; ``bytes <first>-<last>/<total>`` (RFC 9110) is accepted too. A
    malformed value is BLOB_UPLOAD_INVALID; an inverted one RANGE_INVALID (it cannot be the next chunk).
    """
    match = _UPLOAD_RANGE.fullmatch(header.strip())
    if match is None:
        raise BlobUploadInvalid({"content-range": header[:64]}, message="malformed Content-Range")
    first, last = int(match[1]), int(match[2])
    if last < first:
        raise RangeInvalid({"content-range": header[:64]})
    return first, last


def upload_range(size: int) -> str:
    """The ``Range`` header of an upload holding ``size`` bytes: ``0-<last byte>``.

    An empty upload reports ``0-0``, as CNCF Distribution does (and Docker and containerd expect).
    """
    return f"0-{max(size - 1, 0)}"
