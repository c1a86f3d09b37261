"""Why a pod fits nowhere, worded as kube-scheduler v1.33 words it (``FitError.Error``).

::

    0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.
    preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption
    is not helpful for scheduling.

(one line). The histogram counts each reason of each node (a node short of cpu and memory counts in
both), entries are ``"<count> <reason>"`` sorted as strings (Go's ``sort.Strings``: ``"10 …"`` before
``"2 …"``), joined with ``", "``. A PreFilter rejection replaces the histogram with its own message.

The ``preemption:`` part is DefaultPreemption's PostFilter message. dockyard does not preempt: a node
rejected as ``UnschedulableAndUnresolvable`` is "Preemption is not helpful for scheduling"; any other
rejected node is "No preemption victims found for incoming pod" — kube's words when no pod of lower
priority sits there; where one does, kube would dry-run evicting it, and its message can then differ.
A pod with ``preemptionPolicy: Never`` gets "not eligible due to preemptionPolicy=Never.".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .filters import Rejection

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
"""``ErrNoNodesAvailable``: the cluster has no node at all."""
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE = "not eligible due to preemptionPolicy=Never."


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every node's rejection (``NodeToStatus``), or the PreFilter message that rejected them all."""

    node_count: int
    rejections: tuple[tuple[str, Rejection], ...] = ()
    prefilter_message: str = ""


def _histogram(node_count: int, reasons: Iterable[str]) -> str:
    counts = Counter(reasons)
    entries = sorted(f"{count} {reason}" for reason, count in counts.items())
    head = f"0/{node_count} nodes are available:"
    return f"{head} {', '.join(entries)}." if entries else head


def fit_error_message(diagnosis: Diagnosis, *, preemption_policy: str = "PreemptLowerPriority") -> str:
    """The FailedScheduling event's message and the PodScheduled condition's."""
    if diagnosis.prefilter_message:
        message = f"0/{diagnosis.node_count} nodes are available: {diagnosis.prefilter_message}."
    else:
        message = _histogram(
            diagnosis.node_count,
            (reason for _, rejection in diagnosis.rejections for reason in rejection.reasons),
        )
    return f"{message} preemption: {preemption_message(diagnosis, preemption_policy)}"


def preemption_message(diagnosis: Diagnosis, preemption_policy: str) -> str:
    """DefaultPreemption's PostFilter message when it finds no candidate (see the module docstring)."""
    if preemption_policy == "Never":
        return NOT_ELIGIBLE
    if diagnosis.prefilter_message:
        return _histogram(diagnosis.node_count, [NOT_HELPFUL] * diagnosis.node_count)
    reasons = [NOT_HELPFUL if rejection.unresolvable else NO_VICTIMS for _, rejection in diagnosis.rejections]
    return _histogram(diagnosis.node_count, reasons)
