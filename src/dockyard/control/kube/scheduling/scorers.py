"""Score plugins (kube-scheduler v1.33 defaults), each 0-100 per feasible node, then weighted.

=================================  ======  ==================================================
plugin                             weight  score
=================================  ======  ==================================================
TaintToleration                    3       fewer untolerated PreferNoSchedule taints (normalised, reversed)
NodeAffinity                       2       Σ weights of matching preferred terms (normalised)
NodeResourcesFit (LeastAllocated)  1       mean over cpu, memory of (free after the pod) / allocatable
NodeResourcesBalancedAllocation    1       (1 - std of the cpu and memory fractions) · 100
ImageLocality                      1       size of the pod's images already on the node, spread-scaled
=================================  ======  ==================================================

Integer arithmetic and the float steps are kube's, so scores agree to the unit. A plugin that kube's
PreScore skips for the pod (NodeAffinity without preferred terms, BalancedAllocation for a pod
requesting neither cpu nor memory) adds nothing, as there. InterPodAffinity and PodTopologySpread
scoring are not implemented (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .matching import PREFER_NO_SCHEDULE, Toleration, tolerated
from .nodes import NodeInfo
from .pods import PodInfo
from .snapshot import ClusterSnapshot

MAX_NODE_SCORE = 100
TAINT_TOLERATION_WEIGHT = 3
NODE_AFFINITY_WEIGHT = 2
NODE_RESOURCES_FIT_WEIGHT = 1
BALANCED_ALLOCATION_WEIGHT = 1
IMAGE_LOCALITY_WEIGHT = 1
_MB = 1024 * 1024
IMAGE_MIN_THRESHOLD = 23 * _MB
IMAGE_MAX_CONTAINER_THRESHOLD = 1000 * _MB

Scorer = Callable[[PodInfo, Sequence[NodeInfo], ClusterSnapshot], list[int] | None]
"""Scores of ``nodes`` (same order), already normalised; None when the plugin skips the pod."""


def default_normalize(scores: list[int], *, reverse: bool) -> list[int]:
    """``helper.DefaultNormalizeScore``: scale to 0-100 by the maximum (reversed: 100 - that)."""
    highest = max(scores, default=0)
    if highest == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else scores
    scaled = [MAX_NODE_SCORE * score // highest for score in scores]
    return [MAX_NODE_SCORE - score for score in scaled] if reverse else scaled


def _least_requested(requested: int, capacity: int) -> int:
    if requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot) -> list[int]:
    """NodeResourcesFit, ``LeastAllocated`` with cpu and memory weight 1, on non-zero requests."""
    cpu, memory = pod.requests.non_zero_milli_cpu, pod.requests.non_zero_memory
    scores = []
    for node in nodes:
        total = weights = 0
        if node.allocatable_milli_cpu:
            total += _least_requested(node.non_zero_milli_cpu + cpu, node.allocatable_milli_cpu)
            weights += 1
        if node.allocatable_memory:
            total += _least_requested(node.non_zero_memory + memory, node.allocatable_memory)
            weights += 1
        scores.append(total // weights if weights else 0)
    return scores


def balanced_allocation(
    pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot
) -> list[int] | None:
    """NodeResourcesBalancedAllocation on actual requests; skipped for a best-effort pod (kube #129138)."""
    cpu, memory = pod.requests.milli_cpu, pod.requests.memory
    if not cpu and not memory:
        return None
    scores = []
    for node in nodes:
        fractions = []
        if node.allocatable_milli_cpu:
            fractions.append(min((node.requested_milli_cpu + cpu) / node.allocatable_milli_cpu, 1.0))
        if node.allocatable_memory:
            fractions.append(min((node.requested_memory + memory) / node.allocatable_memory, 1.0))
        std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
        scores.append(int((1 - std) * MAX_NODE_SCORE))
    return scores


def taint_toleration(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot) -> list[int]:
    """TaintToleration: untolerated ``PreferNoSchedule`` taints, counted with the pod's tolerations of
    that effect (or of no effect), normalised and reversed."""
    tolerations: tuple[Toleration, ...] = tuple(
        t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE)
    )
    counts = [
        sum(1 for taint in node.prefer_taints if not tolerated(tolerations, taint))
        if node.prefer_taints
        else 0
        for node in nodes
    ]
    return default_normalize(counts, reverse=True)


def node_affinity(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot) -> list[int] | None:
    """NodeAffinity: Σ weights of the preferred terms the node matches, normalised."""
    preferred = pod.preferred_node_affinity
    if not preferred:
        return None
    sums = [sum(p.weight for p in preferred if p.term.matches(node.labels, node.name)) for node in nodes]
    return default_normalize(sums, reverse=False)


def _image_priority(total: int, containers: int) -> int:
    """ImageLocality's ``calculatePriority``: clamp between 23 MB and 1000 MB per container."""
    ceiling = IMAGE_MAX_CONTAINER_THRESHOLD * containers
    total = min(max(total, IMAGE_MIN_THRESHOLD), ceiling)
    return MAX_NODE_SCORE * (total - IMAGE_MIN_THRESHOLD) // (ceiling - IMAGE_MIN_THRESHOLD)


def image_locality(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot) -> list[int]:
    """ImageLocality: Σ over the pod's images on the node of size · (nodes with it / all nodes)."""
    if pod.container_count == 0:
        return [0] * len(nodes)
    node_count = len(snapshot)
    spread = {image: snapshot.image_node_count(image) / node_count for image in pod.images}
    if not any(spread.values()):  # none of its images on any node: every node scores 0
        return [0] * len(nodes)
    scores = []
    for node in nodes:
        images = node.images
        total = 0
        if images:
            for image in pod.images:
                size = images.get(image)
                if size is not None:
                    total += int(size * spread[image])
        scores.append(_image_priority(total, pod.container_count))
    return scores


WEIGHTED: tuple[tuple[str, Scorer, int], ...] = (
    ("TaintToleration", taint_toleration, TAINT_TOLERATION_WEIGHT),
    ("NodeAffinity", node_affinity, NODE_AFFINITY_WEIGHT),
    ("NodeResourcesFit", least_allocated, NODE_RESOURCES_FIT_WEIGHT),
    ("NodeResourcesBalancedAllocation", balanced_allocation, BALANCED_ALLOCATION_WEIGHT),
    ("ImageLocality", image_locality, IMAGE_LOCALITY_WEIGHT),
)
"""The default score plugins in kube's order, with their default weights."""


def total_scores(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: ClusterSnapshot) -> list[int]:
    """Σ weight · score per node (``RunScorePlugins`` then the weighted sum ``prioritizeNodes`` makes)."""
    totals = [0] * len(nodes)
    for _name, scorer, weight in WEIGHTED:
        scores = scorer(pod, nodes, snapshot)
        if scores is not None:
            totals = [total + weight * score for total, score in zip(totals, scores, strict=True)]
    return totals
