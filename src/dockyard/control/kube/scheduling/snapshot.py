"""The cluster as the scheduler sees it (kube-scheduler's cache ``Snapshot``), kept current in place.

::

    ClusterSnapshot.build(nodes, pods)        every Node, and every non-terminal pod bound to one
        │ add_pod(pod, node) / remove_pod(key) after each binding or deletion: O(pod), not O(cluster)
        │ add_node / remove_node                a node joins, leaves or changes (remove, then add)
        ▼
    schedule(pod, snapshot) reads it; it never writes it

Besides the nodes (in kube's ``nodeTree`` order: zones taken round-robin, nodes of a zone in the order
they were added), it keeps the indexes InterPodAffinity needs, so a pod is not checked against every
pod of the cluster: pods by label pair, and the required anti-affinity terms of bound pods grouped by
identical term (the replicas of one Deployment share one entry) with a count per topology value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .nodes import NodeInfo, parse_node
from .pods import AffinityTerm, PodInfo, parse_pod

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(slots=True)
class TermGroup:
    """Identical anti-affinity terms of bound pods, with how many sit in each topology value."""

    term: AffinityTerm
    values: Counter[str] = field(default_factory=Counter)


class ClusterSnapshot:
    """Nodes, their pods and the affinity indexes. Not thread-safe; one scheduler owns it."""

    def __init__(self, namespace_labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.namespace_labels: dict[str, Mapping[str, str]] = dict(namespace_labels or {})
        """Labels of each namespace, for affinity terms with a ``namespaceSelector``."""
        self._nodes: dict[str, NodeInfo] = {}
        self._zones: dict[str, list[str]] = {}
        self._order: list[NodeInfo] | None = None
        self._pod_node: dict[str, str] = {}
        self._pods_by_label: dict[tuple[str, str], dict[str, PodInfo]] = {}
        self._anti_terms: dict[tuple[str, str, frozenset[str], str], TermGroup] = {}
        # Groups by one label pair their selector requires (None: no equality requirement to index by).
        self._anti_index: dict[
            tuple[str, str] | None, dict[tuple[str, str, frozenset[str], str], TermGroup]
        ] = {}
        self._image_nodes: Counter[str] = Counter()

    # ── Building ────────────────────────────────────────────────────────────────────────────────────

    @classmethod
    def build(
        cls,
        nodes: Iterable[Mapping[str, Any]],
        pods: Iterable[Mapping[str, Any]] = (),
        *,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        condition_taints: bool = True,
    ) -> ClusterSnapshot:
        """From Node and Pod objects; pods not bound, terminal, or on unknown nodes are left out."""
        snapshot = cls(namespace_labels)
        for node in nodes:
            snapshot.add_node(parse_node(node, condition_taints=condition_taints))
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            phase = (pod.get("status") or {}).get("phase")
            if node_name and phase not in TERMINAL_PHASES and node_name in snapshot._nodes:
                snapshot.add_pod(parse_pod(pod), node_name)
        return snapshot

    def add_node(self, node: NodeInfo) -> None:
        """A new node (pods come with :meth:`add_pod`); a known name is replaced, keeping its pods."""
        previous = self.remove_node(node.name) if node.name in self._nodes else []
        self._nodes[node.name] = node
        self._zones.setdefault(node.zone, []).append(node.name)
        self._image_nodes.update(node.images.keys())
        self._order = None
        for pod in previous:
            self.add_pod(pod, node.name)

    def remove_node(self, name: str) -> list[PodInfo]:
        """Forget a node; returns the pods that were on it (they leave the snapshot too)."""
        node = self._nodes.get(name)
        if node is None:
            return []
        pods = list(node.pods.values())
        for pod in pods:
            self.remove_pod(pod.key)
        del self._nodes[name]
        self._zones[node.zone].remove(name)
        if not self._zones[node.zone]:
            del self._zones[node.zone]
        self._image_nodes.subtract(node.images.keys())
        self._order = None
        return pods

    # ── Pods ────────────────────────────────────────────────────────────────────────────────────────

    def add_pod(self, pod: PodInfo | Mapping[str, Any], node_name: str) -> PodInfo:
        """Account a pod on ``node_name`` (after a Binding, or a bound pod seen on a watch)."""
        info = pod if isinstance(pod, PodInfo) else parse_pod(pod)
        if info.key in self._pod_node:
            self.remove_pod(info.key)
        node = self._nodes[node_name]
        node.add_pod(info)
        self._pod_node[info.key] = node_name
        for pair in info.labels.items():
            self._pods_by_label.setdefault(pair, {})[info.key] = info
        self._count_anti_terms(info, node, 1)
        return info

    def remove_pod(self, key: str) -> PodInfo | None:
        """Forget a pod (``namespace/name``): deleted, terminated, or its binding failed."""
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return None
        node = self._nodes[node_name]
        info = node.remove_pod(key)
        if info is None:
            return None
        for pair in info.labels.items():
            members = self._pods_by_label.get(pair)
            if members is not None:
                members.pop(key, None)
                if not members:
                    del self._pods_by_label[pair]
        self._count_anti_terms(info, node, -1)
        return info

    def _count_anti_terms(self, pod: PodInfo, node: NodeInfo, sign: int) -> None:
        for term in pod.anti_affinity_terms:
            group = self._anti_terms.get(term.identity)
            if group is None:
                group = self._anti_terms[term.identity] = TermGroup(term)
                for pair in _index_pairs(term):
                    self._anti_index.setdefault(pair, {})[term.identity] = group
            value = node.labels.get(term.topology_key)
            if value is not None:
                group.values[value] += sign
                if group.values[value] <= 0:
                    del group.values[value]
            if sign < 0 and not group.values:
                del self._anti_terms[term.identity]
                for pair in _index_pairs(term):
                    del self._anti_index[pair][term.identity]
                    if not self._anti_index[pair]:
                        del self._anti_index[pair]

    # ── Reading ─────────────────────────────────────────────────────────────────────────────────────

    @property
    def nodes(self) -> list[NodeInfo]:
        """Every node in ``nodeTree.list()`` order (zones round-robin)."""
        if self._order is None:
            zones = list(self._zones.values())
            longest = max((len(names) for names in zones), default=0)
            self._order = [
                self._nodes[names[index]] for index in range(longest) for names in zones if index < len(names)
            ]
        return self._order

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def node_of(self, key: str) -> str | None:
        """The node a pod (``namespace/name``) is accounted on."""
        return self._pod_node.get(key)

    def __len__(self) -> int:
        return len(self._nodes)

    def image_node_count(self, image: str) -> int:
        """On how many nodes ``image`` (a name as nodes report it) is present."""
        return self._image_nodes[image]

    def anti_affinity_groups(self) -> Iterator[TermGroup]:
        """Bound pods' required anti-affinity terms, one group per identical term."""
        return iter(self._anti_terms.values())

    def anti_affinity_groups_for(self, labels: Mapping[str, str]) -> Iterator[TermGroup]:
        """The groups whose selector could select a pod with ``labels`` (callers still match them)."""
        seen: set[int] = set()
        for pair in (None, *labels.items()):
            for group in self._anti_index.get(pair, {}).values():
                if id(group) not in seen:
                    seen.add(id(group))
                    yield group

    def pods_matching(self, term: AffinityTerm) -> Iterator[tuple[PodInfo, NodeInfo]]:
        """Bound pods ``term`` selects, with their nodes; narrowed by the label index where it can."""
        candidates: Iterable[PodInfo]
        equality = next(
            (r for r in term.selector.requirements if r.operator.value in ("=", "==", "in")), None
        )
        if term.selector.nothing:
            return
        if equality is not None:
            candidates = [
                pod
                for value in equality.values
                for pod in self._pods_by_label.get((equality.key, value), {}).values()
            ]
        else:
            candidates = [node_pod for node in self._nodes.values() for node_pod in node.pods.values()]
        empty: Mapping[str, str] = {}
        for pod in candidates:
            labels = self.namespace_labels.get(pod.namespace, empty)
            if term.matches(pod.namespace, pod.labels, labels):
                yield pod, self._nodes[self._pod_node[pod.key]]


def _index_pairs(term: AffinityTerm) -> list[tuple[str, str] | None]:
    """The label pairs one of which a pod must carry for ``term`` to select it (``[None]``: any pod)."""
    equality = next((r for r in term.selector.requirements if r.operator.value in ("=", "==", "in")), None)
    if equality is None:
        return [None]
    return [(equality.key, value) for value in equality.values]
