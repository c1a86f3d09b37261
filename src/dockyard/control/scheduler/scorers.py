"""Placement strategies as scorers: lower is better, and strategies compare in the order given.

Strategies are best effort (AWS: "Amazon ECS still attempts to place tasks even when the most optimal
placement option is unavailable"): they only order the instances the filters kept.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from .filters import Candidate
from .snapshot import Strategy, TaskRequest

Scorer = Callable[[Candidate], float]
"""A candidate's score under one strategy for the next task; lower wins."""

INSTANCE_FIELDS = frozenset({"instanceid", "host"})
BINPACK_FIELDS = frozenset({"cpu", "memory"})
ATTRIBUTE_PREFIX = "attribute:"


def scorer(
    strategy: Strategy, request: TaskRequest, everyone: Sequence[Candidate], rng: random.Random
) -> Scorer:
    """The scorer of ``strategy`` for the next task, given every instance of the cluster as it stands."""
    kind = strategy.type
    if kind == "binpack":
        return binpack((strategy.field or "").lower())
    if kind == "spread":
        return spread(strategy.field or "", request, everyone)
    # random: one draw per candidate, drawn in the caller's (ARN) order, so a seeded rng repeats.
    return lambda candidate: rng.random()


def binpack(resource: str) -> Scorer:
    """The instance with the least remaining ``cpu`` or ``memory`` first, to fill instances one by one."""
    if resource == "cpu":
        return lambda candidate: candidate.instance.remaining_cpu
    return lambda candidate: candidate.instance.remaining_memory


def group_load(candidate: Candidate, request: TaskRequest) -> int:
    """Tasks of the request's group on the instance (AWS spreads "based on the tasks from the same task
    group"); without a group, this plan's own tasks."""
    if request.group is None:
        return candidate.placed
    return candidate.instance.task_groups.get(request.group, 0)


def spread(field: str, request: TaskRequest, everyone: Sequence[Candidate]) -> Scorer:
    """The least loaded value of ``field`` first: the instance itself, or an attribute's value.

    For an attribute, the load of a value counts the group's tasks on every instance with that value,
    feasible or not; instances without the attribute share one value of their own.
    """
    if field.lower() in INSTANCE_FIELDS or not field.startswith(ATTRIBUTE_PREFIX):
        return lambda candidate: group_load(candidate, request)
    name = field[len(ATTRIBUTE_PREFIX) :]
    loads: Counter[str | None] = Counter()
    for other in everyone:
        loads[other.instance.attributes.get(name)] += group_load(other, request)
    return lambda candidate: loads[candidate.instance.attributes.get(name)]
