"""What kube-apiserver does to an object's ``metadata`` (and ``status``) on create, update and delete.

Pure: the caller passes the time, the new uid and a random suffix for ``generateName``; the store adds
``resourceVersion``. The rules are those of the generic registry (``rest.BeforeCreate``,
``rest.BeforeUpdate``, ``BeforeDelete``) and the built-in kinds' strategies:

- create: ``apiVersion``/``kind`` must be the resource's, the namespace the request's; ``generateName``
  gives a name; ``uid``, ``creationTimestamp`` and ``generation`` 1 are set; ``resourceVersion`` must be
  empty; the kinds with a ``status`` subresource start with an empty status (Pod: ``Pending``, Namespace:
  ``Active``; a Node keeps what it is created with);
- update of the main resource: the status of a kind with a ``status`` subresource is kept, immutable
  metadata (uid, creationTimestamp, deletionTimestamp, …) is taken from the stored object, and
  ``generation`` goes up when anything but ``metadata`` and ``status`` changed; an update of ``status``
  keeps everything else;
- delete: an object with finalizers, a pod bound to a node with a grace period, or a propagation policy
  that needs the garbage collector (``Foreground``, ``Orphan``) is only marked (``deletionTimestamp``,
  ``deletionGracePeriodSeconds``, finalizers); otherwise it goes at once. An update that empties the
  finalizers of a marked object removes it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.catalog import Resource
from dockyard.control.kube.errors import BadRequestError, KubeError
from dockyard.control.kube.validation import invalid, validate_name

Obj = dict[str, Any]

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
NAMESPACE_FINALIZER = "kubernetes"

_IMMUTABLE_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_GENERATE_NAME_LIMIT = 63 - 5  # kube trims the prefix so prefix + 5 random characters fit 63


def has_status(resource: Resource) -> bool:
    return any(sub.name == "status" for sub in resource.subresources)


def check_type(resource: Resource, obj: Obj) -> None:
    """The body's apiVersion and kind must name the resource the URL names (kube: 400)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version and api_version != resource.group_version:
        raise BadRequestError(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({resource.group_version})"
        )
    if kind and kind != resource.kind:
        raise BadRequestError(
            f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
        )


def _metadata(obj: Obj) -> Obj:
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = {}
    if not isinstance(metadata, dict):
        raise BadRequestError("metadata must be an object")
    return metadata


