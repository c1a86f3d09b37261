"""kube-scheduler's loop: pods without a node are placed by the pure scheduler
(``control/kube/scheduling``) and bound through ``pods/binding``; a pod that fits nowhere gets
``PodScheduled=False`` with kube's FailedScheduling message and is tried again when a node changes.

Keys are pods (namespace, name). Each sync builds the snapshot from the cluster's nodes and bound pods;
a bind that loses a race (409: already bound, or the pod changed) is moot.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

from dockyard.control.kube.catalog import require
from dockyard.control.kube.errors import KubeError
from dockyard.control.kube.scheduling.binding import binding, unschedulable_condition
from dockyard.control.kube.scheduling.schedule import schedule
from dockyard.control.kube.scheduling.snapshot import ClusterSnapshot
from dockyard.core.clock import Clock
from dockyard.services.kube.controllers.framework import KubeKey
from dockyard.services.kube.objects import KubeObjects, WriteOptions, rfc3339
from dockyard.services.kube.subresources import KubeSubresources
from dockyard.store.kube import Change

PODS = require("", "v1", "pods")
NODES = require("", "v1", "nodes")
SCHEDULER = WriteOptions("default-scheduler")
RETRY_UNSCHEDULABLE_S = 10.0


def _pending(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
    )


class SchedulerController:
    name = "kube-scheduler"
    resync_period_s = 15.0

    def __init__(self, objects: KubeObjects, *, clock: Clock, rng: random.Random | None = None) -> None:
        self._objects = objects
        self._clock = clock
        self._subresources = KubeSubresources(objects)
        self._rng = rng or random.Random()  # noqa: S311 - tie-breaking among nodes, not secrecy

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        if change.key.resource == "pods" and change.type != "DELETED" and _pending(change.value):
            yield KubeKey(cluster_id, change.key.namespace, change.key.name)
        elif change.key.resource == "nodes" or (change.key.resource == "pods" and change.type == "DELETED"):
            yield from self.cluster_keys(cluster_id)  # room may have appeared for a waiting pod

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        pods = self._objects.list_objects(cluster_id, PODS, None, field_selector="spec.nodeName=").items
        return [
            KubeKey(cluster_id, p["metadata"]["namespace"], p["metadata"]["name"])
            for p in pods
            if _pending(p)
        ]

    def sync(self, key: KubeKey) -> float | None:
        try:
            pod = self._objects.get(key.cluster_id, PODS, key.namespace, key.name)
        except KubeError as error:
            if error.code == 404:
                return None
            raise
        if not _pending(pod):
            return None
        nodes = self._objects.list_objects(key.cluster_id, NODES, None).items
        bound = self._objects.list_objects(key.cluster_id, PODS, None).items
        snapshot = ClusterSnapshot.build(nodes, bound)
        result = schedule(pod, snapshot, rng=self._rng)
        if result.node_name is not None:
            try:
                self._subresources.bind(
                    key.cluster_id, key.namespace, key.name, binding(pod, result.node_name), SCHEDULER
                )
            except KubeError as error:
                if error.code not in (404, 409):
                    raise
            return None
        condition = unschedulable_condition(result.message, rfc3339(self._clock()))
        current = [
            c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"
        ]
        if not current or current[0].get("message") != result.message or current[0].get("status") != "False":
            others = [
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") != "PodScheduled"
            ]
            patch = {
                "metadata": {"resourceVersion": pod["metadata"]["resourceVersion"]},
                "status": {"conditions": [*others, condition]},
            }
            try:
                self._objects.patch(
                    key.cluster_id,
                    PODS,
                    key.namespace,
                    key.name,
                    "application/merge-patch+json",
                    json.dumps(patch).encode(),
                    SCHEDULER,
                    subresource="status",
                )
            except KubeError as error:
                if error.code not in (404, 409):
                    raise
        return RETRY_UNSCHEDULABLE_S
