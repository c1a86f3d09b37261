"""Pure decisions of the task engine: container dependency order and conditions, stop order, and the ECS
vocabulary for what Docker reports. No I/O.

``dependsOn`` conditions, as ECS defines them:

- ``START``: the dependency has been started.
- ``COMPLETE``: the dependency has exited, with any code.
- ``SUCCESS``: the dependency has exited with code 0 (another code can never satisfy it).
- ``HEALTHY``: the dependency's Docker health check passes (unhealthy, exited, or no health check: never).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dockyard.agent.runtime import NetworkBinding

CONDITIONS = frozenset({"START", "COMPLETE", "SUCCESS", "HEALTHY"})
ECS_HEALTH = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY", "starting": "UNKNOWN"}


class DependencyError(ValueError):
    """The containers' ``dependsOn`` cannot be satisfied in any order (unknown container, cycle)."""


@dataclass(frozen=True)
class DependencyView:
    """What the engine knows of a container another one depends on."""

    started: bool
    exited: bool
    exit_code: int | None
    health: str | None
    """Docker's ``healthy``/``unhealthy``/``starting``, ``None`` without a health check."""
    failed: bool = False
    """It could not be pulled, created or started: it never will run."""


Verdict = Literal["wait", "ok"] | str
"""``"wait"``, ``"ok"``, or anything else: why the dependency can never be satisfied."""


def dependencies(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(container name, condition)`` pairs of a container definition's ``dependsOn``."""
    return [
        (str(d.get("containerName")), str(d.get("condition", "START")).upper())
        for d in definition.get("dependsOn") or ()
    ]


def start_order(definitions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Container names, dependencies before their dependents, otherwise in definition order."""
    names = [str(d["name"]) for d in definitions]
    edges = {str(d["name"]): [dep for dep, _ in dependencies(d)] for d in definitions}
    for name, deps in edges.items():
        for dep in deps:
            if dep not in edges:
                raise DependencyError(f"container {name} depends on unknown container {dep}")
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise DependencyError("dependency cycle: " + " -> ".join((*path, name)))
        state[name] = "visiting"
        for dep in edges[name]:
            visit(dep, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in names:
        visit(name, ())
    return order


def stop_waves(definitions: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Containers grouped for stopping: each wave only once every container depending on it has stopped
    (reverse dependency order); containers in one wave can stop in parallel."""
    edges = {str(d["name"]): {dep for dep, _ in dependencies(d) if dep} for d in definitions}
    dependents: dict[str, set[str]] = {name: set() for name in edges}
    for name, deps in edges.items():
        for dep in deps:
            dependents.setdefault(dep, set()).add(name)
    remaining = [str(d["name"]) for d in definitions]
    waves: list[list[str]] = []
    stopped: set[str] = set()
    while remaining:
        wave = [name for name in remaining if dependents.get(name, set()) <= stopped]
        if not wave:  # a cycle: stop the rest together
            wave = list(remaining)
        waves.append(wave)
        stopped.update(wave)
        remaining = [name for name in remaining if name not in stopped]
    return waves


def condition_verdict(condition: str, dependency_name: str, view: DependencyView) -> Verdict:
    """Whether one ``dependsOn`` condition is met now, may still be met, or never will be."""
    if condition not in CONDITIONS:
        return f"unknown dependency condition {condition} on {dependency_name}"
    if view.failed:
        return f"dependency {dependency_name} failed to start"
    if condition == "START":
        return "ok" if view.started else "wait"
    if condition == "COMPLETE":
        return "ok" if view.exited else "wait"
    if condition == "SUCCESS":
        if not view.exited:
            return "wait"
        if view.exit_code == 0:
            return "ok"
        return f"dependency {dependency_name} exited with code {view.exit_code}, SUCCESS required"
    # HEALTHY
    if view.health == "healthy":
        return "ok"
    if view.started and view.health is None:
        return f"dependency {dependency_name} has no health check, HEALTHY required"
    if view.health == "unhealthy":
        return f"dependency {dependency_name} is unhealthy, HEALTHY required"
    if view.exited:
        return f"dependency {dependency_name} exited before it was healthy"
    return "wait"


def dependencies_verdict(definition: Mapping[str, Any], views: Mapping[str, DependencyView]) -> Verdict:
    """``"ok"`` when every dependency of ``definition`` is met, ``"wait"`` if some may still be, else why
    the container can never start."""
    waiting = False
    for dependency, condition in dependencies(definition):
        view = views.get(dependency)
        if view is None:
            return f"depends on unknown container {dependency}"
        verdict = condition_verdict(condition, dependency, view)
        if verdict == "wait":
            waiting = True
        elif verdict != "ok":
            return verdict
    return "wait" if waiting else "ok"


def ecs_health(health: str | None) -> str:
    """Docker's health status as ECS reports it."""
    return ECS_HEALTH.get(health or "", "UNKNOWN")


def bindings_json(bindings: Iterable[NetworkBinding]) -> list[dict[str, Any]]:
    """ECS ``NetworkBinding``s. Docker publishes a port on IPv4 and IPv6; like ECS's agent (whose
    ``ECS_EXCLUDE_IPV6_PORTBINDING`` defaults to true) only the IPv4 bindings are reported."""
    return [
        {
            "bindIP": binding.host_ip,
            "containerPort": binding.container_port,
            "hostPort": binding.host_port,
            "protocol": binding.protocol,
        }
        for binding in bindings
        if ":" not in binding.host_ip
    ]


def host_mode_bindings(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ECS ``NetworkBinding``s of a container in ``host`` network mode: its port mappings, each on the
    host port of the same number (Docker publishes nothing in that mode)."""
    return [
        {
            "bindIP": "0.0.0.0",  # noqa: S104 - what ECS reports: the process listens on the host
            "containerPort": int(mapping["containerPort"]),
            "hostPort": int(mapping.get("hostPort") or mapping["containerPort"]),
            "protocol": str(mapping.get("protocol") or "tcp"),
        }
        for mapping in definition.get("portMappings") or ()
        if mapping.get("containerPort")
    ]


def image_digest(image: str) -> str | None:
    """The manifest digest a reference pins (``repo@sha256:…``), else ``None``."""
    _, at, digest = image.partition("@")
    return digest if at and digest.startswith("sha") else None


def is_essential(definition: Mapping[str, Any]) -> bool:
    return definition.get("essential", True) is not False
