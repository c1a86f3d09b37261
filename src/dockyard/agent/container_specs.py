"""Pure translation of a task payload's container definition (ECS ``ContainerDefinition``) into the
:class:`~dockyard.agent.runtime.ContainerSpec` the runtime creates. No I/O, no randomness: the caller passes
the container name's random suffix and the metadata token.

What ECS does, and so what this does:

- Names look like ECS's: ``ecs-<family>-<revision>-<name>-<random hex>``.
- Labels: the task definition's ``dockerLabels`` plus ECS's own (task ARN, container name, cluster, family,
  revision) and ``dockyard.container-instance-arn``, by which an agent finds *its* containers again after a
  restart (two agents may share one Docker Engine).
- Environment: the definition's, plus ``AWS_EXECUTION_ENV`` (``AWS_ECS_EC2``, or ``AWS_ECS_FARGATE``)
  and, when the agent serves the task metadata endpoint and the container has a network,
  ``ECS_CONTAINER_METADATA_URI_V4``.
- CPU units become CPU shares (at least 2, as the ECS agent does for ``cpu: 0``); ``memory`` and
  ``memoryReservation`` (MiB) the hard and soft limits; a container with neither, in a task with task-level
  memory, gets the task's memory as its hard limit.
- Ports: ``bridge`` publishes each mapping (``hostPort`` 0 or absent: a dynamic port); ``host``, ``none`` and
  ``awsvpc`` publish nothing (in host mode the container binds the host's ports itself; in awsvpc mode its
  ports are open on the task's own address).
- awsvpc: the task's containers join the network namespace of its pause container (:func:`pause_spec`),
  which is attached to the subnet's network (:func:`subnet_network_name`) at the interface's address.
- Volumes: ``host.sourcePath`` → a bind of that path; ``dockerVolumeConfiguration`` → a named Docker volume
  (``scope: shared`` keeps the volume's own name, ``task`` scope gets a per-task name); neither → a per-task
  named volume, like ECS's empty volume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from dockyard.agent.pause_image import PAUSE_IMAGE
from dockyard.agent.runtime import (
    Bind,
    ContainerSpec,
    HealthCheck,
    NetworkAttachment,
    NetworkMode,
    PortBinding,
    PortProtocol,
    Ulimit,
)
from dockyard.core.agent_protocol import TaskPayload

MiB = 1024 * 1024
MIN_CPU_SHARES = 2
DEFAULT_STOP_TIMEOUT_S = 30
"""ECS's default between SIGTERM and SIGKILL (Docker's own default is 10 s)."""

LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
LABEL_CONTAINER_NAME = "com.amazonaws.ecs.container-name"
LABEL_CLUSTER = "com.amazonaws.ecs.cluster"
LABEL_FAMILY = "com.amazonaws.ecs.task-definition-family"
LABEL_VERSION = "com.amazonaws.ecs.task-definition-version"
LABEL_INSTANCE = "dockyard.container-instance-arn"

LABEL_SUBNET = "com.dockyard.subnet"
PAUSE_CONTAINER_NAME = "~internal~ecs~pause"
"""The container-name label of an awsvpc task's pause container (ECS's name for it)."""
PAUSE_STOP_TIMEOUT_S = 1
PAUSE_RUNTIME = "runc"
"""The pause container only holds the namespace; it runs under runc whatever the task asks for."""

METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
EXECUTION_ENV = "AWS_EXECUTION_ENV"
"""Names where the container runs, as ECS sets it: ``AWS_ECS_EC2`` or ``AWS_ECS_FARGATE``."""

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
_MEMORY = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Z]*)\s*$")


class SpecError(ValueError):
    """The container definition cannot be run as given (e.g. a mount of an undeclared volume)."""


def docker_safe(text: str) -> str:
    """``text`` with every run of characters Docker refuses in names replaced by ``-``."""
    return _NAME_UNSAFE.sub("-", text).strip("-.") or "x"


def container_name(family: str, revision: str, name: str, suffix: str) -> str:
    """ECS's Docker name for a task's container: ``ecs-<family>-<revision>-<name>-<suffix>``."""
    return docker_safe(f"ecs-{family}-{revision}-{name}-{suffix}")


def task_id(task_arn: str) -> str:
    """The id at the end of a task ARN (``…:task/<cluster>/<id>``)."""
    return task_arn.rsplit("/", 1)[-1]


def task_volume_name(task_arn: str, volume_name: str) -> str:
    """The Docker volume that holds a task-scoped volume of one task."""
    return docker_safe(f"ecs-{task_id(task_arn)}-{volume_name}")


def parse_memory_mib(value: object) -> int | None:
    """Task-level memory as the payload carries it (``"512"``, ``"1 GB"``, ``"0.5GB"``, 512) → MiB."""
    if value is None or value == "":
        return None
    match = _MEMORY.match(str(value))
    if match is None:
        return None
    number, unit = float(match["number"]), match["unit"].lower()
    if unit in ("", "mb", "mib", "m"):
        return int(number)
    if unit in ("gb", "gib", "g"):
        return int(number * 1024)
    return None


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(cast(Any, value))
    except (TypeError, ValueError):
        return None


TaskNetworkMode = Literal["bridge", "host", "none", "awsvpc"]


def network_mode(task: TaskPayload) -> TaskNetworkMode:
    mode = str(task.get("networkMode") or "bridge")
    return cast(TaskNetworkMode, mode if mode in ("bridge", "host", "none", "awsvpc") else "bridge")


def network_interface(task: TaskPayload) -> Mapping[str, Any] | None:
    """The awsvpc task's ``networkInterface`` (its ENI), or ``None`` for another mode or none given."""
    if network_mode(task) != "awsvpc":
        return None
    interface = task.get("networkInterface")
    return interface if isinstance(interface, Mapping) and interface.get("privateIPv4Address") else None


