"""One scheduling cycle (``schedulePod``): filters → scorers → select, as kube-scheduler v1.33 runs it.

::

    pod ── parse_pod ── PreFilter: NodeAffinity's matchFields metadata.name narrows the nodes
       │ filters, from node[start] round-robin, until enough feasible nodes are found
       │   (numFeasibleNodesToFind: all below 100 nodes, else max(100, n·max(5, 50 - n/125)%))
       ▼
    none feasible → FitError message (diagnosis.py)     one feasible → it, unscored
       │ scorers (weighted sum) over the feasible nodes
       ▼
    best total score; ties by reservoir sampling with the caller's rng (kube's selectHost rule)

Pure: reads the snapshot, never writes it. The caller binds, then calls ``snapshot.add_pod(…)``, and
passes ``result.next_start`` as the next call's ``start`` (kube's ``nextStartNodeIndex``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.selectors import Operator

from . import filters, scorers
from .diagnosis import NO_NODES_AVAILABLE, Diagnosis, fit_error_message
from .filters import Rejection
from .matching import OBJECT_NAME_FIELD
from .nodes import NodeInfo
from .pods import PodInfo, parse_pod
from .snapshot import ClusterSnapshot

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
CONFLICT = "pod affinity terms conflict"


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    """The chosen node, or why there is none (``message`` in kube's FitError wording).

    ``evaluated`` nodes were filtered, ``feasible`` passed; ``score`` is the winner's weighted total
    (None when it was the only feasible node, which kube does not score).
    """

    node_name: str | None
    message: str
    evaluated: int
    feasible: int
    next_start: int
    score: int | None = None
    diagnosis: Diagnosis | None = None

    @property
    def scheduled(self) -> bool:
        return self.node_name is not None


def num_feasible_nodes_to_find(node_count: int, percentage: int = 0) -> int:
    """``numFeasibleNodesToFind``; ``percentage`` 0 is kube's adaptive default (500 nodes → 230)."""
    if node_count < MIN_FEASIBLE_NODES_TO_FIND:
        return node_count
    if percentage == 0:
        percentage = max(50 - node_count // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(node_count * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def _prefilter_names(pod: PodInfo) -> set[str] | None:
    """NodeAffinity's PreFilter: the node names every term pins with ``metadata.name In``, or None."""
    required = pod.required_node_affinity
    if required is None or not required.terms:
        return None
    names: set[str] = set()
    for term in required.terms:
        pinned: set[str] | None = None
        for requirement in term.names:
            if requirement.key == OBJECT_NAME_FIELD and requirement.operator is Operator.IN:
                values = set(requirement.values)
                pinned = values if pinned is None else pinned & values
        if pinned is None:
            return None
        names |= pinned
    return names


def _select(feasible: Sequence[NodeInfo], totals: Sequence[int], rng: random.Random) -> int:
    """The highest total; among equal ones each is kept with probability 1/count (reservoir sampling)."""
    best, ties = 0, 1
    for index in range(1, len(totals)):
        if totals[index] > totals[best]:
            best, ties = index, 1
        elif totals[index] == totals[best]:
            ties += 1
            if rng.randrange(ties) == 0:
                best = index
    return best


def schedule(
    pod: Mapping[str, Any] | PodInfo,
    snapshot: ClusterSnapshot,
    *,
    rng: random.Random,
    start: int = 0,
    percentage_of_nodes_to_score: int = 0,
) -> ScheduleResult:
    """Pick a node for ``pod`` (a Pod object or its :class:`PodInfo`) on ``snapshot``."""
    info = pod if isinstance(pod, PodInfo) else parse_pod(pod)
    all_nodes = snapshot.nodes
    count = len(all_nodes)
    if count == 0:
        return ScheduleResult(None, NO_NODES_AVAILABLE, 0, 0, 0)
    start %= count
    pinned = _prefilter_names(info)
    rejections: list[tuple[str, Rejection]] = []
    if pinned is not None:
        if not pinned:
            diagnosis = Diagnosis(count, prefilter_message=CONFLICT)
            return _failure(info, diagnosis, 0, start)
        absent = Rejection(("node(s) didn't satisfy plugin(s) [NodeAffinity]",), True, "NodeAffinity")
        rejections = [(node.name, absent) for node in all_nodes if node.name not in pinned]
        candidates = [node for node in all_nodes if node.name in pinned]
    else:
        candidates = all_nodes
    wanted = num_feasible_nodes_to_find(count, percentage_of_nodes_to_score)
    pipeline = filters.pipeline(info, snapshot)
    feasible: list[NodeInfo] = []
    size = len(candidates)
    processed = 0
    # The hot loop: plain code, one pass per node until enough nodes fit.
    for offset in range(size):
        node = candidates[(start + offset) % size]
        processed += 1
        for check in pipeline:
            rejection = check(node)
            if rejection is not None:
                rejections.append((node.name, rejection))
                break
        else:
            feasible.append(node)
            if len(feasible) >= wanted:
                break
    next_start = (start + processed) % count
    if not feasible:
        return _failure(info, Diagnosis(count, tuple(rejections)), processed, next_start)
    if len(feasible) == 1:
        return ScheduleResult(feasible[0].name, "", processed, 1, next_start)
    totals = scorers.total_scores(info, feasible, snapshot)
    best = _select(feasible, totals, rng)
    return ScheduleResult(feasible[best].name, "", processed, len(feasible), next_start, totals[best])


def _failure(info: PodInfo, diagnosis: Diagnosis, processed: int, next_start: int) -> ScheduleResult:
    message = fit_error_message(diagnosis, preemption_policy=info.preemption_policy)
    return ScheduleResult(None, message, processed, 0, next_start, diagnosis=diagnosis)
