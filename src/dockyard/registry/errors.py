"""The OCI Distribution error codes, each declared once with its wire code, message and HTTP status.

Storage and format code raises a :class:`RegistryError` (usually one of the specific subclasses below);
the HTTP layer writes it on the wire in exactly one place, as ``error.status`` with the body
``error.to_json()``::

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": ...}]}

The messages follow CNCF Distribution's, which clients and the conformance suite have seen for years.
"""

# The exception classes carry the OCI codes' own names (DigestInvalid ↔ DIGEST_INVALID), not ...Error.
# ruff: noqa: N818

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One registry error kind: the code written on the wire, its default message and HTTP status."""

    code: str
    message: str
    status: int


BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", "blob unknown to registry", 404)
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", "blob upload invalid", 400)
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404)
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", "provided digest did not match uploaded content", 400)
MANIFEST_BLOB_UNKNOWN = ErrorCode("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", 400)
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", "manifest invalid", 400)
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", "manifest unknown", 404)
NAME_INVALID = ErrorCode("NAME_INVALID", "invalid repository name", 400)
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", "repository name not known to registry", 404)
SIZE_INVALID = ErrorCode("SIZE_INVALID", "provided length did not match content length", 400)
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", "authentication required", 401)
DENIED = ErrorCode("DENIED", "requested access to the resource is denied", 403)
UNSUPPORTED = ErrorCode("UNSUPPORTED", "The operation is unsupported.", 405)
TOOMANYREQUESTS = ErrorCode("TOOMANYREQUESTS", "too many requests", 429)
# Not in the OCI list, but Distribution's: an out-of-order chunk or an unsatisfiable read range.
RANGE_INVALID = ErrorCode("RANGE_INVALID", "requested range not satisfiable", 416)
# ECR answers an overwrite of an immutable tag with TAG_INVALID.
TAG_INVALID = ErrorCode("TAG_INVALID", "manifest tag did not match URI", 400)
# Distribution reports an oversized manifest body as MANIFEST_INVALID; the OCI spec asks for a 413.
MANIFEST_TOO_LARGE = ErrorCode("MANIFEST_INVALID", "manifest too large", 413)

ALL_ERROR_CODES: tuple[ErrorCode, ...] = (
    BLOB_UNKNOWN,
    BLOB_UPLOAD_INVALID,
    BLOB_UPLOAD_UNKNOWN,
    DIGEST_INVALID,
    MANIFEST_BLOB_UNKNOWN,
    MANIFEST_INVALID,
    MANIFEST_UNKNOWN,
    NAME_INVALID,
    NAME_UNKNOWN,
    SIZE_INVALID,
    UNAUTHORIZED,
    DENIED,
    UNSUPPORTED,
    TOOMANYREQUESTS,
    RANGE_INVALID,
    TAG_INVALID,
    MANIFEST_TOO_LARGE,
)


class RegistryError(Exception):
    """A registry error meant to reach the client as is: code, message, HTTP status and optional detail.

    ``detail`` must be JSON-serialisable (a string, or a small dict such as ``{"digest": "sha256:…"}``).
    """

    def __init__(self, error_code: ErrorCode, detail: object = None, *, message: str | None = None) -> None:
        self.error_code = error_code
        self.message = message if message is not None else error_code.message
        self.detail = detail
        super().__init__(self.message if detail is None else f"{self.message}: {detail}")

    @property
    def code(self) -> str:
        """The code written on the wire, e.g. ``BLOB_UNKNOWN``."""
        return self.error_code.code

    @property
    def status(self) -> int:
        """The HTTP status the error is answered with."""
        return self.error_code.status

    def to_json(self) -> dict[str, list[dict[str, object]]]:
        """The OCI error body for this error alone; ``detail`` is left out when there is none."""
        entry: dict[str, object] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, detail={self.detail!r})"


class _SpecificError(RegistryError):
    """A :class:`RegistryError` whose code is fixed by its class, so ``raise BlobUnknown(detail)`` reads."""

    error_code_of_class: ClassVar[ErrorCode]

    def __init__(self, detail: object = None, *, message: str | None = None) -> None:
        super().__init__(self.error_code_of_class, detail, message=message)


class BlobUnknown(_SpecificError):
    error_code_of_class = BLOB_UNKNOWN


class BlobUploadInvalid(_SpecificError):
    error_code_of_class = BLOB_UPLOAD_INVALID


class BlobUploadUnknown(_SpecificError):
    error_code_of_class = BLOB_UPLOAD_UNKNOWN


class DigestInvalid(_SpecificError):
    error_code_of_class = DIGEST_INVALID


class ManifestBlobUnknown(_SpecificError):
    error_code_of_class = MANIFEST_BLOB_UNKNOWN


class ManifestInvalid(_SpecificError):
    error_code_of_class = MANIFEST_INVALID


class ManifestUnknown(_SpecificError):
    error_code_of_class = MANIFEST_UNKNOWN


class ManifestTooLarge(_SpecificError):
    error_code_of_class = MANIFEST_TOO_LARGE


class NameInvalid(_SpecificError):
    error_code_of_class = NAME_INVALID


class NameUnknown(_SpecificError):
    error_code_of_class = NAME_UNKNOWN


class RangeInvalid(_SpecificError):
    error_code_of_class = RANGE_INVALID


class SizeInvalid(_SpecificError):
    error_code_of_class = SIZE_INVALID


class TagInvalid(_SpecificError):
    error_code_of_class = TAG_INVALID


class TooManyRequests(_SpecificError):
    error_code_of_class = TOOMANYREQUESTS


class Unsupported(_SpecificError):
    error_code_of_class = UNSUPPORTED
