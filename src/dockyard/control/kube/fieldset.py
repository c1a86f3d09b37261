"""Sets of field paths, the ownership unit of server-side apply, and their ``fieldsV1`` form. Pure.

A path is a tuple of elements written as ``fieldsV1`` writes them::

    f:<name>        a field of a struct or a map entry              .spec
    k:<json>        an item of an associative list, by its keys     [name="nginx"]
    v:<json>        an item of a set of scalars, by its value       [="a"]
    i:<n>           an item of a list by position                   [0]

``fieldsV1`` nests them, ``{"f:spec": {"f:containers": {<k:{"name":"web"}>: {".": {}, "f:image": {}}}}}``
— a leaf ``{}`` is a path in the set, ``".": {}`` marks a path that is in the set and has children in
it too, and a node with children but no ``"."`` is only on the way to them. The readable form (the
right column) is the one kube-apiserver's conflict messages print.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]


def field_element(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    return "k:" + json.dumps(dict(sorted(keys.items())), separators=(",", ":"), ensure_ascii=False)


def value_element(item: Any) -> str:
    return "v:" + json.dumps(item, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def index_element(index: int) -> str:
    return f"i:{index}"


def _readable(element: str) -> str:
    kind, body = element[:2], element[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        keys = json.loads(body)
        return "[" + ",".join(f"{name}={json.dumps(value)}" for name, value in keys.items()) + "]"
    if kind == "v:":
        return f"[={body}]"
    return f"[{body}]"


def path_string(path: Path) -> str:
    """``fieldpath.Path.String()``: ``.spec.template.spec.containers[name="web"].image``."""
    return "".join(_readable(element) for element in path)


def is_prefix(prefix: Path, path: Path) -> bool:
    return len(prefix) <= len(path) and path[: len(prefix)] == prefix


@dataclass(frozen=True)
class FieldSet:
    """An immutable set of paths with the operations ownership needs."""

    paths: frozenset[Path] = field(default_factory=frozenset)

    @staticmethod
    def of(paths: Iterable[Path]) -> FieldSet:
        return FieldSet(frozenset(paths))

    def __iter__(self) -> Iterator[Path]:
        return iter(sorted(self.paths))

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: object) -> bool:
        return path in self.paths

    def __bool__(self) -> bool:
        return bool(self.paths)

    def union(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths | other.paths)

    def difference(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths - other.paths)

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet(self.paths & other.paths)

    def without_prefixes(self, prefixes: Iterable[Path]) -> FieldSet:
        """The paths not at or under any of ``prefixes`` (``RecursiveDifference`` with ignored fields)."""
        excluded = tuple(prefixes)
        return FieldSet(frozenset(p for p in self.paths if not any(is_prefix(x, p) for x in excluded)))

    def has_at_or_under(self, prefix: Path) -> bool:
        return any(is_prefix(prefix, path) for path in self.paths)

    def to_fields_v1(self) -> dict[str, Any]:
        """The nested ``fieldsV1`` object of this set."""
        root: dict[str, Any] = {}
        for path in self.paths:
            node = root
            for element in path:
                node = node.setdefault(element, {})
            node["."] = {}
        return _collapse(root)

    @staticmethod
    def from_fields_v1(tree: dict[str, Any]) -> FieldSet:
        """Read a ``fieldsV1`` object; raises ValueError if it is not one."""
        paths: set[Path] = set()
        _read(tree, (), paths)
        return FieldSet(frozenset(paths))


def _collapse(node: dict[str, Any]) -> dict[str, Any]:
    """Turn member marks into fieldsV1's spelling: a member with no children is just ``{}``."""
    children = {key: _collapse(child) for key, child in sorted(node.items()) if key != "."}
    if "." in node and children:
        return {".": {}, **children}
    return children


def _read(node: Any, path: Path, paths: set[Path]) -> None:
    if not isinstance(node, dict):
        raise ValueError(f"fieldsV1 node at {path_string(path) or '.'} is not an object")
    if path and (not node or "." in node):
        paths.add(path)
    for key, child in node.items():
        if key == ".":
            continue
        if key[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError(f"fieldsV1 element {key!r} has no known prefix")
        _read(child, (*path, key), paths)
