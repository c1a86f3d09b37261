"""The scheduler's inputs: a frozen picture of the cluster and of the tasks to place.

Everything here is immutable and free of I/O; the caller (the ECS service layer) builds these from the
store, so the scheduler is a pure function of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class InstanceStatus(StrEnum):
    """A container instance's ``status`` as ECS reports it."""

    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    INACTIVE = "INACTIVE"


def _frozen_mapping(value: Mapping[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """One container instance as the scheduler sees it.

    ``remaining_*`` and ``reserved_ports_*`` already account for every task the store knows on the
    instance (running or pending) and for the ports the agent reserved at registration. ``attributes``
    holds built-in (``ecs.availability-zone``, ``ecs.instance-type``…) and custom attributes; a value of
    ``None`` is an attribute without a value. ``task_groups`` counts the instance's tasks per task group
    (``service:web``, ``family:batch``…).
    """

    arn: str
    instance_id: str
    status: InstanceStatus
    agent_connected: bool
    registered_cpu: int
    registered_memory: int
    remaining_cpu: int
    remaining_memory: int
    registered_at: datetime
    reserved_ports_tcp: frozenset[int] = frozenset()
    reserved_ports_udp: frozenset[int] = frozenset()
    attributes: Mapping[str, str | None] = field(default_factory=dict, hash=False)
    running_tasks_count: int = 0
    pending_tasks_count: int = 0
    agent_version: str | None = None
    ec2_instance_id: str | None = None
    task_groups: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Read-only views, so a snapshot cannot change under the scheduler (or between placements).
        object.__setattr__(self, "attributes", _frozen_mapping(self.attributes))
        object.__setattr__(self, "task_groups", _frozen_mapping(self.task_groups))


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Every container instance of one cluster, in any order (the scheduler sorts by ARN)."""

    instances: tuple[InstanceSnapshot, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraint:
    """A placement constraint: ``distinctInstance`` (no expression) or ``memberOf(expression)``."""

    type: str
    expression: str | None = None

    @classmethod
    def distinct_instance(cls) -> Constraint:
        return cls("distinctInstance")

    @classmethod
    def member_of(cls, expression: str) -> Constraint:
        return cls("memberOf", expression)


@dataclass(frozen=True, slots=True)
class Strategy:
    """A placement strategy: ``binpack`` (cpu|memory), ``spread`` (instanceId|host|attribute:<name>)
    or ``random`` (no field)."""

    type: str
    field: str | None = None

    @classmethod
    def binpack(cls, field: str) -> Strategy:
        return cls("binpack", field)

    @classmethod
    def spread(cls, field: str) -> Strategy:
        return cls("spread", field)

    @classmethod
    def random(cls) -> Strategy:
        return cls("random")


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """``count`` copies of one task to place, with what each copy reserves on its instance.

    The caller derives the reservation from the task definition, following ECS:

    - ``cpu``: the task-level ``cpu`` when set, else the sum of the containers' ``cpu`` (unset = 0).
    - ``memory`` (MiB): the task-level ``memory`` when set, else the sum over containers of
      ``memoryReservation`` when set, else ``memory`` (REFERENCE.md: "Memory reserved is
      memoryReservation if set, else memory").
    - ``host_ports_*``: the static host ports of the port mappings (bridge: ``hostPort`` when non-zero;
      host mode: ``containerPort``). Dynamic ports (``hostPort`` 0 or unset) and ``awsvpc`` tasks reserve
      none.
    - ``group``: ``service:<name>`` for service tasks, else RunTask's ``group`` or ``family:<family>``.
    - ``constraints``: the task definition's ``placementConstraints`` plus the call's.
    """

    cpu: int
    memory: int
    host_ports_tcp: frozenset[int] = frozenset()
    host_ports_udp: frozenset[int] = frozenset()
    group: str | None = None
    constraints: tuple[Constraint, ...] = ()
    strategies: tuple[Strategy, ...] = ()
    count: int = 1
