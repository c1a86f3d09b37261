"""One scheduling cycle (scheduling/schedule.py): filters, kube's FailedScheduling wording, selection."""

from __future__ import annotations

import random
from typing import Any

from dockyard.control.kube.scheduling import (
    ClusterSnapshot,
    ScheduleResult,
    num_feasible_nodes_to_find,
    schedule,
)

from .helpers import node, pod

ZONE = "topology.kubernetes.io/zone"


Obj = dict[str, Any]


def run(pod_object: Obj, *nodes: Obj, bound: tuple[Obj, ...] = ()) -> ScheduleResult:
    snapshot = ClusterSnapshot.build(nodes, bound)
    return schedule(pod_object, snapshot, rng=random.Random(0))


def test_the_brief_example_message() -> None:
    result = run(
        pod("web", cpu="2", nodeSelector={ZONE: "a"}),
        node("n1", cpu="1", labels={ZONE: "a"}),
        node("n2", labels={ZONE: "b"}),
        node("n3", labels={ZONE: "c"}),
    )
    assert result.node_name is None
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_resolvable_shortage_has_no_preemption_victims() -> None:
    result = run(
        pod("web", cpu="3"),
        node("n1", cpu="4"),
        node("n2", cpu="4", labels={"x": "y"}),
        bound=(pod("old", cpu="2", node_name="n1"), pod("old2", cpu="2", node_name="n2")),
    )
    assert result.message == (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )


def test_reasons_sort_as_strings_and_every_shortage_counts() -> None:
    nodes = [node(f"small-{i}", cpu="1", memory="1Gi") for i in range(10)]
    nodes += [node("tainted-1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])]
    nodes += [node("tainted-2", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}])]
    result = run(pod("big", cpu="2", memory="2Gi"), *nodes)
    assert result.message == (
        "0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, "
        "2 node(s) had untolerated taint {k: v}. "
        "preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling."
    )


def test_go_string_sort_puts_10_before_2() -> None:
    nodes = [node(f"full-{i}", pods="0") for i in range(2)]
    nodes += [node(f"off-{i}", unschedulable=True) for i in range(10)]
    result = run(pod("p", cpu="100m"), *nodes)
    assert result.message.startswith(
        "0/12 nodes are available: 10 node(s) were unschedulable, 2 Too many pods."
    )
    assert result.message.endswith(
        "preemption: 0/12 nodes are available: 10 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )


def test_preemption_policy_never() -> None:
    result = run(pod("p", cpu="8", preemptionPolicy="Never"), node("n1"))
    assert result.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    )


def test_no_nodes() -> None:
    assert run(pod("p")).message == "no nodes available to schedule pods"


def test_unschedulable_nodes_take_pods_that_tolerate_it() -> None:
    toleration = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
    assert run(pod("p", tolerations=[toleration]), node("n1", unschedulable=True)).node_name == "n1"


def test_tolerations_equal_exists_and_empty_key() -> None:
    tainted = node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    equal = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    wrong_value = {"key": "dedicated", "value": "cpu"}
    exists = {"key": "dedicated", "operator": "Exists"}
    everything = {"operator": "Exists"}
    other_effect = {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}
    assert run(pod("a", tolerations=[equal]), tainted).node_name == "n1"
    assert run(pod("b", tolerations=[exists]), tainted).node_name == "n1"
    assert run(pod("c", tolerations=[everything]), tainted).node_name == "n1"
    assert run(pod("d", tolerations=[wrong_value]), tainted).node_name is None
    assert run(pod("e", tolerations=[other_effect]), tainted).node_name is None


def test_prefer_no_schedule_never_rejects() -> None:
    assert run(pod("p"), node("n1", taints=[{"key": "k", "effect": "PreferNoSchedule"}])).node_name == "n1"


def test_a_not_ready_node_is_rejected_by_its_not_ready_taint() -> None:
    result = run(pod("p"), node("n1", ready="False"), node("n2", ready="Unknown"))
    assert result.message.startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
        "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."
    )


def test_node_affinity_operators() -> None:
    nodes = [
        node("small", labels={"cores": "4", "tier": "a"}),
        node("large", labels={"cores": "32", "tier": "b"}),
        node("bare"),
    ]

    def placed(*expressions: dict[str, Any]) -> set[str]:
        names = set()
        for candidate in nodes:
            affinity = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]
                    }
                }
            }
            if run(pod("p", affinity=affinity), candidate).node_name:
                names.add(candidate["metadata"]["name"])
        return names

    assert placed({"key": "tier", "operator": "In", "values": ["a"]}) == {"small"}
    assert placed({"key": "tier", "operator": "NotIn", "values": ["a"]}) == {"large", "bare"}
    assert placed({"key": "tier", "operator": "Exists"}) == {"small", "large"}
    assert placed({"key": "tier", "operator": "DoesNotExist"}) == {"bare"}
    assert placed({"key": "cores", "operator": "Gt", "values": ["8"]}) == {"large"}
    assert placed({"key": "cores", "operator": "Lt", "values": ["8"]}) == {"small"}
    assert placed({"key": "cores", "operator": "Gt", "values": ["x"]}) == set()  # does not parse


