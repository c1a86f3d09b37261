"""The DaemonSet controller (apps/v1), as kube-controller-manager v1.33 runs it. Pure.

One sync::

    each Node ─▶ should run (nodeSelector, required node affinity, NoSchedule/NoExecute taints vs the
                 pod's tolerations plus the DaemonSet ones) · may continue (affinity, NoExecute only)
    should run, no pod      ─▶ create ``<ds>-xxxxx`` pinned by ``matchFields metadata.name In [node]``
    should run, failed pod  ─▶ delete it (a new one comes next sync); two or more live ─▶ keep the oldest
    may not continue        ─▶ delete its pods
    RollingUpdate           ─▶ old-hash pods replaced: unavailable ones at once, available ones while
                               nodes without an available pod stay ≤ maxUnavailable (default 1); with
                               maxSurge, a new pod starts beside the old one, which goes once it is
                               available. OnDelete ─▶ old pods stay until someone deletes them.

Pods carry the template's labels plus ``controller-revision-hash`` (a hash of the template and
``status.collisionCount``) and ``pod-template-generation``, a controller ownerReference, and kube's
automatic tolerations: not-ready and unreachable NoExecute (no tolerationSeconds), disk-pressure,
memory-pressure, pid-pressure and unschedulable NoSchedule, network-unavailable NoSchedule with
hostNetwork. Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
updatedNumberScheduled, numberAvailable, numberUnavailable, observedGeneration.

Not matched: ControllerRevision objects (history, ``kubectl rollout undo``); the hash is computed over
our JSON, so it differs from kube's value for the same template; the failed-pod backoff; pods on nodes
that no longer exist are left to the pod GC, as in kube.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Create,
    Delete,
    Obj,
    condition_true,
    controller_reference,
    delete_of,
    find_condition,
    fresh_names,
    is_controlled_by,
    meta,
    parse_time,
)
from dockyard.control.kube.controllers.scheduling import (
    NO_EXECUTE,
    NO_SCHEDULE,
    node_taints,
    required_affinity_matches,
    untolerated,
    with_node_name_affinity,
)

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


def template_hash(daemon_set: Mapping[str, Any]) -> str:
    """``controller-revision-hash``: FNV-32a of the template (and collisionCount), safely encoded as
    kube's ``rand.SafeEncodeString`` does with the digits of the hash."""
    template = (daemon_set.get("spec") or {}).get("template") or {}
    collisions = (daemon_set.get("status") or {}).get("collisionCount")
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collisions is not None:
        data += str(collisions).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(digit) % len(_SAFE)] for digit in str(value))


def daemon_pod_spec(daemon_set: Mapping[str, Any]) -> Obj:
    """The template's pod spec with the DaemonSet tolerations added (``AddOrUpdateDaemonPodTolerations``)."""
    spec: Obj = dict(((daemon_set.get("spec") or {}).get("template") or {}).get("spec") or {})
    tolerations: list[Obj] = [dict(t) for t in spec.get("tolerations") or []]
    wanted = [*_DAEMON_TOLERATIONS, *([_NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])]
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    spec["tolerations"] = tolerations
    return spec


