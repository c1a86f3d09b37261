"""The scheduler's output: where each task goes, and why every instance was turned down."""

from __future__ import annotations

from dataclasses import dataclass

# Failure reasons, spelt as RunTask's ``failures[].reason`` (AWS "API failure reasons";
# REFERENCE.md "Placement").
AGENT = "AGENT"
RESOURCE_CPU = "RESOURCE:CPU"
RESOURCE_MEMORY = "RESOURCE:MEMORY"
RESOURCE_PORTS = "RESOURCE:PORTS"
MEMBER_OF = "MemberOf"
DISTINCT_INSTANCE = "DistinctInstance"
NO_CONTAINER_INSTANCES = "No Container Instances were found in your cluster."


@dataclass(frozen=True, slots=True)
class Placement:
    """One task goes to ``instance_arn``."""

    instance_arn: str


@dataclass(frozen=True, slots=True)
class PlacementFailure:
    """RunTask's ``Failure``: a container instance ARN and the first check it failed, or the cluster
    ARN with :data:`NO_CONTAINER_INSTANCES` when the cluster has no usable container instance at all."""

    arn: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlacementPlan:
    """The outcome of :func:`~.placement.place`.

    Guarantees: ``len(placements) + unplaced == request.count``; placements come in placement order
    and never oversubscribe an instance's CPU, memory or ports; ``failures`` is empty when everything
    was placed, else it names each instance once, with the reason it could not take the first task
    that was left unplaced.
    """

    placements: tuple[Placement, ...]
    failures: tuple[PlacementFailure, ...]
    unplaced: int
