"""The garbage collector: owner references, background, foreground and orphan deletion. Pure.

``decide(objects)`` looks at every object of a cluster (only ``apiVersion``, ``kind`` and ``metadata``
matter: uid, namespace, ownerReferences, deletionTimestamp, finalizers, resourceVersion) and returns the
deletes and patches kube-controller-manager's garbage collector would make, one step of each chain:

1. An owner reference *resolves* when an object with that uid exists, of the same kind, and — for a
   namespaced dependent — in the dependent's namespace or cluster-scoped (kube treats an owner in
   another namespace as absent). A cluster-scoped dependent naming a namespaced kind is unresolvable:
   it is never collected (kube records ``OwnerRefInvalidNamespace``); we leave it alone.
2. A dependent not being deleted, each of whose owners is *dangling* (absent) or *waiting* (being
   deleted with ``foregroundDeletion``), is deleted: in the foreground when some owner waits and the
   dependent has dependents itself, else with the policy its own finalizers ask for (``orphan`` →
   Orphan, ``foregroundDeletion`` → Foreground, otherwise Background).
3. A dependent with at least one *solid* owner (present, not waiting) keeps living; its references to
   dangling and waiting owners are removed (``attemptToDeleteItem``'s patch).
4. An owner with ``orphan`` in its finalizers: every dependent's references to it are removed, then
   (once none is left) the finalizer.
5. An owner with ``foregroundDeletion``: its dependents are deleted (rule 2/3 above), and the finalizer
   is removed once no dependent whose reference has ``blockOwnerDeletion: true`` remains at all
   (dependents being deleted still block, as in kube).

The API server's part (adding ``foregroundDeletion``/``orphan`` and ``deletionTimestamp`` for such a
delete, removing the object when its finalizers empty) is not here. Patches replace the whole
``ownerReferences``/``finalizers`` list and carry the ``resourceVersion`` read, so a concurrent change
makes them fail (409) instead of being lost; kube uses a JSON patch with a uid test instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.controllers.actions import (
    BACKGROUND,
    FOREGROUND,
    ORPHAN,
    Actions,
    Delete,
    Patch,
    Ref,
)

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"

Scope = Callable[[str, str], bool | None]
"""``(apiVersion, kind) -> namespaced?``, None when unknown."""


@dataclass(frozen=True, slots=True)
class Item:
    """One object as the garbage collector's graph holds it."""

    ref: Ref  # with resource_version
    owners: tuple[Mapping[str, Any], ...]
    deleting: bool
    finalizers: tuple[str, ...]

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Item:
        metadata: Mapping[str, Any] = obj.get("metadata") or {}
        ref = Ref(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            metadata.get("namespace") or None,
            str(metadata.get("name", "")),
            metadata.get("uid"),
            metadata.get("resourceVersion"),
        )
        return cls(
            ref,
            tuple(metadata.get("ownerReferences") or ()),
            metadata.get("deletionTimestamp") is not None,
            tuple(metadata.get("finalizers") or ()),
        )

    @property
    def waiting(self) -> bool:
        """Being deleted in the foreground: waiting for its blocking dependents to go."""
        return self.deleting and FOREGROUND_FINALIZER in self.finalizers


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _inferred_scope(items: Iterable[Item]) -> Scope:
    known: dict[tuple[str, str], bool] = {}
    for item in items:
        known[(_group(item.ref.api_version), item.ref.kind)] = item.ref.namespace is not None

    def scope(api_version: str, kind: str) -> bool | None:
        return known.get((_group(api_version), kind))

    return scope


