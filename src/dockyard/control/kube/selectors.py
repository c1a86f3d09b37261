"""Label selectors: the ``labelSelector`` string syntax and the structured ``LabelSelector``. Pure.

Two ways in, one result (a :class:`LabelSelector`, an AND of :class:`Requirement`)::

    "app=web,tier in (a,b),!canary"  ─▶ parse_label_selector ─┐
                                                               ├─▶ LabelSelector.matches(labels)
    {"matchLabels": …, "matchExpressions": […]} ─▶ from_structured ─┘

The string grammar is kube-apiserver's (apimachinery ``labels.Parse``)::

    selector    ::= requirement ("," requirement)*
    requirement ::= ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")" | ("=" | "==" | "!=") VALUE ]

plus ``KEY > N`` and ``KEY < N`` (integers), which node affinity uses. Whitespace separates tokens,
``in``/``notin`` are keywords only where an operator is expected (``a in (in)`` is valid), an empty
value is allowed (``a=``, ``a in (,b)``), keys and values are validated as label keys and values. The
error texts are kube-apiserver's, ``<nil>:`` prefix included (its field path is unset there); the
Kubernetes HTTP layer answers them as 400 ``BadRequest``.

The structured form follows ``metav1.LabelSelectorAsSelector``: ``None`` selects nothing, ``{}`` selects
everything, ``matchLabels`` entries are equality requirements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from dockyard.control.kube import gofmt
from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.labels import label_key_errors, label_value_errors


class Operator(StrEnum):
    """``selection.Operator``: the values are the strings Kubernetes uses for them."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY = (
    Operator.IN,
    Operator.NOT_IN,
    Operator.EQUALS,
    Operator.DOUBLE_EQUALS,
    Operator.NOT_EQUALS,
    Operator.GREATER_THAN,
    Operator.LESS_THAN,
)
_UNARY = (Operator.EXISTS, Operator.DOES_NOT_EXIST)
_INT64 = re.compile(r"[+-]?[0-9]+")
_INT64_RANGE = range(-(2**63), 2**63)


def _parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``, or None where Go's would fail."""
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if number in _INT64_RANGE else None


@dataclass(frozen=True)
class Requirement:
    """One condition on one label key; ``values`` are sorted and distinct for set operators."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        operator = self.operator
        if operator in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if operator in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if operator is Operator.EXISTS:
            return self.key in labels
        if operator is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels or len(self.values) != 1:
            return False
        actual, bound = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if actual is None or bound is None:
            return False
        return actual > bound if operator is Operator.GREATER_THAN else actual < bound

    def __str__(self) -> str:
        if self.operator is Operator.EXISTS:
            return self.key
        if self.operator is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if self.operator in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {self.operator.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(self.operator, self.operator.value)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements (sorted by key). ``nothing`` selects no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (it matches every object)."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def new_requirement(key: str, operator: Operator, values: list[str] | tuple[str, ...]) -> Requirement:
    """``labels.NewRequirement``: validates key, value count and values; raises with all problems at once."""
    problems: list[str] = []
    if errors := label_key_errors(key):
        problems.append(f"key: Invalid value: {gofmt.quote(key)}: {'; '.join(errors)}")
    shown = gofmt.string_slice(list(values))
    if operator in (Operator.IN, Operator.NOT_IN):
        if not values:
            problems.append(
                f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty"
            )
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(values) != 1:
            problems.append(
                f"values: Invalid value: {shown}: exact-match compatibility requires one single value"
            )
    elif operator in _UNARY:
        if values:
            problems.append(
                f"values: Invalid value: {shown}: values set must be empty for exists and does not exist"
            )
    else:
        if len(values) != 1:
            problems.append(
                f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for index, text in enumerate(values):
            if _parse_int64(text) is None:
                problems.append(
                    f"values[{index}]: Invalid value: {gofmt.quote(text)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for index, text in enumerate(values):
        if errors := label_value_errors(text):
            problems.append(
                f"values[{index}][{key}]: Invalid value: {gofmt.quote(text)}: {'; '.join(errors)}"
            )
    if problems:
        raise SelectorError(_aggregate(problems))
    return Requirement(key, operator, tuple(values))


def _aggregate(messages: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message alone, several deduplicated in brackets."""
    distinct = list(dict.fromkeys(messages))
    return distinct[0] if len(distinct) == 1 else "[" + ", ".join(distinct) + "]"


# ── The string syntax ───────────────────────────────────────────────────────────────────────────────


class _Token(Enum):
    END = "end"
    IDENTIFIER = "identifier"
    OPEN = "("
    CLOSE = ")"
    COMMA = ","
    NOT = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER = ">"
    LESS = "<"
    IN = "in"
    NOT_IN = "notin"


_SYMBOLS = {token.value: token for token in _Token if token not in (_Token.END, _Token.IDENTIFIER)}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_OF_TOKEN = {
    _Token.IN: Operator.IN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
    _Token.GREATER: Operator.GREATER_THAN,
    _Token.LESS: Operator.LESS_THAN,
}


