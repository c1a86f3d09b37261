"""Server-side apply and field ownership (``metadata.managedFields``), as kube-apiserver keeps them. Pure.

Every write records who owns which fields. :func:`apply` is ``PATCH`` with
``application/apply-patch+yaml``; :func:`update` is every other write (create, update, the three patch
types), with the ``fieldManager`` of the request (kubectl's defaults are ``kubectl-client-side-apply``,
``kubectl-edit``, ``kubectl-patch``, ``kubectl-create``…)::

    apply(live, config, manager, force)
      merged   = merge(live, config)         # config wins; associative lists merge by key
      new set  = fields of config            # what this manager now says it owns
      prune    = remove what the manager owned last time and no longer names,
                 unless another manager owns it (or something under it)
      conflict = fields another manager owns whose value the apply changes (or adds)
                 → 409 Conflict, unless force: then ownership moves to this manager
    update(live, new, manager)
      the manager takes every changed or added field (from whoever owned it);
      removed fields leave every owner

A manager is identified by name, operation (``Apply`` or ``Update``), subresource and — for updates
only — API version, as ``BuildManagerIdentifier`` does, so one tool's applies and updates are two
entries. Fields kube-apiserver never tracks (``apiVersion``, ``kind``, ``metadata.name``,
``metadata.namespace``, ``metadata.uid``, ``metadata.resourceVersion``, ``metadata.generation``,
``metadata.creationTimestamp``, ``metadata.managedFields``, …) are left out; callers add more (a main
resource's ``status``, a status subresource's ``spec``) with ``ignored``.

What a field's value is made of comes from :mod:`.schema`: lists without ``x-kubernetes-list-type`` and
maps marked ``atomic`` (a LabelSelector) are owned and replaced whole; ``set`` lists item by value
(``v:``), ``map`` lists item by their keys (``k:``, a key field's default applied: a port without
``protocol`` is ``TCP``'s). Not done: converting between API versions (an entry of another version is
compared as if it were this one) and capping the number of update entries.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dockyard.control.kube.errors import ConflictError, PatchError
from dockyard.control.kube.fieldset import (
    FieldSet,
    Path,
    field_element,
    key_element,
    path_string,
    value_element,
)
from dockyard.control.kube.patch import json_equal
from dockyard.control.kube.schema import Field, TypeInfo, type_for_kind

APPLY = "Apply"
UPDATE = "Update"

ALWAYS_IGNORED: tuple[Path, ...] = (
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
)
STATUS: tuple[Path, ...] = (("f:status",),)
"""What a write to the main resource of a kind with a status subresource does not own."""

_KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}
"""Defaults of associative-list key fields, from kube-apiserver's OpenAPI (the bundled schemas omit them)."""


@dataclass(frozen=True)
class Manager:
    """One ``managedFields`` entry: who, how, and the fields owned."""

    name: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (
            self.name,
            self.operation,
            self.subresource,
            self.api_version if self.operation == UPDATE else "",
        )

    def describe(self) -> str:
        """``printManager``: how conflict messages name this manager."""
        text = f'"{self.name}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def to_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.name,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = self.fields.to_fields_v1()
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def decode_managed_fields(entries: Iterable[Mapping[str, Any]] | None) -> list[Manager]:
    """``metadata.managedFields`` as :class:`Manager` values; raises PatchError (400) for a malformed one."""
    managers = []
    for entry in entries or []:
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except ValueError as error:
            raise PatchError(f"invalid managedFields: {error}") from None
        managers.append(
            Manager(
                name=str(entry.get("manager", "")),
                operation=str(entry.get("operation", UPDATE)),
                api_version=str(entry.get("apiVersion", "")),
                fields=fields,
                time=entry.get("time"),
                subresource=str(entry.get("subresource", "")),
            )
        )
    return managers


def encode_managed_fields(managers: Iterable[Manager]) -> list[dict[str, Any]]:
    """Entries in kube-apiserver's order: applies first, then by time, manager, version, subresource."""
    ordered = sorted(
        (manager for manager in managers if manager.fields),
        key=lambda m: (m.operation, m.time or "", m.name, m.api_version, m.subresource),
    )
    return [manager.to_entry() for manager in ordered]


# ── The fields of a value ───────────────────────────────────────────────────────────────────────────

_ITEM = object()
"""The value recorded for a list item's own path: items compare equal, their fields are compared."""