class _Graph:
    def __init__(self, items: Sequence[Item], scope: Scope) -> None:
        self.items = items
        self.by_uid = {str(item.ref.uid): item for item in items if item.ref.uid}
        self.scope = scope
        self.dependents: dict[str, list[tuple[Item, Mapping[str, Any]]]] = {}
        for item in items:
            for owner in item.owners:
                self.dependents.setdefault(str(owner.get("uid")), []).append((item, owner))

    def unresolvable(self, dependent: Item, reference: Mapping[str, Any]) -> bool:
        """A cluster-scoped dependent naming a namespaced kind: kube never collects it."""
        kind = (str(reference.get("apiVersion", "")), str(reference.get("kind", "")))
        return dependent.ref.namespace is None and bool(self.scope(*kind))

    def owner_of(self, dependent: Item, reference: Mapping[str, Any]) -> Item | None:
        """The owner the reference names, None when it is absent (or in another namespace)."""
        owner = self.by_uid.get(str(reference.get("uid")))
        if owner is None or owner.ref.kind != reference.get("kind"):
            return None
        if owner.ref.namespace is not None and owner.ref.namespace != dependent.ref.namespace:
            return None
        return owner

    def has_dependents(self, item: Item) -> bool:
        return bool(self.dependents.get(str(item.ref.uid)))


def _without_owners(item: Item, uids: set[str]) -> Patch:
    kept = [dict(owner) for owner in item.owners if owner.get("uid") not in uids]
    return Patch(item.ref, {"metadata": {"ownerReferences": kept or None}})


def _without_finalizer(item: Item, finalizer: str) -> Patch:
    kept = [name for name in item.finalizers if name != finalizer]
    return Patch(item.ref, {"metadata": {"finalizers": kept or None}})


def _own_policy(item: Item) -> str:
    if ORPHAN_FINALIZER in item.finalizers:
        return ORPHAN
    if FOREGROUND_FINALIZER in item.finalizers:
        return FOREGROUND
    return BACKGROUND


def _attempt_to_delete(graph: _Graph, item: Item) -> Delete | Patch | None:
    """``attemptToDeleteItem`` for one dependent that is not being deleted."""
    solid: list[str] = []
    dangling: list[str] = []
    waiting: list[str] = []
    for reference in item.owners:
        if graph.unresolvable(item, reference):
            return None
        owner = graph.owner_of(item, reference)
        uid = str(reference.get("uid"))
        if owner is None:
            dangling.append(uid)
        elif owner.waiting:
            waiting.append(uid)
        else:
            solid.append(uid)
    if solid:
        if not dangling and not waiting:
            return None
        return _without_owners(item, {*dangling, *waiting})
    if waiting and graph.has_dependents(item):
        return Delete(item.ref, FOREGROUND, "its owner is being deleted in the foreground")
    return Delete(item.ref, _own_policy(item), "all of its owners are gone")


def _finish_owner(graph: _Graph, owner: Item) -> list[Patch]:
    """Orphan its dependents, or drop its GC finalizers once nothing holds it."""
    patches: list[Patch] = []
    dependents = graph.dependents.get(str(owner.ref.uid), [])
    if ORPHAN_FINALIZER in owner.finalizers:
        live = [d for d, r in dependents if graph.owner_of(d, r) is owner]
        patches.extend(_without_owners(d, {str(owner.ref.uid)}) for d in live)
        if not live:
            patches.append(_without_finalizer(owner, ORPHAN_FINALIZER))
        return patches
    if FOREGROUND_FINALIZER in owner.finalizers:
        blocking = [d for d, r in dependents if r.get("blockOwnerDeletion") and graph.owner_of(d, r) is owner]
        if not blocking:
            patches.append(_without_finalizer(owner, FOREGROUND_FINALIZER))
    return patches


def decide(objects: Iterable[Mapping[str, Any]], *, scope: Scope | None = None) -> Actions:
    """One pass of the garbage collector over ``objects`` (all kinds, all namespaces of a cluster).

    ``scope`` says whether a kind is namespaced (the API's discovery knows); by default it is inferred
    from the objects seen, and an unknown kind counts as resolvable.
    """
    items = [Item.of(obj) for obj in objects]
    graph = _Graph(items, scope or _inferred_scope(items))
    deletes: list[Delete] = []
    patches: list[Patch] = []
    for item in items:
        if item.deleting:
            patches.extend(_finish_owner(graph, item))
            continue
        if not item.owners:
            continue
        action = _attempt_to_delete(graph, item)
        if isinstance(action, Delete):
            deletes.append(action)
        elif isinstance(action, Patch):
            patches.append(action)
    return Actions(patches=tuple(patches), deletes=tuple(deletes))
