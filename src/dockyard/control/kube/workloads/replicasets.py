"""The ReplicaSet controller (apps/v1), as kube-controller-manager v1.33 runs it. Pure.

One sync (``ReplicaSetController.syncReplicaSet``)::

    active pods of the namespace (not Succeeded/Failed, not being deleted)
      ─▶ claim: those it controls, orphans matching the selector adopted, its pods no longer matching
         released (ownership.claim)
    being deleted ─▶ nothing but the status
    fewer than spec.replicas ─▶ create the missing pods from spec.template (``<rs>-xxxxx``, a controller
        ownerReference), at most :data:`BURST_REPLICAS` per sync
    more ─▶ delete the surplus in kube's order (``deletion_order``: unscheduled, pending, not ready…
        first; ``related`` are the pods of the ReplicaSet's siblings, so a Deployment's scale-down
        spreads over nodes as kube's does)
    status ─▶ replicas (active pods it owns, as counted before this sync's creates and deletes),
        fullyLabeledReplicas, readyReplicas, availableReplicas (ready for more than minReadySeconds),
        observedGeneration — zero counts omitted, as kube's JSON omits them

A ready pod that is not yet available brings the ReplicaSet back when it will be (``requeue_after``).

Not matched: kube's expectations (it waits for its informer cache to see its own creates; here the sync
reads the store, which already holds them), slow-start batching of creates, the ReplicaFailure
condition, and ``terminatingReplicas`` (alpha in v1.33).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Create,
    Delete,
    Obj,
    delete_of,
    fresh_names,
    meta,
)
from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.selectors import from_structured
from dockyard.control.kube.workloads import pods as pod_rules
from dockyard.control.kube.workloads.ownership import claim, owner_reference

BURST_REPLICAS = 500
"""kube's ``BurstReplicas``: the most pods one sync creates or deletes."""


def new_pod(replica_set: Mapping[str, Any], name: str) -> Obj:
    """A pod of ``replica_set`` as the controller makes it from ``spec.template``."""
    template = (replica_set.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    metadata: Obj = {
        "name": name,
        "generateName": f"{meta(replica_set)['name']}-",
        "namespace": meta(replica_set).get("namespace"),
        "labels": dict(template_meta.get("labels") or {}),
        "ownerReferences": [owner_reference(replica_set)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": dict(template.get("spec") or {})}


def _count(status: Obj, key: str, value: int) -> None:
    if value:
        status[key] = value
    else:
        status.pop(key, None)


def status_of(replica_set: Mapping[str, Any], owned: Iterable[Mapping[str, Any]], now: datetime) -> Obj:
    """``calculateStatus``: the counts over the active pods the ReplicaSet owns."""
    spec = replica_set.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels: Mapping[str, str] = ((spec.get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}
    pods = list(owned)
    status: Obj = dict(replica_set.get("status") or {})
    status["replicas"] = len(pods)
    labelled = sum(
        all((meta(p).get("labels") or {}).get(k) == v for k, v in template_labels.items()) for p in pods
    )
    _count(status, "fullyLabeledReplicas", labelled)
    _count(status, "readyReplicas", sum(pod_rules.is_ready(p) for p in pods))
    _count(status, "availableReplicas", sum(pod_rules.is_available(p, min_ready, now) for p in pods))
    if meta(replica_set).get("generation") is not None:
        status["observedGeneration"] = meta(replica_set)["generation"]
    return status


def decide(
    replica_set: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    seed: int | str,
    related: Iterable[Mapping[str, Any]] = (),
) -> Actions:
    """One sync of ``replica_set``; ``pods`` are the namespace's (others' are ignored), ``related`` its
    siblings' pods (a Deployment's other ReplicaSets), which rank the surplus for deletion."""
    spec = replica_set.get("spec") or {}
    namespace = meta(replica_set).get("namespace")
    candidates = [dict(p) for p in pods if meta(p).get("namespace") == namespace and pod_rules.is_active(p)]
    try:
        selector = from_structured(spec.get("selector"))
    except SelectorError:
        return Actions()  # validation keeps these out; a stored one is left alone
    claimed = claim(replica_set, selector, candidates)
    owned = list(claimed.owned)
    observed = replica_set.get("status") or {}
    status = status_of(replica_set, owned, now)

    creates: tuple[Create, ...] = ()
    deletes: tuple[Delete, ...] = ()
    if meta(replica_set).get("deletionTimestamp") is None:
        wanted = int(spec.get("replicas", 1))
        missing = min(wanted - len(owned), BURST_REPLICAS)
        if missing > 0:
            names = fresh_names(f"{meta(replica_set)['name']}-", seed, [str(meta(p)["name"]) for p in owned])
            creates = tuple(Create(new_pod(replica_set, next(names))) for _ in range(missing))
        elif missing < 0:
            order = pod_rules.deletion_order(owned, [*owned, *related], now)
            surplus = order[: min(-missing, BURST_REPLICAS)]
            deletes = tuple(delete_of(p, reason="surplus replica") for p in surplus)

    min_ready = int(spec.get("minReadySeconds") or 0)
    waits = [w for p in owned if (w := pod_rules.available_in(p, min_ready, now)) is not None]
    return Actions(
        creates=creates,
        patches=claimed.patches,
        deletes=deletes,
        status=status if status != observed else None,
        requeue_after=min(waits) if waits else None,
    )