def _list_type(field: Field) -> str:
    return field.list_type or "atomic"


def _atomic_map(field: Field) -> bool:
    return field.map_type == "atomic" or field.element_type.map_type == "atomic"


def _item_keys(item: Any, field: Field, at: Path) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _typed_error(at, "associative list item is not an object")
    keys = {}
    for name in field.list_map_keys:
        if name in item:
            keys[name] = item[name]
        elif (field.element, name) in _KEY_DEFAULTS:
            keys[name] = _KEY_DEFAULTS[(field.element or "", name)]
        else:
            raise _typed_error(
                at,
                f'associative list with keys has an element that omits key field "{name}" '
                "(and doesn't have default value)",
            )
    return keys


def _typed_error(at: Path, message: str) -> PatchError:
    detail = f"{path_string(at)}: {message}"
    return PatchError(
        f"failed to create typed patch object: {detail}", reason="InternalError", code=500, detail=detail
    )


def _walk_object(value: dict[str, Any], schema: TypeInfo, at: Path, out: dict[Path, Any]) -> None:
    for name, child in value.items():
        _walk_field(child, schema.field(name), (*at, field_element(name)), out)


def _walk_field(value: Any, field: Field, at: Path, out: dict[Path, Any]) -> None:
    if value is None or (isinstance(value, dict) and not value):
        out[at] = value
    elif isinstance(value, dict):
        if _atomic_map(field):
            out[at] = value
        elif field.shape == "map":
            values = Field(shape="object" if field.element else "scalar", element=field.element)
            for name, child in value.items():
                _walk_field(child, values, (*at, field_element(name)), out)
        else:
            _walk_object(value, field.element_type, at, out)
    elif isinstance(value, list):
        kind = _list_type(field)
        if kind == "set":
            for item in value:
                out[(*at, value_element(item))] = item
        elif kind == "map":
            for index, item in enumerate(value):
                item_at = (*at, key_element(_item_keys(item, field, (*at, f"i:{index}"))))
                out[item_at] = _ITEM
                _walk_object(item, field.element_type, item_at, out)
        else:
            out[at] = value
    else:
        out[at] = value


def _leaves(obj: Mapping[str, Any] | None, schema: TypeInfo) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    if obj:
        _walk_object(dict(obj), schema, (), out)
    return out


def field_set(obj: Mapping[str, Any], schema: TypeInfo, *, ignored: Iterable[Path] = ()) -> FieldSet:
    """The fields ``obj`` sets, as server-side apply records them (without ALWAYS_IGNORED and ``ignored``)."""
    return FieldSet.of(_leaves(obj, schema)).without_prefixes((*ALWAYS_IGNORED, *ignored))


