"""Task placement: a pure function of a cluster snapshot, a request and a seeded random source.

Flow, for each of the ``count`` tasks in turn::

    instances (not INACTIVE, by ARN)
        │ filters   agent → CPU → memory → ports → memberOf → distinctInstance   (first failure = reason)
        ▼
    feasible ──── none? → stop: every instance's reason becomes a failure, the rest stay unplaced
        │ scorers   strategies in the order given, then the instance ARN
        ▼
    best instance ── takes the task: its working copy loses the CPU, memory and ports, gains the group
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from . import filters, plan
from .filters import Candidate, Filter
from .plan import Placement, PlacementFailure, PlacementPlan
from .query import parse_query
from .scorers import scorer
from .snapshot import ClusterSnapshot, InstanceStatus, TaskRequest
from .validation import validate_request


def place(
    snapshot: ClusterSnapshot, request: TaskRequest, rng: random.Random, *, cluster_arn: str
) -> PlacementPlan:
    """Place ``request.count`` tasks one at a time on ``snapshot``'s instances.

    Guarantees: no I/O and no clock; the same snapshot, request and rng state give the same plan; no
    instance is given more CPU, memory or ports than it has left, counting this plan's earlier tasks;
    without a ``random`` strategy, ties go to the smallest instance ARN. An invalid request (see
    :func:`~.validation.validate_request`, with no limit on ``count``) raises before anything is placed.
    """
    validate_request(request, max_count=None)
    working = {
        instance.arn: Candidate(instance)
        for instance in sorted(snapshot.instances, key=lambda instance: instance.arn)
        # A deregistered instance is no longer part of the cluster: neither a candidate nor a failure.
        if instance.status is not InstanceStatus.INACTIVE
    }
    if not working:
        failure = PlacementFailure(cluster_arn, plan.NO_CONTAINER_INSTANCES)
        return PlacementPlan((), (failure,), request.count)
    pipeline = _filters(request)
    # Without strategies the choice is the feasible instance with the smallest ARN: the first one found.
    first_only = not request.strategies
    placements: list[Placement] = []
    for placed_so_far in range(request.count):
        feasible, rejected = _feasible(working.values(), request, pipeline, first_only=first_only)
        if not feasible:
            return PlacementPlan(tuple(placements), tuple(rejected), request.count - placed_so_far)
        best = _select(feasible, tuple(working.values()), request, rng)
        working[best.arn] = best.with_task(request)
        placements.append(Placement(best.arn))
    return PlacementPlan(tuple(placements), (), 0)


def _filters(request: TaskRequest) -> tuple[Filter, ...]:
    """The feasibility pipeline, cheapest and most fundamental first, as AWS describes its process."""
    queries = tuple(parse_query(c.expression or "") for c in request.constraints if c.type == "memberOf")
    distinct = any(c.type == "distinctInstance" for c in request.constraints)
    return (
        # Is the instance usable at all? A disconnected agent would leave the task waiting.
        filters.agent_connected,
        # "Identify the instances that satisfy the CPU, memory, and port requirements" (step 1) …
        filters.enough_cpu,
        filters.enough_memory,
        filters.free_ports,
        # … "then the instances that satisfy the task placement constraints" (step 2); binding.
        *((filters.member_of(queries),) if queries else ()),
        *((filters.distinct_instance,) if distinct else ()),
    )


def _feasible(
    candidates: Iterable[Candidate], request: TaskRequest, pipeline: Sequence[Filter], *, first_only: bool
) -> tuple[list[Candidate], list[PlacementFailure]]:
    """The candidates every filter keeps (with ``first_only``, just the first), and one failure (the
    first filter's reason) per other one looked at."""
    feasible: list[Candidate] = []
    rejected: list[PlacementFailure] = []
    # Plain loops: this runs (instances * filters) times per task, the scheduler's hottest code.
    for candidate in candidates:
        for check in pipeline:
            reason = check(candidate, request)
            if reason is not None:
                rejected.append(PlacementFailure(candidate.arn, reason))
                break
        else:
            feasible.append(candidate)
            if first_only:
                break
    return feasible, rejected


def _select(
    feasible: Sequence[Candidate], everyone: Sequence[Candidate], request: TaskRequest, rng: random.Random
) -> Candidate:
    """The best candidate: strategies compared in order ("step 3"), then the ARN ("select", step 4)."""
    if not request.strategies:
        return feasible[0]  # candidates come in ARN order
    scorers = [scorer(strategy, request, everyone, rng) for strategy in request.strategies]
    # min() computes each key once, in ARN order, so a random strategy draws from the rng repeatably.
    return min(feasible, key=lambda c: (tuple(score(c) for score in scorers), c.arn))
