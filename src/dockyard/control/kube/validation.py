"""Validation kube-apiserver applies on create and update, with its messages (``422 Invalid``).

Names: most kinds take a DNS-1123 subdomain (253 characters), namespaces a DNS-1123 label (63), services
a DNS-1035 label (63). Beyond names, the few structural rules a user meets first: a Pod needs containers
with a name and an image; a Deployment, ReplicaSet, DaemonSet or Job needs a selector its template's
labels match, and a workload's selector may not change once set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dockyard.control.kube.catalog import Resource
from dockyard.control.kube.errors import KubeError, SelectorError
from dockyard.control.kube.selectors import from_structured

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")

_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_KINDS = frozenset({"Namespace"})
_DNS1035_KINDS = frozenset({"Service"})
_SELECTED_WORKLOADS = frozenset({"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"})

Cause = tuple[str, str, str]
"""(field, reason, message) — reason is FieldValueInvalid, FieldValueRequired, …"""


class InvalidError(KubeError):
    """kube's ``StatusReasonInvalid``: ``<Kind>[.<group>] "<name>" is invalid: <causes>``."""

    reason = "Invalid"
    code = 422

    def __init__(self, kind: str, group: str, name: str, causes: list[Cause]) -> None:
        qualified = f"{kind}.{group}" if group else kind
        texts = [f"{field}: {message}" for field, _, message in causes]
        joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        super().__init__(
            f'{qualified} "{name}" is invalid: {joined}',
            causes=[
                {"reason": reason, "message": message, "field": field} for field, reason, message in causes
            ],
            details={"name": name, **({"group": group} if group else {}), "kind": kind},
        )
        self.kind, self.group, self.name = kind, group, name


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> InvalidError:
    return InvalidError(kind, group, name, causes)


def go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def name_problems(kind: str, name: str) -> list[str]:
    if kind in _LABEL_KINDS or kind in _DNS1035_KINDS:
        pattern, message = (_LABEL, _LABEL_MESSAGE) if kind in _LABEL_KINDS else (_DNS1035, _DNS1035_MESSAGE)
        problems = [] if len(name) <= 63 else ["must be no more than 63 characters"]
    else:
        pattern, message = _SUBDOMAIN, _SUBDOMAIN_MESSAGE
        problems = [] if len(name) <= 253 else ["must be no more than 253 characters"]
    if not pattern.match(name):
        problems.append(message)
    return problems


def validate_name(resource: Resource, name: str) -> None:
    problems = name_problems(resource.kind, name)
    if problems:
        raise invalid(
            resource.kind,
            name,
            [
                (
                    "metadata.name",
                    "FieldValueInvalid",
                    f"Invalid value: {go_quote(name)}: {'; '.join(problems)}",
                )
            ],
            resource.group,
        )


def validate_object(
    resource: Resource, obj: Mapping[str, Any], live: Mapping[str, Any] | None = None
) -> None:
    """The structural rules of the kinds users write first; raises :class:`InvalidError`."""
    causes: list[Cause] = []
    spec = obj.get("spec") or {}
    if resource.kind == "Pod":
        causes += _pod_spec_causes(spec, "spec")
    elif resource.kind in _SELECTED_WORKLOADS or resource.kind == "Job":
        template = spec.get("template") or {}
        causes += _pod_spec_causes(template.get("spec") or {}, "spec.template.spec")
        if resource.kind in _SELECTED_WORKLOADS or spec.get("selector"):
            causes += _selector_causes(
                spec.get("selector"), (template.get("metadata") or {}).get("labels") or {}
            )
        if live is not None and resource.kind in _SELECTED_WORKLOADS:
            before = (live.get("spec") or {}).get("selector")
            if before is not None and spec.get("selector") != before:
                causes.append(
                    (
                        "spec.selector",
                        "FieldValueInvalid",
                        f"Invalid value: {_go_map(spec.get('selector'))}: field is immutable",
                    )
                )
    if causes:
        name = str((obj.get("metadata") or {}).get("name", ""))
        raise invalid(resource.kind, name, causes, resource.group)


def _pod_spec_causes(spec: Mapping[str, Any], path: str) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [(f"{path}.containers", "FieldValueRequired", "Required value")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            where = f"{path}.{kind}[{index}]"
            name = container.get("name") if isinstance(container, dict) else None
            if not name:
                causes.append((f"{where}.name", "FieldValueRequired", "Required value"))
            elif name in seen:
                causes.append((f"{where}.name", "FieldValueDuplicate", f"Duplicate value: {go_quote(name)}"))
            elif not _LABEL.match(name) or len(name) > 63:
                causes.append(
                    (
                        f"{where}.name",
                        "FieldValueInvalid",
                        f"Invalid value: {go_quote(name)}: {_LABEL_MESSAGE}",
                    )
                )
            else:
                seen.add(name)
            if isinstance(container, dict) and not container.get("image") and kind == "containers":
                causes.append((f"{where}.image", "FieldValueRequired", "Required value"))
    return causes


def _selector_causes(selector: Any, labels: Mapping[str, str]) -> list[Cause]:
    if not selector:
        return [("spec.selector", "FieldValueRequired", "Required value")]
    try:
        parsed = from_structured(selector)
    except SelectorError as error:
        return [
            ("spec.selector", "FieldValueInvalid", f"Invalid value: {_go_map(selector)}: {error.message}")
        ]
    if parsed.matches({}) and not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [
            (
                "spec.selector",
                "FieldValueInvalid",
                f"Invalid value: {_go_map(selector)}: empty selector is invalid for deployment",
            )
        ]
    if not parsed.matches(labels):
        return [
            (
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        ]
    return []


def _go_map(value: Any) -> str:
    """Go's ``%#v`` of a map[string]string, roughly, as kube prints the labels it rejects."""
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return (
            "map[string]string{"
            + ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
            + "}"
        )
    return str(value)
