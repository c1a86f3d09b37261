"""What the scheduler writes back: the Binding (DefaultBinder) or the PodScheduled=False condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNSCHEDULABLE = "Unschedulable"


def binding(pod: Mapping[str, Any], node_name: str) -> dict[str, Any]:
    """The ``v1.Binding`` DefaultBinder posts to ``pods/<name>/binding`` (uid kept when the pod has one,
    so the API server refuses a binding for a pod recreated under the same name)."""
    metadata = pod.get("metadata") or {}
    bound: dict[str, Any] = {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace") or "default",
    }
    if metadata.get("uid"):
        bound["uid"] = metadata["uid"]
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": bound,
        "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
    }


def unschedulable_condition(message: str, now: str) -> dict[str, Any]:
    """The ``PodScheduled`` condition set on failure; ``now`` (RFC 3339) is the transition time."""
    return {
        "type": "PodScheduled",
        "status": "False",
        "reason": UNSCHEDULABLE,
        "message": message,
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }


def scheduled_message(pod: Mapping[str, Any], node_name: str) -> str:
    """The ``Scheduled`` event's message."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    return f"Successfully assigned {namespace}/{metadata.get('name')} to {node_name}"
