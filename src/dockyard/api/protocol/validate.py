"""Checking and converting decoded request parameters against a botocore input shape.

Each input shape is compiled once into a tree of small check nodes (cached per shape object), so the hot
path is a plain walk over the request's own values: no model lookups, no trait parsing.

* A value of the wrong type (or a malformed timestamp/blob) raises :class:`SerializationError`, naming
  the parameter path.
* Constraint violations (required, enum, length, range, pattern) are all collected, then raised together
  as one :class:`ValidationError` in AWS's Coral format::

      2 validation errors detected: Value null at 'clusterName' failed to satisfy constraint: Member must
      not be null; Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less
      than or equal to 100

* Members the shape does not know are dropped silently, as AWS does; JSON ``null`` counts as absent.

Requests are checked in two passes so that valid ones (nearly all) pay for no error bookkeeping: a fast
pass (``path`` is None) builds no parameter paths and stops at the first problem (``_FastPassError``);
only then does a careful pass walk the value again, with paths, to report every problem.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape, StructureShape

from dockyard.core.errors import SerializationError, ValidationError

#: One constraint violation: the offending value, the parameter path, the Coral constraint text.
Violation = tuple[Any, str, str]
#: A parameter path (``settings.1.member.name``), or None in the fast pass.
Path = str | None

_NOT_NULL = "Member must not be null"
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Java regex classes the AWS models use that Python's ``re`` lacks; the stand-ins are deliberately lenient.
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\d", r"\p{Z}": r"\s"}
_MAX_CACHED_PLANS = 4096


class _FastPassError(Exception):
    """The fast pass met a problem: the careful pass must run to report it."""


def validate_input(shape: StructureShape, params: Any, *, lower_camel_paths: bool = False) -> dict[str, Any]:
    """Check ``params`` against the structure ``shape`` and return them converted to Python values.

    Guarantees on return: only modelled members are kept; timestamps are aware UTC datetimes, blobs are
    bytes, doubles are floats; every constraint of the shape holds. ``lower_camel_paths`` lowers the first
    letter of each path segment in error messages (the query protocol's Coral style: ``roleSessionName``).
    Shapes should be long-lived (``OperationModel.input_shape`` is): the compiled plan is cached per object.
    """
    plan = _PLANS.get(shape)
    if plan is None:
        plan = _compile_root(shape)
    errs: list[Violation] = []
    try:
        fast: dict[str, Any] = plan.convert(params, None, errs)
        return fast
    except _FastPassError:
        pass
    result: dict[str, Any] = plan.convert(params, "", errs)  # raises SerializationError on bad types
    if errs:
        raise ValidationError(coral_message(errs, lower_camel_paths=lower_camel_paths))
    return result


def coral_message(errs: list[Violation], *, lower_camel_paths: bool = False) -> str:
    """Format violations the way AWS's Coral framework does (``N validation error(s) detected: ...``)."""
    parts = [
        f"Value {_coral_value(value)} at '{_display_path(path, lower_camel_paths)}' "
        f"failed to satisfy constraint: {constraint}"
        for value, path, constraint in errs
    ]
    noun = "error" if len(parts) == 1 else "errors"
    return f"{len(parts)} validation {noun} detected: " + "; ".join(parts)


# --- check nodes ---------------------------------------------------------------------------------------


class _Node:
    """A compiled check of one shape: returns the converted value, records violations, raises on bad types.

    With ``path`` None (fast pass) any problem raises ``_FastPassError``; with a path, violations are
    appended to ``errs`` and type errors raise SerializationError naming the path.
    """

    __slots__ = ()
    nullable = False  # whether None is an acceptable list item / map value

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        raise NotImplementedError


class _Passthrough(_Node):
    """Documents (free-form JSON) and any type the model may add later: accepted as decoded."""

    __slots__ = ()
    nullable = True

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        return value


class _Bounded(_Node):
    """A node whose shape may carry ``min``/``max``: a length (strings, blobs, lists, maps) or a range."""

    __slots__ = ("bounded", "hi", "lo")

    def __init__(self, shape: Shape) -> None:
        self.lo: Any = shape.metadata.get("min")
        self.hi: Any = shape.metadata.get("max")
        self.bounded = self.lo is not None or self.hi is not None

    def check_length(self, value: Any, size: int, path: Path, errs: list[Violation]) -> None:
        if self.lo is not None and size < self.lo:
            _violate(errs, value, path, f"Member must have length greater than or equal to {self.lo}")
        if self.hi is not None and size > self.hi:
            _violate(errs, value, path, f"Member must have length less than or equal to {self.hi}")

    def check_range(self, value: float, path: Path, errs: list[Violation]) -> None:
        if self.lo is not None and value < self.lo:
            _violate(errs, value, path, f"Member must have value greater than or equal to {_number(self.lo)}")
        if self.hi is not None and value > self.hi:
            _violate(errs, value, path, f"Member must have value less than or equal to {_number(self.hi)}")


class _PlainString(_Node):
    """A string shape without constraints: the most common leaf, so it gets the shortest check."""

    __slots__ = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        return value


class _String(_Bounded):
    __slots__ = ("enum", "enum_text", "pattern", "pattern_text")

    def __init__(self, shape: Shape) -> None:
        super().__init__(shape)
        enum = shape.metadata.get("enum")
        self.enum = frozenset(enum) if enum else None
        self.enum_text = f"Member must satisfy enum value set: [{', '.join(enum or ())}]"
        self.pattern_text: str = shape.metadata.get("pattern", "")
        self.pattern = _compile_pattern(self.pattern_text) if self.pattern_text else None

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        if self.bounded:
            self.check_length(value, len(value), path, errs)
        if self.enum is not None and value not in self.enum:
            _violate(errs, value, path, self.enum_text)
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            _violate(
                errs, value, path, f"Member must satisfy regular expression pattern: {self.pattern_text}"
            )
        return value


class _Integer(_Bounded):
    __slots__ = ("bounds", "kind")

    def __init__(self, shape: Shape) -> None:
        super().__init__(shape)
        self.kind: str = shape.type_name
        self.bounds = _INT_BOUNDS[self.kind]

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if type(value) is not int:  # ``type`` rather than isinstance: a JSON true is not an integer
            if type(value) is float and value.is_integer():  # Coral, like Jackson, accepts 5.0 for 5
                value = int(value)
            else:
                raise _type_error(path, f"an {self.kind}" if self.kind == "integer" else "a long", value)
        if not self.bounds[0] <= value <= self.bounds[1]:
            raise _malformed(path, f"does not fit in a 32/64-bit {self.kind}")
        if self.bounded:
            self.check_range(value, path, errs)
        return value


class _Float(_Bounded):
    __slots__ = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        kind = type(value)
        if kind is int:
            value = float(value)
        elif kind is str and value in _SPECIAL_FLOATS:  # botocore sends NaN/Infinity as strings
            value = _SPECIAL_FLOATS[value]
        elif kind is not float:
            raise _type_error(path, "a number", value)
        if self.bounded:
            self.check_range(value, path, errs)
        return value


class _Boolean(_Node):
    __slots__ = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if type(value) is not bool:
            raise _type_error(path, "a boolean", value)
        return value


class _Timestamp(_Node):
    __slots__ = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        return parse_timestamp(value, path)


class _Blob(_Bounded):
    __slots__ = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, str):
            raise _type_error(path, "a base64-encoded string", value)
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _malformed(path, "is not valid base64") from None
        if self.bounded:
            self.check_length(value, len(data), path, errs)
        return data


