"""RegisterTaskDefinition's rules: validation with ECS's own messages, and the defaults ECS fills in.

Pure functions, no I/O. :func:`build_task_definition` turns validated request parameters into the body
dockyard stores and returns: every task-level field the caller sent, container definitions with ECS's
defaults (``cpu`` 0, ``essential`` true, empty lists, port mappings completed for the network mode,
health-check timings), ``networkMode`` (default ``bridge``), ``cpu``/``memory`` as unit strings and the
``compatibilities`` the definition satisfies. Anything ECS would refuse raises :class:`ClientException`
with the message ECS gives, so clients that match on messages behave as they do against AWS.

``runtimePlatform`` and ``ephemeralStorage`` (21 to 200 GiB) are stored and returned as sent; their enums
and types are checked upstream against the botocore model. One rule is dockyard's own: a Fargate
definition must be Linux (AWS also offers Windows families on Fargate, dockyard runs Linux only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.launch.shape import invalid_task_units, parse_task_units
from dockyard.core.arn import build_arn, parse_arn
from dockyard.services.ecs.errors import ClientException, InvalidParameterException
from dockyard.services.ecs.tag_rules import tag_pairs

MAX_CONTAINERS = 10
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,255}")
IMAGE_PATTERN = re.compile(r"[a-zA-Z0-9._:/#@-]+")
DEPENDENCY_CONDITIONS = frozenset({"START", "COMPLETE", "SUCCESS", "HEALTHY"})
EC2_TASK_CPU = range(128, 196608 + 1)
EC2, FARGATE = "EC2", "FARGATE"
_PASSTHROUGH_COMPATIBILITIES = ("EXTERNAL", "MANAGED_INSTANCES")
_CONTAINER_LIST_DEFAULTS = ("portMappings", "environment", "mountPoints", "volumesFrom", "systemControls")
_HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
EPHEMERAL_STORAGE_GIB = range(21, 200 + 1)
FARGATE_OS_FAMILIES = frozenset({"LINUX"})
FARGATE_ADDABLE_CAPABILITIES = frozenset({"SYS_PTRACE"})


def _fargate_memory(low: int, high: int, step: int) -> frozenset[int]:
    return frozenset(range(low, high + 1, step))


# Task cpu units → task memory MiB that Fargate offers (ECS developer guide, "Task size").
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: _fargate_memory(1024, 4096, 1024),
    1024: _fargate_memory(2048, 8192, 1024),
    2048: _fargate_memory(4096, 16384, 1024),
    4096: _fargate_memory(8192, 30720, 1024),
    8192: _fargate_memory(16384, 61440, 4096),
    16384: _fargate_memory(32768, 122880, 8192),
}


@dataclass(frozen=True, slots=True)
class TaskDefinitionInput:
    """A registration that passed every rule: the family, the body to store, and the tags to attach."""

    family: str
    body: dict[str, Any]
    tags: list[tuple[str, str]]


def build_task_definition(params: Mapping[str, Any], *, allow_privileged: bool) -> TaskDefinitionInput:
    """Check a RegisterTaskDefinition request and return what to store; raise ECS's error otherwise.

    ``allow_privileged`` is dockyard's server policy: unless it is set, a container with
    ``privileged: true`` is refused, because it would get root on the host that runs it.
    """
    family = validate_family(params.get("family", ""))
    network_mode = params.get("networkMode") or "bridge"
    cpu = parse_task_units(params.get("cpu"), "cpu")
    memory = parse_task_units(params.get("memory"), "memory")
    if cpu is not None and cpu not in EC2_TASK_CPU:
        raise invalid_task_units("cpu")
    _check_ephemeral_storage(params.get("ephemeralStorage"))
    volumes = [_normalized_volume(v) for v in params.get("volumes", [])]
    containers = _checked_containers(params.get("containerDefinitions", []), network_mode)
    _check_resources(containers, cpu, memory)
    _check_mount_points(containers, volumes)
    _check_privileged(containers, allow_privileged)
    _check_dependencies(containers)
    body = _task_body(params, containers, volumes, network_mode, {"cpu": cpu, "memory": memory})
    requested = list(params.get("requiresCompatibilities", []))
    fargate_problem = fargate_incompatibility(body)
    if FARGATE in requested and fargate_problem is not None:
        raise ClientException(fargate_problem)
    body["compatibilities"] = _compatibilities(requested, fargate_ok=fargate_problem is None)
    return TaskDefinitionInput(family, body, tag_pairs(params.get("tags", [])))


def _task_body(
    params: Mapping[str, Any],
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    network_mode: str,
    units: Mapping[str, int | None],
) -> dict[str, Any]:
    """Every task-level field sent, with the checked containers and volumes and ECS's unit strings."""
    body = {key: value for key, value in params.items() if key not in ("family", "tags", "cpu", "memory")}
    body.update(
        containerDefinitions=containers,
        volumes=volumes,
        placementConstraints=list(params.get("placementConstraints", [])),
        networkMode=network_mode,
    )
    body.update({key: str(value) for key, value in units.items() if value is not None})
    return body


