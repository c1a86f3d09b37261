"""The Deployment controller (apps/v1), as kube-controller-manager v1.33 runs it. Pure.

One sync (``DeploymentController.syncDeployment``)::

    ReplicaSets of the namespace ─▶ claim (adopt matching orphans, release non-matching)
    new ReplicaSet = the oldest owned one whose template equals spec.template, pod-template-hash aside
    being deleted ─▶ the status only;  paused ─▶ no rollout (no new ReplicaSet), status with
        Progressing Unknown DeploymentPaused
    no new ReplicaSet ─▶ create ``<deployment>-<hash>`` (labels and selector + pod-template-hash, the
        deployment's annotations, revision = 1 + the highest old one, desired-/max-replicas), scaled as
        the strategy allows; a name taken by a ReplicaSet with another template ─▶ status.collisionCount+1
    a new ReplicaSet that was an old one (``kubectl rollout undo``) ─▶ its revision moves to the top,
        the old number kept in revision-history
    RollingUpdate (maxSurge 25% rounded up, maxUnavailable 25% rounded down):
        scale the new one up to ≤ replicas, keeping all pods ≤ replicas + maxSurge;
        scale old ones down — unhealthy replicas first — keeping available ≥ replicas - maxUnavailable
    Recreate: old ones to 0; once none of their pods is left, the new one to replicas
    complete ─▶ old ReplicaSets beyond revisionHistoryLimit (10) deleted, oldest revision first
    status ─▶ replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
        conditions Available (MinimumReplicasAvailable / MinimumReplicasUnavailable) and Progressing
        (NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded after
        progressDeadlineSeconds without progress), observedGeneration

``kubectl rollout status`` reads exactly these fields; ``kubectl rollout undo`` is client-side (it copies
an old ReplicaSet's template back into the Deployment), which lands here as a template change.

Not matched: proportional scaling of several live ReplicaSets when replicas changes mid-rollout (the new
one absorbs the change), and ``kubectl rollout pause``'s effect on scaling (a paused deployment still
scales its new ReplicaSet, but old ones are not touched).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Create,
    Delete,
    Obj,
    Patch,
    delete_of,
    find_condition,
    meta,
    parse_time,
    ref_of,
    timestamp,
)
from dockyard.control.kube.controllers.daemonsets import template_hash
from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.selectors import from_structured
from dockyard.control.kube.workloads import pods as pod_rules
from dockyard.control.kube.workloads.ownership import claim, owner_reference

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
"""``skipCopyAnnotation``: the deployment's annotations a ReplicaSet does not inherit."""
DEFAULT_PROGRESS_DEADLINE_S = 600
DEFAULT_HISTORY_LIMIT = 10
AVAILABLE, PROGRESSING = "Available", "Progressing"


# ── Reading the spec ────────────────────────────────────────────────────────────────────────────────


