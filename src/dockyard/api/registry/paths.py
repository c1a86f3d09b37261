"""Which registry endpoint a ``/v2/…`` path addresses, without I/O.

Repository names contain slashes (``team/web/app``), so the path is split at the *last* endpoint
segment: everything before ``/blobs/``, ``/manifests/``, ``/tags/list`` or ``/referrers/`` is the name.
The name and reference are only extracted here; the registry service validates them (NAME_INVALID,
DIGEST_INVALID, TAG_INVALID), so a malformed one is a client error, never a routing 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

# Longest possible path: a 256-character name and a 135-character digest, with room to spare.
MAX_PATH_LENGTH = 1024


class Endpoint(Enum):
    BASE = "base"
    CATALOG = "catalog"
    BLOB = "blob"
    UPLOADS = "uploads"
    UPLOAD = "upload"
    MANIFEST = "manifest"
    TAGS = "tags"
    REFERRERS = "referrers"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Target:
    endpoint: Endpoint
    name: str = ""
    reference: str = ""
    """The digest (blobs, referrers), the tag or digest (manifests) or the upload id; else empty."""


_ENDPOINT = re.compile(
    r"(?P<uploads>blobs/uploads)(?:/(?P<upload>[^/]*))?"
    r"|blobs/(?P<blob>[^/]+)"
    r"|manifests/(?P<manifest>[^/]+)"
    r"|(?P<tags>tags/list)"
    r"|referrers/(?P<referrers>[^/]+)"
)


def parse_target(path: str) -> Target:
    """The endpoint of ``path`` (the part after ``/v2/``, e.g. ``team/app/manifests/latest``)."""
    if path == "":
        return Target(Endpoint.BASE)
    if path == "_catalog":
        return Target(Endpoint.CATALOG)
    if len(path) > MAX_PATH_LENGTH:
        return Target(Endpoint.UNKNOWN)
    # The endpoint segment closest to the end wins: no endpoint suffix contains another one, so the
    # rest to its left is the whole repository name, whatever segments that name contains.
    end = len(path)
    while (slash := path.rfind("/", 0, end)) > 0:
        match = _ENDPOINT.fullmatch(path, slash + 1)
        if match is not None:
            return _target(path[:slash], match)
        end = slash
    return Target(Endpoint.UNKNOWN)


def _target(name: str, match: re.Match[str]) -> Target:
    if match["uploads"] is not None:
        upload = match["upload"] or ""
        return Target(Endpoint.UPLOAD, name, upload) if upload else Target(Endpoint.UPLOADS, name)
    if match["blob"] is not None:
        return Target(Endpoint.BLOB, name, match["blob"])
    if match["manifest"] is not None:
        return Target(Endpoint.MANIFEST, name, match["manifest"])
    if match["referrers"] is not None:
        return Target(Endpoint.REFERRERS, name, match["referrers"])
    return Target(Endpoint.TAGS, name)