def validate_family(family: str) -> str:
    if not family:
        raise ClientException("Family can not be blank.")
    if not NAME_PATTERN.fullmatch(family):
        raise ClientException("Family contains invalid characters.")
    return family


# --- containers -------------------------------------------------------------------------------------------


def _checked_containers(definitions: Sequence[Mapping[str, Any]], network_mode: str) -> list[dict[str, Any]]:
    if not definitions:
        raise ClientException("Container list cannot be empty.")
    if len(definitions) > MAX_CONTAINERS:
        raise ClientException("Too many containers.")
    containers = [_normalized_container(d, network_mode) for d in definitions]
    names = [c["name"] for c in containers]
    if len(set(names)) != len(names):
        raise ClientException("Container names must be unique within a Task Definition.")
    if not any(c["essential"] for c in containers):
        raise ClientException("Task definition doesn't have any essential container.")
    return containers


def _normalized_container(definition: Mapping[str, Any], network_mode: str) -> dict[str, Any]:
    """The container as ECS returns it: checked, with ECS's defaults filled in."""
    name, image = definition.get("name"), definition.get("image")
    if not name:
        raise ClientException("Container.name should not be null or empty.")
    if not NAME_PATTERN.fullmatch(name):
        raise ClientException("Container.name contains invalid characters.")
    if not image:
        raise ClientException("Container.image should not be null or empty.")
    if not IMAGE_PATTERN.fullmatch(image):
        raise ClientException("Container.image contains invalid characters.")
    if network_mode == "awsvpc" and definition.get("hostname") is not None:
        raise ClientException("hostname is not supported on container when networkMode=awsvpc.")
    if network_mode == "awsvpc" and definition.get("links"):
        raise ClientException("Links are not supported when networkMode=awsvpc.")
    container = {"cpu": 0, "essential": True, **definition}
    for key in _CONTAINER_LIST_DEFAULTS:
        container.setdefault(key, [])
    container["portMappings"] = [_port_mapping(m, network_mode) for m in container["portMappings"]]
    if "healthCheck" in container:
        container["healthCheck"] = {**_HEALTH_CHECK_DEFAULTS, **container["healthCheck"]}
    return container


def _port_mapping(mapping: Mapping[str, Any], network_mode: str) -> dict[str, Any]:
    """Protocol defaults to tcp; host and awsvpc tasks bind the container port itself, bridge tasks bind
    ``hostPort`` or, when it is 0 or absent, a port Docker picks (returned as 0)."""
    completed = {"protocol": "tcp", **mapping}
    container_port = completed.get("containerPort")
    if container_port is None:
        return completed
    if network_mode in ("host", "awsvpc"):
        host_port = completed.setdefault("hostPort", container_port)
        if host_port != container_port:
            raise ClientException(
                f"When networkMode={network_mode}, the host ports and container ports in port mappings "
                "must match."
            )
    elif network_mode == "bridge":
        completed.setdefault("hostPort", 0)
    return completed


