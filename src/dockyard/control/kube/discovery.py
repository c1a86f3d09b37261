"""The discovery documents kubectl reads first: ``/version``, legacy and aggregated discovery.

Built from :mod:`dockyard.control.kube.catalog`, as plain dicts ready for JSON. kubectl 1.33 asks for
aggregated discovery (``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``) on ``/api`` and ``/apis``
and falls back to the legacy documents (``APIVersions``, ``APIGroupList``, ``APIResourceList``) when
the server answers plain JSON; :func:`negotiate` picks one from the Accept header and names the
Content-Type to answer with, which kubectl checks to know which document it got.

    Accept ──negotiate──▶ "aggregated" | "legacy" ──▶ aggregated_*() | api_versions()/api_group_list()
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from dockyard.control.kube.catalog import Resource, group_versions, resources_of

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
JSON_CONTENT_TYPE = "application/json"

GIT_VERSION = "v1.33.5-eks-dockyard"


def version_info(platform: str = "linux/amd64") -> dict[str, str]:
    """The ``/version`` document, shaped as EKS's (``major``/``minor`` strings, ``-eks-`` build suffix)."""
    return {
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-09-01T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": platform,
    }


def negotiate(accept: str | None) -> tuple[str, str]:
    """``("aggregated", content type)`` if the client accepts aggregated discovery, else ``("legacy", json)``.

    The first acceptable media type in the header's order wins, as kube-apiserver's negotiation does.
    """
    for part in (accept or "").split(","):
        params = {
            key.strip(): value.strip() for key, _, value in (p.partition("=") for p in part.split(";")[1:])
        }
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return "aggregated", AGGREGATED_CONTENT_TYPE
            if params.get("v") == "v2beta1":
                return "aggregated", AGGREGATED_V2BETA1_CONTENT_TYPE
        media = part.split(";")[0].strip()
        if media in ("application/json", "*/*", "application/*", ""):
            return "legacy", JSON_CONTENT_TYPE
    return "legacy", JSON_CONTENT_TYPE


def api_versions(server_address: str) -> dict[str, Any]:
    """Legacy ``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, version in group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    return groups


def api_group_list() -> dict[str, Any]:
    """Legacy ``/apis``: every named group with its versions and preferred version."""
    items = []
    for group, versions in _groups().items():
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def storage_version_hash(resource: Resource) -> str:
    """A stable short hash of the storage version, as kube-apiserver publishes (8 bytes, base64)."""
    digest = hashlib.sha256(f"{resource.group}/{resource.version}/{resource.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Legacy ``/api/v1`` or ``/apis/<group>/<version>``; None if the group version is not served."""
    resources = resources_of(group, version)
    if not resources:
        return None
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entry: dict[str, Any] = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        entry["storageVersionHash"] = storage_version_hash(resource)
        entries.append(entry)
        for sub in resource.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{resource.plural}/{sub.name}",
                "singularName": "",
                "namespaced": resource.namespaced,
            }
            if sub.group:
                sub_entry["group"] = sub.group
                sub_entry["version"] = sub.version
            sub_entry["kind"] = sub.kind
            sub_entry["verbs"] = list(sub.verbs)
            entries.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": resources[0].group_version,
        "resources": entries,
    }


def _discovery_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {
                    "group": sub.group if sub.group else resource.group,
                    "version": sub.version if sub.version else resource.version,
                    "kind": sub.kind,
                },
                "verbs": list(sub.verbs),
            }
            for sub in resource.subresources
        ]
    return entry


def _discovery_group(group: str, versions: list[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata = {"name": group, "creationTimestamp": None}
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [_discovery_resource(r) for r in resources_of(group, version)],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def _discovery_list(items: list[dict[str, Any]], content_type: str) -> dict[str, Any]:
    api_version = "apidiscovery.k8s.io/v2beta1" if "v2beta1" in content_type else "apidiscovery.k8s.io/v2"
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


def aggregated_core(content_type: str = AGGREGATED_CONTENT_TYPE) -> dict[str, Any]:
    """Aggregated discovery for ``/api``: the core group alone."""
    return _discovery_list([_discovery_group("", ["v1"])], content_type)


def aggregated_groups(content_type: str = AGGREGATED_CONTENT_TYPE) -> dict[str, Any]:
    """Aggregated discovery for ``/apis``: every named group, in ``/apis`` order."""
    items = [_discovery_group(g, versions) for g, versions in _groups().items()]
    return _discovery_list(items, content_type)
