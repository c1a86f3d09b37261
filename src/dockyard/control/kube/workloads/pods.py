"""Pod predicates the workload controllers share, and kube's order for deleting surplus pods. Pure.

Matches ``pkg/controller/controller_utils.go`` (``IsPodActive``, ``ActivePodsWithRanks``) and
``podutil.IsPodReady`` / ``IsPodAvailable`` of v1.33, with the default feature gates
(``PodDeletionCost`` and ``LogarithmicScaleDown`` on).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import Obj, find_condition, meta, parse_time

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_active(pod: Mapping[str, Any]) -> bool:
    """``IsPodActive``: not Succeeded, not Failed, not being deleted."""
    return phase(pod) not in ("Succeeded", "Failed") and meta(pod).get("deletionTimestamp") is None


def _ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return find_condition((pod.get("status") or {}).get("conditions"), "Ready")


def is_ready(pod: Mapping[str, Any]) -> bool:
    """``podutil.IsPodReady``: the ``Ready`` condition is True."""
    condition = _ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    """When a ready pod became ready (its Ready condition's ``lastTransitionTime``), else None."""
    condition = _ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime"))


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """``podutil.IsPodAvailable``: ready, and ready for more than ``minReadySeconds`` (strictly)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> float | None:
    """Seconds until a ready, not yet available pod becomes available (a look-again timer), else None."""
    since = ready_since(pod)
    if since is None or min_ready_seconds == 0 or is_available(pod, min_ready_seconds, now):
        return None
    return max((since + timedelta(seconds=min_ready_seconds) - now).total_seconds(), 0.0) + 1.0


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    text = (meta(pod).get("annotations") or {}).get(DELETION_COST)
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _restarts(pod: Mapping[str, Any]) -> tuple[int, int]:
    """``maxContainerRestarts``: (most restarts of a regular container, of a sidecar init container)."""
    status = pod.get("status") or {}
    regular = max((int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or ()), default=0)
    sidecars = {
        c.get("name")
        for c in (pod.get("spec") or {}).get("initContainers") or ()
        if c.get("restartPolicy") == "Always"
    }
    sidecar = max(
        (
            int(s.get("restartCount") or 0)
            for s in status.get("initContainerStatuses") or ()
            if s.get("name") in sidecars
        ),
        default=0,
    )
    return regular, sidecar


def _log_rank(moment: datetime, now: datetime) -> int:
    nanos = (now - moment) / timedelta(microseconds=1) * 1000
    return int(math.log2(nanos)) if nanos > 0 else -1


def _newer_first(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime) -> bool:
    """Rules 6 and 8: empty < newer < older, compared in powers of two of their age; ties by uid."""
    if t1 is None or t2 is None:
        return t1 is None
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    return uid1 < uid2 if diff == 0 else diff < 0


def _less(a: Obj, b: Obj, rank_a: int, rank_b: int, now: datetime) -> bool:
    """``ActivePodsWithRanks.Less``: True when ``a`` should be deleted before ``b``."""
    node_a, node_b = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a, phase_b = _PHASE_ORDINAL.get(phase(a), 0), _PHASE_ORDINAL.get(phase(b), 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    if is_ready(a) != is_ready(b):
        return not is_ready(a)
    if _deletion_cost(a) != _deletion_cost(b):
        return _deletion_cost(a) < _deletion_cost(b)
    if rank_a != rank_b:
        return rank_a > rank_b
    uid_a, uid_b = str(meta(a).get("uid") or ""), str(meta(b).get("uid") or "")
    if is_ready(a) and is_ready(b):
        since_a, since_b = ready_since(a), ready_since(b)
        if since_a != since_b:
            return _newer_first(since_a, since_b, uid_a, uid_b, now)
    restarts_a, restarts_b = _restarts(a), _restarts(b)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    created_a = parse_time(meta(a).get("creationTimestamp"))
    created_b = parse_time(meta(b).get("creationTimestamp"))
    if created_a != created_b:
        return _newer_first(created_a, created_b, uid_a, uid_b, now)
    return False


def deletion_order(pods: Sequence[Obj], related: Iterable[Mapping[str, Any]], now: datetime) -> list[Obj]:
    """``pods`` in the order kube deletes them (``getPodsToDelete``): unassigned before assigned,
    Pending < Unknown < Running, not ready before ready, lower ``pod-deletion-cost`` first, more active
    ``related`` pods (the ReplicaSet's and its siblings') on the same node first, ready for less time,
    more restarts, created more recently (both in powers of two of their age, then by uid).

    Kube sorts with an unstable sort; this one is stable over the pods sorted by name.
    """
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [
        (pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0))
        for pod in sorted(pods, key=lambda p: str(meta(p).get("name") or ""))
    ]

    def compare(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        if _less(x[0], y[0], x[1], y[1], now):
            return -1
        return 1 if _less(y[0], x[0], y[1], x[1], now) else 0

    return [pod for pod, _ in sorted(ranked, key=functools.cmp_to_key(compare))]