def prepare_create(
    resource: Resource, obj: Obj, *, namespace: str, now: str, uid: str, name_suffix: str
) -> Obj:
    """The object to store for a create in ``namespace`` (``""`` for cluster-scoped kinds)."""
    if not isinstance(obj, dict):
        raise BadRequestError("the body of the request was in an unknown format")
    obj = copy.deepcopy(obj)
    check_type(resource, obj)
    obj["apiVersion"], obj["kind"] = resource.group_version, resource.kind
    metadata = _metadata(obj)
    if resource.namespaced:
        given = metadata.get("namespace")
        if given and given != namespace:
            raise BadRequestError(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = str(metadata["generateName"])[:_GENERATE_NAME_LIMIT] + name_suffix
    name = metadata.get("name")
    if not name:
        raise invalid(
            resource.kind,
            "",
            [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
        )
    validate_name(resource, str(name))
    if metadata.get("resourceVersion"):
        raise BadRequestError("resourceVersion should not be set on objects to be created")
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
        metadata.pop(field, None)
    metadata["uid"] = uid
    metadata["creationTimestamp"] = now
    metadata["generation"] = 1
    if resource.kind == "Namespace":
        spec = obj.setdefault("spec", {})
        finalizers = list(spec.get("finalizers") or [])
        if NAMESPACE_FINALIZER not in finalizers:
            finalizers.append(NAMESPACE_FINALIZER)
        spec["finalizers"] = finalizers
        obj["status"] = {"phase": "Active"}
        metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = str(name)
    elif resource.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    elif has_status(resource) and resource.kind != "Node":
        obj["status"] = {}
    return obj


def prepare_update(resource: Resource, live: Obj, new: Obj, *, subresource: str = "") -> Obj:
    """The object to store for an update of ``live`` by ``new`` (main resource, or ``status``)."""
    if not isinstance(new, dict):
        raise BadRequestError("the body of the request was in an unknown format")
    new = copy.deepcopy(new)
    check_type(resource, new)
    new["apiVersion"], new["kind"] = resource.group_version, resource.kind
    metadata = _metadata(new)
    live_meta = live.get("metadata", {})
    name = live_meta.get("name")
    if metadata.get("name") not in (None, name):
        raise BadRequestError(
            f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})"
        )
    metadata["name"] = name
    if resource.namespaced:
        if metadata.get("namespace") not in (None, "", live_meta.get("namespace")):
            raise BadRequestError(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        metadata["namespace"] = live_meta.get("namespace")
    for field in _IMMUTABLE_METADATA:
        if field in live_meta:
            metadata[field] = live_meta[field]
        else:
            metadata.pop(field, None)
    if live_meta.get("deletionTimestamp"):
        # Once marked, finalizers may only be removed, never added (kube: Forbidden).
        added = set(metadata.get("finalizers") or ()) - set(live_meta.get("finalizers") or ())
        if added:
            raise KubeError(
                f'{resource.kind.lower()} "{name}" is forbidden: no new finalizers can be added if the '
                "object is being deleted, found new finalizers " + str(sorted(added)).replace("'", '"'),
                reason="Forbidden",
                code=403,
            )
    if subresource == "status":
        result = copy.deepcopy(live)
        result["status"] = new.get("status", {})
        result_meta = result["metadata"]
        for field in ("labels", "annotations", "managedFields"):
            if field in metadata:
                result_meta[field] = metadata[field]
        return result
    if has_status(resource):
        if "status" in live:
            new["status"] = copy.deepcopy(live["status"])
        else:
            new.pop("status", None)
    metadata["generation"] = int(live_meta.get("generation") or 1)
    if _spec_of(new) != _spec_of(live):
        metadata["generation"] += 1
    return new


def _spec_of(obj: Obj) -> Obj:
    return {
        key: value for key, value in obj.items() if key not in ("metadata", "status", "apiVersion", "kind")
    }


@dataclass(frozen=True, slots=True)
class DeleteDecision:
    remove_now: bool
    marked: Obj | None
    """The object with deletionTimestamp and finalizers set, when it is only marked."""


def decide_delete(
    resource: Resource,
    live: Obj,
    *,
    now: str,
    grace_period_seconds: int | None,
    propagation_policy: str | None,
) -> DeleteDecision:
    """Whether a DELETE removes the object now or marks it for the kubelet / finalizers to finish."""
    metadata = live.get("metadata", {})
    finalizers = list(metadata.get("finalizers") or [])
    policy = propagation_policy or "Background"  # kube's default for every kind served here
    if policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
        finalizers.append(FOREGROUND_FINALIZER)
    elif policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
        finalizers.append(ORPHAN_FINALIZER)
    grace = 0
    if resource.kind == "Pod" and (live.get("spec") or {}).get("nodeName"):
        phase = (live.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            default = (live.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            grace = int(default if grace_period_seconds is None else grace_period_seconds)
    if resource.kind == "Namespace" and NAMESPACE_FINALIZER in (
        (live.get("spec") or {}).get("finalizers") or []
    ):
        grace = -1  # the namespace controller empties it first
    if not finalizers and grace == 0:
        return DeleteDecision(True, None)
    marked = copy.deepcopy(live)
    marked_meta = marked["metadata"]
    if metadata.get("deletionTimestamp"):
        # Already marked: a shorter grace period may replace the remaining one (kube lets it shrink).
        if grace >= 0 and grace < int(metadata.get("deletionGracePeriodSeconds") or 0):
            marked_meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            marked_meta["finalizers"] = finalizers
        return DeleteDecision(False, marked)
    marked_meta["deletionTimestamp"] = now
    marked_meta["deletionGracePeriodSeconds"] = max(grace, 0)
    if finalizers:
        marked_meta["finalizers"] = finalizers
    if resource.kind == "Namespace":
        marked.setdefault("status", {})["phase"] = "Terminating"
    marked_meta["generation"] = int(metadata.get("generation") or 1) + 1
    return DeleteDecision(False, marked)


def finished_deleting(obj: Obj) -> bool:
    """A marked object whose finalizers are all gone (and, for a namespace, its spec finalizers)."""
    metadata = obj.get("metadata", {})
    if not metadata.get("deletionTimestamp") or metadata.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace":
        return not (obj.get("spec") or {}).get("finalizers")
    return not (obj.get("kind") == "Pod" and int(metadata.get("deletionGracePeriodSeconds") or 0) > 0)


def qos_class(spec: Obj) -> str:
    """The pod's QoS class (Guaranteed / Burstable / BestEffort) from its containers' requests and limits."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_seen = limits_seen = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        requests_seen = requests_seen or bool(requests)
        limits_seen = limits_seen or bool(limits)
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
