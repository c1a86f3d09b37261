"""Node lifecycle, taint eviction and the scheduling predicates (control/kube/controllers/nodes.py,
scheduling.py). Timings follow the Kubernetes documentation ("Nodes", "Taints and Tolerations")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers import nodes, scheduling
from dockyard.control.kube.controllers.actions import timestamp

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def node(
    heartbeat: datetime, *, ready: str = "True", taints: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    beat = timestamp(heartbeat)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "n1",
            "uid": "n1-uid",
            "resourceVersion": "9",
            "creationTimestamp": "2026-12-07T10:00:00Z",
            "labels": {"kubernetes.io/os": "linux", "zone": "a"},
        },
        "spec": {"taints": taints} if taints else {},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": beat,
                    "lastTransitionTime": "2026-12-07T10:00:00Z",
                },
                {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": beat},
            ]
        },
    }


def lease(renew: datetime) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"renewTime": timestamp(renew)}}


def pod(name: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"{name}-uid"},
        "spec": {"nodeName": "n1", "tolerations": tolerations or []},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_a_fresh_lease_keeps_the_node_ready() -> None:
    actions = nodes.decide(node(T0 - timedelta(minutes=5)), lease(T0 - timedelta(seconds=10)), [pod("a")], T0)
    assert actions.empty
    assert actions.requeue_after == 41


def test_after_the_grace_period_the_node_is_unknown_tainted_and_its_pods_not_ready() -> None:
    now = T0 + timedelta(seconds=51)
    actions = nodes.decide(
        node(T0), lease(T0), [pod("a", nodes.default_tolerations(pod("a"))["spec"]["tolerations"])], now
    )
    assert actions.status is not None
    ready = actions.status["conditions"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    assert ready["lastTransitionTime"] == timestamp(now) and ready["lastHeartbeatTime"] == timestamp(T0)
    taint_patch, pod_patch = actions.patches
    assert taint_patch.patch["spec"]["taints"] == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": timestamp(now)},
    ]
    assert pod_patch.subresource == "status"
    assert pod_patch.patch["status"]["conditions"][0]["status"] == "False"
    assert actions.deletes == ()


def test_fifty_seconds_is_still_within_grace() -> None:
    assert nodes.decide(node(T0), None, [], T0 + timedelta(seconds=50)).status is None


def test_not_ready_gets_the_not_ready_taints_and_ready_removes_them() -> None:
    taints = nodes.node_taints(node(T0, ready="False"), node(T0, ready="False")["status"]["conditions"], T0)
    assert [(t["key"], t["effect"]) for t in taints] == [
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
    ]
    back = node(T0, taints=[*taints, {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    (patch,) = nodes.decide(back, None, [], T0 + timedelta(seconds=1)).patches
    assert patch.patch["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def test_taint_eviction_now_later_and_never() -> None:
    added = T0
    tainted = node(
        T0,
        ready="Unknown",
        taints=[
            {"key": nodes.UNREACHABLE, "effect": "NoSchedule"},
            {"key": nodes.UNREACHABLE, "effect": "NoExecute", "timeAdded": timestamp(added)},
        ],
    )
    defaulted = nodes.default_tolerations(pod("b"))["spec"]["tolerations"]
    forever = [{"key": nodes.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
    pods = [pod("a"), pod("b", defaulted), pod("c", forever)]
    soon = nodes.decide(tainted, None, pods, T0 + timedelta(seconds=10))
    assert [d.ref.name for d in soon.deletes] == ["a"]
    disruption = next(p for p in soon.patches if p.ref.name == "a")
    assert disruption.patch["status"]["conditions"][-1]["reason"] == "DeletionByTaintManager"
    assert soon.requeue_after == 290
    later = nodes.decide(tainted, None, pods, T0 + timedelta(seconds=300))
    assert [d.ref.name for d in later.deletes] == ["a", "b"]


def test_default_tolerations_as_default_toleration_seconds_adds_them() -> None:
    assert nodes.default_tolerations(pod("a"))["spec"]["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    everything = [{"operator": "Exists"}]
    assert nodes.default_tolerations(pod("a", everything))["spec"]["tolerations"] == everything
    own = [{"key": nodes.NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]
    assert len(nodes.default_tolerations(pod("a", own))["spec"]["tolerations"]) == 2


def test_toleration_matching() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    assert scheduling.tolerates({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, taint)
    assert scheduling.tolerates({"key": "dedicated", "operator": "Exists"}, taint)
    assert scheduling.tolerates({"operator": "Exists"}, taint)
    assert not scheduling.tolerates({"key": "dedicated", "value": "cpu"}, taint)
    assert not scheduling.tolerates({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert scheduling.untolerated([taint, {"key": "x", "effect": "PreferNoSchedule"}], []) == [taint]


def test_node_selector_and_required_affinity() -> None:
    n = node(T0)
    assert scheduling.required_affinity_matches({"nodeSelector": {"zone": "a"}}, n)
    assert not scheduling.required_affinity_matches({"nodeSelector": {"zone": "b"}}, n)

    def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
        required = {"nodeSelectorTerms": list(terms)}
        return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}}

    zone_b = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}
    named = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    assert scheduling.required_affinity_matches(affinity(zone_b, named), n)
    assert not scheduling.required_affinity_matches(affinity(zone_b), n)
    assert not scheduling.required_affinity_matches(affinity({}), n)
    assert not scheduling.required_affinity_matches(affinity(), n)
    pinned = scheduling.with_node_name_affinity(affinity(zone_b), "n2")
    assert pinned["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
    }