def subnet_network_name(subnet_id: str) -> str:
    """The Docker bridge network holding one subnet's tasks: ``dockyard-<subnetId>``."""
    return docker_safe(f"dockyard-{subnet_id}")


def subnet_network(task: TaskPayload) -> tuple[str, str, str, dict[str, str]]:
    """(name, CIDR, gateway, labels) of the Docker network of the awsvpc task's subnet."""
    interface = network_interface(task)
    if interface is None:
        raise SpecError("an awsvpc task needs a networkInterface with a privateIPv4Address")
    subnet_id, cidr, gateway = (
        str(interface.get(key) or "") for key in ("subnetId", "subnetCidr", "subnetGateway")
    )
    if not (subnet_id and cidr and gateway):
        raise SpecError("the task's networkInterface needs subnetId, subnetCidr and subnetGateway")
    return subnet_network_name(subnet_id), cidr, gateway, {LABEL_SUBNET: subnet_id}


def pause_spec(
    task: TaskPayload, *, cluster_arn: str, container_instance_arn: str, name_suffix: str
) -> ContainerSpec:
    """The awsvpc task's pause container: owns the network namespace, at the interface's address."""
    interface = network_interface(task)
    if interface is None:
        raise SpecError("an awsvpc task needs a networkInterface with a privateIPv4Address")
    if not interface.get("subnetId"):
        raise SpecError("the task's networkInterface has no subnetId")
    definition = {"name": PAUSE_CONTAINER_NAME}
    return ContainerSpec(
        name=container_name(
            str(task.get("family", "")), str(task.get("version", "")), "internalecspause", name_suffix
        ),
        image=PAUSE_IMAGE,
        labels=labels_for(  # the task's own cluster: a Fargate pool host runs other clusters' tasks
            task,
            definition,
            cluster_arn=str(task.get("clusterArn") or cluster_arn),
            container_instance_arn=container_instance_arn,
        ),
        cpu_shares=MIN_CPU_SHARES,
        nano_cpus=fargate_nano_cpus(task),
        memory_bytes=fargate_memory_bytes(task),
        network=NetworkAttachment(
            subnet_network_name(str(interface["subnetId"])),
            ipv4_address=str(interface["privateIPv4Address"]),
            mac_address=str(interface.get("macAddress") or "") or None,
        ),
        stop_timeout_s=PAUSE_STOP_TIMEOUT_S,
        runtime=PAUSE_RUNTIME,
    )


