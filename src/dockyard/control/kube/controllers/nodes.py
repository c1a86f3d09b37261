"""Node lifecycle: unreachable nodes, their taints, taint-based eviction, DefaultTolerationSeconds. Pure.

One sync of a node (kube-controller-manager v1.33's node-lifecycle and taint-eviction controllers)::

    last heartbeat = max(Lease spec.renewTime, Ready lastHeartbeatTime) (else creation + startup grace)
    now - heartbeat > node-monitor-grace-period (50 s since v1.32; it was 40 s before)
        ─▶ Ready, MemoryPressure, DiskPressure, PIDPressure = Unknown, reason NodeStatusUnknown,
           "Kubelet stopped posting node status." (NodeStatusNeverUpdated / "Kubelet never posted node
           status." when the kubelet never reported)
    Ready Unknown ─▶ taints node.kubernetes.io/unreachable NoSchedule + NoExecute; Ready False ─▶
        node.kubernetes.io/not-ready NoSchedule + NoExecute; Ready True ─▶ neither. Pressure conditions and
        spec.unschedulable give their NoSchedule taints (TaintNodesByCondition).
    Ready not True ─▶ the pods' Ready condition becomes False (MarkPodsNotReady)
    NoExecute taints ─▶ a pod tolerating none of them is evicted now; one tolerating all is evicted after
        the smallest tolerationSeconds of the tolerations used (never without one), with the
        DisruptionTarget condition (DeletionByTaintManager) set first.

Not matched: zone-level rate limiting and "full disruption" mode (eviction here is immediate per
node), and kube's eviction clock starts when the controller sees the taint; here it starts at the
taint's ``timeAdded``, which keeps the decision level-triggered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Delete,
    Obj,
    Patch,
    find_condition,
    meta,
    parse_time,
    ref_of,
    set_condition,
    timestamp,
)
from dockyard.control.kube.controllers.scheduling import NO_EXECUTE, NO_SCHEDULE, tolerates

NODE_MONITOR_GRACE_S = 50.0
NODE_STARTUP_GRACE_S = 60.0
DEFAULT_TOLERATION_S = 300
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
PRESSURE_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}
_MANAGED_KEYS = frozenset({UNREACHABLE, NOT_READY, UNSCHEDULABLE, *PRESSURE_TAINTS.values()})
_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def _heartbeat(node: Mapping[str, Any], lease: Mapping[str, Any] | None) -> datetime | None:
    ready = find_condition((node.get("status") or {}).get("conditions"), "Ready") or {}
    times = [
        parse_time(ready.get("lastHeartbeatTime")),
        parse_time(((lease or {}).get("spec") or {}).get("renewTime")),
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def node_conditions(
    node: Mapping[str, Any],
    lease: Mapping[str, Any] | None,
    now: datetime,
    *,
    grace_s: float = NODE_MONITOR_GRACE_S,
) -> list[Obj]:
    """The node's conditions after the health check (unchanged while the kubelet keeps posting)."""
    conditions: list[Obj] = list((node.get("status") or {}).get("conditions") or [])
    heartbeat = _heartbeat(node, lease)
    if heartbeat is None:
        created = parse_time(meta(node).get("creationTimestamp")) or now
        if now - created <= timedelta(seconds=NODE_STARTUP_GRACE_S):
            return conditions
        reason, message = "NodeStatusNeverUpdated", "Kubelet never posted node status."
    elif now - heartbeat <= timedelta(seconds=grace_s):
        return conditions
    else:
        reason, message = "NodeStatusUnknown", "Kubelet stopped posting node status."
    for kind in _CONDITIONS:
        current = find_condition(conditions, kind)
        if current is not None and current.get("status") == "Unknown":
            continue
        conditions = set_condition(conditions, kind, "Unknown", reason, message, now)
        if current is None or "lastHeartbeatTime" not in current:
            conditions = [
                {**c, "lastHeartbeatTime": c.get("lastHeartbeatTime") or timestamp(now)}
                if c["type"] == kind
                else c
                for c in conditions
            ]
    return conditions


def node_taints(node: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]], now: datetime) -> list[Obj]:
    """``spec.taints`` with the controller-managed taints matching ``conditions`` (others kept)."""
    ready = (find_condition(conditions, "Ready") or {}).get("status", "Unknown")
    wanted: list[tuple[str, str]] = []
    if ready == "Unknown":
        wanted += [(UNREACHABLE, NO_SCHEDULE), (UNREACHABLE, NO_EXECUTE)]
    elif ready == "False":
        wanted += [(NOT_READY, NO_SCHEDULE), (NOT_READY, NO_EXECUTE)]
    for kind, key in PRESSURE_TAINTS.items():
        if (find_condition(conditions, kind) or {}).get("status") == "True":
            wanted.append((key, NO_SCHEDULE))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append((UNSCHEDULABLE, NO_SCHEDULE))
    current: list[Obj] = [dict(t) for t in (node.get("spec") or {}).get("taints") or []]
    kept = [
        t for t in current if t.get("key") not in _MANAGED_KEYS or (t.get("key"), t.get("effect")) in wanted
    ]
    present = {(t.get("key"), t.get("effect")) for t in kept}
    for key, effect in wanted:
        if (key, effect) not in present:
            taint: Obj = {"key": key, "effect": effect}
            if effect == NO_EXECUTE:
                taint["timeAdded"] = timestamp(now)
            kept.append(taint)
    return kept


