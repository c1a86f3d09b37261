"""The incremental snapshot (scheduling/snapshot.py) and the score plugins' arithmetic (scorers.py)."""

from __future__ import annotations

import random

from dockyard.control.kube.scheduling import ClusterSnapshot, parse_pod, schedule
from dockyard.control.kube.scheduling.scorers import (
    balanced_allocation,
    default_normalize,
    image_locality,
    least_allocated,
)

from .helpers import node, pod

ZONE = "topology.kubernetes.io/zone"


def test_nodes_come_in_node_tree_order_zones_round_robin() -> None:
    nodes = [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"})]
    nodes.append(node("a3", labels={ZONE: "a"}))
    snapshot = ClusterSnapshot.build(nodes)
    assert [n.name for n in snapshot.nodes] == ["a1", "b1", "a2", "a3"]


def test_binding_updates_sums_in_place_and_matches_a_rebuild() -> None:
    nodes = [node("n1"), node("n2")]
    snapshot = ClusterSnapshot.build(nodes)
    bound = []
    rng = random.Random(1)
    for index in range(6):
        p = pod(f"p{index}", cpu="500m", memory="1Gi")
        result = schedule(p, snapshot, rng=rng)
        assert result.node_name is not None
        snapshot.add_pod(p, result.node_name)
        bound.append({**p, "spec": {**p["spec"], "nodeName": result.node_name}})
    rebuilt = ClusterSnapshot.build(nodes, bound)
    for name in ("n1", "n2"):
        live, fresh = snapshot.node(name), rebuilt.node(name)
        assert live is not None and fresh is not None
        assert (live.requested_milli_cpu, live.requested_memory, len(live.pods)) == (
            fresh.requested_milli_cpu,
            fresh.requested_memory,
            len(fresh.pods),
        )
    total = sum(n.requested_milli_cpu for n in snapshot.nodes)
    assert total == 3000
    removed = snapshot.remove_pod("default/p0")
    assert removed is not None
    assert sum(n.requested_milli_cpu for n in snapshot.nodes) == 2500
    assert snapshot.remove_pod("default/p0") is None


def test_terminal_and_unbound_pods_are_not_counted() -> None:
    done = pod("done", cpu="1", node_name="n1")
    done["status"] = {"phase": "Succeeded"}
    snapshot = ClusterSnapshot.build([node("n1")], [done, pod("pending", cpu="1")])
    n1 = snapshot.node("n1")
    assert n1 is not None and n1.requested_milli_cpu == 0


def test_anti_affinity_terms_of_replicas_are_grouped_and_forgotten() -> None:
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    replicas = [pod(f"web-{i}", labels={"app": "web"}, affinity=anti, node_name=f"n{i}") for i in range(3)]
    snapshot = ClusterSnapshot.build([node(f"n{i}") for i in range(3)], replicas)
    groups = list(snapshot.anti_affinity_groups())
    assert len(groups) == 1 and dict(groups[0].values) == {"n0": 1, "n1": 1, "n2": 1}
    for index in range(3):
        snapshot.remove_pod(f"default/web-{index}")
    assert list(snapshot.anti_affinity_groups()) == []


def test_least_allocated_and_balanced_allocation_match_kube() -> None:
    snapshot = ClusterSnapshot.build(
        [node("n1", cpu="4", memory="8Gi")], [pod("old", cpu="2", memory="1Gi", node_name="n1")]
    )
    nodes = snapshot.nodes
    incoming = parse_pod(pod("p", cpu="1", memory="1Gi"))
    # cpu (4000-3000)*100/4000 = 25, memory (8-2)*100/8 = 75 → (25+75)/2 = 50
    assert least_allocated(incoming, nodes, snapshot) == [50]
    # fractions 0.75 and 0.25 → std 0.25 → 75
    assert balanced_allocation(incoming, nodes, snapshot) == [75]
    assert balanced_allocation(parse_pod(pod("best-effort")), nodes, snapshot) is None
    # A best-effort pod counts as 100m / 200Mi in LeastAllocated.
    assert least_allocated(parse_pod(pod("best-effort")), nodes, snapshot) == [
        ((4000 - 2100) * 100 // 4000 + (8 * 2**30 - 2**30 - 200 * 2**20) * 100 // (8 * 2**30)) // 2
    ]


def test_default_normalize() -> None:
    assert default_normalize([0, 1, 3], reverse=False) == [0, 33, 100]
    assert default_normalize([0, 1, 3], reverse=True) == [100, 67, 0]
    assert default_normalize([0, 0], reverse=True) == [100, 100]
    assert default_normalize([0, 0], reverse=False) == [0, 0]


def test_image_locality_scales_by_spread() -> None:
    image = {"names": ["registry.example/big:1"], "sizeBytes": 500 * 2**20}
    snapshot = ClusterSnapshot.build([node("with", images=[image]), node("without")])
    incoming = parse_pod(pod("p"))
    incoming_with_image = parse_pod(
        {**pod("p"), "spec": {"containers": [{"name": "c", "image": "registry.example/big:1"}]}}
    )
    assert image_locality(incoming, snapshot.nodes, snapshot) == [0, 0]
    # 500 MiB · 1/2 = 250 MiB → 100 · (250 - 23) / (1000 - 23) MiB = 23
    assert image_locality(incoming_with_image, snapshot.nodes, snapshot) == [23, 0]
