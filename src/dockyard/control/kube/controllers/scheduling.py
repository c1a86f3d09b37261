"""Which pods may run on which nodes: taints and tolerations, nodeSelector, required node affinity. Pure.

The rules are the API's (``v1.Toleration.ToleratesTaint``, ``nodeaffinity.GetRequiredNodeAffinity``)
as the scheduler, the DaemonSet controller and taint-based eviction apply them:

- a toleration matches a taint when the effects are equal (an empty toleration effect matches every
  effect) and either the operator is ``Exists`` (an empty key then matches every key) or the keys and
  values are equal (``Equal``, the default);
- ``nodeSelector`` is an AND of label equalities; ``requiredDuringSchedulingIgnoredDuringExecution``
  is an OR of terms, each an AND of ``matchExpressions`` (In, NotIn, Exists, DoesNotExist, Gt, Lt on
  labels) and ``matchFields`` (only ``metadata.name``); a term with neither matches no node, and an
  empty list of terms matches none either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "PreferNoSchedule", "NoExecute"


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if operator == "Equal":
        return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(
    taints: Iterable[Mapping[str, Any]],
    tolerations: Sequence[Mapping[str, Any]],
    effects: Iterable[str] = (NO_SCHEDULE, NO_EXECUTE),
) -> list[Mapping[str, Any]]:
    """The taints with one of ``effects`` that no toleration matches."""
    wanted = set(effects)
    return [t for t in taints if t.get("effect") in wanted and not any(tolerates(o, t) for o in tolerations)]


def node_taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((node.get("spec") or {}).get("taints") or [])


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _expression_matches(expression: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "")
    wanted: list[str] = list(expression.get("values") or [])
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        actual, bound = _int(values[key]), _int(wanted[0])
        if actual is None or bound is None:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    field_values = {"metadata.name": str(metadata.get("name", ""))}
    return all(_expression_matches(e, labels) for e in expressions) and all(
        e.get("key") == "metadata.name" and _expression_matches(e, field_values) for e in fields
    )


def required_affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``nodeSelector`` and the required node affinity terms of ``pod_spec`` both admit ``node``."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def with_node_name_affinity(pod_spec: Mapping[str, Any], node_name: str) -> dict[str, Any]:
    """``util.ReplaceDaemonSetPodNodeNameNodeAffinity``: the pod spec pinned to one node by affinity.

    The required terms are replaced by one ``matchFields: metadata.name In [node]`` (the controller has
    already checked the node matches them); preferred terms and other affinities stay. The scheduler
    then binds the pod to that node and nothing else.
    """
    spec = dict(pod_spec)
    affinity = dict(spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    pin = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    terms = [{"matchFields": [pin]}]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    affinity["nodeAffinity"] = node_affinity
    spec["affinity"] = affinity
    return spec
