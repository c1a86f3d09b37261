"""The three PATCH bodies kube-apiserver accepts besides apply, and one entry point for them. Pure.

::

    apply_patch(content_type, live, body, api_version=…, kind=…)
      application/json-patch+json            → apply_json_patch   (RFC 6902)
      application/merge-patch+json           → apply_merge_patch  (RFC 7386)
      application/strategic-merge-patch+json → strategic.strategic_merge, typed by schema.type_for_kind
      anything else                          → 415 UnsupportedMediaType

JSON Patch follows the library kube-apiserver uses (evanphx/json-patch v4): pointers unescape ``~1`` then
``~0``; ``-`` appends; negative indices count from the end; ``add`` needs the parent to exist and
replaces an existing member; ``remove``, ``replace``, ``move`` and ``copy`` need their source; ``test``
compares JSON values (``1`` equals ``1.0``, ``true`` does not equal ``1``) and a ``null`` test passes on
a missing member. A body that is not a list of operations is a 400; a failed operation is the 422
kube-apiserver answers with only its generic message (the cause is in :attr:`PatchError.detail`); more
than 10,000 operations is a 413.

JSON Merge Patch: ``null`` deletes, objects merge recursively, anything else replaces, and nulls inside
a value that replaces are dropped (arrays keep their null elements).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from dockyard.control.kube.errors import PatchError
from dockyard.control.kube.schema import type_for_kind
from dockyard.control.kube.strategic import strategic_merge

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
MAX_JSON_PATCH_OPERATIONS = 10_000
_REJECTED = "the server rejected our request due to an error in our request"


def apply_patch(
    content_type: str, live: dict[str, Any], body: bytes | str, *, api_version: str, kind: str
) -> dict[str, Any]:
    """``live`` patched by ``body`` of ``content_type`` (parameters such as ``; charset`` ignored).

    ``live`` is not modified. Server-side apply (``application/apply-patch+yaml``) is not a patch
    document and is handled by :mod:`.managed_fields`.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        raise PatchError(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}",
            reason="UnsupportedMediaType",
            code=415,
        )
    if media == JSON_PATCH:
        patched = apply_json_patch(live, _decode(body))
    elif media == MERGE_PATCH:
        patched = apply_merge_patch(live, _decode(body, "Invalid JSON Patch"))
    else:
        patch = _decode(body, "invalid JSON document")
        if not isinstance(patch, dict):
            raise PatchError("invalid JSON document")
        patched = strategic_merge(live, patch, type_for_kind(api_version, kind))
    if not isinstance(patched, dict):
        raise PatchError("the patched object is not a JSON object", reason="BadRequest", code=400)
    return patched


def _decode(body: bytes | str, malformed: str = "") -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise PatchError(malformed or f"invalid JSON: {error}") from None


# ── JSON Patch ──────────────────────────────────────────────────────────────────────────────────────


def _unprocessable(detail: str) -> PatchError:
    return PatchError(_REJECTED, reason="Invalid", code=422, detail=detail)


def _go_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def json_equal(left: Any, right: Any) -> bool:
    """Equality of decoded JSON values, where a boolean is never a number."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return False
    return bool(left == right)


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901: ``/a~1b/~0c`` is ``["a/b", "~c"]``; "" is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _unprocessable(f"JSON pointer must start with '/': {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _index(token: str, size: int, *, inserting: bool) -> int:
    """An array index token as Go's ``strconv.Atoi`` reads it; negative counts from the end."""
    text = token[1:] if token[:1] in "+-" else token
    if not text.isdigit() or not text.isascii():
        raise _unprocessable(f"invalid array index: {token!r}")
    index = int(token)
    limit = size + 1 if inserting else size
    if index < 0:
        index += limit
    if not 0 <= index < limit:
        raise _unprocessable(f"array index out of bounds: {token}")
    return index


def _parent(document: Any, tokens: list[str], pointer: str) -> Any:
    current = document
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise _unprocessable(f"doc is missing path: {pointer!r}")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(token, len(current), inserting=False)]
        else:
            raise _unprocessable(f"doc is missing path: {pointer!r}")
    if not isinstance(current, dict | list):
        raise _unprocessable(f"doc is missing path: {pointer!r}")
    return current


