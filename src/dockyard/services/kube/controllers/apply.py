"""Performs what a kube controller's pure ``decide`` returned (``control/kube/controllers/actions``).

Creates, then patches, then deletes, then the owner's status, each through :class:`KubeObjects` as the
field manager ``kube-controller-manager``. A 404 or a precondition conflict on a patch or delete means
the decision is moot (the next sync decides again) and is not an error; an AlreadyExists on a create is
the same. Anything else propagates, so the sync is retried with back-off.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dockyard.control.kube.catalog import Resource, by_kind
from dockyard.control.kube.controllers.actions import Actions, Ref
from dockyard.control.kube.errors import KubeError
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions

log = logging.getLogger(__name__)

MANAGER = WriteOptions("kube-controller-manager")
_MOOT = frozenset({404, 409})


def resource_of(api_version: str, kind: str) -> Resource:
    group = api_version.rpartition("/")[0]
    resource = by_kind(kind, group)
    if resource is None:
        raise KeyError(f"{api_version} {kind} is not served")
    return resource


class Applier:
    def __init__(self, objects: KubeObjects, options: WriteOptions = MANAGER) -> None:
        self._objects = objects
        self._options = options

    def apply(self, cluster_id: int, actions: Actions, owner: dict[str, Any] | None = None) -> None:
        """Perform ``actions``; ``owner`` is the object whose ``status`` they may replace."""
        for create in actions.creates:
            obj = create.obj
            resource = resource_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            namespace = (obj.get("metadata") or {}).get("namespace") or ""
            try:
                self._objects.create(cluster_id, resource, namespace, obj, self._options)
            except KubeError as error:
                if error.reason != "AlreadyExists":
                    raise
        for patch in actions.patches:
            body = dict(patch.patch)
            if patch.ref.resource_version:
                body["metadata"] = {
                    **(body.get("metadata") or {}),
                    "resourceVersion": patch.ref.resource_version,
                }
            self._moot_ok(
                lambda p=patch, b=body: self._objects.patch(
                    cluster_id,
                    *self._target(p.ref),
                    "application/merge-patch+json",
                    json.dumps(b).encode(),
                    self._options,
                    subresource=p.subresource or "",
                )
            )
        for delete in actions.deletes:
            self._moot_ok(
                lambda d=delete: self._objects.delete(
                    cluster_id,
                    *self._target(d.ref),
                    DeleteOptions(propagation_policy=d.propagation, uid=d.ref.uid),
                )
            )
        if actions.status is not None and owner is not None and actions.status != owner.get("status"):
            resource = resource_of(str(owner["apiVersion"]), str(owner["kind"]))
            metadata = owner["metadata"]
            updated = {**owner, "status": actions.status}
            self._moot_ok(
                lambda: self._objects.update(
                    cluster_id,
                    resource,
                    metadata.get("namespace") or "",
                    metadata["name"],
                    updated,
                    self._options,
                    subresource="status",
                )
            )

    @staticmethod
    def _target(ref: Ref) -> tuple[Resource, str, str]:
        return resource_of(ref.api_version, ref.kind), ref.namespace or "", ref.name

    @staticmethod
    def _moot_ok(call: Any) -> None:
        try:
            call()
        except KubeError as error:
            if error.code not in _MOOT:
                raise
            log.debug("kube controller action moot: %s", error.message)
