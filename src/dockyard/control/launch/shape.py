"""What one copy of a task is: from a stored task definition and a launch's overrides to the reservation
the scheduler places, the task's ARN and its first container records. Pure functions, no I/O.

- Reservation (REFERENCE.md "Placement", ``TaskRequest``): task-level ``cpu``/``memory`` when set (the
  call's task override first), else the sum over containers of ``cpu`` and of ``memoryReservation`` or
  ``memory`` (container overrides first).
- Static host ports: bridge ``hostPort`` when non-zero, host mode ``containerPort``; awsvpc none.
- Placement constraints: the definition's plus the call's (at most 10 in all, checked by the scheduler).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.scheduler import Constraint, Strategy, TaskRequest
from dockyard.core.arn import build_arn
from dockyard.core.errors import ClientError, InvalidParameterError

_UNITS = re.compile(r"(?i)\s*(\d+(?:\.\d+)?|\.\d+)\s*(vcpu|gb)?\s*")
_REPLACED_BY_OVERRIDE = ("command", "cpu", "memory", "memoryReservation")


@dataclass(frozen=True, slots=True)
class TaskShape:
    """What one copy of a task is: its reservation for the scheduler, task-level unit strings, and the
    definitions of its containers with the overrides applied."""

    cpu: int
    memory: int
    host_ports_tcp: frozenset[int]
    host_ports_udp: frozenset[int]
    task_cpu: str | None
    task_memory: str | None
    containers: tuple[Mapping[str, Any], ...]


def task_shape(body: Mapping[str, Any], overrides: Mapping[str, Any]) -> TaskShape:
    """The task ``body`` (a stored task definition) makes, with RunTask's ``overrides``; ECS's
    InvalidParameterException for an override naming no container of the definition."""
    definitions: list[Mapping[str, Any]] = list(body.get("containerDefinitions", []))
    names = {d["name"] for d in definitions}
    by_name: dict[str, Mapping[str, Any]] = {}
    for override in overrides.get("containerOverrides") or []:
        name = override.get("name")
        if name not in names:
            raise InvalidParameterError(
                f"Override for container named {name} is not a container in the TaskDefinition."
            )
        by_name[name] = override
    containers = tuple(apply_override(d, by_name.get(d["name"], {})) for d in definitions)
    task_cpu = overrides.get("cpu") or body.get("cpu")
    task_memory = overrides.get("memory") or body.get("memory")
    cpu_units = parse_task_units(task_cpu, "cpu") if task_cpu else None
    memory_mib = parse_task_units(task_memory, "memory") if task_memory else None
    cpu = cpu_units if cpu_units is not None else sum(int(c.get("cpu") or 0) for c in containers)
    memory = memory_mib if memory_mib is not None else sum(_container_memory(c) for c in containers)
    tcp, udp = host_ports(containers, body.get("networkMode") or "bridge")
    return TaskShape(
        cpu=cpu,
        memory=memory,
        host_ports_tcp=tcp,
        host_ports_udp=udp,
        task_cpu=None if cpu_units is None else str(cpu_units),
        task_memory=None if memory_mib is None else str(memory_mib),
        containers=containers,
    )


def apply_override(definition: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one container ``definition`` with RunTask's container ``override`` applied."""
    container = dict(definition)
    for key in _REPLACED_BY_OVERRIDE:
        if override.get(key) is not None:
            container[key] = override[key]
    if override.get("environment"):
        container["environment"] = merge_environment(
            definition.get("environment") or [], override["environment"]
        )
    return container