def _check_resources(containers: Sequence[Mapping[str, Any]], cpu: int | None, memory: int | None) -> None:
    for container in containers:
        name, hard, soft = container["name"], container.get("memory"), container.get("memoryReservation")
        if hard is None and soft is None and memory is None:
            raise ClientException(
                f"Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' "
                "must be specified."
            )
        if hard is not None and soft is not None and soft > hard:
            raise ClientException(
                f"Invalid setting for container '{name}'. 'memoryReservation' must be less than or equal "
                "to 'memory'."
            )
        if memory is not None and hard is not None and hard > memory:
            raise ClientException(
                f"The 'memory' setting for container '{name}' is greater than for the task."
            )
    if memory is not None and sum(c.get("memoryReservation") or 0 for c in containers) > memory:
        raise ClientException(
            "The sum of all container 'memoryReservation' values cannot be greater than the value of the "
            "task 'memory'."
        )
    if cpu is not None and sum(c.get("cpu") or 0 for c in containers) > cpu:
        raise ClientException(
            "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
        )


def _check_mount_points(
    containers: Sequence[Mapping[str, Any]], volumes: Sequence[Mapping[str, Any]]
) -> None:
    declared = {v.get("name") for v in volumes}
    for container in containers:
        for mount in container["mountPoints"]:
            if mount.get("sourceVolume") not in declared:
                raise ClientException(f"Unknown volume '{mount.get('sourceVolume')}'.")


def _check_privileged(containers: Sequence[Mapping[str, Any]], allow_privileged: bool) -> None:
    for container in containers:
        if container.get("privileged") and not allow_privileged:
            raise ClientException(
                f"Invalid setting for container '{container['name']}'. Privileged containers are disabled "
                "on this dockyard server (setting allow_privileged)."
            )


def _check_dependencies(containers: Sequence[Mapping[str, Any]]) -> None:
    by_name = {c["name"]: c for c in containers}
    for container in containers:
        for dependency in container.get("dependsOn", []):
            target = by_name.get(dependency.get("containerName", ""))
            condition = dependency.get("condition")
            if target is None:
                # ECS's message carries the stray " + " verbatim.
                raise ClientException(
                    f"Cannot depend on container + '{dependency.get('containerName')}' "
                    "because it does not exist"
                )
            if condition not in DEPENDENCY_CONDITIONS:
                raise ClientException(
                    f"Invalid dependency condition '{condition}' for container '{container['name']}'. "
                    "Valid conditions are START, COMPLETE, SUCCESS and HEALTHY."
                )
            if condition in ("SUCCESS", "COMPLETE") and target["essential"]:
                raise ClientException(
                    "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
                    "container"
                )
            if condition == "HEALTHY" and "healthCheck" not in target:
                raise ClientException(
                    f"Container '{target['name']}' has no health check, so container '{container['name']}' "
                    "cannot depend on it being HEALTHY."
                )


# --- volumes, Fargate, compatibilities --------------------------------------------------------------------


def _check_ephemeral_storage(storage: Mapping[str, Any] | None) -> None:
    """``ephemeralStorage`` is kept as sent (only Fargate provisions it); its size is 21 to 200 GiB."""
    if storage is not None and storage.get("sizeInGiB") not in EPHEMERAL_STORAGE_GIB:
        raise ClientException(
            "The ephemeral storage size for the task definition should be between 21 GiB and 200 GiB."
        )


def _normalized_volume(volume: Mapping[str, Any]) -> dict[str, Any]:
    normalized = dict(volume)
    if "dockerVolumeConfiguration" in normalized:
        normalized["dockerVolumeConfiguration"] = {"scope": "task", **normalized["dockerVolumeConfiguration"]}
    return normalized