class _List(_Bounded):
    __slots__ = ("member", "plain_strings")

    def __init__(self, shape: Shape, member: _Node) -> None:
        super().__init__(shape)
        self.member = member
        self.plain_strings = type(member) is _PlainString

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, list):
            raise _type_error(path, "a list", value)
        if self.bounded:
            self.check_length(value, len(value), path, errs)
        member = self.member
        if path is None:
            return self._convert_fast(value, errs)
        out = []
        for index, item in enumerate(value, 1):
            item_path = f"{path}.{index}.member"
            if item is None and not member.nullable:
                errs.append((None, item_path, _NOT_NULL))
            else:
                out.append(member.convert(item, item_path, errs))
        return out

    def _convert_fast(self, value: list[Any], errs: list[Violation]) -> list[Any]:
        """A None item fails its member's type check, so that the careful pass reports it."""
        if self.plain_strings:  # lists of names and ARNs are the most common input: check them inline
            for item in value:
                if type(item) is not str:
                    raise _FastPassError
            return value
        convert = self.member.convert
        out = []
        for item in value:
            out.append(convert(item, None, errs))
        return out


class _Map(_Bounded):
    __slots__ = ("key", "value")

    def __init__(self, shape: Shape, key: _Node, value: _Node) -> None:
        super().__init__(shape)
        self.key = key
        self.value = value

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, dict):
            raise _type_error(path, "a map", value)
        if self.bounded:
            self.check_length(value, len(value), path, errs)
        key_node, value_node = self.key, self.value
        if path is None:
            return {
                key_node.convert(k, None, errs): value_node.convert(v, None, errs) for k, v in value.items()
            }
        key_errs: list[Violation] = []
        out = {}
        for key, item in value.items():
            checked_key = key_node.convert(key, path, key_errs)
            item_path = f"{path}.{key}"
            if item is None and not value_node.nullable:
                errs.append((None, item_path, _NOT_NULL))
            else:
                out[checked_key] = value_node.convert(item, item_path, errs)
        if key_errs:
            # Coral reports bad keys once, on the map itself.
            constraints = ", ".join(dict.fromkeys(constraint for _, _, constraint in key_errs))
            errs.append((value, path, f"Map keys must satisfy constraint: [{constraints}]"))
        return out