@dataclass(frozen=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet


def compare(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    schema: TypeInfo,
    ignored: Iterable[Path] = (),
) -> Comparison:
    """Which fields a change adds, modifies (both have it, values differ) and removes."""
    before, after = _leaves(old, schema), _leaves(new, schema)
    excluded = (*ALWAYS_IGNORED, *ignored)
    modified = [path for path in before.keys() & after.keys() if not _same(before[path], after[path])]
    return Comparison(
        added=FieldSet.of(after.keys() - before.keys()).without_prefixes(excluded),
        modified=FieldSet.of(modified).without_prefixes(excluded),
        removed=FieldSet.of(before.keys() - after.keys()).without_prefixes(excluded),
    )


def _same(left: Any, right: Any) -> bool:
    if left is _ITEM or right is _ITEM:
        return left is right
    return json_equal(left, right)


# ── Merging an apply configuration ──────────────────────────────────────────────────────────────────


def merge(live: Mapping[str, Any], config: Mapping[str, Any], schema: TypeInfo) -> dict[str, Any]:
    """``live`` with ``config`` merged in (a new object): the config's values win field by field."""
    return _merge_object(copy.deepcopy(dict(live)), config, schema, ())


def _merge_object(
    live: dict[str, Any], config: Mapping[str, Any], schema: TypeInfo, at: Path
) -> dict[str, Any]:
    for name, value in config.items():
        field = schema.field(name)
        if value is None:
            live.pop(name, None)
        elif name in live:
            live[name] = _merge_value(live[name], value, field, (*at, field_element(name)))
        else:
            live[name] = copy.deepcopy(value)
    return live


def _merge_value(live: Any, config: Any, field: Field, at: Path) -> Any:
    if isinstance(live, dict) and isinstance(config, dict):
        if _atomic_map(field):
            return copy.deepcopy(config)
        if field.shape == "map":
            values = Field(shape="object" if field.element else "scalar", element=field.element)
            for name, child in config.items():
                if child is None:
                    live.pop(name, None)
                elif name in live:
                    live[name] = _merge_value(live[name], child, values, (*at, field_element(name)))
                else:
                    live[name] = copy.deepcopy(child)
            return live
        return _merge_object(live, config, field.element_type, at)
    if isinstance(live, list) and isinstance(config, list):
        kind = _list_type(field)
        if kind == "set":
            return [
                *live,
                *(copy.deepcopy(item) for item in config if not any(json_equal(item, x) for x in live)),
            ]
        if kind == "map":
            return _merge_associative(live, config, field, at)
    return copy.deepcopy(config)


def _merge_associative(live: list[Any], config: list[Any], field: Field, at: Path) -> list[Any]:
    """Items merge by key; live-only items keep their places, the config's come in its order."""
    keyed_config = [
        (key_element(_item_keys(item, field, (*at, f"i:{i}"))), item) for i, item in enumerate(config)
    ]
    config_keys = {key for key, _ in keyed_config}
    live_by_key: dict[str, Any] = {}
    order: list[tuple[str, Any]] = []
    for index, item in enumerate(live):
        key = key_element(_item_keys(item, field, (*at, f"i:{index}")))
        live_by_key[key] = item
        order.append((key, item))
    merged: list[Any] = []
    emitted: set[str] = set()
    pending = iter(keyed_config)

    def emit_config_through(stop: str | None) -> None:
        for key, item in pending:
            if key not in emitted:
                emitted.add(key)
                if key in live_by_key:
                    base = live_by_key[key]
                    merged.append(_merge_object(base, item, field.element_type, (*at, key)))
                else:
                    merged.append(copy.deepcopy(item))
            if key == stop:
                return

    for key, item in order:
        if key in config_keys:
            if key not in emitted:
                emit_config_through(key)
        else:
            merged.append(item)
    emit_config_through(None)
    return merged


# ── Pruning what the applier no longer names ────────────────────────────────────────────────────────


def _remove(obj: dict[str, Any], path: Path, schema: TypeInfo) -> None:
    """Remove the field, item or value at ``path`` (silently, if it is already gone)."""
    container: Any = obj
    types: TypeInfo | None = schema
    field: Field | None = None
    for position, element in enumerate(path):
        last = position == len(path) - 1
        kind, body = element[:2], element[2:]
        if kind == "f:" and isinstance(container, dict):
            if body not in container:
                return
            if last:
                del container[body]
                return
            field = types.field(body) if types is not None else Field()
            container = container[body]
            types = field.element_type if field.shape != "map" else None
            if field.shape == "map":
                field = Field(shape="object" if field.element else "scalar", element=field.element)
                types = TypeInfo("", {}, known=False)
        elif kind in ("k:", "v:") and isinstance(container, list) and field is not None:
            index = _find_item(container, element, field)
            if index is None:
                return
            if last:
                del container[index]
                return
            container = container[index]
            types = field.element_type
        else:
            return


def _find_item(items: list[Any], element: str, field: Field) -> int | None:
    for index, item in enumerate(items):
        if element.startswith("v:") and value_element(item) == element:
            return index
        if element.startswith("k:") and isinstance(item, dict):
            try:
                if key_element(_item_keys(item, field, ())) == element:
                    return index
            except PatchError:
                continue
    return None


def _prune(
    merged: dict[str, Any], last: FieldSet, now: FieldSet, others: FieldSet, schema: TypeInfo
) -> dict[str, Any]:
    kept = now.union(others)
    removable = [path for path in last.difference(kept) if not kept.has_at_or_under(path)]
    for path in sorted(removable, key=len):
        _remove(merged, path, schema)
    return merged


# ── Ownership ───────────────────────────────────────────────────────────────────────────────────────


def _without_managed_fields(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    body = copy.deepcopy(dict(obj or {}))
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return body


def _with_managed_fields(obj: dict[str, Any], managers: Iterable[Manager]) -> dict[str, Any]:
    entries = encode_managed_fields(managers)
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    return obj


def _conflict_error(conflicts: list[tuple[Manager, Path]]) -> ConflictError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {manager.describe()}",
            "field": path_string(path),
        }
        for manager, path in conflicts
    ]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager.describe()}: {path_string(path)}"
    else:
        lines = []
        for described in sorted({manager.describe() for manager, _ in conflicts}):
            lines.append(f"conflicts with {described}:")
            lines.extend(
                f"- {path_string(path)}" for manager, path in conflicts if manager.describe() == described
            )
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ConflictError(message, causes=causes)