def _replicas(obj: Mapping[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _scaled(value: int | str | None, total: int, *, round_up: bool, default: str) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def surge_and_unavailable(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """``ResolveFenceposts``: (maxSurge, maxUnavailable); both zero becomes unavailable 1."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = _replicas(deployment)
    surge = _scaled(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
    unavailable = _scaled(rolling.get("maxUnavailable"), replicas, round_up=False, default="25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def _without_hash(template: Mapping[str, Any]) -> Obj:
    template_meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (template_meta.get("labels") or {}).items() if k != HASH_LABEL}
    template_meta["labels"] = labels or None
    return {**template, "metadata": {k: v for k, v in template_meta.items() if v is not None}}


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """``EqualIgnoreHash``: two pod templates alike but for the pod-template-hash label."""
    return _without_hash(a) == _without_hash(b)


def revision_of(replica_set: Mapping[str, Any]) -> int:
    try:
        return int((meta(replica_set).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _created(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(meta(obj).get("creationTimestamp") or ""), str(meta(obj).get("name"))


# ── Scaling decisions (on spec.replicas of each ReplicaSet, in memory) ───────────────────────────────


def _spec_replicas(replica_set: Mapping[str, Any]) -> int:
    return int((replica_set.get("spec") or {}).get("replicas", 0))


def _available(replica_set: Mapping[str, Any]) -> int:
    return int((replica_set.get("status") or {}).get("availableReplicas") or 0)


def _new_replicas(deployment: Mapping[str, Any], all_sets: Sequence[Mapping[str, Any]], current: int) -> int:
    """``NewRSNewReplicas``: what the new ReplicaSet may be scaled to now."""
    replicas = _replicas(deployment)
    strategy = ((deployment.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        return replicas
    surge, _ = surge_and_unavailable(deployment)
    total = sum(_spec_replicas(rs) for rs in all_sets)
    if total >= replicas + surge:
        return current
    return current + min(replicas + surge - total, max(replicas - current, 0))


def _roll(deployment: Mapping[str, Any], new: Obj, old: list[Obj], counts: dict[str, int]) -> None:
    """``rolloutRolling`` on ``counts`` (ReplicaSet name → spec.replicas to set)."""
    replicas = _replicas(deployment)
    name = str(meta(new)["name"])
    current = counts[name]
    if current > replicas:
        counts[name] = replicas
        return
    if current < replicas:
        scaled = _new_replicas(
            deployment, [{"spec": {"replicas": counts[str(meta(rs)["name"])]}} for rs in [new, *old]], current
        )
        if scaled != current:
            counts[name] = scaled
            return  # kube returns after a scale-up: the old ones are looked at on the next sync
    _, max_unavailable = surge_and_unavailable(deployment)
    min_available = replicas - max_unavailable
    old_total = sum(counts[str(meta(rs)["name"])] for rs in old)
    if old_total == 0:
        return
    all_total = counts[name] + old_total
    new_unavailable = counts[name] - _available(new)
    budget = all_total - min_available - new_unavailable
    if budget <= 0:
        return
    ordered = sorted(old, key=_created)
    cleaned = 0
    for rs in ordered:  # cleanupUnhealthyReplicas
        rs_name = str(meta(rs)["name"])
        if cleaned >= budget:
            break
        unhealthy = counts[rs_name] - _available(rs)
        if counts[rs_name] == 0 or unhealthy <= 0:
            continue
        down = min(budget - cleaned, unhealthy)
        counts[rs_name] -= down
        cleaned += down
    available = _available(new) + sum(min(_available(rs), counts[str(meta(rs)["name"])]) for rs in old)
    room = available - min_available  # scaleDownOldReplicaSetsForRollingUpdate
    for rs in ordered:
        if room <= 0:
            break
        rs_name = str(meta(rs)["name"])
        down = min(counts[rs_name], room)
        counts[rs_name] -= down
        room -= down


def _recreate(
    deployment: Mapping[str, Any],
    new: Obj,
    old: list[Obj],
    counts: dict[str, int],
    pods_of: Mapping[str, list[Mapping[str, Any]]],
) -> None:
    """``rolloutRecreate``: old ones to zero, then — once their pods are gone — the new one up."""
    if any(counts[str(meta(rs)["name"])] for rs in old):
        for rs in old:
            counts[str(meta(rs)["name"])] = 0
        return
    if any(
        pod_rules.phase(p) not in ("Succeeded", "Failed")
        for rs in old
        for p in pods_of.get(str(meta(rs)["uid"]), [])
    ):
        return
    counts[str(meta(new)["name"])] = _replicas(deployment)


# ── The new ReplicaSet ──────────────────────────────────────────────────────────────────────────────


def _copied_annotations(deployment: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in (meta(deployment).get("annotations") or {}).items() if k not in _NOT_COPIED}


def new_replica_set(deployment: Mapping[str, Any], pod_hash: str, revision: int, replicas: int) -> Obj:
    """The ReplicaSet ``getNewReplicaSet`` creates for the deployment's current template."""
    spec = deployment.get("spec") or {}
    template = dict(spec.get("template") or {})
    template_meta = dict(template.get("metadata") or {})
    labels = {**(template_meta.get("labels") or {}), HASH_LABEL: pod_hash}
    template = {**template, "metadata": {**template_meta, "labels": labels}}
    selector = dict(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    surge, _ = surge_and_unavailable(deployment)
    annotations = {
        **_copied_annotations(deployment),
        REVISION: str(revision),
        DESIRED_REPLICAS: str(_replicas(deployment)),
        MAX_REPLICAS: str(_replicas(deployment) + surge),
    }
    rs_spec: Obj = {"replicas": replicas, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta(deployment)['name']}-{pod_hash}",
            "namespace": meta(deployment).get("namespace"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": rs_spec,
    }


# ── Status ──────────────────────────────────────────────────────────────────────────────────────────


def _condition(
    conditions: list[Obj], kind: str, status: str, reason: str, message: str, now: datetime
) -> list[Obj]:
    """``SetDeploymentCondition``: lastUpdateTime always moves, lastTransitionTime only with the status;
    an identical condition (status and reason) is kept as it was, as kube keeps it."""
    stamp = timestamp(now)
    current = find_condition(conditions, kind)
    if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
        status,
        reason,
        message,
    ):
        return conditions
    transition = (
        current.get("lastTransitionTime", stamp)
        if current is not None and current.get("status") == status
        else stamp
    )
    new = {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
    return [c for c in conditions if c.get("type") != kind] + [new]


def _counts(
    deployment: Mapping[str, Any], sets: Sequence[Mapping[str, Any]], new: Mapping[str, Any] | None
) -> Obj:
    def total(key: str, among: Iterable[Mapping[str, Any]]) -> int:
        return sum(int((rs.get("status") or {}).get(key) or 0) for rs in among)

    available = total("availableReplicas", sets)
    counts = {
        "replicas": total("replicas", sets),
        "updatedReplicas": total("replicas", [new] if new is not None else []),
        "readyReplicas": total("readyReplicas", sets),
        "availableReplicas": available,
        "unavailableReplicas": max(sum(_spec_replicas(rs) for rs in sets) - available, 0),
    }
    return counts


def _complete(deployment: Mapping[str, Any], counts: Mapping[str, int]) -> bool:
    """``DeploymentComplete``."""
    replicas = _replicas(deployment)
    return (
        counts["updatedReplicas"] == replicas
        and counts["replicas"] == replicas
        and counts["availableReplicas"] == replicas
    )


def _progressed(old: Mapping[str, Any], counts: Mapping[str, int]) -> bool:
    """``DeploymentProgressing``: more updated, ready or available replicas, or fewer old ones."""
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = counts["replicas"] - counts["updatedReplicas"]
    return (
        counts["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or counts["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or counts["availableReplicas"] > int(old.get("availableReplicas") or 0)
    )


def _status(
    deployment: Mapping[str, Any],
    sets: Sequence[Mapping[str, Any]],
    new: Mapping[str, Any] | None,
    now: datetime,
    *,
    created: str | None,
) -> tuple[Obj, float | None]:
    """The deployment's next status, and when to look again for the progress deadline."""
    observed: Obj = dict(deployment.get("status") or {})
    counts = _counts(deployment, sets, new)
    conditions: list[Obj] = [dict(c) for c in observed.get("conditions") or []]
    _, max_unavailable = surge_and_unavailable(deployment)
    if counts["availableReplicas"] >= _replicas(deployment) - max_unavailable:
        conditions = _condition(
            conditions,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        conditions = _condition(
            conditions,
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    spec = deployment.get("spec") or {}
    new_name = created or (str(meta(new)["name"]) if new is not None else "")
    deadline_s = spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_S)
    wake: float | None = None
    if spec.get("paused"):
        conditions = _condition(
            conditions, PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused", now
        )
    elif created:
        conditions = _condition(
            conditions,
            PROGRESSING,
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{new_name}"',
            now,
        )
    elif new is not None and _complete(deployment, counts):
        conditions = _condition(
            conditions,
            PROGRESSING,
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{new_name}" has successfully progressed.',
            now,
        )
    elif new is not None and _progressed(observed, counts):
        conditions = _condition(
            conditions,
            PROGRESSING,
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{new_name}" is progressing.',
            now,
        )
        conditions = _touch(conditions, PROGRESSING, now)
    elif new is not None and deadline_s is not None:
        current = find_condition(conditions, PROGRESSING)
        since = parse_time((current or {}).get("lastUpdateTime")) or now
        due = since + timedelta(seconds=int(deadline_s))
        if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
            pass  # stays timed out until progress is made
        elif due <= now:
            conditions = _condition(
                conditions,
                PROGRESSING,
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{new_name}" has timed out progressing.',
                now,
            )
        else:
            wake = (due - now).total_seconds() + 1
    status: Obj = {k: v for k, v in observed.items() if k not in counts}
    status.update({k: v for k, v in counts.items() if v})
    if meta(deployment).get("generation") is not None:
        status["observedGeneration"] = meta(deployment)["generation"]
    status["conditions"] = conditions
    return status, wake


def _touch(conditions: list[Obj], kind: str, now: datetime) -> list[Obj]:
    """Progress was made: the condition's lastUpdateTime moves (the progress deadline restarts)."""
    return [{**c, "lastUpdateTime": timestamp(now)} if c.get("type") == kind else c for c in conditions]


# ── One sync ────────────────────────────────────────────────────────────────────────────────────────


def decide(
    deployment: Mapping[str, Any],
    replica_sets: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    now: datetime,
) -> Actions:
    """One sync of ``deployment``; ``replica_sets`` and ``pods`` are the namespace's."""
    spec = deployment.get("spec") or {}
    namespace = meta(deployment).get("namespace")
    try:
        selector = from_structured(spec.get("selector"))
    except SelectorError:
        return Actions()
    candidates = [dict(rs) for rs in replica_sets if meta(rs).get("namespace") == namespace]
    claimed = claim(deployment, selector, candidates)
    owned = sorted(claimed.owned, key=_created)
    template = spec.get("template") or {}
    new = next(
        (rs for rs in owned if same_template((rs.get("spec") or {}).get("template") or {}, template)), None
    )
    old = [rs for rs in owned if rs is not new]
    creates: list[Create] = []
    patches: list[Patch] = list(claimed.patches)
    deletes: list[Delete] = []
    observed = deployment.get("status") or {}
    created: str | None = None

    if meta(deployment).get("deletionTimestamp") is not None:
        status, _ = _status(deployment, owned, new, now, created=None)
        return Actions(patches=tuple(patches), status=status if status != observed else None)

    max_old_revision = max((revision_of(rs) for rs in old), default=0)
    if new is None and not spec.get("paused"):
        pod_hash = template_hash(deployment)
        name = f"{meta(deployment)['name']}-{pod_hash}"
        if any(meta(rs).get("name") == name for rs in candidates):  # a hash collision: another template
            collisions = int(observed.get("collisionCount") or 0) + 1
            return Actions(
                patches=tuple(patches), status={**observed, "collisionCount": collisions}, requeue_after=0.5
            )
        rolling = (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        initial = _new_replicas(deployment, old, 0) if rolling else 0  # Recreate: once the old are gone
        creates.append(Create(new_replica_set(deployment, pod_hash, max_old_revision + 1, initial)))
        created = name
    elif new is not None:
        patches.extend(_new_set_annotations(deployment, new, max_old_revision))

    waiting = False
    if new is not None:
        scale_patches, cleanup, waiting = _scale(deployment, new, old, pods)
        patches.extend(scale_patches)
        deletes.extend(cleanup)

    status, wake = _status(deployment, owned, new, now, created=created)
    revision: str | None = None
    if created or (new is not None and revision_of(new) <= max_old_revision):
        revision = str(max_old_revision + 1)
    elif new is not None:
        revision = str(revision_of(new))
    annotations = meta(deployment).get("annotations") or {}
    if revision is not None and annotations.get(REVISION) != revision:
        patches.append(Patch(ref_of(deployment), {"metadata": {"annotations": {REVISION: revision}}}))
    waits = [wake] if wake is not None else []
    if waiting:
        waits.append(1.0)  # Recreate: the old pods are still going
    return Actions(
        creates=tuple(creates),
        patches=tuple(patches),
        deletes=tuple(deletes),
        status=status if status != observed else None,
        requeue_after=min(waits) if waits else None,
    )


def _scale(
    deployment: Mapping[str, Any], new: Obj, old: list[Obj], pods: Iterable[Mapping[str, Any]]
) -> tuple[list[Patch], list[Delete], bool]:
    """The ReplicaSets' new spec.replicas as patches, the history clean-up, and whether a Recreate
    waits for old pods to go."""
    spec = deployment.get("spec") or {}
    owned = [new, *old]
    counts = {str(meta(rs)["name"]): _spec_replicas(rs) for rs in owned}
    new_name = str(meta(new)["name"])
    waiting = False
    if spec.get("paused"):
        if not any(counts[str(meta(rs)["name"])] for rs in old):
            counts[new_name] = _replicas(deployment)  # a paused deployment still scales
    elif (spec.get("strategy") or {}).get("type", "RollingUpdate") == "Recreate":
        pods_of: dict[str, list[Mapping[str, Any]]] = {}
        for pod in pods:
            for ref in meta(pod).get("ownerReferences") or ():
                if ref.get("controller"):
                    pods_of.setdefault(str(ref.get("uid")), []).append(pod)
        _recreate(deployment, new, old, counts, pods_of)
        waiting = counts[new_name] < _replicas(deployment)
    else:
        _roll(deployment, new, old, counts)
    patches = [
        Patch(ref_of(rs, with_version=True), {"spec": {"replicas": counts[str(meta(rs)["name"])]}})
        for rs in owned
        if counts[str(meta(rs)["name"])] != _spec_replicas(rs)
    ]
    deletes: list[Delete] = []
    if _complete(deployment, _counts(deployment, owned, new)) and not any(
        counts[str(meta(rs)["name"])] for rs in old
    ):
        deletes = _history_cleanup(deployment, old, counts)
    return patches, deletes, waiting


def _new_set_annotations(
    deployment: Mapping[str, Any], new: Mapping[str, Any], max_old_revision: int
) -> list[Patch]:
    """The new ReplicaSet's revision on top (rollback), and the deployment's annotations copied over."""
    current = dict(meta(new).get("annotations") or {})
    wanted = dict(current)
    wanted.update(_copied_annotations(deployment))
    surge, _ = surge_and_unavailable(deployment)
    wanted[DESIRED_REPLICAS] = str(_replicas(deployment))
    wanted[MAX_REPLICAS] = str(_replicas(deployment) + surge)
    revision = revision_of(new)
    if revision <= max_old_revision:
        history = [h for h in str(current.get(REVISION_HISTORY, "")).split(",") if h]
        if revision:
            history.append(str(revision))
        wanted[REVISION] = str(max_old_revision + 1)
        if history:
            wanted[REVISION_HISTORY] = ",".join(history)
    if wanted == current:
        return []
    return [Patch(ref_of(new), {"metadata": {"annotations": wanted}})]


def _history_cleanup(
    deployment: Mapping[str, Any], old: Sequence[Obj], counts: Mapping[str, int]
) -> list[Delete]:
    """``cleanupDeployment``: old ReplicaSets with no replicas beyond revisionHistoryLimit, oldest first."""
    limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT))
    idle = [
        rs
        for rs in old
        if counts[str(meta(rs)["name"])] == 0
        and not int((rs.get("status") or {}).get("replicas") or 0)
        and meta(rs).get("deletionTimestamp") is None
    ]
    idle.sort(key=lambda rs: (revision_of(rs), _created(rs)))
    surplus = len(idle) - limit
    return [delete_of(rs, reason="revision history limit") for rs in idle[: max(surplus, 0)]]