def eviction_time(pod: Mapping[str, Any], taints: Iterable[Mapping[str, Any]]) -> datetime | bool | None:
    """When taint-based eviction deletes ``pod``: True now, a time, or None (never)."""
    tolerations: list[Mapping[str, Any]] = list((pod.get("spec") or {}).get("tolerations") or [])
    soonest: datetime | None = None
    for taint in taints:
        if taint.get("effect") != NO_EXECUTE:
            continue
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return True
        limits = [int(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
        if not limits:
            continue
        added = parse_time(taint.get("timeAdded"))
        if added is None or min(limits) <= 0:
            return True
        at = added + timedelta(seconds=min(limits))
        soonest = at if soonest is None or at < soonest else soonest
    return soonest


def _disruption_patch(pod: Mapping[str, Any], now: datetime) -> Patch:
    conditions = set_condition(
        list((pod.get("status") or {}).get("conditions") or []),
        "DisruptionTarget",
        "True",
        "DeletionByTaintManager",
        "Taint manager: deleting due to NoExecute taint",
        now,
    )
    return Patch(ref_of(pod, with_version=True), {"status": {"conditions": conditions}}, subresource="status")


def decide(
    node: Mapping[str, Any],
    lease: Mapping[str, Any] | None,
    pods: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    grace_s: float = NODE_MONITOR_GRACE_S,
) -> Actions:
    """One sync of ``node`` (``pods``: those bound to it). The node's new status is ``status``; its
    taints come as a patch of ``spec.taints``; pods get status patches and deletes."""
    conditions = node_conditions(node, lease, now, grace_s=grace_s)
    observed = dict(node.get("status") or {})
    status = (
        {**observed, "conditions": conditions} if conditions != (observed.get("conditions") or []) else None
    )
    taints = node_taints(node, conditions, now)
    patches: list[Patch] = []
    if taints != list((node.get("spec") or {}).get("taints") or []):
        patches.append(Patch(ref_of(node, with_version=True), {"spec": {"taints": taints or None}}))
    ready = (find_condition(conditions, "Ready") or {}).get("status")
    deletes: list[Delete] = []
    next_look: datetime | None = None
    for pod in pods:
        if meta(pod).get("deletionTimestamp") is not None:
            continue
        when = eviction_time(pod, taints)
        if when is True or (isinstance(when, datetime) and when <= now):
            patches.append(_disruption_patch(pod, now))
            deletes.append(Delete(ref_of(pod), reason="Taint manager: deleting due to NoExecute taint"))
            continue
        if isinstance(when, datetime):
            next_look = when if next_look is None or when < next_look else next_look
        pod_ready = find_condition((pod.get("status") or {}).get("conditions"), "Ready")
        if ready != "True" and pod_ready is not None and pod_ready.get("status") != "False":
            pod_conditions = [
                {**c, "status": "False", "lastTransitionTime": timestamp(now)}
                if c.get("type") == "Ready"
                else dict(c)
                for c in (pod.get("status") or {}).get("conditions") or []
            ]
            patches.append(
                Patch(ref_of(pod, with_version=True), {"status": {"conditions": pod_conditions}}, "status")
            )
    heartbeat = _heartbeat(node, lease)
    waits = [(next_look - now).total_seconds()] if next_look is not None else []
    if ready == "True" and heartbeat is not None:
        waits.append(max(0.0, (heartbeat + timedelta(seconds=grace_s) - now).total_seconds()) + 1)
    return Actions(
        patches=tuple(patches),
        deletes=tuple(deletes),
        status=status,
        requeue_after=min(waits) if waits else None,
    )


# ── Admission: DefaultTolerationSeconds ─────────────────────────────────────────────────────────────


def default_tolerations(pod: Mapping[str, Any], seconds: int = DEFAULT_TOLERATION_S) -> Obj:
    """The pod with kube's default not-ready/unreachable NoExecute tolerations (300 s) added, unless a
    toleration of its own already covers that taint (same key or any key, NoExecute or any effect)."""
    spec = dict(pod.get("spec") or {})
    tolerations: list[Obj] = [dict(t) for t in spec.get("tolerations") or []]
    for key in (NOT_READY, UNREACHABLE):
        covered = any(
            t.get("key", "") in (key, "") and t.get("effect", "") in (NO_EXECUTE, "") for t in tolerations
        )
        if not covered:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": NO_EXECUTE, "tolerationSeconds": seconds}
            )
    spec["tolerations"] = tolerations
    return {**pod, "spec": spec}