def test_match_fields_narrow_the_nodes_first() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
                ]
            }
        }
    }
    assert run(pod("p", affinity=affinity), node("n1"), node("n2")).node_name == "n2"
    result = run(pod("p", cpu="9", affinity=affinity), node("n1"), node("n2"), node("n3"))
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_host_port_conflicts() -> None:
    def with_port(name: str, port: int, ip: str = "", protocol: str = "TCP", **extra: Any) -> dict[str, Any]:
        p = pod(name, **extra)
        p["spec"]["containers"][0]["ports"] = [
            {"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": protocol}
        ]
        return p

    bound = (with_port("old", 8080, ip="10.0.0.1", node_name="n1"),)
    assert run(with_port("new", 8080), node("n1"), bound=bound).message.startswith(
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
    )
    assert run(with_port("new", 8080, ip="10.0.0.2"), node("n1"), bound=bound).node_name == "n1"
    assert run(with_port("new", 8080, protocol="UDP"), node("n1"), bound=bound).node_name == "n1"


def test_required_anti_affinity_spreads_replicas_by_hostname() -> None:
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    snapshot = ClusterSnapshot.build([node("n1"), node("n2")])
    rng = random.Random(0)
    placed = []
    for index in range(3):
        replica = pod(f"web-{index}", labels={"app": "web"}, affinity=anti)
        result = schedule(replica, snapshot, rng=rng)
        if result.node_name:
            snapshot.add_pod(replica, result.node_name)
            placed.append(result.node_name)
        else:
            assert result.message.startswith(
                "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
            )
    assert sorted(placed) == ["n1", "n2"]
    # A pod without terms is kept off too when the bound pods' anti-affinity selects it.
    plain = schedule(pod("other", labels={"app": "web"}), snapshot, rng=rng)
    assert plain.message.startswith(
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules."
    )


def test_required_affinity_follows_the_pods_it_selects() -> None:
    affinity = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
            ]
        }
    }
    nodes = [node("n1", labels={ZONE: "a"}), node("n2", labels={ZONE: "b"}), node("n3", labels={ZONE: "b"})]
    bound = (pod("db", labels={"app": "db"}, node_name="n3"),)
    snapshot = ClusterSnapshot.build(nodes, bound)
    result = schedule(pod("api", affinity=affinity), snapshot, rng=random.Random(0))
    assert result.node_name in ("n2", "n3")
    # No pod matches yet and the pod matches its own term: the first of its group may go anywhere.
    first = pod("db-0", labels={"app": "db"}, affinity=affinity)
    assert schedule(first, ClusterSnapshot.build(nodes), rng=random.Random(0)).node_name is not None
    lonely = schedule(pod("api", affinity=affinity), ClusterSnapshot.build(nodes), rng=random.Random(0))
    assert lonely.message.startswith("0/3 nodes are available: 3 node(s) didn't match pod affinity rules.")


def test_least_allocated_prefers_the_emptier_node_and_seeded_ties_repeat() -> None:
    nodes = [node("busy"), node("idle")]
    bound = (pod("old", cpu="3", memory="6Gi", node_name="busy"),)
    assert run(pod("p", cpu="500m", memory="1Gi"), *nodes, bound=bound).node_name == "idle"
    many = [node(f"n{i}") for i in range(5)]

    def pick(seed: int) -> str | None:
        return schedule(pod("p"), ClusterSnapshot.build(many), rng=random.Random(seed)).node_name

    assert len({pick(7) for _ in range(3)}) == 1
    picks = {pick(seed) for seed in range(40)}
    assert len(picks) > 1  # equal scores: a uniform choice among them, not always the first


def test_preferred_node_affinity_and_prefer_no_schedule_taints_steer() -> None:
    preferred = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}
            ]
        }
    }
    assert run(pod("p", affinity=preferred), node("hdd"), node("ssd", labels={"ssd": "1"})).node_name == "ssd"
    spot = node("spot", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])
    assert run(pod("p"), spot, node("plain")).node_name == "plain"


def test_percentage_of_nodes_to_score() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(100) == 100
    assert num_feasible_nodes_to_find(500) == 230
    assert num_feasible_nodes_to_find(5000) == 500
    assert num_feasible_nodes_to_find(1000, 10) == 100
    snapshot = ClusterSnapshot.build([node(f"n{i:03d}") for i in range(500)])
    result = schedule(pod("p"), snapshot, rng=random.Random(0), start=490)
    assert (result.evaluated, result.feasible, result.next_start) == (230, 230, 220)
