"""Task rules: from a task definition and a call's overrides to what the scheduler places and what the
task looks like; references; the Task view. Pure functions, no I/O.

- Reservation (REFERENCE.md "Placement", ``TaskRequest``): task-level ``cpu``/``memory`` when set (the
  call's task override first), else the sum over containers of ``cpu`` and of ``memoryReservation`` or
  ``memory`` (container overrides first).
- Static host ports: bridge ``hostPort`` when non-zero, host mode ``containerPort``; awsvpc none.
- Placement constraints: the definition's plus the call's (at most 10 in all, checked by the scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.scheduler import Constraint, Strategy, TaskRequest
from dockyard.core.arn import build_arn, parse_arn
from dockyard.services.ecs.errors import InvalidParameterException
from dockyard.services.ecs.task_definition_rules import parse_task_units
from dockyard.store.tasks import TaskRecord

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
            raise InvalidParameterException(
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


def task_id_from_reference(reference: str, *, region: str, account_id: str, cluster: str) -> str | None:
    """The task id ``reference`` (an id, or a task ARN, new ``task/<cluster>/<id>`` or old ``task/<id>``)
    names in the caller's account, region and cluster; None when it cannot name one of them."""
    if not reference.startswith("arn:"):
        return reference if reference.isalnum() and len(reference) <= 64 else None
    arn = parse_arn(reference)
    if arn is None or arn.service != "ecs" or arn.resource_type != "task":
        return None
    if arn.account_id != account_id or arn.region != region:
        return None
    parts = arn.resource.split("/")
    if len(parts) == 3 and parts[1] == cluster:
        return parts[2]
    if len(parts) == 2:
        return parts[1]
    return None


def task_view(record: TaskRecord, tags: Sequence[tuple[str, str]] | None) -> dict[str, Any]:
    """The Task structure ECS returns; ``tags`` only when asked for (not ``None``)."""
    view: dict[str, Any] = {
        "taskArn": record.arn,
        "clusterArn": record.cluster_arn,
        "taskDefinitionArn": record.task_definition_arn,
        "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **record.overrides},
        "lastStatus": record.last_status,
        "desiredStatus": record.desired_status,
        "containers": record.containers,
        "version": record.version,
        "createdAt": record.created_at,
        "launchType": record.launch_type,
        "attributes": record.attributes,
        "attachments": [],
        "healthStatus": record.health_status,
        "enableExecuteCommand": False,
        "inferenceAccelerators": [],
    }
    optional: dict[str, Any] = {
        "containerInstanceArn": record.container_instance_arn,
        "cpu": record.cpu,
        "memory": record.memory,
        "group": record.group,
        "startedBy": record.started_by,
        "availabilityZone": record.availability_zone,
        "connectivity": record.connectivity,
        "connectivityAt": record.connectivity_at,
        "stoppedReason": record.stopped_reason,
        "stopCode": record.stop_code,
        "pullStartedAt": record.pull_started_at,
        "pullStoppedAt": record.pull_stopped_at,
        "startedAt": record.started_at,
        "stoppingAt": record.stopping_at,
        "stoppedAt": record.stopped_at,
        "executionStoppedAt": record.execution_stopped_at,
    }
    view.update({key: value for key, value in optional.items() if value is not None})
    if tags is not None:
        view["tags"] = [{"key": key, "value": value} for key, value in tags]
    return view


def task_attributes(instance_attributes: Mapping[str, str | None]) -> list[dict[str, str]]:
    """The task attributes ECS reports from its instance (the CPU architecture)."""
    architecture = instance_attributes.get("ecs.cpu-architecture")
    return [] if architecture is None else [{"name": "ecs.cpu-architecture", "value": architecture}]
