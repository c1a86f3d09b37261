"""Namespace lifecycle: the namespace controller's deletion and the NamespaceLifecycle admission. Pure.

Deleting a namespace (kube-controller-manager v1.33, ``namespaced_resources_deleter``)::

    deletionTimestamp set ─▶ phase Terminating ─▶ delete every object in it (each resource, Background)
        ─▶ conditions say what remains ─▶ empty: drop ``kubernetes`` from spec.finalizers (/finalize)
        ─▶ spec.finalizers empty: delete the Namespace (uid precondition); the API server removes it

The five conditions are kube's (type, reason and message when fine / when not):
``NamespaceDeletionDiscoveryFailure`` (ResourcesDiscovered / DiscoveryFailed),
``NamespaceDeletionGroupVersionParsingFailure`` (ParsedGroupVersions),
``NamespaceDeletionContentFailure`` (ContentDeleted / ContentDeletionFailed),
``NamespaceContentRemaining`` (ContentRemoved / SomeResourcesRemain: ``Some resources are remaining:
pods. has 2 resource instances``) and ``NamespaceFinalizersRemaining`` (ContentHasNoFinalizers /
SomeFinalizersRemain: ``Some content in the namespace has finalizers remaining: example.com/x in 1
resource instances``).

Admission (``NamespaceLifecycle``): nothing is created in a missing namespace (404) or a Terminating one
(403 with cause ``NamespaceTerminating``), and the four system namespaces cannot be deleted (403).
Not matched: discovery itself (the caller lists every namespaced resource it serves; failures it could
not list come in as ``discovery_failures``) and kube's per-pod grace estimate, approximated by the
longest remaining ``deletionGracePeriodSeconds``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Delete,
    Obj,
    Patch,
    delete_of,
    meta,
    ref_of,
    set_condition,
)
from dockyard.control.kube.errors import KubeError

KUBERNETES_FINALIZER = "kubernetes"
TERMINATING, ACTIVE = "Terminating", "Active"
IMMORTAL = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
REMAINING_RECHECK_S = 15.0  # kube: content still there without a better estimate → look again

# type → (reason when fine, message when fine)
_FINE = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def _problems(
    contents: Mapping[str, Sequence[Mapping[str, Any]]],
    discovery_failures: Sequence[str],
    delete_failures: Sequence[str],
) -> dict[str, tuple[str, str]]:
    problems: dict[str, tuple[str, str]] = {}
    if discovery_failures:
        listed = ", ".join(sorted(discovery_failures))
        problems["NamespaceDeletionDiscoveryFailure"] = (
            "DiscoveryFailed",
            f"Discovery failed for some groups, {len(discovery_failures)} failing: {listed}",
        )
    if delete_failures:
        listed = ", ".join(sorted(delete_failures))
        problems["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(delete_failures)} remaining: {listed}",
        )
    remaining = sorted(
        f"{resource} has {len(items)} resource instances" for resource, items in contents.items() if items
    )
    if remaining:
        problems["NamespaceContentRemaining"] = (
            "SomeResourcesRemain",
            f"Some resources are remaining: {', '.join(remaining)}",
        )
    finalizers: Counter[str] = Counter()
    for items in contents.values():
        for item in items:
            finalizers.update(meta(item).get("finalizers") or [])
    if finalizers:
        listed = ", ".join(
            sorted(f"{name} in {count} resource instances" for name, count in finalizers.items())
        )
        problems["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {listed}",
        )
    return problems


def decide(
    namespace: Mapping[str, Any],
    contents: Mapping[str, Sequence[Mapping[str, Any]]],
    now: datetime,
    *,
    discovery_failures: Sequence[str] = (),
    delete_failures: Sequence[str] = (),
) -> Actions:
    """One sync of the namespace controller for ``namespace``.

    ``contents`` maps each namespaced resource as ``"<resource>.<group>"`` (``pods.``,
    ``deployments.apps``: kube's spelling, the core group empty) to the objects listed in the
    namespace. ``discovery_failures`` / ``delete_failures`` are the groups or resources the applier
    could not list or delete on its last attempt. The status (phase and conditions) is in ``status``;
    the ``kubernetes`` finalizer is removed with a ``finalize`` subresource patch.
    """
    if meta(namespace).get("deletionTimestamp") is None:
        return Actions()
    observed: Obj = dict(namespace.get("status") or {})
    conditions: list[Obj] = list(observed.get("conditions") or [])
    problems = _problems(contents, discovery_failures, delete_failures)
    for kind, (reason, message) in _FINE.items():
        if kind in problems:
            conditions = set_condition(conditions, kind, "True", *problems[kind], now)
        else:
            conditions = set_condition(conditions, kind, "False", reason, message, now)
    status = {**observed, "phase": TERMINATING, "conditions": conditions}
    status_change = status if status != observed else None
    finalizers = list((namespace.get("spec") or {}).get("finalizers") or [])
    if KUBERNETES_FINALIZER not in finalizers:
        # Finalized already (or someone else's finalizers only): once spec.finalizers is empty, delete it.
        deletes: tuple[Delete, ...] = (
            () if finalizers else (delete_of(namespace, reason="namespace finalized"),)
        )
        return Actions(deletes=deletes, status=status_change)
    deletes = tuple(
        delete_of(item, reason="namespace is being terminated")
        for items in contents.values()
        for item in items
        if meta(item).get("deletionTimestamp") is None
    )
    if any(contents.values()) or discovery_failures or delete_failures:
        grace = [
            float(meta(item).get("deletionGracePeriodSeconds") or 0)
            for items in contents.values()
            for item in items
        ]
        return Actions(
            deletes=deletes, status=status_change, requeue_after=max([REMAINING_RECHECK_S, *grace])
        )
    rest = [name for name in finalizers if name != KUBERNETES_FINALIZER]
    finalize = Patch(
        ref_of(namespace, with_version=True), {"spec": {"finalizers": rest}}, subresource="finalize"
    )
    return Actions(patches=(finalize,), status=status_change)


# ── Admission (NamespaceLifecycle) ──────────────────────────────────────────────────────────────────


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def check_create(
    namespace_name: str,
    namespace: Mapping[str, Any] | None,
    *,
    resource: str,
    name: str,
    group: str = "",
) -> None:
    """Raise as kube-apiserver does when ``name`` may not be created in ``namespace_name``.

    ``namespace`` is the Namespace object, None when it does not exist. Creating a Namespace itself is
    not a namespaced create and is not checked here.
    """
    if namespace is None:
        raise KubeError(
            f'namespaces "{namespace_name}" not found',
            reason="NotFound",
            code=404,
            details={"name": namespace_name, "kind": "namespaces"},
        )
    phase = (namespace.get("status") or {}).get("phase")
    if phase == TERMINATING or meta(namespace).get("deletionTimestamp") is not None:
        qualified = _qualified(resource, group)
        raise KubeError(
            f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace_name} '
            "because it is being terminated",
            reason="Forbidden",
            code=403,
            causes=[
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace_name} is being terminated",
                    "field": "metadata.namespace",
                }
            ],
            details={"name": name, "group": group, "kind": resource},
        )


def check_delete(namespace_name: str) -> None:
    """The system namespaces may not be deleted (403 Forbidden, as NamespaceLifecycle answers)."""
    if namespace_name in IMMORTAL:
        raise KubeError(
            f'namespaces "{namespace_name}" is forbidden: this namespace may not be deleted',
            reason="Forbidden",
            code=403,
            details={"name": namespace_name, "kind": "namespaces"},
        )