def _transfer(
    managers: list[Manager], acting: tuple[str, str, str, str], change: Comparison, *, force: bool
) -> list[Manager]:
    """``Updater.update``: others lose what the change takes (or it conflicts) and what it removes."""
    taken = change.modified.union(change.added)
    conflicts = [
        (manager, path)
        for manager in managers
        if manager.identity != acting
        for path in manager.fields.intersection(taken)
    ]
    if conflicts and not force:
        raise _conflict_error(sorted(conflicts, key=lambda item: (item[0].describe(), item[1])))
    lost = taken.union(change.removed)
    return [
        manager if manager.identity == acting else replace(manager, fields=manager.fields.difference(lost))
        for manager in managers
    ]


def apply(
    live: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    *,
    manager: str,
    now: str,
    force: bool = False,
    subresource: str = "",
    ignored: Iterable[Path] = (),
) -> dict[str, Any]:
    """Server-side apply of ``config`` (decoded from the apply YAML) by ``manager`` onto ``live``.

    ``live`` is None for an apply that creates the object. Returns the new object with its
    ``metadata.managedFields``; raises :class:`ConflictError` (409) naming every conflicting manager
    and field unless ``force``. ``now`` is the RFC 3339 time recorded for the manager.
    """
    api_version, kind = str(config.get("apiVersion", "")), str(config.get("kind", ""))
    schema = type_for_kind(api_version, kind)
    excluded = tuple(ignored)
    managers = decode_managed_fields((live or {}).get("metadata", {}).get("managedFields"))
    before = _without_managed_fields(live)
    body = _without_managed_fields(config)
    merged = merge(before, body, schema)
    identity = (manager, APPLY, subresource, "")
    previous = next((m for m in managers if m.identity == identity), None)
    owned = field_set(body, schema, ignored=excluded)
    others = FieldSet()
    for other in managers:
        if other.identity != identity:
            others = others.union(other.fields)
    if previous is not None:
        merged = _prune(merged, previous.fields, owned, others, schema)
    change = compare(before, merged, schema, excluded)
    managers = _transfer(managers, identity, change, force=force)
    changed = (
        previous is None
        or previous.fields != owned
        or bool(change.added or change.modified or change.removed)
    )
    entry = Manager(
        manager,
        APPLY,
        api_version,
        owned,
        time=now if changed else previous.time if previous else now,
        subresource=subresource,
    )
    managers = [m for m in managers if m.identity != identity] + [entry]
    return _with_managed_fields(merged, managers)


def update(
    live: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    manager: str,
    now: str,
    subresource: str = "",
    ignored: Iterable[Path] = (),
) -> dict[str, Any]:
    """The ownership a non-apply write (create, update, JSON/merge/strategic patch) leaves.

    ``new`` is the object as it will be stored; its ``managedFields`` are ignored unless the write
    supplied them on purpose (the caller decides), the result carries the recomputed list.
    """
    api_version, kind = str(new.get("apiVersion", "")), str(new.get("kind", ""))
    schema = type_for_kind(api_version, kind)
    excluded = tuple(ignored)
    managers = decode_managed_fields((live or {}).get("metadata", {}).get("managedFields"))
    before, after = _without_managed_fields(live), _without_managed_fields(new)
    change = compare(before, after, schema, excluded)
    identity = (manager, UPDATE, subresource, api_version)
    managers = _transfer(managers, identity, change, force=True)
    previous = next((m for m in managers if m.identity == identity), None)
    owned = (previous.fields if previous else FieldSet()).difference(change.removed)
    owned = owned.union(change.modified).union(change.added).without_prefixes((*ALWAYS_IGNORED, *excluded))
    changed = previous is None or previous.fields != owned
    entry = Manager(
        manager,
        UPDATE,
        api_version,
        owned,
        time=now if changed or previous is None else previous.time,
        subresource=subresource,
    )
    managers = [m for m in managers if m.identity != identity] + [entry]
    return _with_managed_fields(after, managers)
