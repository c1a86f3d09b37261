"""Field selectors (``fieldSelector``): parsing, the per-kind field labels, and matching. Pure.

kube-apiserver takes a field selector in two independent steps, and so does this module::

    "status.phase!=Running,spec.nodeName=n1"
        │ parse: split on unescaped ",", each term at its first "!=", "==" or "=";
        │        values unescape "\\,", "\\=" and "\\\\"
        ▼
    convert each field label with the kind's rule   ── unknown label ─▶ SelectorError (400)
        ▼                                               (the kind's own wording)
    FieldSelector.matches(selectable_fields(kind, object))

The labels a kind accepts (its ``AddFieldLabelConversionFunc``) and the fields its registry strategy
exposes (``ToSelectableFields``) are two lists: ``status.podIPs`` is accepted for a Pod but never set, so
``status.podIPs=10.0.0.1`` is valid and matches no pod, and ``spec.host`` is an alias of
``spec.nodeName``. A field that is not set reads as "" (``spec.nodeName=`` selects unscheduled pods); a
boolean reads ``true``/``false`` and a count its decimal, never "". Kinds with no rule of their own
accept ``metadata.name`` and ``metadata.namespace`` only, with kube-apiserver's other message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.control.kube import gofmt
from dockyard.control.kube.errors import SelectorError

_OPERATORS = ("!=", "==", "=")


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str
    """``=`` (``==`` is read as ``=``) or ``!=``."""
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        actual = fields.get(self.field, "")
        return actual == self.value if self.operator == "=" else actual != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field requirements, already converted for ``group``/``kind``."""

    requirements: tuple[FieldRequirement, ...] = ()
    group: str = ""
    kind: str = ""

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(requirement.matches(fields) for requirement in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        return self.matches(selectable_fields(obj, group=self.group, kind=self.kind))

    def exact(self, name: str) -> str | None:
        """The value ``name`` must equal (``metadata.name=x`` lets a list read one object), or None."""
        for requirement in self.requirements:
            if requirement.field == name and requirement.operator == "=":
                return requirement.value
        return None

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


# ── The per-kind rules ──────────────────────────────────────────────────────────────────────────────

FieldsOf = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class _KindRule:
    accepted: frozenset[str]
    fields: FieldsOf
    aliases: Mapping[str, str] = field(default_factory=dict)
    rejection: Callable[[str], str] = lambda label: f"field label not supported: {label}"


def _get(obj: Mapping[str, Any], path: str) -> Any:
    current: Any = obj
    for step in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(step)
    return current


def _text(obj: Mapping[str, Any], path: str) -> str:
    found = _get(obj, path)
    return "" if found is None else str(found)


def _flag(obj: Mapping[str, Any], path: str) -> str:
    return "true" if _get(obj, path) is True else "false"


def _count(obj: Mapping[str, Any], path: str) -> str:
    found = _get(obj, path)
    return str(found) if isinstance(found, int) and not isinstance(found, bool) else "0"


def _metadata(obj: Mapping[str, Any], *, namespaced: bool) -> dict[str, str]:
    fields = {"metadata.name": _text(obj, "metadata.name")}
    if namespaced:
        fields["metadata.namespace"] = _text(obj, "metadata.namespace")
    return fields


def _pod_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    pod_ips = _get(obj, "status.podIPs")
    first_ip = (
        pod_ips[0].get("ip", "") if isinstance(pod_ips, list) and pod_ips else _text(obj, "status.podIP")
    )
    return _metadata(obj, namespaced=True) | {
        "spec.nodeName": _text(obj, "spec.nodeName"),
        "spec.restartPolicy": _text(obj, "spec.restartPolicy"),
        "spec.schedulerName": _text(obj, "spec.schedulerName"),
        "spec.serviceAccountName": _text(obj, "spec.serviceAccountName"),
        "spec.hostNetwork": _flag(obj, "spec.hostNetwork"),
        "status.phase": _text(obj, "status.phase"),
        "status.podIP": str(first_ip or ""),
        "status.nominatedNodeName": _text(obj, "status.nominatedNodeName"),
    }


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")


def _event_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    fields = _metadata(obj, namespaced=True)
    for name in _INVOLVED:
        fields[f"involvedObject.{name}"] = _text(obj, f"involvedObject.{name}")
    reporting = _text(obj, "reportingComponent")
    return fields | {
        "reason": _text(obj, "reason"),
        "reportingComponent": reporting,
        "source": _text(obj, "source.component") or reporting,
        "type": _text(obj, "type"),
    }


def _events_v1_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    """events.k8s.io/v1 stores the same Event under other names (``regarding``, ``reportingController``)."""
    fields = _metadata(obj, namespaced=True)
    for name in _INVOLVED:
        fields[f"involvedObject.{name}"] = _text(obj, f"regarding.{name}")
    reporting = _text(obj, "reportingController")
    return fields | {
        "reason": _text(obj, "reason"),
        "reportingComponent": reporting,
        "source": _text(obj, "deprecatedSource.component") or reporting,
        "type": _text(obj, "type"),
    }


def _with(namespaced: bool, extra: Callable[[Mapping[str, Any]], dict[str, str]]) -> FieldsOf:
    return lambda obj: _metadata(obj, namespaced=namespaced) | extra(obj)


_NAME = frozenset({"metadata.name"})
_NAME_AND_NAMESPACE = frozenset({"metadata.name", "metadata.namespace"})

_RULES: dict[tuple[str, str], _KindRule] = {
    ("", "Pod"): _KindRule(
        _NAME_AND_NAMESPACE
        | {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        },
        _pod_fields,
        aliases={"spec.host": "spec.nodeName"},
    ),
    ("", "Node"): _KindRule(
        _NAME | {"spec.unschedulable"},
        _with(False, lambda o: {"spec.unschedulable": _flag(o, "spec.unschedulable")}),
    ),
    ("", "Namespace"): _KindRule(
        _NAME | {"status.phase"}, _with(False, lambda o: {"status.phase": _text(o, "status.phase")})
    ),
    ("", "Secret"): _KindRule(
        _NAME_AND_NAMESPACE | {"type"}, _with(True, lambda o: {"type": _text(o, "type")})
    ),
    ("", "Service"): _KindRule(
        _NAME_AND_NAMESPACE | {"spec.clusterIP", "spec.type"},
        _with(
            True, lambda o: {"spec.clusterIP": _text(o, "spec.clusterIP"), "spec.type": _text(o, "spec.type")}
        ),
    ),
    ("", "ReplicationController"): _KindRule(
        _NAME_AND_NAMESPACE | {"status.replicas"},
        _with(True, lambda o: {"status.replicas": _count(o, "status.replicas")}),
    ),
    ("", "Event"): _KindRule(
        _NAME_AND_NAMESPACE
        | {f"involvedObject.{name}" for name in _INVOLVED}
        | {"reason", "reportingComponent", "source", "type"},
        _event_fields,
    ),
    ("events.k8s.io", "Event"): _KindRule(
        _NAME_AND_NAMESPACE | {"reason", "type"},
        _events_v1_fields,
        aliases={f"regarding.{name}": f"involvedObject.{name}" for name in _INVOLVED}
        | {"reportingController": "reportingComponent"},
    ),
    ("apps", "ReplicaSet"): _KindRule(
        _NAME_AND_NAMESPACE | {"status.replicas"},
        _with(True, lambda o: {"status.replicas": _count(o, "status.replicas")}),
    ),
    ("batch", "Job"): _KindRule(
        _NAME_AND_NAMESPACE | {"status.successful"},
        _with(True, lambda o: {"status.successful": _count(o, "status.succeeded")}),
        rejection=lambda label: f"field label {gofmt.quote(label)} not supported for Job",
    ),
}

_DEFAULT_RULE = _KindRule(
    _NAME_AND_NAMESPACE,
    lambda obj: _metadata(obj, namespaced=True),
    rejection=lambda label: (
        f'{gofmt.quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'
    ),
)


def _rule(group: str, kind: str) -> _KindRule:
    return _RULES.get((group, kind), _DEFAULT_RULE)


def supported_fields(*, group: str = "", kind: str) -> frozenset[str]:
    """The field labels a selector on ``kind`` may name (aliases such as Pod ``spec.host`` aside)."""
    return _rule(group, kind).accepted


def selectable_fields(obj: Mapping[str, Any], *, group: str = "", kind: str) -> dict[str, str]:
    """The object's field set that a :class:`FieldSelector` for its kind is matched against."""
    return _rule(group, kind).fields(obj)


# ── Parsing ─────────────────────────────────────────────────────────────────────────────────────────


def escape_value(value: str) -> str:
    """``fields.EscapeValue``: the form a value takes inside a selector string."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    if not any(char in value for char in "\\,="):
        return value
    out: list[str] = []
    escaping = False
    for char in value:
        if escaping:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaping = False
        elif char == "\\":
            escaping = True
        elif char in ",=":
            # Go prints the rune with %v: its code point.
            raise SelectorError(f"invalid field selector: unescapedRune character in value: {ord(char)}")
        else:
            out.append(char)
    if escaping:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped; the escapes stay in the terms."""
    if not text:
        return []
    terms: list[str] = []
    start, escaping = 0, False
    for index, char in enumerate(text):
        if escaping:
            escaping = False
        elif char == "\\":
            escaping = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for index in range(len(term)):
        for operator in _OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def parse_field_selector(text: str, *, group: str = "", kind: str) -> FieldSelector:
    """The ``fieldSelector`` query parameter for a list or watch of ``group``/``kind``; "" selects all.

    Raises :class:`SelectorError` (400 ``BadRequest``) for a term with no operator, a bad escape, or a
    field label the kind does not support, with kube-apiserver's message for each.
    """
    parsed: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        label, operator, raw = split
        parsed.append(FieldRequirement(label, "!=" if operator == "!=" else "=", _unescape(raw)))
    rule = _rule(group, kind)
    converted = []
    for requirement in parsed:
        label = rule.aliases.get(requirement.field, requirement.field)
        if requirement.field not in rule.aliases and label not in rule.accepted:
            raise SelectorError(rule.rejection(requirement.field))
        converted.append(FieldRequirement(label, requirement.operator, requirement.value))
    return FieldSelector(tuple(converted), group=group, kind=kind)
