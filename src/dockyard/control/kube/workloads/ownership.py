"""Controller references: which objects a controller owns, adopting orphans, releasing the rest. Pure.

Matches ``ControllerRefManager.ClaimObject`` (``pkg/controller/controller_ref_manager.go``) of v1.33:

- an object controlled by someone else is ignored;
- one controlled by the owner is kept while the selector matches, else released (its reference
  removed) — unless the owner is being deleted, when it is just not counted;
- an orphan that matches is adopted (a controller reference added) unless the owner or the orphan is
  being deleted.

Kube writes these as strategic merge patches naming the uid; here each is a JSON merge patch that
replaces ``ownerReferences`` whole and carries the ``resourceVersion`` read, so a concurrent change
fails it (409) instead of being lost, and the next sync decides again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.controllers.actions import Obj, Patch, meta, ref_of
from dockyard.control.kube.selectors import LabelSelector


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``, if any."""
    return next((ref for ref in meta(obj).get("ownerReferences") or () if ref.get("controller")), None)


def owner_reference(owner: Mapping[str, Any]) -> Obj:
    """``metav1.NewControllerRef`` for an apps/v1 owner."""
    metadata = meta(owner)
    return {
        "apiVersion": "apps/v1",
        "kind": str(owner.get("kind") or ""),
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


@dataclass(frozen=True, slots=True)
class Claim:
    """What a controller owns after claiming: ``owned`` (adopted ones included, as patched) and the
    adopt/release patches to apply."""

    owned: tuple[Obj, ...]
    patches: tuple[Patch, ...]


def _with_references(obj: Mapping[str, Any], references: list[Obj]) -> Obj:
    return {**obj, "metadata": {**meta(obj), "ownerReferences": references}}


def claim(owner: Mapping[str, Any], selector: LabelSelector, candidates: Iterable[Obj]) -> Claim:
    """The objects ``owner`` controls among ``candidates`` (same namespace), adopting and releasing."""
    uid = meta(owner).get("uid")
    owner_deleting = meta(owner).get("deletionTimestamp") is not None
    owned: list[Obj] = []
    patches: list[Patch] = []
    for obj in candidates:
        references = list(meta(obj).get("ownerReferences") or ())
        matches = selector.matches(meta(obj).get("labels") or {})
        controller = controller_of(obj)
        if controller is not None:
            if controller.get("uid") != uid:
                continue
            if matches:
                owned.append(obj)
            elif not owner_deleting:
                kept = [ref for ref in references if ref.get("uid") != uid]
                patches.append(_patch(obj, kept))
            continue
        if not matches or owner_deleting or meta(obj).get("deletionTimestamp") is not None:
            continue
        adopted = [*references, owner_reference(owner)]
        patches.append(_patch(obj, adopted))
        owned.append(_with_references(obj, adopted))
    return Claim(tuple(owned), tuple(patches))


def _patch(obj: Mapping[str, Any], references: list[Obj]) -> Patch:
    return Patch(ref_of(obj, with_version=True), {"metadata": {"ownerReferences": references or None}})
