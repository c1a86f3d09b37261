"""Discovery documents' shapes, as kube-apiserver 1.33 serves them."""

from __future__ import annotations

from dockyard.control.kube import discovery

KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def test_kubectl_accept_gets_aggregated_v2() -> None:
    assert discovery.negotiate(KUBECTL_ACCEPT) == ("aggregated", discovery.AGGREGATED_CONTENT_TYPE)


def test_plain_json_gets_legacy() -> None:
    assert discovery.negotiate("application/json, */*") == ("legacy", "application/json")
    assert discovery.negotiate(None) == ("legacy", "application/json")


def test_version_has_eks_shape() -> None:
    info = discovery.version_info()
    assert (info["major"], info["minor"]) == ("1", "33")
    assert info["gitVersion"].startswith("v1.33.")
    assert "-eks-" in info["gitVersion"]


def test_legacy_documents() -> None:
    assert discovery.api_versions("10.0.0.1:443")["versions"] == ["v1"]
    groups = discovery.api_group_list()
    assert groups["kind"] == "APIGroupList"
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_api_resource_list_of_apps_v1() -> None:
    doc = discovery.api_resource_list("apps", "v1")
    assert doc is not None
    assert doc["groupVersion"] == "apps/v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    deployments = by_name["deployments"]
    assert deployments["shortNames"] == ["deploy"]
    assert deployments["categories"] == ["all"]
    assert deployments["singularName"] == "deployment"
    scale = by_name["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert discovery.api_resource_list("nope", "v1") is None


def test_aggregated_core_fields() -> None:
    doc = discovery.aggregated_core()
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    (group,) = doc["items"]
    (version,) = group["versions"]
    assert version["freshness"] == "Current"
    pods = next(r for r in version["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced"
    assert pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"]
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert set(subs) == {"binding", "eviction", "exec", "log", "status"}
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    namespaces = next(r for r in version["resources"] if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"


def test_aggregated_groups_list_named_groups() -> None:
    doc = discovery.aggregated_groups()
    names = [item["metadata"]["name"] for item in doc["items"]]
    assert names[0] == "apps"
    assert set(names) == {"apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io"}
