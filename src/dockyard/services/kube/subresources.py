"""The subresources that are not the object itself: ``scale`` (autoscaling/v1 Scale of a workload),
``pods/binding`` (the scheduler's choice of node) and ``pods/eviction`` (a delete through the eviction
API; no PodDisruptionBudgets are served, so an eviction always goes ahead)."""

from __future__ import annotations

import json
from typing import Any

from dockyard.control.kube.catalog import Resource, require
from dockyard.control.kube.errors import BadRequestError, KubeError
from dockyard.control.kube.patch import apply_patch
from dockyard.control.kube.selectors import from_structured
from dockyard.control.kube.validation import invalid
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions, conflict, rfc3339

Obj = dict[str, Any]
PODS = require("", "v1", "pods")
PATCH_ATTEMPTS = 5
"""How often a patch of a scale is applied to a fresh read before a conflict is answered."""


def _names_version(content_type: str, scale: Obj, body: bytes) -> bool:
    """Whether a patch sets ``metadata.resourceVersion`` itself (a precondition the caller asked for):
    applied to the scale without one, the result has one. A patch that needs it to apply counts too."""
    unversioned = {
        **scale,
        "metadata": {k: v for k, v in scale["metadata"].items() if k != "resourceVersion"},
    }
    try:
        patched = apply_patch(content_type, unversioned, body, api_version="autoscaling/v1", kind="Scale")
    except KubeError:
        return True
    return bool((patched.get("metadata") or {}).get("resourceVersion"))


class KubeSubresources:
    def __init__(self, objects: KubeObjects) -> None:
        self._objects = objects

    # --- scale ----------------------------------------------------------------------------------------------

    def get_scale(self, cluster_id: int, resource: Resource, namespace: str, name: str) -> Obj:
        return scale_of(self._objects.get(cluster_id, resource, namespace, name))

    def update_scale(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        name: str,
        scale: Any,
        options: WriteOptions,
    ) -> Obj:
        if not isinstance(scale, dict):
            raise BadRequestError("the body of the request was in an unknown format")
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            problem = f"Invalid value: {replicas}: must be greater than or equal to 0"
            raise invalid(
                "Scale", name, [("spec.replicas", "FieldValueInvalid", problem)], group="autoscaling"
            )
        live = self._objects.get(cluster_id, resource, namespace, name)
        wanted = (scale.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != live["metadata"].get("resourceVersion"):
            raise conflict(resource, name)
        patch = json.dumps({"spec": {"replicas": replicas}}).encode()
        written = self._objects.patch(
            cluster_id, resource, namespace, name, "application/merge-patch+json", patch, options
        )
        return scale_of(written.obj)

    def patch_scale(
        self,
        cluster_id: int,
        resource: Resource,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        options: WriteOptions,
    ) -> Obj:
        """A patch of the scale, re-read and applied again when the object changed meanwhile, as
        kube-apiserver's GuaranteedUpdate does; only a patch that names a resourceVersion can conflict."""
        attempt = 1
        while True:
            current = scale_of(self._objects.get(cluster_id, resource, namespace, name))
            patched = apply_patch(content_type, current, body, api_version="autoscaling/v1", kind="Scale")
            try:
                return self.update_scale(cluster_id, resource, namespace, name, patched, options)
            except KubeError as error:
                if (
                    error.code != 409
                    or attempt >= PATCH_ATTEMPTS
                    or _names_version(content_type, current, body)
                ):
                    raise
            attempt += 1

    # --- pods -----------------------------------------------------------------------------------------------

    def bind(self, cluster_id: int, namespace: str, name: str, binding: Any, options: WriteOptions) -> Obj:
        """Assign an unscheduled pod to the binding's node (409 if it already has one)."""
        if not isinstance(binding, dict):
            raise BadRequestError("the body of the request was in an unknown format")
        node = (binding.get("target") or {}).get("name")
        pod_name = name or (binding.get("metadata") or {}).get("name")
        if not node or not pod_name:
            raise KubeError('Binding "" is invalid: target.name: Required value', reason="Invalid", code=422)
        pod = self._objects.get(cluster_id, PODS, namespace, pod_name)
        uid = (binding.get("metadata") or {}).get("uid")
        if uid and uid != pod["metadata"].get("uid"):
            raise conflict(PODS, pod_name, "the UID in the precondition does not match")
        assigned = (pod.get("spec") or {}).get("nodeName")
        if assigned:
            raise conflict(PODS, pod_name, f'pod {pod_name} is already assigned to node "{assigned}"')
        if pod["metadata"].get("deletionTimestamp"):
            raise conflict(PODS, pod_name, f"pod {pod_name} is being deleted, cannot be assigned to a host")
        now = rfc3339(self._objects.clock())
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        )
        status["conditions"] = conditions
        # spec.nodeName is immutable for users; the binding writes spec and status together.
        return self._objects.write_raw(
            cluster_id, PODS, pod, manager=options.manager, dry_run=options.dry_run
        )

    def evict(self, cluster_id: int, namespace: str, name: str, eviction: Any) -> Obj:
        options = (eviction.get("deleteOptions") if isinstance(eviction, dict) else None) or {}
        preconditions = options.get("preconditions") or {}
        grace = options.get("gracePeriodSeconds")
        obj, _ = self._objects.delete(
            cluster_id,
            PODS,
            namespace,
            name,
            DeleteOptions(
                grace_period_seconds=None if grace is None else int(grace),
                uid=preconditions.get("uid"),
                resource_version=preconditions.get("resourceVersion"),
            ),
        )
        return obj


def scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a Deployment, ReplicaSet or StatefulSet."""
    metadata = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = spec.get("selector")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: metadata[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in metadata
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int(status.get("replicas", 0)),
            "selector": str(from_structured(selector)) if selector else "",
        },
    }
