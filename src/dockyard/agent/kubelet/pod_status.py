"""A pod's ``status`` in Kubernetes' shapes, from what the engine observed. Pure: time is passed in.

- ``phase`` follows the kubelet's ``getPhase``: Pending while an init container has not succeeded or a
  container waits without having run; Running while one runs (or, under ``Always``, all have stopped and
  will restart); once all stopped for good, Succeeded if all exited 0, else Failed (``Never``) or Running
  (``OnFailure``, which restarts the failed). An init container that failed under ``Never`` fails the pod.
- ``conditions``: PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled, each with
  ``lastTransitionTime`` kept from the previous status while its value stays; the kubelet's reasons and
  messages (``ContainersNotReady``, ``containers with unready status: [a b]``; ``PodCompleted``).
- Container states: ``waiting{reason, message}``, ``running{startedAt}``, ``terminated{exitCode, reason
  Completed/Error/OOMKilled, startedAt, finishedAt, containerID}``; ``lastState`` is the previous
  instance's termination; ids are ``docker://<id>``; timestamps RFC 3339 in whole seconds, ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.agent.docker_api import split_reference
from dockyard.agent.kubelet.pod_logic import restart_policy
from dockyard.agent.runtime import ContainerState

CONDITION_TYPES = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ContainerView:
    """What the engine knows of one of the pod's containers (by name)."""

    name: str
    image: str
    current: ContainerState | None = None
    previous: ContainerState | None = None
    restart_count: int = 0
    waiting: tuple[str, str | None] | None = None
    """A reason (and message) the engine decided it waits for: CrashLoopBackOff, ErrImagePull…"""
    ready: bool = False
    started: bool = False
    digest: str | None = None
    """The manifest digest the last pull of its image reported."""


def finished(state: ContainerState | None) -> bool:
    """Exited, or never able to start (created with an error)."""
    return state is not None and (
        state.status in ("exited", "dead") or (state.status == "created" and bool(state.error))
    )


def exit_code(state: ContainerState) -> int:
    return 128 if state.exit_code is None else state.exit_code


def terminated(state: ContainerState | None) -> dict[str, Any]:
    """A finished container as ``{"terminated": {...}}``; ``{}`` for none (kube's empty lastState)."""
    if state is None or not finished(state):
        return {}
    if state.status == "created":
        details: dict[str, Any] = {"exitCode": 128, "reason": "ContainerCannotRun", "message": state.error}
        moment = rfc3339(state.created_at)
        details.update(startedAt=moment, finishedAt=moment)
    else:
        code = exit_code(state)
        reason = "OOMKilled" if state.oom_killed else ("Completed" if code == 0 else "Error")
        details = {"exitCode": code, "reason": reason}
        details.update(startedAt=rfc3339(state.started_at), finishedAt=rfc3339(state.finished_at))
    details["containerID"] = f"docker://{state.id}"
    return {"terminated": details}


def _waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason}
    if message:
        body["message"] = message
    return {"waiting": body}


def container_status(view: ContainerView, default_reason: str = "ContainerCreating") -> dict[str, Any]:
    current = view.current
    last = terminated(view.previous)
    if view.waiting is not None:
        state = _waiting(*view.waiting)
        if finished(current):
            last = terminated(current)
    elif current is None or (current.status == "created" and not current.error):
        state = _waiting(default_reason)
    elif current.status == "running":
        state = {"running": {"startedAt": rfc3339(current.started_at)}}
    else:
        state = terminated(current)
    status: dict[str, Any] = {
        "name": view.name,
        "state": state,
        "lastState": last,
        "ready": view.ready,
        "restartCount": view.restart_count,
        "image": view.image,
        "imageID": _image_id(view),
    }
    if current is not None:
        status["containerID"] = f"docker://{current.id}"
    status["started"] = view.started
    return status


