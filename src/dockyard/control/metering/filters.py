"""Cost Explorer's Filter expressions and GroupBy keys over line items. Pure.

Expressions: exactly one of ``Dimensions {Key, Values, MatchOptions}``, ``Tags {Key, Values,
MatchOptions}``, ``And [...]``, ``Or [...]``, ``Not {...}``. Match options EQUALS (default), STARTS_WITH,
ENDS_WITH, CONTAINS, with CASE_SENSITIVE (default) or CASE_INSENSITIVE; for Tags also ABSENT (the task
lacks the key). A missing tag's value is ``""``, so ``Tags {Key, Values: [""]}`` selects untagged tasks, as
in Cost Explorer. Groups: a DIMENSION's value, or ``"<key>$<value>"`` for a TAG (``"<key>$"`` untagged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dockyard.control.metering.usage import SERVICE_NAME, LineItem
from dockyard.core.errors import ValidationError

DIMENSION, TAG = "DIMENSION", "TAG"
DIMENSIONS: dict[str, Callable[[LineItem], str]] = {
    "SERVICE": lambda item: SERVICE_NAME,
    "USAGE_TYPE": lambda item: item.usage_type,
    "REGION": lambda item: item.task.region,
    "LINKED_ACCOUNT": lambda item: item.task.account,
    "PURCHASE_TYPE": lambda item: item.purchase_type,
}
MAX_GROUPS = 2
_ROOTS = ("And", "Or", "Not", "Dimensions", "Tags", "CostCategories", "ProductAttributes")
_MATCHES = ("EQUALS", "STARTS_WITH", "ENDS_WITH", "CONTAINS")
_CASES = ("CASE_SENSITIVE", "CASE_INSENSITIVE")

Predicate = Callable[[LineItem], bool]
GroupKey = tuple[str, str]  # (DIMENSION | TAG, key)


def dimension_value(item: LineItem, key: str) -> str:
    return DIMENSIONS[key](item)


def check_dimension(key: object) -> str:
    if key not in DIMENSIONS:
        raise ValidationError(
            f"Dimension {key!r} is not supported by dockyard's Cost Explorer; "
            f"use one of {', '.join(DIMENSIONS)}."
        )
    return str(key)


def check_group_by(group_by: Sequence[Mapping[str, Any]] | None) -> list[GroupKey]:
    """GroupBy checked: at most two, each a supported DIMENSION or a TAG key, no repeats."""
    groups: list[GroupKey] = []
    for definition in group_by or ():
        kind, key = definition.get("Type"), definition.get("Key")
        if kind == DIMENSION:
            groups.append((DIMENSION, check_dimension(key)))
        elif kind == TAG:
            if not isinstance(key, str) or not key:
                raise ValidationError("A TAG group definition needs a tag Key.")
            groups.append((TAG, key))
        else:
            raise ValidationError(
                f"Group definition type {kind!r} is not supported by dockyard; use DIMENSION or TAG."
            )
    if len(groups) > MAX_GROUPS:
        raise ValidationError(f"You can group by at most {MAX_GROUPS} dimensions or tags.")
    if len(set(groups)) != len(groups):
        raise ValidationError("Group definitions cannot repeat.")
    return groups


def group_key(item: LineItem, group: GroupKey) -> str:
    kind, key = group
    if kind == DIMENSION:
        return dimension_value(item, key)
    return f"{key}${item.task.tag_map().get(key, '')}"


def _options(raw: object, *, allow_absent: bool) -> tuple[str, bool, bool]:
    """(match, case_insensitive, absent) from MatchOptions."""
    options = list(raw) if isinstance(raw, list | tuple) else [] if raw is None else None
    if options is None:
        raise ValidationError("MatchOptions must be a list.")
    allowed = (*_MATCHES, *_CASES, *(("ABSENT",) if allow_absent else ()))
    for option in options:
        if option not in allowed:
            raise ValidationError(f"Match option {option!r} is not supported here; use {', '.join(allowed)}.")
    matches = [option for option in options if option in _MATCHES]
    if len(matches) > 1 or ("CASE_SENSITIVE" in options and "CASE_INSENSITIVE" in options):
        raise ValidationError("MatchOptions can hold one match option and one case option.")
    return (matches[0] if matches else "EQUALS"), "CASE_INSENSITIVE" in options, "ABSENT" in options


def _values(raw: object, *, required: bool, what: str) -> list[str]:
    if raw is None:
        raw = []
    if not isinstance(raw, list | tuple) or not all(isinstance(value, str) for value in raw):
        raise ValidationError(f"{what} Values must be a list of strings.")
    if required and not raw:
        raise ValidationError(f"{what} Values cannot be empty.")
    return list(raw)


def _matcher(values: Sequence[str], match: str, insensitive: bool) -> Callable[[str], bool]:
    wanted = [value.lower() for value in values] if insensitive else list(values)
    test: Callable[[str, str], bool] = {
        "EQUALS": lambda actual, value: actual == value,
        "STARTS_WITH": str.startswith,
        "ENDS_WITH": str.endswith,
        "CONTAINS": lambda actual, value: value in actual,
    }[match]

    def matches(actual: str) -> bool:
        actual = actual.lower() if insensitive else actual
        return any(test(actual, value) for value in wanted)

    return matches


def compile_expression(expression: Mapping[str, Any] | None) -> Predicate:
    """The Filter as a predicate over line items (None: everything), checked in full up front."""
    if expression is None:
        return lambda item: True
    if not isinstance(expression, Mapping):
        raise ValidationError("An expression must be an object.")
    roots = [name for name in _ROOTS if expression.get(name) is not None]
    unknown = [name for name in expression if name not in _ROOTS]
    if unknown:
        raise ValidationError(f"Unknown expression field {unknown[0]!r}.")
    if len(roots) != 1:
        raise ValidationError(
            "Expression has more than one roots or none. Only one root operator is allowed for each "
            "expression: And, Or, Not, Dimensions, Tags."
        )
    root = roots[0]
    body = expression[root]
    if root in ("And", "Or"):
        if not isinstance(body, list | tuple) or not body:
            raise ValidationError(f"{root} needs a non-empty list of expressions.")
        parts = [compile_expression(part) for part in body]
        if root == "And":
            return lambda item: all(part(item) for part in parts)
        return lambda item: any(part(item) for part in parts)
    if root == "Not":
        inner = compile_expression(body)
        return lambda item: not inner(item)
    if root == "Dimensions":
        return _dimension_predicate(body)
    if root == "Tags":
        return _tag_predicate(body)
    raise ValidationError(f"{root} expressions are not supported by dockyard's Cost Explorer.")


def _dimension_predicate(body: object) -> Predicate:
    if not isinstance(body, Mapping):
        raise ValidationError("Dimensions must be an object.")
    key = check_dimension(body.get("Key"))
    match, insensitive, _ = _options(body.get("MatchOptions"), allow_absent=False)
    matches = _matcher(_values(body.get("Values"), required=True, what="Dimensions"), match, insensitive)
    return lambda item: matches(dimension_value(item, key))


def _tag_predicate(body: object) -> Predicate:
    if not isinstance(body, Mapping):
        raise ValidationError("Tags must be an object.")
    key = body.get("Key")
    if not isinstance(key, str) or not key:
        raise ValidationError("A Tags expression needs a tag Key.")
    match, insensitive, absent = _options(body.get("MatchOptions"), allow_absent=True)
    values = _values(body.get("Values"), required=False, what="Tags")
    if absent:
        return lambda item: key not in item.task.tag_map()
    if not values:
        return lambda item: key in item.task.tag_map()
    matches = _matcher(values, match, insensitive)
    return lambda item: matches(item.task.tag_map().get(key, ""))
