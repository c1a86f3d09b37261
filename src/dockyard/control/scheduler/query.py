"""The ECS cluster query language: :func:`parse_query` checks an expression, :meth:`Query.matches` runs it.

Semantics (AWS Developer Guide, "Create expressions to define container instances for Amazon ECS tasks",
and choices where it is silent):

- Subjects and the operators each accepts are the guide's: ``agentConnected`` and ``ec2InstanceId``
  take ``== != in !in =~ !~``; ``agentVersion``, ``registeredAt`` and ``runningTasksCount`` take
  ``== != > >= < <=``; ``attribute:<name>`` takes every operator. The guide lists none for ``task:group``;
  dockyard accepts ``== != in !in =~ !~ exists !exists``.
- Arguments are checked when parsing: ``agentConnected`` compares with ``true``/``false``;
  ``runningTasksCount`` with a whole number; ``agentVersion`` with a dotted version (compared numerically,
  ``1.9.0 < 1.14.5``); ``registeredAt`` with one of the guide's four date formats (UTC when no offset);
  ``=~``/``!~`` with a regular expression that must match the whole value (Java's ``String.matches``,
  the syntax the guide cites, as in its ``ecs.instance-type =~ g2.*``).
- A subject without a value (an absent attribute, an instance with no EC2 id) satisfies only ``!exists``:
  the guide's ``attribute:stack != prod`` lists "the instances with the custom attribute stack unless the
  value is prod". Attribute order comparisons are numeric when both sides are numbers, else lexical.
- ``task:group`` is the set of groups with tasks on the instance and a comparison holds if it holds for
  one of them; so anti-affinity is ``not(task:group == database)``, as in the guide's own example.
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import re2

from .query_syntax import (
    LIST_OPERATORS,
    And,
    Comparison,
    Expression,
    Not,
    QueryError,
    format_expression,
    parse_expression,
)
from .snapshot import InstanceSnapshot

_EQUALITY = frozenset({"==", "!="})
_ORDER = frozenset({">", ">=", "<", "<="})
_MATCH = frozenset({"=~", "!~"})
_EXISTS = frozenset({"exists", "!exists"})
_SUBJECT_OPERATORS = {
    "agentConnected": _EQUALITY | LIST_OPERATORS | _MATCH,
    "ec2InstanceId": _EQUALITY | LIST_OPERATORS | _MATCH,
    "agentVersion": _EQUALITY | _ORDER,
    "registeredAt": _EQUALITY | _ORDER,
    "runningTasksCount": _EQUALITY | _ORDER,
    "task:group": _EQUALITY | LIST_OPERATORS | _MATCH | _EXISTS,
}
_ALL_OPERATORS = _EQUALITY | _ORDER | LIST_OPERATORS | _MATCH | _EXISTS
_ATTRIBUTE_PREFIX = "attribute:"
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": op.eq,
    "!=": op.ne,
    ">": op.gt,
    ">=": op.ge,
    "<": op.lt,
    "<=": op.le,
}
_VERSION = re.compile(r"\d+(?:\.\d+)*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
# RE2 compiles a pattern into an automaton of bounded size; a pattern needing more is refused.
_REGEX_MAX_MEMORY = 4 << 20


class Pattern(Protocol):
    """A compiled RE2 expression (google-re2 ships no type hints)."""

    def fullmatch(self, text: str) -> object | None: ...


def _regex_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a user's bad pattern is an InvalidParameterException, not a log line
    options.max_mem = _REGEX_MAX_MEMORY
    return options


_RE2_OPTIONS = _regex_options()


Predicate = Callable[[InstanceSnapshot], bool]


@dataclass(frozen=True, slots=True)
class Query:
    """A checked cluster query; :meth:`matches` never raises."""

    expression: Expression
    predicate: Predicate = field(repr=False, compare=False)

    def matches(self, instance: InstanceSnapshot) -> bool:
        return self.predicate(instance)

    def __str__(self) -> str:
        return format_expression(self.expression)


def parse_query(text: str) -> Query:
    """Parse and check ``text``; any problem raises :class:`QueryError` carrying its position."""
    expression = parse_expression(text)
    return Query(expression, _compile(expression))


def _compile(expression: Expression) -> Predicate:
    if isinstance(expression, Comparison):
        return _compile_comparison(expression)
    if isinstance(expression, Not):
        inner = _compile(expression.operand)
        return lambda instance: not inner(instance)
    parts = tuple(_compile(operand) for operand in expression.operands)
    if isinstance(expression, And):
        return lambda instance: all(part(instance) for part in parts)
    return lambda instance: any(part(instance) for part in parts)


# --- one comparison ----------------------------------------------------------------------------------


def _compile_comparison(comparison: Comparison) -> Predicate:
    """Check ``comparison`` and turn it into a predicate whose arguments are typed once, here."""
    subject, operator = comparison.subject, comparison.operator
    _check_operator(comparison)
    arguments = tuple(_typed_argument(comparison, value) for value in _arguments(comparison))
    if operator in _EXISTS:
        wanted = operator == "exists"
        return lambda instance: _present(subject, instance) == wanted
    test = _value_test(operator, arguments)
    return lambda instance: any(test(value) for value in _subject_values(subject, instance))


def _check_operator(comparison: Comparison) -> None:
    subject, operator = comparison.subject, comparison.operator
    if subject.startswith(_ATTRIBUTE_PREFIX) and len(subject) > len(_ATTRIBUTE_PREFIX):
        allowed = _ALL_OPERATORS
    elif subject in _SUBJECT_OPERATORS:
        allowed = _SUBJECT_OPERATORS[subject]
    else:
        raise QueryError(f"unknown subject {subject!r}", comparison.position)
    if operator not in allowed:
        raise QueryError(f"operator {operator!r} is not valid for {subject}", comparison.position)
    if operator in LIST_OPERATORS and not isinstance(comparison.argument, tuple):
        raise QueryError(f"{operator!r} expects a list such as [a, b]", comparison.argument_position)
    if operator not in LIST_OPERATORS and isinstance(comparison.argument, tuple):
        raise QueryError(f"{operator!r} expects a single value, not a list", comparison.argument_position)


def _arguments(comparison: Comparison) -> tuple[str, ...]:
    argument = comparison.argument
    return argument if isinstance(argument, tuple) else () if argument is None else (argument,)


def _typed_argument(comparison: Comparison, value: str) -> object:
    subject, operator = comparison.subject, comparison.operator
    typed: object | None = value
    if operator in _MATCH:
        typed = _regex(value)
    elif subject == "agentConnected":
        typed = value.lower() if value.lower() in ("true", "false") else None
    elif subject == "runningTasksCount":
        typed = int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    elif subject == "agentVersion":
        typed = _version(value)
    elif subject == "registeredAt":
        typed = _timestamp(value)
    if typed is None:
        raise QueryError(
            f"{value!r} is not a valid value for {subject} {operator}", comparison.argument_position
        )
    return typed


def _value_test(operator: str, arguments: tuple[object, ...]) -> Callable[[object], bool]:
    if operator in _MATCH:
        pattern: Pattern = arguments[0]  # type: ignore[assignment]
        wanted = operator == "=~"
        return lambda value: (pattern.fullmatch(str(value)) is not None) == wanted
    if operator in LIST_OPERATORS:
        wanted = operator == "in"
        return lambda value: (value in arguments) == wanted
    compare = _COMPARE[operator]
    return lambda value: bool(compare(*_comparable(value, arguments[0])))


def _present(subject: str, instance: InstanceSnapshot) -> bool:
    """Whether the subject exists on ``instance``; an attribute without a value exists."""
    if subject.startswith(_ATTRIBUTE_PREFIX):
        return subject[len(_ATTRIBUTE_PREFIX) :] in instance.attributes
    return bool(_subject_values(subject, instance))


def _subject_values(subject: str, instance: InstanceSnapshot) -> tuple[object, ...]:
    """The subject's typed values on ``instance``: none when absent, several for ``task:group``."""
    if subject.startswith(_ATTRIBUTE_PREFIX):
        value = instance.attributes.get(subject[len(_ATTRIBUTE_PREFIX) :])
        return () if value is None else (value,)
    if subject == "task:group":
        return tuple(sorted(group for group, count in instance.task_groups.items() if count > 0))
    if subject == "agentConnected":
        return ("true" if instance.agent_connected else "false",)
    if subject == "runningTasksCount":
        return (instance.running_tasks_count,)
    if subject == "agentVersion":
        version = _version(instance.agent_version or "")
        return () if version is None else (version,)
    if subject == "registeredAt":
        registered = instance.registered_at
        return (registered if registered.tzinfo else registered.replace(tzinfo=UTC),)
    return (instance.ec2_instance_id,) if instance.ec2_instance_id else ()


def _comparable(value: object, argument: object) -> tuple[Any, Any]:
    """Attribute values compare as numbers when both sides are numbers, else as strings."""
    if (
        isinstance(value, str)
        and isinstance(argument, str)
        and _NUMBER.fullmatch(value)
        and _NUMBER.fullmatch(argument)
    ):
        return float(value), float(argument)
    return value, argument


# --- typed values ------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Pattern | None:
    try:
        compiled: Pattern = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error:
        return None
    return compiled


def _version(text: str) -> tuple[int, ...] | None:
    """``1.14.5`` as (1, 14, 5) without trailing zeros, so 1.14 == 1.14.0; a ``-suffix`` is ignored."""
    match = _VERSION.match(text)
    if (
        match is None
        or len(match.group()) > 64
        or (match.end() != len(text) and text[match.end()] not in "-+")
    ):
        return None
    parts = [int(part) for part in match.group().split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _timestamp(text: str) -> datetime | None:
    normalized = text[:-1] + "+00:00" if text.endswith("Z") else text
    for pattern in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(normalized, pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
