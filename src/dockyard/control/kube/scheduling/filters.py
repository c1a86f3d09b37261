"""Filter plugins (kube-scheduler v1.33 defaults): each says why a node cannot take the pod, or None.

A filter is built for one pod (PreFilter: what it needs of the pod is read once) and then called per
node. Plugins a pod cannot fail are left out of its pipeline, as kube's PreFilter ``Skip`` does.
Each rejection is a :class:`Rejection`: kube's reason texts, and whether preemption could help
(``Unschedulable``) or not (``UnschedulableAndUnresolvable``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .matching import NO_SCHEDULE, Taint, tolerated
from .nodes import NodeInfo
from .pods import PodInfo
from .snapshot import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class Rejection:
    """A filter's non-success status: its reasons and whether it is ``UnschedulableAndUnresolvable``."""

    reasons: tuple[str, ...]
    unresolvable: bool
    plugin: str


Filter = Callable[[NodeInfo], Rejection | None]

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", NO_SCHEDULE)
NODE_UNSCHEDULABLE = Rejection(("node(s) were unschedulable",), True, "NodeUnschedulable")
NODE_NAME = Rejection(("node(s) didn't match the requested node name",), True, "NodeName")
NODE_PORTS = Rejection(("node(s) didn't have free ports for the requested pod ports",), False, "NodePorts")
NODE_AFFINITY = Rejection(("node(s) didn't match Pod's node affinity/selector",), True, "NodeAffinity")
POD_AFFINITY = Rejection(("node(s) didn't match pod affinity rules",), True, "InterPodAffinity")
POD_ANTI_AFFINITY = Rejection(("node(s) didn't match pod anti-affinity rules",), False, "InterPodAffinity")
EXISTING_ANTI_AFFINITY = Rejection(
    ("node(s) didn't satisfy existing pods anti-affinity rules",), False, "InterPodAffinity"
)


def node_unschedulable(pod: PodInfo) -> Filter:
    """NodeUnschedulable: ``spec.unschedulable`` nodes only take pods tolerating the unschedulable taint."""
    tolerates = tolerated(pod.tolerations, UNSCHEDULABLE_TAINT)

    def check(node: NodeInfo) -> Rejection | None:
        return NODE_UNSCHEDULABLE if node.unschedulable and not tolerates else None

    return check


def node_name(pod: PodInfo) -> Filter:
    """NodeName: a pod naming a node (``spec.nodeName``) fits only that one."""
    wanted = pod.node_name

    def check(node: NodeInfo) -> Rejection | None:
        return None if node.name == wanted else NODE_NAME

    return check


def taint_toleration(pod: PodInfo) -> Filter:
    """TaintToleration: the first ``NoSchedule``/``NoExecute`` taint the pod does not tolerate rejects.

    Nodes with the same taints get the same verdict, so it is computed once per taint set.
    """
    verdicts: dict[object, Rejection | None] = {}
    tolerations = pod.tolerations

    def check(node: NodeInfo) -> Rejection | None:
        if not node.hard_taints:
            return None
        signature = node.hard_taints
        if signature in verdicts:
            return verdicts[signature]
        verdict = None
        for taint in node.hard_taints:
            if not tolerated(tolerations, taint):
                reason = f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"
                verdict = Rejection((reason,), True, "TaintToleration")
                break
        verdicts[signature] = verdict
        return verdict

    return check


def node_affinity(pod: PodInfo) -> Filter:
    """NodeAffinity: ``spec.nodeSelector`` and the required node selector terms both match."""
    selector = tuple(pod.node_selector.items())
    required = pod.required_node_affinity

    def check(node: NodeInfo) -> Rejection | None:
        labels = node.labels
        for key, value in selector:
            if labels.get(key) != value:
                return NODE_AFFINITY
        if required is not None and not required.matches(labels, node.name):
            return NODE_AFFINITY
        return None

    return check


def node_ports(pod: PodInfo) -> Filter:
    """NodePorts: no wanted host port is taken on the node (same protocol; 0.0.0.0 clashes with all)."""
    wanted = pod.host_ports

    def check(node: NodeInfo) -> Rejection | None:
        if not node.used_ports:
            return None
        for ip, protocol, port in wanted:
            if node.port_conflict(ip, protocol, port):
                return NODE_PORTS
        return None

    return check


