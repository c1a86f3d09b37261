"""The workload kube controllers: Deployment, ReplicaSet, DaemonSet, Job, and node lifecycle.

Each reads what its pure ``decide`` needs through :class:`KubeObjects` (the store, so a sync always sees
its own earlier writes: no informer cache, no expectations), decides, and applies. Keys are an object's
namespace and name; a pod's change concerns its controller (the ``controller: true`` owner reference of
the right kind), and an orphan's every controller of that kind in its namespace, which may adopt it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from dockyard.control.kube.catalog import Resource, require
from dockyard.control.kube.controllers import daemonsets, jobs, nodes
from dockyard.control.kube.controllers.actions import Actions
from dockyard.control.kube.workloads import deployments, replicasets
from dockyard.control.kube.workloads.ownership import controller_of
from dockyard.services.kube.controllers.cluster import NODES, PODS, ObjectController, name_keys
from dockyard.services.kube.controllers.framework import KubeKey
from dockyard.store.kube import Change

Obj = dict[str, Any]
DEPLOYMENTS = require("apps", "v1", "deployments")
REPLICA_SETS = require("apps", "v1", "replicasets")
DAEMON_SETS = require("apps", "v1", "daemonsets")
JOBS = require("batch", "v1", "jobs")
LEASES = require("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"


class _OwnedController(ObjectController):
    """A controller of ``resource`` objects that own ``child`` objects: one sync reads the object,
    :meth:`decide` reads the rest and decides, the applier writes."""

    resource: Resource
    child: Resource
    syncs_while_deleted = True
    """Whether an object being deleted is still synced (its status kept, as kube's controllers do)."""

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        key = change.key
        if key.resource == self.resource.plural and key.api_group == self.resource.group:
            yield KubeKey(cluster_id, key.namespace, key.name)
        elif key.resource == self.child.plural and key.api_group == self.child.group:
            owner = controller_of(change.value)
            if owner is not None:
                if owner.get("kind") == self.resource.kind:
                    yield KubeKey(cluster_id, key.namespace, str(owner.get("name")))
            elif change.type != "DELETED":
                yield from name_keys(self._objects, cluster_id, self.resource, key.namespace)

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return name_keys(self._objects, cluster_id, self.resource)

    def sync(self, key: KubeKey) -> float | None:
        obj = self._get(key.cluster_id, self.resource, key.namespace, key.name)
        if obj is None or (obj["metadata"].get("deletionTimestamp") and not self.syncs_while_deleted):
            return None
        actions = self.decide(key, obj)
        self._applier.apply(key.cluster_id, actions, obj)
        return actions.requeue_after

    def decide(self, key: KubeKey, obj: Obj) -> Actions:
        """Read what the pure decision needs, and decide."""
        raise NotImplementedError


class ReplicaSetController(_OwnedController):
    """A ReplicaSet's pods follow spec.replicas (``replicasets.decide``)."""

    name = "kube-replicasets"
    resource = REPLICA_SETS
    child = PODS

    def decide(self, key: KubeKey, obj: Obj) -> Actions:
        pods = self._objects.list_objects(key.cluster_id, PODS, key.namespace).items
        related = self._siblings(key, obj, pods)
        return replicasets.decide(obj, pods, self._clock(), seed=secrets.token_hex(4), related=related)

    def _siblings(self, key: KubeKey, replica_set: Obj, pods: list[Obj]) -> list[Obj]:
        """The pods of the ReplicaSets that share this one's controller (a Deployment's other ones)."""
        owner = controller_of(replica_set)
        if owner is None:
            return []
        sets = self._objects.list_objects(key.cluster_id, REPLICA_SETS, key.namespace).items
        uids = {
            s["metadata"]["uid"]
            for s in sets
            if (controller_of(s) or {}).get("uid") == owner.get("uid")
            and s["metadata"]["uid"] != replica_set["metadata"]["uid"]
        }
        return [p for p in pods if (controller_of(p) or {}).get("uid") in uids]


class DeploymentController(_OwnedController):
    """A Deployment's ReplicaSets roll as its strategy says (``deployments.decide``)."""

    name = "kube-deployments"
    resource = DEPLOYMENTS
    child = REPLICA_SETS

    def decide(self, key: KubeKey, obj: Obj) -> Actions:
        sets = self._objects.list_objects(key.cluster_id, REPLICA_SETS, key.namespace).items
        pods = self._objects.list_objects(key.cluster_id, PODS, key.namespace).items
        return deployments.decide(obj, sets, pods, self._clock())


class JobController(_OwnedController):
    """A Job's pods run to completion (``jobs.decide``)."""

    name = "kube-jobs"
    resource = JOBS
    child = PODS

    def decide(self, key: KubeKey, obj: Obj) -> Actions:
        pods = self._objects.list_objects(key.cluster_id, PODS, key.namespace).items
        return jobs.decide(obj, pods, self._clock(), seed=secrets.token_hex(4))


class DaemonSetController(_OwnedController):
    """A DaemonSet runs one pod on each node it fits (``daemonsets.decide``)."""

    name = "kube-daemonsets"
    resource = DAEMON_SETS
    child = PODS

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        if change.key.resource == "nodes":
            yield from self.cluster_keys(cluster_id)
        else:
            yield from super().keys_for(cluster_id, change)

    syncs_while_deleted = False

    def decide(self, key: KubeKey, obj: Obj) -> Actions:
        node_list = self._objects.list_objects(key.cluster_id, NODES, None).items
        pods = self._objects.list_objects(key.cluster_id, PODS, key.namespace).items
        return daemonsets.decide(obj, node_list, pods, self._clock(), seed=secrets.token_hex(4))


class NodeLifecycleController(ObjectController):
    """Nodes whose kubelet stopped heartbeating go Unknown, get tainted, and lose their pods
    (``nodes.decide``)."""

    name = "kube-node-lifecycle"
    resync_period_s = 10.0

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        key = change.key
        if key.resource == "nodes" or (key.resource == "leases" and key.namespace == NODE_LEASE_NAMESPACE):
            yield KubeKey(cluster_id, "", key.name)

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return name_keys(self._objects, cluster_id, NODES)

    def sync(self, key: KubeKey) -> float | None:
        node = self._get(key.cluster_id, NODES, "", key.name)
        if node is None:
            return None
        lease = self._get(key.cluster_id, LEASES, NODE_LEASE_NAMESPACE, key.name)
        pods = self._objects.list_objects(
            key.cluster_id, PODS, None, field_selector=f"spec.nodeName={key.name}"
        ).items
        actions = nodes.decide(node, lease, pods, self._clock())
        self._applier.apply(key.cluster_id, actions, node)
        return actions.requeue_after
