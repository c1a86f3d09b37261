"""The served resources and kubectl-style name resolution."""

from __future__ import annotations

import pytest

from dockyard.control.kube import catalog


@pytest.mark.parametrize(
    ("name", "kind", "group"),
    [
        ("po", "Pod", ""),
        ("pods", "Pod", ""),
        ("pod", "Pod", ""),
        ("Pod", "Pod", ""),
        ("deploy", "Deployment", "apps"),
        ("deployments.apps", "Deployment", "apps"),
        ("svc", "Service", ""),
        ("ns", "Namespace", ""),
        ("cm", "ConfigMap", ""),
        ("rs", "ReplicaSet", "apps"),
        ("ds", "DaemonSet", "apps"),
        ("no", "Node", ""),
        ("sa", "ServiceAccount", ""),
        ("ev", "Event", ""),
        ("events.events.k8s.io", "Event", "events.k8s.io"),
        ("ep", "Endpoints", ""),
        ("endpointslices", "EndpointSlice", "discovery.k8s.io"),
        ("leases", "Lease", "coordination.k8s.io"),
        ("jobs", "Job", "batch"),
    ],
)
def test_resolve_finds_what_kubectl_means(name: str, kind: str, group: str) -> None:
    resource = catalog.resolve(name)
    assert resource is not None
    assert (resource.kind, resource.group) == (kind, group)


def test_resolve_of_an_unknown_name_is_none() -> None:
    assert catalog.resolve("widgets") is None


def test_category_all_is_kubectl_get_all() -> None:
    plurals = {r.plural for r in catalog.in_category("all")}
    assert plurals == {"pods", "services", "deployments", "replicasets", "daemonsets", "jobs"}


def test_lookups_by_gvr_and_kind() -> None:
    deployments = catalog.by_gvr("apps", "v1", "deployments")
    assert deployments is not None
    assert deployments.group_version == "apps/v1"
    assert [s.name for s in deployments.subresources] == ["scale", "status"]
    assert catalog.by_kind("Event") == catalog.by_gvr("", "v1", "events")
    assert catalog.by_gvr("apps", "v1", "pods") is None


def test_group_versions_start_with_core() -> None:
    pairs = catalog.group_versions()
    assert pairs[0] == ("", "v1")
    assert ("apps", "v1") in pairs
    assert len(pairs) == len(set(pairs))


def test_namespaces_are_cluster_scoped_and_have_no_deletecollection() -> None:
    namespaces = catalog.by_gvr("", "v1", "namespaces")
    assert namespaces is not None
    assert not namespaces.namespaced
    assert "deletecollection" not in namespaces.verbs
