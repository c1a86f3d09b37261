"""Decoding a request body the way kube-apiserver decodes it into its typed structs.

kube-apiserver keeps only the fields its Go types have: an unknown field is dropped, and reported by
``fieldValidation`` — ``Strict`` fails the request (400 ``strict decoding error: unknown field
"spec.foo"``), ``Warn`` (the default) answers a ``Warning`` header per field, ``Ignore`` says nothing. A
value of the wrong JSON type fails decoding whatever the setting (``json: cannot unmarshal string into Go
struct field …``). The types come from the kind's OpenAPI v3 schema (``openapi.resolved_schema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dockyard.control.kube import openapi
from dockyard.control.kube.errors import BadRequestError

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
FIELD_VALIDATIONS = (STRICT, WARN, IGNORE)

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}
_GO_TYPES = {"integer": "int64", "string": "string", "boolean": "bool", "number": "float64"}


@dataclass(frozen=True, slots=True)
class Decoded:
    obj: dict[str, Any]
    unknown_fields: tuple[str, ...]

    def warnings(self) -> list[str]:
        return [f'unknown field "{path}"' for path in self.unknown_fields]


@lru_cache(maxsize=64)
def _schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    return openapi.resolved_schema(group, version, kind)


def decode(
    obj: dict[str, Any], *, group: str, version: str, kind: str, field_validation: str = WARN
) -> Decoded:
    """``obj`` with the fields the kind does not have removed; raises :class:`BadRequestError` for a type
    mismatch, or for unknown fields under ``Strict``."""
    if field_validation not in FIELD_VALIDATIONS:
        raise BadRequestError(
            f"fieldValidation: Invalid value: {field_validation!r}: fieldValidation must be one of "
            '"Ignore", "Warn", or "Strict"'.replace("'", '"')
        )
    schema = _schema(group, version, kind)
    if schema is None:
        return Decoded(obj, ())
    unknown: list[str] = []
    problem: list[str] = []
    pruned = _walk(obj, schema, "", unknown, problem)
    if problem:
        raise BadRequestError(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {problem[0]}', reason="BadRequest"
        )
    if unknown and field_validation == STRICT:
        raise BadRequestError("strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown))
    return Decoded(pruned, tuple(unknown))


def _walk(value: Any, schema: dict[str, Any], path: str, unknown: list[str], problem: list[str]) -> Any:
    if value is None or schema.get("x-kubernetes-preserve-unknown-fields") or not schema:
        return value
    expected = schema.get("type")
    if expected is None and (
        "oneOf" in schema or "anyOf" in schema or schema.get("x-kubernetes-int-or-string")
    ):
        return value
    if not _type_matches(value, expected, schema):
        if not problem:
            got = _JSON_TYPES.get(type(value), "value")
            where = path or "."
            go_type = _go_type(expected, schema)
            problem.append(f"json: cannot unmarshal {got} into Go struct field {where} of type {go_type}")
        return value
    if expected == "object" and isinstance(value, dict):
        properties = schema.get("properties")
        if properties is not None:
            kept: dict[str, Any] = {}
            for key, item in value.items():
                child = properties.get(key)
                if child is None:
                    unknown.append(f"{path}.{key}" if path else key)
                    continue
                kept[key] = _walk(item, child, f"{path}.{key}" if path else key, unknown, problem)
            return kept
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {
                key: _walk(item, extra, f"{path}[{key}]", unknown, problem) for key, item in value.items()
            }
        return value
    if expected == "array" and isinstance(value, list):
        items = schema.get("items") or {}
        return [_walk(item, items, f"{path}[{index}]", unknown, problem) for index, item in enumerate(value)]
    return value


def _type_matches(value: Any, expected: str | None, schema: dict[str, Any]) -> bool:
    if expected is None:
        return True
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _go_type(expected: str | None, schema: dict[str, Any]) -> str:
    if expected == "integer" and schema.get("format") == "int32":
        return "int32"
    if expected == "object":
        return "map[string]interface {}" if "additionalProperties" in schema else "struct"
    if expected == "array":
        return "[]interface {}"
    return _GO_TYPES.get(str(expected), str(expected))