class _Structure(_Node):
    __slots__ = ("by_name", "members", "required")

    def __init__(self) -> None:
        # Filled after construction, so that recursive shapes can refer to this node.
        self.members: tuple[tuple[str, _Node, bool], ...] = ()  # (name, node, required?) in model order
        self.by_name: dict[str, _Node] = {}
        self.required: tuple[str, ...] = ()

    def convert(self, value: Any, path: Path, errs: list[Violation]) -> Any:
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        out = {}
        if path is None:
            # Fast pass: walk the request's keys rather than the model's members (requests are sparse).
            members = self.by_name
            for key, item in value.items():
                node = members.get(key)
                if node is not None and item is not None:
                    out[key] = node.convert(item, None, errs)
            for name in self.required:
                if name not in out:
                    raise _FastPassError
            return out
        prefix = f"{path}." if path else ""
        for name, node, required in self.members:
            item = value.get(name)
            if item is None:
                if required:
                    errs.append((None, prefix + name, _NOT_NULL))
            else:
                out[name] = node.convert(item, prefix + name, errs)
        return out


# --- compilation ---------------------------------------------------------------------------------------

_PLANS: dict[Any, _Node] = {}


def _compile_root(shape: Shape) -> _Node:
    """Compile and cache the plan of a root shape (the cache is bounded against short-lived shapes)."""
    if len(_PLANS) >= _MAX_CACHED_PLANS:
        _PLANS.clear()
    plan = _compile(shape, {})
    _PLANS[shape] = plan
    return plan


def _compile(shape: Shape, memo: dict[str, _Node]) -> _Node:
    """Build the node of ``shape``; ``memo`` (by shape name, unique per service) ties recursive shapes."""
    node = memo.get(shape.name)
    if node is not None:
        return node
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        struct = _Structure()
        memo[shape.name] = struct
        required = frozenset(shape.required_members)
        struct.members = tuple(
            (name, _compile(member, memo), name in required) for name, member in shape.members.items()
        )
        struct.by_name = {name: node for name, node, _ in struct.members}
        struct.required = tuple(name for name, _, needed in struct.members if needed)
        return struct
    if kind == "list":
        node = _List(shape, _compile(shape.member, memo))
    elif kind == "map":
        node = _Map(shape, _compile(shape.key, memo), _compile(shape.value, memo))
    else:
        node = _scalar_node(shape)
    memo[shape.name] = node
    return node


def _scalar_node(shape: Shape) -> _Node:
    kind = shape.type_name
    if kind == "string":
        constrained = any(key in shape.metadata for key in ("min", "max", "enum", "pattern"))
        return _String(shape) if constrained else _PlainString()
    if kind in _INT_BOUNDS:
        return _Integer(shape)
    if kind in ("float", "double"):
        return _Float(shape)
    if kind == "boolean":
        return _Boolean()
    if kind == "timestamp":
        return _Timestamp()
    if kind == "blob":
        return _Blob(shape)
    return _Passthrough()


@functools.lru_cache(maxsize=512)
def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Translate a model's Java regex to Python's ``re``; None (pattern not enforced) if it cannot be."""
    translated = pattern
    for java, python in _JAVA_CLASSES.items():
        translated = translated.replace(java, python)
    # Java reads ``[\w-_]`` as a literal dash; Python rejects the range.
    translated = re.sub(r"(\\[wdsWDS])-(?!\])", r"\1\\-", translated)
    try:
        return re.compile(translated)
    except re.error:
        return None


# --- helpers -------------------------------------------------------------------------------------------


def parse_timestamp(value: Any, path: Path) -> datetime:
    """Read epoch seconds (number or numeric string) or ISO 8601 text as an aware UTC datetime."""
    if type(value) in (int, float):
        return _from_epoch(value, path)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            try:
                return _from_epoch(float(value), path)
            except ValueError:
                raise _malformed(path, "is not a valid timestamp") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise _type_error(path, "a timestamp", value)


def _from_epoch(seconds: float, path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(path, "is not a valid timestamp") from None


def _violate(errs: list[Violation], value: Any, path: Path, constraint: str) -> None:
    if path is None:
        raise _FastPassError
    errs.append((value, path, constraint))


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _type_error(path: Path, expected: str, value: Any) -> Exception:
    """The exception for a value of the wrong type: ``_FastPassError`` in the fast pass."""
    if path is None:
        return _FastPassError()
    where = f"'{path}'" if path else "the top level of the request"
    return SerializationError(f"Value at {where} must be {expected}, not {_json_kind(value)}.")


def _malformed(path: Path, problem: str) -> Exception:
    """The exception for a well-typed value that cannot be read: ``_FastPassError`` in the fast pass."""
    return _FastPassError() if path is None else SerializationError(f"Value at '{path}' {problem}.")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _coral_value(value: Any) -> str:
    return "null" if value is None else f"'{_java_text(value)}'"


def _java_text(value: Any) -> str:
    """Render a value like Java's ``toString`` (what Coral echoes): ``[a, b]``, ``{k=v}``, ``true``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_text(item)}" for key, item in value.items()) + "}"
    return str(value)


def _display_path(path: str, lower_camel: bool) -> str:
    if not lower_camel:
        return path
    return ".".join(segment[:1].lower() + segment[1:] for segment in path.split("."))