def labels_for(
    task: TaskPayload, definition: Mapping[str, Any], *, cluster_arn: str, container_instance_arn: str
) -> dict[str, str]:
    """The container's labels: its ``dockerLabels`` under ECS's and dockyard's own (which win)."""
    labels = {str(k): str(v) for k, v in (definition.get("dockerLabels") or {}).items()}
    labels.update(
        {
            LABEL_TASK_ARN: str(task["taskArn"]),
            LABEL_CONTAINER_NAME: str(definition["name"]),
            LABEL_CLUSTER: cluster_arn,
            LABEL_FAMILY: str(task.get("family", "")),
            LABEL_VERSION: str(task.get("version", "")),
            LABEL_INSTANCE: container_instance_arn,
        }
    )
    return labels


def environment_for(
    definition: Mapping[str, Any],
    mode: TaskNetworkMode,
    metadata_endpoint: str | None,
    metadata_token: str,
    launch_type: str = "EC2",
) -> dict[str, str]:
    env = {
        str(item["name"]): str(item.get("value", ""))
        for item in definition.get("environment") or ()
        if item.get("name")
    }
    env[EXECUTION_ENV] = "AWS_ECS_FARGATE" if launch_type == "FARGATE" else "AWS_ECS_EC2"
    if metadata_endpoint and mode != "none":
        env[METADATA_ENV] = f"{metadata_endpoint.rstrip('/')}/v4/{metadata_token}"
    return env


def port_bindings_for(definition: Mapping[str, Any], mode: TaskNetworkMode) -> tuple[PortBinding, ...]:
    if mode != "bridge":
        return ()
    bindings = []
    for mapping in definition.get("portMappings") or ():
        container_port = _int(mapping.get("containerPort"))
        if container_port is None:
            continue
        protocol: PortProtocol = "udp" if str(mapping.get("protocol", "tcp")).lower() == "udp" else "tcp"
        bindings.append(PortBinding(container_port, protocol, host_port=_int(mapping.get("hostPort")) or 0))
    return tuple(bindings)


def volume_source(task: TaskPayload, volume: Mapping[str, Any]) -> str:
    """What a task definition volume mounts: a host path, or the name of a Docker volume."""
    name = str(volume.get("name", ""))
    host = volume.get("host") or {}
    if host.get("sourcePath"):
        return str(host["sourcePath"])
    docker_volume = volume.get("dockerVolumeConfiguration")
    if docker_volume is not None and str(docker_volume.get("scope", "task")) == "shared":
        return docker_safe(name)
    return task_volume_name(str(task["taskArn"]), name)


def binds_for(task: TaskPayload, definition: Mapping[str, Any]) -> tuple[Bind, ...]:
    volumes = {str(v.get("name")): v for v in task.get("volumes") or ()}
    binds = []
    for mount in definition.get("mountPoints") or ():
        source_volume, target = str(mount.get("sourceVolume", "")), mount.get("containerPath")
        if not target:
            continue
        if source_volume not in volumes:
            raise SpecError(f"mount point of {definition['name']} names unknown volume {source_volume!r}")
        source = volume_source(task, volumes[source_volume])
        binds.append(Bind(source, str(target), read_only=bool(mount.get("readOnly", False))))
    return tuple(binds)


def health_check_for(definition: Mapping[str, Any]) -> HealthCheck | None:
    check = definition.get("healthCheck")
    if not check or not check.get("command"):
        return None
    command = tuple(str(part) for part in check["command"])
    if command[0] not in ("CMD", "CMD-SHELL", "NONE"):
        command = ("CMD-SHELL", " ".join(command))
    return HealthCheck(
        test=command,
        interval_s=float(check.get("interval") or 30),
        timeout_s=float(check.get("timeout") or 5),
        retries=int(check.get("retries") or 3),
        start_period_s=float(check.get("startPeriod") or 0),
    )


def ulimits_for(definition: Mapping[str, Any]) -> tuple[Ulimit, ...]:
    return tuple(
        Ulimit(str(u["name"]), int(u["softLimit"]), int(u["hardLimit"]))
        for u in definition.get("ulimits") or ()
    )