def fargate_incompatibility(body: Mapping[str, Any]) -> str | None:
    """Why a task definition body cannot run on Fargate (ECS's message), or ``None`` if it can.

    A Windows ``runtimePlatform`` is dockyard's refusal, with its own message; every other one is ECS's.
    """
    if body.get("networkMode") != "awsvpc":
        return "Fargate only supports network mode \u2018awsvpc\u2019."
    if "cpu" not in body:
        return "Fargate requires that 'cpu' be defined at the task level."
    if "memory" not in body:
        return "Fargate requires that 'memory' be defined at the task level."
    cpu, memory = int(body["cpu"]), int(body["memory"])
    if memory not in FARGATE_SIZES.get(cpu, frozenset()):
        return (
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon "
            "ECS documentation for the valid values."
        )
    if body.get("pidMode", "task") != "task":
        return (
            f"Tasks using the Fargate launch type do not support pidMode '{body['pidMode']}'. The supported "
            "value for pidMode is 'task'."
        )
    if "ipcMode" in body:
        return "Tasks using the Fargate launch type do not support ipcMode."
    os_family = (body.get("runtimePlatform") or {}).get("operatingSystemFamily", "LINUX")
    if os_family not in FARGATE_OS_FAMILIES:
        # AWS runs Windows families on Fargate; dockyard runs Linux containers only.
        return (
            f"Invalid setting for runtimePlatform. operatingSystemFamily '{os_family}' is not supported: "
            "dockyard runs Fargate tasks on Linux only, so the supported value is 'LINUX'."
        )
    return _fargate_container_or_volume_problem(body)


def _fargate_container_or_volume_problem(body: Mapping[str, Any]) -> str | None:
    containers = body.get("containerDefinitions", [])
    if any(c.get("privileged") for c in containers):
        return "Tasks using the Fargate launch type do not support privileged containers."
    for container in containers:
        capabilities = (container.get("linuxParameters") or {}).get("capabilities") or {}
        for capability in capabilities.get("add") or []:
            if capability not in FARGATE_ADDABLE_CAPABILITIES:
                return f"{capability} is not allowed on Fargate."
    for volume in body.get("volumes", []):
        if "dockerVolumeConfiguration" in volume:
            return "Tasks using the Fargate launch type do not support 'dockerVolumeConfiguration' volumes."
        if volume.get("host", {}).get("sourcePath"):
            return "Tasks using the Fargate launch type do not support host 'sourcePath' volumes."
    return None


def _compatibilities(requested: Iterable[str], *, fargate_ok: bool) -> list[str]:
    found = [EC2, FARGATE] if fargate_ok else [EC2]
    return found + [c for c in _PASSTHROUGH_COMPATIBILITIES if c in requested]


# --- references and page tokens ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskDefinitionRef:
    """What a ``taskDefinition`` parameter names: a family, and a revision unless it named the family only."""

    family: str
    revision: int | None


def task_definition_arn(region: str, account_id: str, family: str, revision: int) -> str:
    return build_arn("ecs", region, account_id, f"task-definition/{family}:{revision}")


def parse_reference(reference: str, *, region: str, account_id: str) -> TaskDefinitionRef | None:
    """Resolve ``family``, ``family:revision`` or a task-definition ARN in the caller's account and region.

    Returns ``None`` for anything that cannot name a task definition the caller can see: an ARN of another
    account or region, another resource type, or a family with characters a family cannot have. A revision
    that is not a number raises ECS's InvalidParameterException.
    """
    if reference.startswith("arn:"):
        arn = parse_arn(reference)
        if arn is None or arn.service != "ecs" or arn.resource_type != "task-definition":
            return None
        if arn.account_id != account_id or arn.region != region or "/" not in arn.resource:
            return None
        reference = arn.resource.split("/", 1)[1]
    family, separator, revision = reference.partition(":")
    if not NAME_PATTERN.fullmatch(family):
        return None
    if not separator:
        return TaskDefinitionRef(family, None)
    if not revision.isdigit():
        raise InvalidParameterException(f"Invalid revision number. Number: {revision}")
    return TaskDefinitionRef(family, int(revision))
