from __future__ import annotations

import json

import pytest

from dockyard.registry import errors
from dockyard.registry.errors import (
    ALL_ERROR_CODES,
    BlobUnknown,
    ManifestTooLarge,
    RegistryError,
    TagInvalid,
)

EXPECTED_STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "RANGE_INVALID": 416,
    "TAG_INVALID": 400,
}


@pytest.mark.parametrize(("code", "status"), sorted(EXPECTED_STATUS.items()))
def test_each_oci_code_is_declared_once_with_its_status(code: str, status: int) -> None:
    declared = getattr(errors, code)
    assert (declared.code, declared.status) == (code, status)
    assert declared.message


def test_manifest_codes() -> None:
    assert (errors.MANIFEST_INVALID.code, errors.MANIFEST_INVALID.status) == ("MANIFEST_INVALID", 400)
    too_large = ManifestTooLarge({"size": 5})
    assert (too_large.code, too_large.status) == ("MANIFEST_INVALID", 413)
    assert len(set(ALL_ERROR_CODES)) == len(ALL_ERROR_CODES)


def test_wire_body() -> None:
    error = BlobUnknown({"digest": "sha256:abc"})
    assert error.to_json() == {
        "errors": [
            {
                "code": "BLOB_UNKNOWN",
                "message": "blob unknown to registry",
                "detail": {"digest": "sha256:abc"},
            }
        ]
    }
    json.dumps(error.to_json())


def test_detail_is_left_out_when_absent_and_message_can_be_specific() -> None:
    error = TagInvalid(message="The image tag 'v1' already exists in the 'web' repository")
    assert error.to_json() == {
        "errors": [
            {"code": "TAG_INVALID", "message": "The image tag 'v1' already exists in the 'web' repository"}
        ]
    }
    assert isinstance(error, RegistryError)
    generic = RegistryError(errors.UNAUTHORIZED)
    assert (generic.status, generic.message) == (401, "authentication required")
    assert "BLOB_UNKNOWN" in repr(BlobUnknown("x"))
