"""Matching rules the plugins share: tolerations against taints, and node selector terms.

- ``tolerates``: ``Toleration.ToleratesTaint`` (an empty effect matches every effect, an empty key with
  ``Exists`` every taint, an empty operator means ``Equal``).
- :class:`NodeSelector`: ``nodeaffinity.NodeSelector`` — terms ORed, a term's ``matchExpressions`` and
  ``matchFields`` ANDed, an empty term matches nothing, a term that does not parse (``In`` without
  values, ``Gt`` with a non-integer, a field other than ``metadata.name``) is ignored, as kube's lazy
  error selector ignores it. ``Gt``/``Lt`` compare the label as an int64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.selectors import LabelSelector, Operator, Requirement, new_requirement

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"
OBJECT_NAME_FIELD = "metadata.name"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Toleration:
        return cls(
            str(raw.get("key") or ""),
            str(raw.get("operator") or ""),
            str(raw.get("value") or ""),
            str(raw.get("effect") or ""),
        )


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """``ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return toleration.operator == "Exists"


def tolerated(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


_NODE_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def _label_requirement(raw: Mapping[str, Any]) -> Requirement:
    operator = _NODE_OPERATORS.get(str(raw.get("operator", "")))
    if operator is None:
        raise SelectorError(f"{raw.get('operator')!r} is not a valid node selector operator")
    return new_requirement(str(raw.get("key", "")), operator, [str(v) for v in raw.get("values") or ()])


def _field_requirement(raw: Mapping[str, Any]) -> Requirement:
    operator = _NODE_OPERATORS.get(str(raw.get("operator", "")))
    values = [str(v) for v in raw.get("values") or ()]
    if raw.get("key") != OBJECT_NAME_FIELD or operator not in (Operator.IN, Operator.NOT_IN):
        raise SelectorError(f"{raw.get('key')!r} is not a valid field selector key")
    if len(values) != 1:
        raise SelectorError(
            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"
        )
    return Requirement(OBJECT_NAME_FIELD, operator, tuple(values))


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One parsed term: label requirements and ``metadata.name`` requirements."""

    labels: LabelSelector
    names: tuple[Requirement, ...]

    def matches(self, node_labels: Mapping[str, str], node_name: str) -> bool:
        if not self.labels.matches(node_labels):
            return False
        field = {OBJECT_NAME_FIELD: node_name}
        return all(requirement.matches(field) for requirement in self.names)


def parse_term(raw: Mapping[str, Any]) -> NodeSelectorTerm | None:
    """A term, or None when it matches nothing (empty, or it does not parse)."""
    expressions = raw.get("matchExpressions") or ()
    fields = raw.get("matchFields") or ()
    if not expressions and not fields:
        return None
    try:
        labels = LabelSelector(tuple(_label_requirement(expression) for expression in expressions))
        names = tuple(_field_requirement(field) for field in fields)
    except SelectorError:
        return None
    return NodeSelectorTerm(labels, names)


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """ORed terms (``requiredDuringSchedulingIgnoredDuringExecution``)."""

    terms: tuple[NodeSelectorTerm, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> NodeSelector:
        parsed = (parse_term(term) for term in raw.get("nodeSelectorTerms") or ())
        return cls(tuple(term for term in parsed if term is not None))

    def matches(self, node_labels: Mapping[str, str], node_name: str) -> bool:
        return any(term.matches(node_labels, node_name) for term in self.terms)


@dataclass(frozen=True, slots=True)
class PreferredTerm:
    """A ``preferredDuringSchedulingIgnoredDuringExecution`` entry."""

    weight: int
    term: NodeSelectorTerm


def parse_preferred(raw: Sequence[Mapping[str, Any]]) -> tuple[PreferredTerm, ...]:
    """Terms with a non-zero weight that can match something (others never add to a score)."""
    preferred = []
    for entry in raw:
        weight = int(entry.get("weight") or 0)
        term = parse_term(entry.get("preference") or {})
        if weight and term is not None:
            preferred.append(PreferredTerm(weight, term))
    return tuple(preferred)