def memory_limits(task: TaskPayload, definition: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(hard, soft) limits in bytes."""
    hard, soft = _int(definition.get("memory")), _int(definition.get("memoryReservation"))
    if hard is None and soft is None:
        hard = parse_memory_mib(task.get("memory"))
    return (hard * MiB if hard else None), (soft * MiB if soft else None)


def fargate_memory_bytes(task: TaskPayload) -> int | None:
    """A Fargate task's memory in bytes (the limit of its pause container's cgroup, which holds its
    containers' cgroups where the engine can nest them); None for other tasks."""
    mib = parse_memory_mib(task.get("memory")) if task.get("launchType") == "FARGATE" else None
    return mib * MiB if mib else None


def fargate_nano_cpus(task: TaskPayload) -> int | None:
    """A Fargate task's containers are limited to the task's vCPUs (``cpu`` units / 1024); None else."""
    units = _int(task.get("cpu")) if task.get("launchType") == "FARGATE" else None
    return None if not units else units * 1_000_000_000 // 1024


def stop_timeout_s(
    definition: Mapping[str, Any], default: int = DEFAULT_STOP_TIMEOUT_S, task: TaskPayload | None = None
) -> int:
    """The task's ``stopTimeoutSeconds`` (a Spot interruption's two minutes), else the container's
    ``stopTimeout``, else the agent's default (ECS_CONTAINER_STOP_TIMEOUT)."""
    forced = _int((task or {}).get("stopTimeoutSeconds"))
    if forced is not None and forced >= 0:
        return forced
    timeout = _int(definition.get("stopTimeout"))
    return default if timeout is None or timeout < 0 else timeout


def _strings(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(str(part) for part in cast(Sequence[object], value))


def build_spec(
    task: TaskPayload,
    definition: Mapping[str, Any],
    *,
    cluster_arn: str,
    container_instance_arn: str,
    metadata_endpoint: str | None,
    metadata_token: str,
    name_suffix: str,
    default_stop_timeout_s: int = DEFAULT_STOP_TIMEOUT_S,
    network_container: str | None = None,
    oci_runtime: str | None = None,
    cgroup_parent: str | None = None,
    limits_storage: bool = False,
) -> ContainerSpec:
    """The :class:`ContainerSpec` of one container of ``task``. Raises :class:`SpecError`.

    ``network_container``: the pause container an awsvpc task's containers join (required then);
    ``oci_runtime``: the OCI runtime to ask for (``None``: the engine's default); ``cgroup_parent``: the
    task's cgroup (its pause container's), whose limits all its containers share; ``limits_storage``:
    the storage driver can cap a writable layer (each container of a Fargate task at the task's
    ephemeral storage).
    """
    mode = network_mode(task)
    if mode == "awsvpc" and network_container is None:
        raise SpecError("an awsvpc task's container needs the task's pause container")
    docker_mode: NetworkMode = "none" if mode == "awsvpc" else mode
    hard, soft = memory_limits(task, definition)
    extra_hosts = tuple(
        (str(h["hostname"]), str(h["ipAddress"]))
        for h in definition.get("extraHosts") or ()
        if h.get("hostname") and h.get("ipAddress") and mode != "awsvpc"  # ECS refuses them with awsvpc
    )
    return ContainerSpec(
        name=container_name(
            str(task.get("family", "")), str(task.get("version", "")), str(definition["name"]), name_suffix
        ),
        image=str(definition["image"]),
        command=_strings(definition.get("command")),
        entrypoint=_strings(definition.get("entryPoint")),
        env=environment_for(
            definition, mode, metadata_endpoint, metadata_token, str(task.get("launchType") or "EC2")
        ),
        working_dir=definition.get("workingDirectory") or None,
        user=definition.get("user") or None,
        labels=labels_for(  # the task's own cluster: a Fargate pool host runs other clusters' tasks
            task,
            definition,
            cluster_arn=str(task.get("clusterArn") or cluster_arn),
            container_instance_arn=container_instance_arn,
        ),
        cpu_shares=max(MIN_CPU_SHARES, _int(definition.get("cpu")) or 0),
        nano_cpus=fargate_nano_cpus(task),
        memory_bytes=hard,
        memory_reservation_bytes=soft,
        port_bindings=port_bindings_for(definition, mode),
        network_mode=docker_mode,
        network_container=network_container if mode == "awsvpc" else None,
        runtime=oci_runtime,
        cgroup_parent=cgroup_parent,
        storage_size_gib=_int(task.get("ephemeralStorageGiB")) if limits_storage else None,
        binds=binds_for(task, definition),
        ulimits=ulimits_for(definition),
        readonly_rootfs=bool(definition.get("readonlyRootFilesystem", False)),
        privileged=bool(definition.get("privileged", False)),
        health_check=health_check_for(definition),
        stop_timeout_s=stop_timeout_s(definition, default_stop_timeout_s),
        extra_hosts=extra_hosts,
    )
