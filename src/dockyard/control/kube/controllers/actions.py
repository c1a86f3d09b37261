"""What a kube controller's ``decide`` returns, and the small helpers every controller shares. Pure.

An applier performs an :class:`Actions` in this order — creates, patches, deletes, then the status — and
may stop anywhere: every ``decide`` is level-triggered, so the next sync sees what took effect and asks
again only for what did not. Each write carries a precondition so a stale decision cannot hit a newer
object: a delete names the ``uid`` it decided on (``DeleteOptions.preconditions.uid``), a patch that
replaces a whole list (finalizers, ownerReferences) names the ``resourceVersion`` it read, and a conflict
(409) just means "sync again".
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

BACKGROUND, FOREGROUND, ORPHAN = "Background", "Foreground", "Orphan"
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""apimachinery ``utilrand.String``'s alphabet: no vowels (no words), no 0/1/3 (no look-alikes)."""


@dataclass(frozen=True, slots=True)
class Ref:
    """Which object a write is for; ``uid`` and ``resource_version`` are its preconditions."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    uid: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """Create ``obj`` (a full manifest: apiVersion, kind, metadata with namespace and name)."""

    obj: Obj


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete ``ref`` with ``preconditions.uid`` = ``ref.uid`` and this propagation policy.

    A 404 or a uid conflict means the decision is already moot: ignore it.
    """

    ref: Ref
    propagation: str = BACKGROUND
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Patch:
    """A JSON merge patch (RFC 7386) of ``ref`` (or of its ``subresource``, e.g. ``status``).

    When ``ref.resource_version`` is set, send it as ``metadata.resourceVersion`` so the patch fails
    with 409 if the object changed since it was read (lists in a merge patch are replaced whole).
    """

    ref: Ref
    patch: Obj
    subresource: str | None = None


@dataclass(frozen=True, slots=True)
class Actions:
    """Everything one sync decided. ``status`` replaces the owner's status (a ``/status`` update) when
    it differs from the observed one; ``requeue_after`` is when to look again (seconds), if a timer
    matters (deadlines, grace periods, TTLs)."""

    creates: tuple[Create, ...] = ()
    patches: tuple[Patch, ...] = ()
    deletes: tuple[Delete, ...] = ()
    status: Obj | None = None
    requeue_after: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.creates or self.patches or self.deletes or self.status is not None)


# ── Object access ───────────────────────────────────────────────────────────────────────────────────


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata: Mapping[str, Any] = obj.get("metadata") or {}
    return metadata


def ref_of(obj: Mapping[str, Any], *, with_version: bool = False) -> Ref:
    metadata = meta(obj)
    return Ref(
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        metadata.get("namespace"),
        str(metadata.get("name", "")),
        metadata.get("uid"),
        metadata.get("resourceVersion") if with_version else None,
    )


def delete_of(obj: Mapping[str, Any], *, reason: str = "", propagation: str = BACKGROUND) -> Delete:
    return Delete(ref_of(obj), propagation, reason)


def controller_reference(owner: Mapping[str, Any]) -> Obj:
    """The ``ownerReferences`` entry a controller puts on what it creates (``metav1.NewControllerRef``)."""
    metadata = meta(owner)
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """``metav1.IsControlledBy``: the object's controller reference names the owner's uid."""
    uid = meta(owner).get("uid")
    return any(
        ref.get("controller") and ref.get("uid") == uid for ref in meta(obj).get("ownerReferences") or []
    )


def being_deleted(obj: Mapping[str, Any]) -> bool:
    return meta(obj).get("deletionTimestamp") is not None


# ── Time ────────────────────────────────────────────────────────────────────────────────────────────


def timestamp(moment: datetime) -> str:
    """``metav1.Time`` on the wire: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ── Conditions ──────────────────────────────────────────────────────────────────────────────────────


def find_condition(conditions: Iterable[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == kind), None)


def condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    found = find_condition((obj.get("status") or {}).get("conditions"), kind)
    return found is not None and found.get("status") == "True"


def set_condition(
    conditions: list[Obj],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    *,
    probe_time: bool = False,
) -> list[Obj]:
    """A copy of ``conditions`` with ``kind`` set; ``lastTransitionTime`` moves only when the status does."""
    stamp = timestamp(now)
    result: list[Obj] = []
    found = False
    for condition in conditions:
        if condition.get("type") != kind:
            result.append(condition)
            continue
        found = True
        changed = condition.get("status") != status
        updated = {
            **condition,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": stamp if changed else condition.get("lastTransitionTime", stamp),
        }
        if probe_time:
            updated["lastProbeTime"] = stamp
        result.append(updated)
    if not found:
        new: Obj = {"type": kind, "status": status, "reason": reason, "message": message}
        if probe_time:
            new["lastProbeTime"] = stamp
        new["lastTransitionTime"] = stamp
        result.append(new)
    return result


# ── Names ───────────────────────────────────────────────────────────────────────────────────────────


def suffixes(seed: int | str) -> Iterator[str]:
    """Endless 5-character suffixes as ``generateName`` draws them, repeatable from ``seed``."""
    draw = random.Random(seed)  # noqa: S311 - names, not secrets; tests need repeatability
    while True:
        yield "".join(draw.choice(NAME_ALPHABET) for _ in range(5))


def generated_name(prefix: str, suffix: str) -> str:
    """``names.SimpleNameGenerator``: the prefix is cut so prefix + suffix fit 63 characters."""
    return prefix[: 63 - len(suffix)] + suffix


def fresh_names(prefix: str, seed: int | str, taken: Collection[str] = ()) -> Iterator[str]:
    """``generateName`` names for ``prefix`` not in ``taken`` nor drawn before, repeatable from ``seed``."""
    seen = set(taken)
    for suffix in suffixes(seed):
        name = generated_name(prefix, suffix)
        if name not in seen:
            seen.add(name)
            yield name
