"""Endpoints and EndpointSlice decisions (control/kube/controllers/endpoints.py).

Shapes follow what ``kubectl get endpoints,endpointslices -o yaml`` shows on a v1.33 cluster for a
Deployment behind a ClusterIP Service.
"""

from __future__ import annotations

from typing import Any

from dockyard.control.kube.controllers import endpoints as ep
from dockyard.control.kube.controllers import kubernetes_service
from dockyard.control.kube.controllers.actions import Create, Patch


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid", "labels": {"app": "web"}},
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": "10.100.20.5",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
            **spec,
        },
    }


def pod(name: str, ip: str | None, *, ready: bool = True, node: str = "n1", **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    if ip:
        status["podIP"] = ip
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "uid": f"{name}-uid",
        "labels": {"app": "web"},
    }
    metadata.update(extra.pop("metadata", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}
            ],
            **extra,
        },
        "status": status,
    }


def test_ready_and_not_ready_addresses_with_a_named_target_port() -> None:
    pods = [pod("b", "10.0.0.12"), pod("a", "10.0.0.9"), pod("c", "10.0.0.3", ready=False), pod("d", None)]
    wanted = ep.desired_endpoints(service(), pods)
    assert wanted["metadata"] == {"name": "web", "namespace": "shop", "labels": {"app": "web"}}
    (subset,) = wanted["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.9", "10.0.0.12"]
    assert subset["addresses"][0] == {
        "ip": "10.0.0.9",
        "nodeName": "n1",
        "targetRef": {"kind": "Pod", "namespace": "shop", "name": "a", "uid": "a-uid"},
    }
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.3"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_a_pod_without_the_named_port_and_other_namespaces_and_terminal_pods_are_left_out() -> None:
    other = pod("x", "10.0.0.7", metadata={"namespace": "other"})
    bare = pod("y", "10.0.0.8", containers=[{"name": "c"}])
    done = pod("z", "10.0.0.6", restartPolicy="Never")
    done["status"]["phase"] = "Failed"
    assert "subsets" not in ep.desired_endpoints(service(), [other, bare, done])


def test_numeric_and_missing_target_ports_and_publish_not_ready() -> None:
    svc = service(
        ports=[
            {"port": 80, "protocol": "TCP", "targetPort": 9000},
            {"name": "b", "port": 81, "protocol": "UDP"},
        ],
        publishNotReadyAddresses=True,
    )
    (subset,) = ep.desired_endpoints(svc, [pod("a", "10.0.0.9", ready=False)])["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.9"]
    assert subset["ports"] == [
        {"port": 9000, "protocol": "TCP"},
        {"name": "b", "port": 81, "protocol": "UDP"},
    ]


def test_terminating_pods_leave_endpoints_but_stay_in_slices_as_terminating() -> None:
    gone = pod("a", "10.0.0.9", metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"})
    assert "subsets" not in ep.desired_endpoints(service(), [gone])
    actions = ep.decide_endpoint_slices(service(), [gone], [], seed=1)
    (create,) = actions.creates
    assert create.obj["endpoints"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_endpoints_are_created_then_left_alone_then_patched() -> None:
    pods = [pod("a", "10.0.0.9")]
    (create,) = ep.decide_endpoints(service(), pods, None).creates
    stored = {**create.obj, "metadata": {**create.obj["metadata"], "uid": "e1", "resourceVersion": "7"}}
    assert ep.decide_endpoints(service(), pods, stored).empty
    (patch,) = ep.decide_endpoints(service(), [*pods, pod("b", "10.0.0.10")], stored).patches
    assert patch.ref.resource_version == "7"
    assert len(patch.patch["subsets"][0]["addresses"]) == 2


def test_a_service_without_selector_is_not_managed_and_a_gone_service_loses_its_endpoints() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop", "uid": "e1"},
    }
    assert ep.decide_endpoints(service(selector=None), [], existing).empty
    (delete,) = ep.decide_endpoints(None, [], existing).deletes
    assert (delete.ref.name, delete.ref.uid) == ("web", "e1")


def test_headless_label() -> None:
    labels = ep.desired_endpoints(service(clusterIP="None"), [])["metadata"]["labels"]
    assert labels == {"app": "web", ep.HEADLESS_LABEL: ""}


def test_the_slice_has_kube_labels_owner_and_conditions() -> None:
    nodes = [{"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "us-east-1a"}}}]
    actions = ep.decide_endpoint_slices(service(), [pod("a", "10.0.0.9")], [], seed=3, nodes=nodes)
    (create,) = actions.creates
    slice_ = create.obj
    assert slice_["metadata"]["name"].startswith("web-") and len(slice_["metadata"]["name"]) == 9
    assert slice_["metadata"]["labels"] == {
        "app": "web",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert slice_["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": "svc-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert slice_["addressType"] == "IPv4"
    assert slice_["endpoints"] == [
        {
            "addresses": ["10.0.0.9"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": "shop", "name": "a", "uid": "a-uid"},
            "nodeName": "n1",
            "zone": "us-east-1a",
        }
    ]
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    same_seed = ep.decide_endpoint_slices(service(), [pod("a", "10.0.0.9")], [], seed=3, nodes=nodes)
    assert same_seed == actions


def test_slices_are_reused_patched_and_extra_ones_deleted() -> None:
    (create,) = ep.decide_endpoint_slices(service(), [pod("a", "10.0.0.9")], [], seed=3).creates
    first = {**create.obj, "metadata": {**create.obj["metadata"], "uid": "s1", "resourceVersion": "4"}}
    extra = {**first, "metadata": {**first["metadata"], "name": "web-zzzzz", "uid": "s2"}}
    foreign = {**first, "metadata": {**first["metadata"], "name": "web-mine", "uid": "s3", "labels": {}}}
    actions = ep.decide_endpoint_slices(service(), [pod("a", "10.0.0.9")], [first, extra, foreign], seed=3)
    assert actions.creates == () and actions.patches == ()
    assert [d.ref.uid for d in actions.deletes] == ["s2"]
    changed = ep.decide_endpoint_slices(service(), [pod("a", "10.0.0.9", ready=False)], [first], seed=3)
    (patch,) = changed.patches
    assert isinstance(patch, Patch) and patch.ref.resource_version == "4"
    assert patch.patch["endpoints"][0]["conditions"]["ready"] is False


def test_a_service_with_no_pods_keeps_one_empty_slice() -> None:
    (create,) = ep.decide_endpoint_slices(service(), [], [], seed=0).creates
    assert isinstance(create, Create)
    assert create.obj["endpoints"] == [] and create.obj["ports"] == []


def test_ipv6_pods_are_left_out_of_the_ipv4_slice() -> None:
    (create,) = ep.decide_endpoint_slices(service(), [pod("a", "fd00::5")], [], seed=0).creates
    assert create.obj["endpoints"] == []


def test_the_kubernetes_service_and_its_endpoints() -> None:
    svc = kubernetes_service.kubernetes_service("10.100.0.1")
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]
    assert "selector" not in svc["spec"]
    endpoints, slice_ = kubernetes_service.kubernetes_endpoints(["192.168.1.20", "192.168.1.3"])
    assert endpoints["subsets"] == [
        {
            "addresses": [{"ip": "192.168.1.3"}, {"ip": "192.168.1.20"}],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP"}],
        }
    ]
    assert [e["addresses"] for e in slice_["endpoints"]] == [["192.168.1.3"], ["192.168.1.20"]]
    assert slice_["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