def merge_environment(
    base: Sequence[Mapping[str, Any]], override: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``base`` with the variables of ``override`` set: same names replaced in place, new ones appended."""
    merged: dict[str, dict[str, Any]] = {str(v.get("name")): dict(v) for v in base}
    for variable in override:
        merged[str(variable.get("name"))] = dict(variable)
    return list(merged.values())


def _container_memory(container: Mapping[str, Any]) -> int:
    reserved = container.get("memoryReservation")
    return int(reserved if reserved is not None else container.get("memory") or 0)


def host_ports(
    containers: Sequence[Mapping[str, Any]], network_mode: str
) -> tuple[frozenset[int], frozenset[int]]:
    """The static host ports (TCP, UDP) the containers bind on their instance."""
    tcp: set[int] = set()
    udp: set[int] = set()
    if network_mode in ("awsvpc", "none"):
        return frozenset(), frozenset()
    for container in containers:
        for mapping in container.get("portMappings") or []:
            port = mapping.get("containerPort" if network_mode == "host" else "hostPort")
            if not port:
                continue
            (udp if mapping.get("protocol") == "udp" else tcp).add(int(port))
    return frozenset(tcp), frozenset(udp)


def placement_request(
    shape: TaskShape,
    *,
    count: int,
    group: str,
    definition_constraints: Sequence[Mapping[str, Any]],
    constraints: Sequence[Mapping[str, Any]],
    strategies: Sequence[Mapping[str, Any]],
) -> TaskRequest:
    """The scheduler's request for ``count`` copies of ``shape``."""
    return TaskRequest(
        cpu=shape.cpu,
        memory=shape.memory,
        host_ports_tcp=shape.host_ports_tcp,
        host_ports_udp=shape.host_ports_udp,
        group=group,
        constraints=tuple(
            Constraint(str(c.get("type")), c.get("expression"))
            for c in (*definition_constraints, *constraints)
        ),
        strategies=tuple(Strategy(str(s.get("type")), s.get("field")) for s in strategies),
        count=count,
    )


def initial_containers(
    shape: TaskShape,
    *,
    task_arn: str,
    container_ids: Sequence[str],
    region: str,
    account_id: str,
    cluster: str,
) -> list[dict[str, Any]]:
    """The task's containers as first stored: PENDING, no bindings yet, health UNKNOWN."""
    task_id = task_arn.rsplit("/", 1)[-1]
    containers: list[dict[str, Any]] = []
    for definition, container_id in zip(shape.containers, container_ids, strict=True):
        container: dict[str, Any] = {
            "containerArn": build_arn(
                "ecs", region, account_id, f"container/{cluster}/{task_id}/{container_id}"
            ),
            "taskArn": task_arn,
            "name": definition["name"],
            "image": definition.get("image", ""),
            "lastStatus": "PENDING",
            "networkBindings": [],
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": str(int(definition.get("cpu") or 0)),
        }
        for key in ("memory", "memoryReservation"):
            if definition.get(key) is not None:
                container[key] = str(definition[key])
        containers.append(container)
    return containers


def task_arn(region: str, account_id: str, cluster: str, task_id: str) -> str:
    return build_arn("ecs", region, account_id, f"task/{cluster}/{task_id}")


def task_attributes(instance_attributes: Mapping[str, str | None]) -> list[dict[str, str]]:
    """The task attributes ECS reports from its instance (the CPU architecture)."""
    architecture = instance_attributes.get("ecs.cpu-architecture")
    return [] if architecture is None else [{"name": "ecs.cpu-architecture", "value": architecture}]


def parse_task_units(value: str | None, field: str) -> int | None:
    """Task-level ``cpu``/``memory``: ``"1024"``, ``"1 vCPU"``/``"0.25 vcpu"`` or ``"2 GB"`` → units/MiB."""
    if value is None:
        return None
    match = _UNITS.fullmatch(value)
    suffix = (match.group(2) or "").lower() if match else ""
    if match is None or suffix not in ("", "vcpu" if field == "cpu" else "gb"):
        raise invalid_task_units(field)
    amount = float(match.group(1)) * (1024 if suffix else 1)
    if amount != int(amount) or amount <= 0:
        raise invalid_task_units(field)
    return int(amount)


def invalid_task_units(field: str) -> ClientError:
    return ClientError(
        f"Invalid '{field}' setting for task. For more information, see the Troubleshooting section of "
        "the Amazon ECS Developer Guide."
    )
