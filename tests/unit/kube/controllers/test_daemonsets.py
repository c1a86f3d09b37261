"""The DaemonSet controller's decisions (control/kube/controllers/daemonsets.py): a fluentd-style
DaemonSet of the Kubernetes documentation ("DaemonSet", "Perform a Rolling Update on a DaemonSet")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers import daemonsets as ds
from dockyard.control.kube.controllers.actions import Actions

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def daemon_set(image: str = "fluentd:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "logs", "namespace": "kube-system", "uid": "ds-uid", "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": "logs"}},
            "template": {
                "metadata": {"labels": {"app": "logs"}},
                "spec": {"containers": [{"name": "f", "image": image}]},
            },
            **spec,
        },
    }


def node(
    name: str, *, labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def running(actions: Actions, *, ready: bool = True) -> list[dict[str, Any]]:
    made = []
    for index, create in enumerate(actions.creates):
        pod = create.obj
        status = {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": str(ready), "lastTransitionTime": "2026-12-07T11:00:00Z"}
            ],
        }
        made.append(
            {
                **pod,
                "metadata": {
                    **pod["metadata"],
                    "uid": f"{ds.node_of(pod)}-{index}-{pod['metadata']['labels'][ds.HASH_LABEL]}",
                },
                "status": status,
            }
        )
    return made


def test_one_pod_per_eligible_node_pinned_by_affinity_with_daemon_tolerations() -> None:
    nodes = [
        node("a", labels={"disk": "ssd"}),
        node(
            "b",
            labels={"disk": "ssd"},
            taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}],
        ),
        node("c", labels={"disk": "hdd"}),
        node("d", labels={"disk": "ssd"}, taints=[{"key": "gpu", "value": "x", "effect": "NoSchedule"}]),
    ]
    owner = daemon_set(
        template={
            "metadata": {"labels": {"app": "logs"}},
            "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "f"}]},
        }
    )
    actions = ds.decide(owner, nodes, [], NOW, seed=1)
    assert sorted(ds.node_of(c.obj) for c in actions.creates) == ["a", "b"]
    pod = actions.creates[0].obj
    assert pod["metadata"]["name"].startswith("logs-") and len(pod["metadata"]["name"]) == 10
    assert pod["metadata"]["labels"] == {
        "app": "logs",
        "controller-revision-hash": ds.template_hash(owner),
        "pod-template-generation": "2",
    }
    assert (
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ][0]["matchFields"][0]["key"]
        == "metadata.name"
    )
    assert [(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]] == [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    assert "tolerationSeconds" not in pod["spec"]["tolerations"][0]
    assert actions.status == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 2,
        "numberReady": 0,
        "observedGeneration": 2,
        "numberUnavailable": 2,
    }


def test_steady_state_and_status() -> None:
    nodes = [node("a"), node("b")]
    first = ds.decide(daemon_set(), nodes, [], NOW, seed=1)
    pods = running(first)
    actions = ds.decide(daemon_set(), nodes, pods, NOW, seed=2)
    assert actions.creates == () and actions.deletes == ()
    assert actions.status == {
        "currentNumberScheduled": 2,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 2,
        "numberReady": 2,
        "observedGeneration": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    }


def test_pods_leave_nodes_that_no_longer_qualify_and_failed_pods_are_replaced() -> None:
    nodes = [node("a"), node("b")]
    pods = running(ds.decide(daemon_set(), nodes, [], NOW, seed=1))
    pods[0]["status"]["phase"] = "Failed"
    tainted = [node("a"), node("b", taints=[{"key": "evict", "effect": "NoExecute"}])]
    actions = ds.decide(daemon_set(), tainted, pods, NOW, seed=2)
    assert sorted(d.ref.uid for d in actions.deletes) == sorted(p["metadata"]["uid"] for p in pods)
    assert actions.status is not None and actions.status["numberMisscheduled"] == 1


def test_rolling_update_replaces_one_node_at_a_time() -> None:
    nodes = [node("a"), node("b"), node("c")]
    pods = running(ds.decide(daemon_set(), nodes, [], NOW, seed=1))
    updated = daemon_set("fluentd:2")
    actions = ds.decide(updated, nodes, pods, NOW, seed=2)
    assert len(actions.deletes) == 1 and actions.creates == ()
    assert actions.status is not None and "updatedNumberScheduled" not in actions.status
    remaining = [p for p in pods if p["metadata"]["uid"] != actions.deletes[0].ref.uid]
    after = ds.decide(updated, nodes, remaining, NOW, seed=3)
    assert len(after.creates) == 1 and after.deletes == ()  # the node without a pod is the one unavailable
    assert (
        ds.decide(
            daemon_set("fluentd:2", updateStrategy={"type": "OnDelete"}), nodes, pods, NOW, seed=4
        ).deletes
        == ()
    )


def test_max_surge_starts_the_new_pod_first() -> None:
    nodes = [node("a")]
    pods = running(ds.decide(daemon_set(), nodes, [], NOW, seed=1))
    updated = daemon_set(
        "fluentd:2",
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    )
    surge = ds.decide(updated, nodes, pods, NOW, seed=2)
    assert len(surge.creates) == 1 and surge.deletes == ()
    both = [*pods, *running(surge)]
    (delete,) = ds.decide(updated, nodes, both, NOW + timedelta(seconds=1), seed=3).deletes
    assert delete.ref.uid == pods[0]["metadata"]["uid"]


def test_the_hash_follows_the_template() -> None:
    assert ds.template_hash(daemon_set()) == ds.template_hash(daemon_set())
    assert ds.template_hash(daemon_set()) != ds.template_hash(daemon_set("fluentd:2"))
    assert set(ds.template_hash(daemon_set())) <= set("bcdfghjklmnpqrstvwxz2456789")