def _image_id(view: ContainerView) -> str:
    if view.digest:
        return f"{split_reference(view.image)[0]}@{view.digest}"
    return view.current.image_id if view.current is not None else ""


def _succeeded(view: ContainerView) -> bool:
    return (
        view.waiting is None
        and view.current is not None
        and finished(view.current)
        and exit_code(view.current) == 0
    )


def init_failed(pod: Mapping[str, Any], views: Sequence[ContainerView]) -> bool:
    """An init container failed and will not be retried (``restartPolicy: Never``)."""
    return restart_policy(pod) == "Never" and any(
        v.current is not None and finished(v.current) and exit_code(v.current) != 0 for v in views
    )


def phase(pod: Mapping[str, Any], init_views: Sequence[ContainerView], views: Sequence[ContainerView]) -> str:
    if init_failed(pod, init_views):
        return "Failed"
    if not all(_succeeded(v) for v in init_views):
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for view in views:
        status = container_status(view)
        state = status["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif status["lastState"]:
            stopped += 1
        else:
            waiting += 1
    policy = restart_policy(pod)
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _condition(
    kind: str, value: bool, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "status": "True" if value else "False", "lastProbeTime": None}
    if not value and reason:
        body["reason"] = reason
    if not value and message:
        body["message"] = message
    return body


def conditions(
    pod_phase: str,
    sandbox_ready: bool,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
    previous: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """The pod's conditions, in the order the kubelet writes them, with transition times carried over."""
    incomplete = [v.name for v in init_views if not _succeeded(v)]
    unready = [v.name for v in views if not v.ready]
    completed = pod_phase in ("Succeeded", "Failed")
    if completed:
        ready = _condition("Ready", False, "PodCompleted")
        containers_ready = _condition("ContainersReady", False, "PodCompleted")
    else:
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = _condition("Ready", not unready, "ContainersNotReady", message)
        containers_ready = _condition("ContainersReady", not unready, "ContainersNotReady", message)
    initialized = _condition(
        "Initialized",
        not incomplete or (completed and not init_views),
        "ContainersNotInitialized",
        f"containers with incomplete status: [{' '.join(incomplete)}]",
    )
    found = [
        _condition("PodReadyToStartContainers", sandbox_ready),
        initialized,
        ready,
        containers_ready,
        _condition("PodScheduled", True),
    ]
    for condition in found:
        before = previous.get(condition["type"])
        same = before is not None and before.get("status") == condition["status"]
        condition["lastTransitionTime"] = before["lastTransitionTime"] if same and before else rfc3339(now)
    return found


def qos_class(pod: Mapping[str, Any]) -> str:
    """BestEffort (no requests or limits), Guaranteed (cpu and memory limits everywhere, requests equal
    to them), else Burstable."""
    every = [*(pod["spec"].get("initContainers") or ()), *pod["spec"].get("containers", ())]
    resources = [c.get("resources") or {} for c in every]
    if not any((r.get("requests") or r.get("limits")) for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        if not {"cpu", "memory"} <= set(limits) or any(
            requests.get(k, limits[k]) != limits[k] for k in ("cpu", "memory")
        ):
            return "Burstable"
    return "Guaranteed"


def pod_status(
    pod: Mapping[str, Any],
    *,
    sandbox_ready: bool,
    pod_ip: str,
    host_ip: str,
    start_time: datetime,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
    previous_conditions: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The pod's whole ``status``."""
    pod_phase = phase(pod, init_views, views)
    initializing = not all(_succeeded(v) for v in init_views)
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": conditions(pod_phase, sandbox_ready, init_views, views, previous_conditions, now),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
    }
    if pod_ip:
        status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    status["startTime"] = rfc3339(start_time)
    if init_views:
        status["initContainerStatuses"] = [container_status(v) for v in init_views]
    default = "PodInitializing" if init_views and initializing else "ContainerCreating"
    status["containerStatuses"] = [container_status(v, default) for v in views]
    status["qosClass"] = qos_class(pod)
    return status
