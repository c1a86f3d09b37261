"""Strategic merge patch (``application/strategic-merge-patch+json``), as kube-apiserver applies it. Pure.

A JSON merge patch that knows the API's types (:mod:`.schema`)::

    mergeMap(original, patch, type)
      $patch: replace → the patch map itself        $patch: delete → {}
      $retainKeys: [..] → drop original keys not listed (Deployment strategy, Volume sources)
      $setElementOrder/<list>: [..] → merge that list now and order it as given
      for each key of the patch:
        null                     → delete the key
        $deleteFromPrimitiveList/<list>: [..] → remove those values from the primitive list
        absent in original, or another JSON type → take the patch value (directives processed)
        map and map   → recurse with the field's type (unless its strategy is ``replace``)
        list and list → strategy ``merge``: merge by ``patchMergeKey`` (or as a set of scalars),
                        elements ``{"$patch": "delete", <key>: v}`` remove, ``{"$patch": "replace"}``
                        makes the rest of the patch list the result; otherwise the patch list
        scalar        → the patch value

The order of a merged list is kube-apiserver's: the patch's elements in patch order and the original's
other elements in original order, interleaved so that each keeps its place relative to the live list, an
element new to the list coming before the live ones it is compared with (so a container added by a
patch comes first, as the "Update API Objects in Place Using kubectl patch" task shows). Fields that the
type does not describe merge as maps and replace as lists. Errors carry kube-apiserver's texts and
statuses (400 for a malformed directive, 422 for a list of lists, 500 for a missing merge key).
"""

from __future__ import annotations

import copy
from typing import Any

from dockyard.control.kube import gofmt
from dockyard.control.kube.errors import PatchError
from dockyard.control.kube.schema import Field, TypeInfo

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def _bad_request(message: str) -> PatchError:
    return PatchError(message, reason="BadRequest", code=400)


def _internal(message: str) -> PatchError:
    # kube-apiserver returns these errors unwrapped, which its error handler turns into a 500.
    return PatchError(f"Internal error occurred: {message}", reason="InternalError", code=500, detail=message)


def _no_merge_key(element: dict[str, Any], key: str) -> PatchError:
    return _internal(f"map: {gofmt.value(element)} does not contain declared merge key: {key}")


def _json_kind(value: Any) -> str:
    """The Go type a decoded JSON value has: numbers are one type, booleans another."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "map" if isinstance(value, dict) else "list"


def _strategy(field: Field) -> tuple[bool, str]:
    """``extractRetainKeysPatchStrategy``: (retainKeys given, the other strategy or "")."""
    strategies = field.patch_strategies
    if len(strategies) > 2 or (len(strategies) == 2 and "retainKeys" not in strategies):
        raise _internal(f"unexpected patch strategy: [{' '.join(strategies)}]")
    others = [strategy for strategy in strategies if strategy != "retainKeys"]
    return "retainKeys" in strategies, others[0] if others else ""


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], schema: TypeInfo) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``original`` (a live object) with ``schema`` as the root type."""
    if not isinstance(original, dict):
        raise _bad_request("invalid JSON document")
    if not isinstance(patch, dict):
        raise _bad_request("invalid JSON document")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: TypeInfo) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return _without_directives(patch, schema)
        if directive == "delete":
            return {}
        raise _internal(f"unknown patch type: {directive} in map: {gofmt.value(patch)}")
    _retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)
    for patch_key, value in list(patch.items()):
        deleting = patch_key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        key = patch_key
        if deleting:
            key = _directive_field(
                patch_key, DELETE_FROM_PRIMITIVE_LIST, "invalid patch format of primitive list"
            )
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _json_kind(original[key]) != _json_kind(value):
            if not deleting:
                original[key] = _fresh(value, schema.field(key))
            continue
        original[key] = _merge_value(original[key], value, schema.field(key), deleting=deleting)
    return original


def _merge_value(original: Any, patch: Any, field: Field, *, deleting: bool = False) -> Any:
    """Merge two values of the same JSON type found under ``field``."""
    if isinstance(patch, dict):
        _, strategy = _strategy(field)
        return (
            _fresh(patch, field) if strategy == "replace" else _merge_map(original, patch, field.element_type)
        )
    if isinstance(patch, list):
        _, strategy = _strategy(field)
        if strategy == "merge" or deleting:
            return _merge_list(original, patch, field, deleting=deleting)
        return _fresh(patch, field)
    return patch


