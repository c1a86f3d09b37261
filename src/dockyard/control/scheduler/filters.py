"""Feasibility filters: each says why an instance cannot take one more task, or None when it can.

A filter sees a :class:`Candidate` (the instance with this plan's earlier placements applied), so a
second task of the same plan is checked against what the first one already took.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from . import plan
from .query import Query
from .snapshot import InstanceSnapshot, InstanceStatus, TaskRequest


@dataclass(frozen=True, slots=True)
class Candidate:
    """An instance part-way through a plan: ``instance`` includes this plan's ``placed`` tasks."""

    instance: InstanceSnapshot
    placed: int = 0

    @property
    def arn(self) -> str:
        return self.instance.arn

    def with_task(self, request: TaskRequest) -> Candidate:
        """The candidate once it holds one more task of ``request`` (a pending task of its group)."""
        instance = self.instance
        groups = dict(instance.task_groups)
        if request.group is not None:
            groups[request.group] = groups.get(request.group, 0) + 1
        taken = replace(
            instance,
            remaining_cpu=instance.remaining_cpu - request.cpu,
            remaining_memory=instance.remaining_memory - request.memory,
            reserved_ports_tcp=instance.reserved_ports_tcp | request.host_ports_tcp,
            reserved_ports_udp=instance.reserved_ports_udp | request.host_ports_udp,
            pending_tasks_count=instance.pending_tasks_count + 1,
            task_groups=groups,
        )
        return Candidate(taken, self.placed + 1)


Filter = Callable[[Candidate, TaskRequest], str | None]
"""The reason ``candidate`` cannot take one more task of the request, or None."""


def agent_connected(candidate: Candidate, request: TaskRequest) -> str | None:
    """Only ACTIVE instances whose agent is connected take placements (DRAINING ones never do)."""
    instance = candidate.instance
    usable = instance.status is InstanceStatus.ACTIVE and instance.agent_connected
    return None if usable else plan.AGENT


def enough_cpu(candidate: Candidate, request: TaskRequest) -> str | None:
    return None if candidate.instance.remaining_cpu >= request.cpu else plan.RESOURCE_CPU


def enough_memory(candidate: Candidate, request: TaskRequest) -> str | None:
    return None if candidate.instance.remaining_memory >= request.memory else plan.RESOURCE_MEMORY


def free_ports(candidate: Candidate, request: TaskRequest) -> str | None:
    """Every static host port is free, TCP and UDP counted apart (as the agent registers them)."""
    instance = candidate.instance
    clash = (
        request.host_ports_tcp & instance.reserved_ports_tcp
        or request.host_ports_udp & instance.reserved_ports_udp
    )
    return plan.RESOURCE_PORTS if clash else None


def member_of(queries: Sequence[Query]) -> Filter:
    """Every memberOf expression holds (evaluated against the instance as the plan has left it)."""

    def check(candidate: Candidate, request: TaskRequest) -> str | None:
        return None if all(query.matches(candidate.instance) for query in queries) else plan.MEMBER_OF

    return check


def distinct_instance(candidate: Candidate, request: TaskRequest) -> str | None:
    """No other task of the request's group is on the instance, counting this plan's own placements.

    AWS: "The distinctInstance constraint places each task in the group on a different instance";
    tasks of other groups do not matter. Without a group, only this plan's tasks count.
    """
    group = request.group
    same_group = candidate.placed > 0 or (
        group is not None and candidate.instance.task_groups.get(group, 0) > 0
    )
    return plan.DISTINCT_INSTANCE if same_group else None