def _get(document: Any, pointer: str) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return document
    parent, last = _parent(document, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"doc is missing key: {pointer}")
        return parent[last]
    return parent[_index(last, len(parent), inserting=False)]


def _add(document: Any, pointer: str, value: Any) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    parent, last = _parent(document, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif last == "-":
        parent.append(value)
    else:
        parent.insert(_index(last, len(parent), inserting=True), value)
    return document


def _remove(document: Any, pointer: str) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent, last = _parent(document, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"error in remove for path: '{pointer}': missing value")
        del parent[last]
    else:
        del parent[_index(last, len(parent), inserting=False)]
    return document


def _replace(document: Any, pointer: str, value: Any) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    parent, last = _parent(document, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(
                f"replace operation does not apply: doc is missing key: {pointer}: missing value"
            )
        parent[last] = value
    else:
        parent[_index(last, len(parent), inserting=False)] = value
    return document


def _test(document: Any, pointer: str, expected: Any) -> None:
    tokens = parse_pointer(pointer)
    try:
        actual = _get(document, pointer)
    except PatchError:
        parent_exists = True
        try:
            _parent(document, tokens, pointer)
        except PatchError:
            parent_exists = False
        if parent_exists and expected is None:
            return
        raise _unprocessable(f"testing value {pointer} failed: test failed") from None
    if not json_equal(actual, expected):
        raise _unprocessable(f"testing value {pointer} failed: test failed")


def _required(operation: dict[str, Any], member: str) -> Any:
    if member not in operation:
        raise _unprocessable(f"{operation.get('op')} operation missing {member}")
    return operation[member]


def _pointer(operation: dict[str, Any], member: str) -> str:
    pointer = _required(operation, member)
    if not isinstance(pointer, str):
        raise _unprocessable(f"{operation.get('op')} operation has a {member} that is not a string")
    return pointer


def apply_json_patch(document: Any, operations: Any) -> Any:
    """``document`` (not modified) with the RFC 6902 ``operations`` applied in order, all or nothing."""
    if not isinstance(operations, list):
        shown = "array" if operations is None else _go_kind(operations)
        raise PatchError(f"json: cannot unmarshal {shown} into Go value of type jsonpatch.Patch")
    if any(not isinstance(operation, dict) for operation in operations):
        bad = next(operation for operation in operations if not isinstance(operation, dict))
        raise PatchError(f"json: cannot unmarshal {_go_kind(bad)} into Go value of type jsonpatch.Operation")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
            reason="RequestEntityTooLarge",
            code=413,
        )
    result = copy.deepcopy(document)
    for operation in operations:
        kind = operation.get("op")
        if kind == "add":
            result = _add(result, _pointer(operation, "path"), copy.deepcopy(_required(operation, "value")))
        elif kind == "remove":
            result = _remove(result, _pointer(operation, "path"))
        elif kind == "replace":
            result = _replace(
                result, _pointer(operation, "path"), copy.deepcopy(_required(operation, "value"))
            )
        elif kind == "move":
            source, target = _pointer(operation, "from"), _pointer(operation, "path")
            value = _get(result, source)
            result = _add(_remove(result, source), target, value)
        elif kind == "copy":
            value = copy.deepcopy(_get(result, _pointer(operation, "from")))
            result = _add(result, _pointer(operation, "path"), value)
        elif kind == "test":
            _test(result, _pointer(operation, "path"), _required(operation, "value"))
        else:
            raise _unprocessable(f"Unexpected kind: {kind}")
    return result


# ── JSON Merge Patch ────────────────────────────────────────────────────────────────────────────────


def _pruned(value: Any) -> Any:
    """A value without the null members of its objects, at any depth (null array elements stay)."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _merge_documents(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif not isinstance(target.get(key), dict):
            # Nothing there (or null, or not an object) to merge into.
            target[key] = _pruned(value)
        elif isinstance(value, dict):
            target[key] = _merge_documents(target[key], value)
        else:
            target[key] = value
    return target


def apply_merge_patch(document: dict[str, Any], patch: Any) -> dict[str, Any]:
    """RFC 7386 merge of ``patch`` into a copy of ``document``: null deletes, objects merge."""
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch")
    return _merge_documents(copy.deepcopy(document), copy.deepcopy(patch))