def placement(spec: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod``: (should run a new pod, may keep a running one)."""
    if not required_affinity_matches(spec, node):
        return False, False
    tolerations = list(spec.get("tolerations") or [])
    taints = node_taints(node)
    keep = not untolerated(taints, tolerations, (NO_EXECUTE,))
    return keep and not untolerated(taints, tolerations, (NO_SCHEDULE,)), keep


def node_of(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is for: its ``nodeName``, or the node its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None


def available(pod: Mapping[str, Any], min_ready_s: int, now: datetime) -> bool:
    """Ready for at least ``minReadySeconds`` (``podutil.IsPodAvailable``)."""
    ready = find_condition((pod.get("status") or {}).get("conditions"), "Ready")
    if ready is None or ready.get("status") != "True":
        return False
    since = parse_time(ready.get("lastTransitionTime"))
    return min_ready_s <= 0 or (since is not None and since + timedelta(seconds=min_ready_s) <= now)


def _budget(value: int | str | None, desired: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(desired * int(value[:-1]) / 100)
    return int(value)


def new_pod(daemon_set: Mapping[str, Any], node: str, name: str, revision: str) -> Obj:
    template_meta = ((daemon_set.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = {**(template_meta.get("labels") or {}), HASH_LABEL: revision}
    labels[GENERATION_LABEL] = str(meta(daemon_set).get("generation", 1))
    metadata: Obj = {
        "name": name,
        "generateName": f"{meta(daemon_set)['name']}-",
        "namespace": meta(daemon_set).get("namespace"),
        "labels": labels,
        "ownerReferences": [controller_reference(daemon_set)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    spec = with_node_name_affinity(daemon_pod_spec(daemon_set), node)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _created(pod: Mapping[str, Any]) -> tuple[str, str]:
    return str(meta(pod).get("creationTimestamp") or ""), str(meta(pod)["name"])


def decide(
    daemon_set: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    seed: int | str,
) -> Actions:
    """One sync of ``daemon_set`` over all ``nodes``; ``pods`` may include others' (ignored)."""
    spec = daemon_set.get("spec") or {}
    pod_spec = daemon_pod_spec(daemon_set)
    revision = template_hash(daemon_set)
    min_ready = int(spec.get("minReadySeconds") or 0)
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    mine = [p for p in pods if is_controlled_by(p, daemon_set) and meta(p).get("deletionTimestamp") is None]
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for pod in mine:
        if (node_name := node_of(pod)) is not None:
            by_node.setdefault(node_name, []).append(pod)

    to_create: list[str] = []
    deletes: list[Delete] = []
    old_on: dict[str, Mapping[str, Any]] = {}  # node → its live pod of an old revision
    new_on: dict[str, Mapping[str, Any]] = {}
    desired = misscheduled = 0
    for node in nodes:
        name = str(meta(node)["name"])
        run, keep = placement(pod_spec, node)
        here = by_node.get(name, [])
        if not run:
            misscheduled += bool(here) and not keep
            if not keep:
                deletes.extend(delete_of(p, reason="node no longer eligible") for p in here)
            continue
        desired += 1
        failed = [p for p in here if (p.get("status") or {}).get("phase") == "Failed"]
        deletes.extend(delete_of(p, reason="failed daemon pod") for p in failed)
        live = sorted((p for p in here if p not in failed), key=_created)
        new = [p for p in live if (meta(p).get("labels") or {}).get(HASH_LABEL) == revision]
        old = [p for p in live if p not in new]
        if new:
            new_on[name] = new[0]
            deletes.extend(delete_of(p, reason="excess daemon pod") for p in new[1:])
        if old:
            old_on[name] = old[0]
            deletes.extend(delete_of(p, reason="excess daemon pod") for p in old[1:])
        if not live:
            to_create.append(name)

    if rolling:
        extra_deletes, surge_nodes = _roll(strategy, desired, old_on, new_on, to_create, min_ready, now)
        deletes.extend(extra_deletes)
        to_create.extend(surge_nodes)
    names = fresh_names(f"{meta(daemon_set)['name']}-", seed, [str(meta(p)["name"]) for p in mine])
    creates = tuple(Create(new_pod(daemon_set, node, next(names), revision)) for node in to_create)

    status = _status(daemon_set, desired, misscheduled, old_on, new_on, min_ready, now)
    observed = daemon_set.get("status") or {}
    return Actions(creates=creates, deletes=tuple(deletes), status=status if status != observed else None)


def _status(
    daemon_set: Mapping[str, Any],
    desired: int,
    misscheduled: int,
    old_on: Mapping[str, Mapping[str, Any]],
    new_on: Mapping[str, Mapping[str, Any]],
    min_ready: int,
    now: datetime,
) -> Obj:
    """``DaemonSetStatus``; the four counts kube always writes, the others only when not zero."""
    scheduled = {**old_on, **new_on}
    status: Obj = {
        "currentNumberScheduled": len(set(old_on) | set(new_on)),
        "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired,
        "numberReady": sum(condition_true(p, "Ready") for p in scheduled.values()),
        "observedGeneration": meta(daemon_set).get("generation", 1),
    }
    counts = {
        "updatedNumberScheduled": len(new_on),
        "numberAvailable": sum(available(p, min_ready, now) for p in scheduled.values()),
    }
    counts["numberUnavailable"] = desired - counts["numberAvailable"]
    status.update({key: value for key, value in counts.items() if value})
    if collisions := (daemon_set.get("status") or {}).get("collisionCount"):
        status["collisionCount"] = collisions
    return status


def _roll(
    strategy: Mapping[str, Any],
    desired: int,
    old_on: Mapping[str, Mapping[str, Any]],
    new_on: Mapping[str, Mapping[str, Any]],
    missing: Sequence[str],
    min_ready: int,
    now: datetime,
) -> tuple[list[Delete], list[str]]:
    """``rollingUpdate``: which old pods to delete and on which nodes to surge a new pod."""
    params = strategy.get("rollingUpdate") or {}
    surge = _budget(params.get("maxSurge"), desired, 0)
    max_unavailable = _budget(params.get("maxUnavailable"), desired, 1 if surge == 0 else 0)
    deletes: list[Delete] = []
    surge_nodes: list[str] = []
    if surge > 0:
        surging = sum(1 for node in old_on if node in new_on)
        for node, old in sorted(old_on.items()):
            if node in new_on:
                if available(new_on[node], min_ready, now):
                    deletes.append(delete_of(old, reason="replaced by the updated daemon pod"))
                continue
            if not available(old, min_ready, now):
                deletes.append(delete_of(old, reason="old daemon pod unavailable"))
            elif surging < surge:
                surging += 1
                surge_nodes.append(node)
        return deletes, surge_nodes
    unavailable = len(missing) + sum(
        1
        for node, pod in {**old_on, **new_on}.items()
        if not available(pod, min_ready, now) and node not in missing
    )
    for node, old in sorted(old_on.items()):
        if node in new_on:
            deletes.append(delete_of(old, reason="replaced by the updated daemon pod"))
        elif not available(old, min_ready, now):
            deletes.append(delete_of(old, reason="old daemon pod unavailable"))
        elif unavailable < max_unavailable:
            unavailable += 1
            deletes.append(delete_of(old, reason="rolling update"))
    return deletes, surge_nodes
