"""What the agent knows of a task it runs, as plain values: the task engine produces these and the task
metadata endpoint (v4) renders them. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class TaskInterface:
    """An awsvpc task's network interface (its ENI), as the payload gave it."""

    ipv4_address: str
    mac_address: str | None = None
    subnet_cidr: str | None = None
    subnet_gateway: str | None = None
    private_dns_name: str | None = None


@dataclass(frozen=True)
class ContainerFacts:
    name: str
    """The container's name in the task definition."""
    container_arn: str
    image: str
    docker_id: str | None
    """``None`` until the container is created."""
    docker_name: str | None
    image_id: str | None
    """``sha256:<hex>``, once created."""
    labels: Mapping[str, str]
    desired_status: str
    known_status: str
    """ECS container status: PENDING, RUNNING or STOPPED."""
    cpu: int
    memory: int | None
    """The hard limit in MiB, if any."""
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    health_status: str | None
    """HEALTHY, UNHEALTHY, UNKNOWN, or ``None`` without a health check."""
    network_mode: str
    ipv4_addresses: tuple[str, ...]
    ports: tuple[Mapping[str, Any], ...]
    """ECS networkBindings: ``{containerPort, hostPort, bindIP, protocol}``."""
    metadata_token: str
    """The ``<id>`` in this container's ``ECS_CONTAINER_METADATA_URI_V4``."""
    interface: TaskInterface | None = None
    """awsvpc: the task's interface, which every container of the task shares."""


@dataclass(frozen=True)
class TaskFacts:
    cluster_arn: str
    task_arn: str
    family: str
    revision: str
    desired_status: str
    known_status: str
    cpu: str | None
    """Task-level CPU units, as given in the task definition."""
    memory: str | None
    availability_zone: str
    launch_type: str
    containers: tuple[ContainerFacts, ...]
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class MetadataSource(Protocol):
    """Where the metadata endpoint looks things up (the task engine)."""

    def find_by_token(self, token: str) -> tuple[TaskFacts, ContainerFacts] | None:
        """The task and the container whose metadata token is ``token``, or ``None``."""

    def container_stats(self, docker_id: str) -> Mapping[str, Any] | None:
        """Docker's one-shot stats JSON for the container, or ``None`` if it is gone."""
