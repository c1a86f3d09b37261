"""The cluster-wide kube controllers: namespace lifecycle, garbage collector, service accounts, endpoints.

Each reads what its pure ``decide`` needs through :class:`KubeObjects`, decides, and applies. Keys:
a namespace's name (namespaces, service accounts), a Service's namespace and name (endpoints), the
whole cluster (the garbage collector: ``KubeKey(cluster, "", "")``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from dockyard.control.kube.catalog import RESOURCES, Resource, require
from dockyard.control.kube.controllers import endpoints, garbage, namespaces
from dockyard.control.kube.controllers.actions import Actions, Create
from dockyard.control.kube.errors import KubeError
from dockyard.core.clock import Clock
from dockyard.services.kube.controllers.apply import Applier
from dockyard.services.kube.controllers.framework import KubeKey
from dockyard.services.kube.objects import KubeObjects
from dockyard.store.kube import Change

Obj = dict[str, Any]
NAMESPACES = require("", "v1", "namespaces")
SERVICES = require("", "v1", "services")
PODS = require("", "v1", "pods")
ENDPOINTS = require("", "v1", "endpoints")
SLICES = require("discovery.k8s.io", "v1", "endpointslices")
SERVICE_ACCOUNTS = require("", "v1", "serviceaccounts")
NODES = require("", "v1", "nodes")
_NAMESPACED = tuple(r for r in RESOURCES if r.namespaced)


def name_keys(
    objects: KubeObjects, cluster_id: int, resource: Resource, namespace: str | None = None
) -> list[KubeKey]:
    """The key of every ``resource`` object of the cluster (or of one namespace)."""
    listing = objects.list_objects(cluster_id, resource, namespace)
    return [
        KubeKey(cluster_id, o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in listing.items
    ]


class ObjectController:
    """What every object-reading kube controller shares: the objects, the clock, an applier."""

    resync_period_s = 30.0

    def __init__(self, objects: KubeObjects, *, clock: Clock) -> None:
        self._objects = objects
        self._clock = clock
        self._applier = Applier(objects)

    def _get(self, cluster_id: int, resource: Resource, namespace: str, name: str) -> Obj | None:
        try:
            return self._objects.get(cluster_id, resource, namespace, name)
        except KubeError as error:
            if error.code == 404:
                return None
            raise


class NamespaceController(ObjectController):
    """Deletes a Terminating namespace's content, then the namespace (``namespaces.decide``)."""

    name = "kube-namespaces"

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        if change.key.resource == "namespaces":
            yield KubeKey(cluster_id, "", change.key.name)
        elif change.type == "DELETED" and change.key.namespace:
            yield KubeKey(cluster_id, "", change.key.namespace)  # its namespace may be waiting for this

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return name_keys(self._objects, cluster_id, NAMESPACES)

    def sync(self, key: KubeKey) -> float | None:
        namespace = self._get(key.cluster_id, NAMESPACES, "", key.name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return None
        contents = {
            f"{r.plural}.{r.group}": self._objects.list_objects(key.cluster_id, r, key.name).items
            for r in _NAMESPACED
        }
        actions = namespaces.decide(namespace, contents, self._clock())
        self._applier.apply(key.cluster_id, actions, namespace)
        return (
            actions.requeue_after
            if actions.requeue_after is not None
            else (2.0 if not actions.empty else None)
        )


class GarbageCollector(ObjectController):
    """Deletes objects whose owners are gone; finishes foreground and orphan deletions."""

    name = "kube-garbage-collector"
    resync_period_s = 20.0

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        value = change.value.get("metadata") or {}
        if change.type == "DELETED" or value.get("ownerReferences") or value.get("deletionTimestamp"):
            yield KubeKey(cluster_id, "", "")

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return [KubeKey(cluster_id, "", "")]

    def sync(self, key: KubeKey) -> float | None:
        everything: list[Obj] = []
        for resource in RESOURCES:
            everything.extend(self._objects.list_objects(key.cluster_id, resource, None).items)
        scope = {(r.group_version, r.kind): r.namespaced for r in RESOURCES}
        actions = garbage.decide(everything, scope=lambda api_version, kind: scope.get((api_version, kind)))
        self._applier.apply(key.cluster_id, actions)
        return None


class ServiceAccountController(ObjectController):
    """Every active namespace has the ServiceAccount ``default`` (kube's serviceaccounts-controller)."""

    name = "kube-serviceaccounts"

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        if change.key.resource == "namespaces" and change.type == "ADDED":
            yield KubeKey(cluster_id, "", change.key.name)
        elif change.key.resource == "serviceaccounts" and change.type == "DELETED":
            yield KubeKey(cluster_id, "", change.key.namespace)

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return name_keys(self._objects, cluster_id, NAMESPACES)

    def sync(self, key: KubeKey) -> float | None:
        namespace = self._get(key.cluster_id, NAMESPACES, "", key.name)
        if namespace is None or namespace["metadata"].get("deletionTimestamp"):
            return None
        if self._get(key.cluster_id, SERVICE_ACCOUNTS, key.name, "default") is None:
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": key.name},
            }
            self._applier.apply(key.cluster_id, Actions(creates=(Create(account),)))
        return None


class EndpointsController(ObjectController):
    """A Service's Endpoints and EndpointSlices follow the ready pods its selector picks."""

    name = "kube-endpoints"

    def keys_for(self, cluster_id: int, change: Change) -> Iterable[KubeKey]:
        resource = change.key.resource
        if resource == "services":
            yield KubeKey(cluster_id, change.key.namespace, change.key.name)
        elif resource == "pods":
            labels = (change.value.get("metadata") or {}).get("labels") or {}
            for service in self._objects.list_objects(cluster_id, SERVICES, change.key.namespace).items:
                selector = (service.get("spec") or {}).get("selector")
                if selector and all(labels.get(k) == v for k, v in selector.items()):
                    yield KubeKey(cluster_id, change.key.namespace, service["metadata"]["name"])
                elif selector and change.type != "ADDED":
                    yield KubeKey(
                        cluster_id, change.key.namespace, service["metadata"]["name"]
                    )  # may have left

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        return name_keys(self._objects, cluster_id, SERVICES)

    def sync(self, key: KubeKey) -> float | None:
        cluster_id, namespace, name = key.cluster_id, key.namespace, key.name
        if namespace == "default" and name == "kubernetes":
            return None  # kube-apiserver keeps its own endpoints
        service = self._get(cluster_id, SERVICES, namespace, name)
        pods = self._objects.list_objects(cluster_id, PODS, namespace).items
        existing = self._get(cluster_id, ENDPOINTS, namespace, name)
        self._applier.apply(cluster_id, endpoints.decide_endpoints(service, pods, existing))
        slices = self._objects.list_objects(
            cluster_id, SLICES, namespace, label_selector=f"kubernetes.io/service-name={name}"
        ).items
        nodes = self._objects.list_objects(cluster_id, NODES, None).items
        actions = endpoints.decide_endpoint_slices(
            service, pods, slices, seed=secrets.token_hex(4), nodes=nodes
        )
        self._applier.apply(cluster_id, actions)
        return None