def node_resources_fit(pod: PodInfo) -> Filter:
    """NodeResourcesFit: pod count, then cpu, memory, ephemeral-storage and scalar resources; every
    shortfall is a reason, unresolvable when the request exceeds the node's whole allocatable."""
    requests = pod.requests
    cpu, memory, storage = requests.milli_cpu, requests.memory, requests.ephemeral_storage
    scalar = {name: amount for name, amount in requests.scalar.items() if amount}
    empty = requests.empty

    def check(node: NodeInfo) -> Rejection | None:
        too_many = len(node.pods) + 1 > node.allowed_pods
        if empty:
            return Rejection(("Too many pods",), False, "NodeResourcesFit") if too_many else None
        cpu_short = cpu > 0 and cpu > node.allocatable_milli_cpu - node.requested_milli_cpu
        memory_short = memory > 0 and memory > node.allocatable_memory - node.requested_memory
        storage_short = (
            storage > 0 and storage > node.allocatable_ephemeral_storage - node.requested_ephemeral_storage
        )
        if not (too_many or cpu_short or memory_short or storage_short or scalar):
            return None
        reasons: list[str] = []
        unresolvable = False
        if too_many:
            reasons.append("Too many pods")
        if cpu_short:
            reasons.append("Insufficient cpu")
            unresolvable |= cpu > node.allocatable_milli_cpu
        if memory_short:
            reasons.append("Insufficient memory")
            unresolvable |= memory > node.allocatable_memory
        if storage_short:
            reasons.append("Insufficient ephemeral-storage")
            unresolvable |= storage > node.allocatable_ephemeral_storage
        for name, amount in scalar.items():
            allocatable = node.allocatable_scalar.get(name, 0)
            if amount > allocatable - node.requested_scalar.get(name, 0):
                reasons.append(f"Insufficient {name}")
                unresolvable |= amount > allocatable
        return Rejection(tuple(reasons), unresolvable, "NodeResourcesFit") if reasons else None

    return check


def _topology_counts(pod: PodInfo, snapshot: ClusterSnapshot) -> tuple[Counter[tuple[str, str]], ...]:
    """PreFilter of InterPodAffinity: (existing pods' anti-affinity to this pod, this pod's affinity,
    this pod's anti-affinity), each as counts per (topology key, value)."""
    own_labels = snapshot.namespace_labels.get(pod.namespace, {})
    existing: Counter[tuple[str, str]] = Counter()
    for group in snapshot.anti_affinity_groups_for(pod.labels):
        if group.values and group.term.matches(pod.namespace, pod.labels, own_labels):
            for value, count in group.values.items():
                existing[(group.term.topology_key, value)] += count
    affinity: Counter[tuple[str, str]] = Counter()
    if pod.affinity_terms:
        first, *others = pod.affinity_terms
        for other, node in snapshot.pods_matching(first):
            ns_labels = snapshot.namespace_labels.get(other.namespace, {})
            if all(term.matches(other.namespace, other.labels, ns_labels) for term in others):
                for term in pod.affinity_terms:
                    if term.topology_key in node.labels:
                        affinity[(term.topology_key, node.labels[term.topology_key])] += 1
    anti: Counter[tuple[str, str]] = Counter()
    for term in pod.anti_affinity_terms:
        for _, node in snapshot.pods_matching(term):
            if term.topology_key in node.labels:
                anti[(term.topology_key, node.labels[term.topology_key])] += 1
    return existing, affinity, anti


def _matches_own_terms(pod: PodInfo, labels: Mapping[str, str]) -> bool:
    return all(term.matches(pod.namespace, pod.labels, labels) for term in pod.affinity_terms)


def inter_pod_affinity(pod: PodInfo, snapshot: ClusterSnapshot) -> Filter | None:
    """InterPodAffinity (required terms only): the pod's affinity is met in the node's topology, its
    anti-affinity is not violated there, and no bound pod's anti-affinity excludes it. None when the
    pod has no terms and no bound pod has anti-affinity (kube's PreFilter Skip)."""
    if not (pod.affinity_terms or pod.anti_affinity_terms or any(snapshot.anti_affinity_groups())):
        return None
    existing, affinity, anti = _topology_counts(pod, snapshot)
    if not (existing or pod.affinity_terms or pod.anti_affinity_terms):
        return None  # no bound pod's anti-affinity selects this pod: nothing left to check
    # kube's rule for the first pod of a group with affinity to itself: no pod matches yet, and the
    # pod matches its own terms, so any node with the topology keys will do.
    first_of_group = not affinity and _matches_own_terms(
        pod, snapshot.namespace_labels.get(pod.namespace, {})
    )
    affinity_terms, anti_terms = pod.affinity_terms, pod.anti_affinity_terms
    existing_pairs = tuple(existing)

    def check(node: NodeInfo) -> Rejection | None:
        labels = node.labels
        if affinity_terms:
            found = True
            for term in affinity_terms:
                value = labels.get(term.topology_key)
                if value is None:
                    return POD_AFFINITY
                if affinity[(term.topology_key, value)] <= 0:
                    found = False
            if not found and not first_of_group:
                return POD_AFFINITY
        for term in anti_terms:
            value = labels.get(term.topology_key)
            if value is not None and anti[(term.topology_key, value)] > 0:
                return POD_ANTI_AFFINITY
        for key, value in existing_pairs:
            if labels.get(key) == value:
                return EXISTING_ANTI_AFFINITY
        return None

    return check


def pipeline(pod: PodInfo, snapshot: ClusterSnapshot) -> tuple[Filter, ...]:
    """The pod's filters in kube's default order (NodeUnschedulable, NodeName, TaintToleration,
    NodeAffinity, NodePorts, NodeResourcesFit, …, InterPodAffinity); the first rejection counts."""
    filters: list[Filter | None] = [
        node_unschedulable(pod),
        node_name(pod) if pod.node_name else None,
        taint_toleration(pod),
        node_affinity(pod) if pod.has_node_affinity else None,
        node_ports(pod) if pod.host_ports else None,
        node_resources_fit(pod),
        inter_pod_affinity(pod, snapshot),
    ]
    return tuple(f for f in filters if f is not None)
