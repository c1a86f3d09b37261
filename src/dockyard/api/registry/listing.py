"""Content discovery: ``tags/list``, ``_catalog`` (both paginated with ``n``/``last`` and a ``Link``
header) and ``referrers/<digest>`` (an OCI image index, optionally filtered by ``artifactType``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from dockyard.api.registry.errors import JSON
from dockyard.api.registry.http import RegistryCall, registry_headers
from dockyard.registry.manifest import OCI_INDEX

# A page holds at most this many entries, whatever ``n`` asks (the client follows ``Link`` for more).
MAX_PAGE = 1000
FILTERS_HEADER = "OCI-Filters-Applied"

Lister = Callable[[int | None, str | None], list[str]]
"""``(limit, last) -> names``: one page of a sorted listing, strictly after ``last``."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    headers: dict[str, str]


def page_size(text: str | None) -> int | None:
    """The ``n`` of a listing: None (everything) when absent or not a number, capped at MAX_PAGE."""
    if text is None or not text.isdigit():
        return None
    return min(int(text), MAX_PAGE)


def next_link(path: str, n: int, last: str) -> str:
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'


async def list_tags(call: RegistryCall) -> Response:
    def lister(limit: int | None, last: str | None) -> list[str]:
        return call.service.tags(call.scope, call.name, limit=limit, last=last)

    page = await _page(call, f"/v2/{call.name}/tags/list", lister)
    return _json({"name": call.name, "tags": page.items}, page.headers)


async def catalog(call: RegistryCall) -> Response:
    def lister(limit: int | None, last: str | None) -> list[str]:
        return call.service.catalog(call.scope, limit=limit, last=last)

    page = await _page(call, "/v2/_catalog", lister)
    return _json({"repositories": page.items}, page.headers)


async def referrers(call: RegistryCall) -> Response:
    artifact_type = call.query("artifactType") or None
    descriptors = await call.run(
        call.service.referrers, call.scope, call.name, call.reference, artifact_type=artifact_type
    )
    headers = {FILTERS_HEADER: "artifactType"} if artifact_type is not None else {}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    return _json(index, headers, media_type=OCI_INDEX)


async def _page(call: RegistryCall, path: str, lister: Lister) -> Page:
    """One page of ``lister``: ``n`` entries after ``last``, and a ``Link`` to the next page if any."""
    n = page_size(call.query("n"))
    last = call.query("last") or None
    if n == 0:
        await call.run(lister, 0, last)  # still NAME_UNKNOWN for a repository that does not exist
        return Page([], {})
    # One more than asked: whether it comes back tells if there is a next page.
    items = await call.run(lister, None if n is None else n + 1, last)
    if n is not None and len(items) > n:
        items = items[:n]
        return Page(items, {"Link": next_link(path, n, items[-1])})
    return Page(items, {})


def _json(document: dict[str, Any], headers: dict[str, str], *, media_type: str = JSON) -> Response:
    return Response(orjson.dumps(document), 200, registry_headers(headers), media_type)
