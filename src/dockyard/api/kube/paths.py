"""Kubernetes API request paths and the verb a request means (kube-apiserver's RequestInfo).

``/api/v1/…`` is the core group, ``/apis/<group>/<version>/…`` the others; then an optional
``namespaces/<ns>/``, the resource, an optional name and subresource. ``/api/v1/namespaces/<name>`` is
the namespace itself (and ``…/<name>/status|finalize`` its subresources). The legacy ``/watch/`` prefix
after the version makes a GET a watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from dockyard.control.kube.catalog import Resource, by_gvr


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    resource: Resource
    namespace: str
    """``""`` for cluster-scoped resources and for lists across all namespaces."""
    name: str
    subresource: str
    watch_prefix: bool

    @property
    def collection(self) -> bool:
        return not self.name


@dataclass(frozen=True, slots=True)
class UnknownResource:
    group: str
    version: str
    plural: str


def parse(path: str) -> ResourceRequest | UnknownResource | None:
    """The resource a path names; :class:`UnknownResource` for a well-formed path of an unserved
    resource, None for anything that is not a resource path."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_prefix = bool(rest) and rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    if not rest or any(not p for p in rest):
        return None
    namespace = ""
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    plural = rest[0]
    resource = by_gvr(group, version, plural)
    if resource is None:
        return UnknownResource(group, version, plural)
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    return ResourceRequest(resource, namespace, name, subresource, watch_prefix)


def verb(method: str, request: ResourceRequest, *, watch: bool) -> str:
    """The authorization verb: get/list/watch/create/update/patch/delete/deletecollection."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        if watch or request.watch_prefix:
            return "watch"
        return "list" if request.collection else "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "deletecollection" if request.collection else "delete"
    return method.lower()