def _directive_field(key: str, prefix: str, malformed: str) -> str:
    parts = key.split("/", 1)
    if len(parts) != 2:
        raise _bad_request(malformed)
    return parts[1]


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``$retainKeys``: the original keeps only the listed keys (before the patch's own keys apply)."""
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise _bad_request("invalid patch format of retainKeys")
    kept = {key for key in retained if isinstance(key, str)}
    for key in [key for key in original if key not in kept]:
        del original[key]


def _fresh(value: Any, field: Field) -> Any:
    """A patch value with nothing to merge into: nulls dropped and directives carried out against nothing."""
    if isinstance(value, dict):
        return _merge_map({}, value, field.element_type)
    if isinstance(value, list):
        _, strategy = _strategy(field)
        if strategy == "merge" and any(isinstance(element, dict) for element in value):
            return _merge_list([], value, field)
        return [_fresh(element, Field(element=field.element)) for element in value]
    return value


def _without_directives(patch: dict[str, Any], schema: TypeInfo) -> dict[str, Any]:
    return _merge_map({}, patch, schema)


# ── Lists ───────────────────────────────────────────────────────────────────────────────────────────


def _element_kind(original: list[Any], patch: list[Any]) -> str:
    """``sliceElementType``: all elements of both lists have one JSON type, which is not a list."""
    kinds = {_json_kind(element) for element in [*original, *patch]}
    if len(kinds) > 1:
        raise _internal(f"list element types are not identical: {gofmt.value([original, patch])}")
    kind = kinds.pop() if kinds else "null"
    if kind == "list":
        raise PatchError("lists of lists are not supported", reason="Invalid", code=422)
    return kind


def _merge_list(original: list[Any], patch: list[Any], field: Field, *, deleting: bool = False) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    key = field.merge_key or ""
    if kind != "map":
        if deleting:
            return [element for element in original if element not in patch]
        merged = _distinct([*original, *patch])
        patch_items = _ordered([element for element in merged if element in patch], patch, "")
        server_only = [element for element in merged if element not in patch]
        return _interleave(server_only, patch_items, original, key="")
    if not key:
        raise _internal(f"cannot merge lists without merge key for {field.element or 'a list'}")
    original, patch = _special_elements(original, patch, key)
    merged = list(original)
    element_type = field.element_type
    for element in patch:
        if key not in element:
            raise _no_merge_key(element, key)
        index = _find(merged, key, element[key])
        if index is None:
            merged.append(_merge_map({}, element, element_type))
        else:
            merged[index] = _merge_map(merged[index], element, element_type)
    in_patch = [element[key] for element in patch]
    patch_items = _ordered([element for element in merged if element.get(key) in in_patch], patch, key)
    server_only = [element for element in merged if element.get(key) not in in_patch]
    return _interleave(server_only, patch_items, original, key=key)


def _special_elements(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Carry out ``{"$patch": …}`` elements; returns the original and the patch without them."""
    plain: list[Any] = []
    replace = False
    for element in patch:
        if DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[DIRECTIVE]
        if directive == "delete":
            if key not in element:
                raise _no_merge_key(element, key)
            original = [item for item in original if item.get(key) != element[key]]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _internal("merging lists cannot yet be specified in the patch")
        else:
            raise _internal(f"unknown patch type: {directive} in map: {gofmt.value(element)}")
    return (plain, []) if replace else (original, plain)


def _find(elements: list[Any], key: str, value: Any) -> int | None:
    for index, element in enumerate(elements):
        if isinstance(element, dict) and key in element and element[key] == value:
            return index
    return None


def _distinct(values: list[Any]) -> list[Any]:
    distinct: list[Any] = []
    for value in values:
        if value not in distinct:
            distinct.append(value)
    return distinct


def _position(order: list[Any], element: Any, key: str) -> int:
    """Where ``element`` is in ``order`` (by merge key value for maps), or -1."""
    for index, candidate in enumerate(order):
        if key:
            if (
                isinstance(candidate, dict)
                and isinstance(element, dict)
                and candidate.get(key) == element.get(key)
            ):
                return index
        elif candidate == element:
            return index
    return -1


def _ordered(elements: list[Any], order: list[Any], key: str) -> list[Any]:
    """Stable sort of ``elements`` by their place in ``order``; elements not in it go last."""
    size = len(order)
    return sorted(elements, key=lambda element: _position(order, element, key) % (size + 1))


def _interleave(server_only: list[Any], patch_items: list[Any], live: list[Any], *, key: str) -> list[Any]:
    """``mergeSortedSlice``: a server-only element goes first only when the live list has it before the
    patch element it is compared with; otherwise the patch element does."""
    merged: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(patch_items):
        if right >= len(patch_items):
            merged.append(server_only[left])
            left += 1
        elif left >= len(server_only):
            merged.append(patch_items[right])
            right += 1
        else:
            left_at = _position(live, server_only[left], key)
            right_at = _position(live, patch_items[right], key)
            if left_at >= 0 and right_at >= 0 and left_at < right_at:
                merged.append(server_only[left])
                left += 1
            else:
                merged.append(patch_items[right])
                right += 1
    return merged


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], schema: TypeInfo) -> None:
    """``$setElementOrder/<list>``: merge the list now and put the listed elements in the given order."""
    for directive in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        name = _directive_field(directive, SET_ELEMENT_ORDER, "invalid patch format of setElementOrder list")
        if not isinstance(order, list):
            raise _bad_request("invalid patch format of setElementOrder list")
        field = schema.field(name)
        found = original.get(name)
        live: list[Any] = found if isinstance(found, list) else []
        present = name in patch
        patch_list = patch.pop(name, [])
        if patch_list is None:
            original.pop(name, None)
            continue
        if not isinstance(patch_list, list):
            raise _bad_request("invalid patch format of setElementOrder list")
        if not live and not patch_list:
            continue
        key = field.merge_key or ""
        _, strategy = _strategy(field)
        if strategy == "merge":
            merged = _merge_list(list(live), patch_list, field)
        else:
            merged = _fresh(patch_list, field) if present else list(live)
        kind = _element_kind(live, patch_list)
        if kind == "map":
            for element in [*order, *merged]:
                if not isinstance(element, dict) or key not in element:
                    raise _no_merge_key(element if isinstance(element, dict) else {}, key)
        key = key if kind == "map" else ""
        listed = [element for element in merged if _position(order, element, key) >= 0]
        others = [element for element in merged if _position(order, element, key) < 0]
        original[name] = _interleave(
            _ordered(others, live, key), _ordered(listed, order, key), list(live), key=key
        )