def _scan(text: str) -> list[tuple[_Token, str]]:
    """Tokens up to and including END; symbols are matched longest first (``!=`` before ``!``)."""
    tokens: list[tuple[_Token, str]] = []
    position, size = 0, len(text)
    while True:
        while position < size and text[position] in _WHITESPACE:
            position += 1
        if position >= size:
            tokens.append((_Token.END, ""))
            return tokens
        if text[position] in _SPECIAL:
            pair = text[position : position + 2]
            literal = pair if pair in _SYMBOLS else text[position]
            tokens.append((_SYMBOLS[literal], literal))
            position += len(literal)
            continue
        start = position
        while position < size and text[position] not in _SPECIAL and text[position] not in _WHITESPACE:
            position += 1
        word = text[start:position]
        keyword = word in ("in", "notin")
        tokens.append((_SYMBOLS[word] if keyword else _Token.IDENTIFIER, word))


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _scan(text)
        self._position = 0

    def _peek(self, *, values: bool = True) -> tuple[_Token, str]:
        token, literal = self._tokens[self._position]
        if values and token in (_Token.IN, _Token.NOT_IN):
            token = _Token.IDENTIFIER
        return token, literal

    def _take(self, *, values: bool = True) -> tuple[_Token, str]:
        item = self._peek(values=values)
        self._position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._peek()
            if token is _Token.END:
                return requirements
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as error:
                raise SelectorError(f"unable to parse requirement: {error.message}") from None
            token, literal = self._take()
            if token is _Token.END:
                return requirements
            if token is not _Token.COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self._peek()
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        token, literal = self._take()
        negated = token is _Token.NOT
        if negated:
            token, literal = self._take()
        if token is not _Token.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        if errors := label_key_errors(literal):
            raise SelectorError(f"<nil>: Invalid value: {gofmt.quote(literal)}: {'; '.join(errors)}")
        key = literal
        if negated:
            return new_requirement(key, Operator.DOES_NOT_EXIST, [])
        if self._peek()[0] in (_Token.END, _Token.COMMA):
            return new_requirement(key, Operator.EXISTS, [])
        token, literal = self._take(values=False)
        operator = _OPERATOR_OF_TOKEN.get(token)
        if operator is None:
            expected = ", ".join(op.value for op in _BINARY)
            raise SelectorError(f"found '{literal}', expected: {expected}")
        values = self._set_values() if operator in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return new_requirement(key, operator, sorted(values))

    def _set_values(self) -> set[str]:
        token, literal = self._take()
        if token is not _Token.OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = self._peek()
        if token is _Token.CLOSE:
            self._take()
            return {""}
        if token not in (_Token.IDENTIFIER, _Token.COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifiers()
        self._take()  # the closing parenthesis _identifiers stopped at
        return values

    def _identifiers(self) -> set[str]:
        """A comma-separated list, where an empty place between commas is the empty value."""
        values: set[str] = set()
        while True:
            token, literal = self._take()
            if token is _Token.IDENTIFIER:
                values.add(literal)
                following, shown = self._peek()
                if following is _Token.CLOSE:
                    return values
                if following is not _Token.COMMA:
                    raise SelectorError(f"found '{shown}', expected: ',' or ')'")
            elif token is _Token.COMMA:
                if not values:
                    values.add("")
                following, _ = self._peek()
                if following is _Token.CLOSE:
                    values.add("")
                    return values
                if following is _Token.COMMA:
                    values.add("")
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_Token.END, _Token.COMMA):
            return {""}
        token, literal = self._take()
        if token is not _Token.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_label_selector(text: str) -> LabelSelector:
    """The ``labelSelector`` query parameter as kube-apiserver reads it; "" selects everything.

    Raises :class:`SelectorError` with kube-apiserver's message (a 400 ``BadRequest``).
    """
    requirements = _Parser(text).parse()
    return LabelSelector(tuple(sorted(requirements, key=lambda requirement: requirement.key)))


# ── The structured form ─────────────────────────────────────────────────────────────────────────────

_STRUCTURED_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_structured(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (``matchLabels`` and ``matchExpressions``) as a :class:`LabelSelector`.

    ``None`` selects nothing and ``{}`` everything, as ``LabelSelectorAsSelector`` has it (a Service's
    map selector is a different rule: see :func:`from_map`).
    """
    if selector is None:
        return NOTHING
    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    expressions: list[Mapping[str, Any]] = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements = [new_requirement(key, Operator.EQUALS, [value]) for key, value in match_labels.items()]
    for expression in expressions:
        operator = _STRUCTURED_OPERATORS.get(expression.get("operator", ""))
        if operator is None:
            raise SelectorError(
                f"{gofmt.quote(str(expression.get('operator', '')))} is not a valid label selector operator"
            )
        requirements.append(
            new_requirement(expression.get("key", ""), operator, list(expression.get("values") or []))
        )
    return LabelSelector(tuple(sorted(requirements, key=lambda requirement: requirement.key)))


def from_map(selector: Mapping[str, str] | None) -> LabelSelector:
    """A plain ``key: value`` selector (Service ``spec.selector``, ``nodeSelector``); empty matches all.

    Not validated, as ``labels.SelectorFromSet``; object validation checks these maps on write.
    """
    requirements = (Requirement(key, Operator.EQUALS, (value,)) for key, value in (selector or {}).items())
    return LabelSelector(tuple(sorted(requirements, key=lambda requirement: requirement.key)))
