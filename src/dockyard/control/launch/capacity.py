"""Capacity provider strategies: which provider each launched task goes to, as ECS documents. Pure.

A strategy is ``[{capacityProvider, weight, base}]``. Tasks first fill the one provider with a ``base``
up to that base; every further task goes where the provider's share of the tasks beyond the bases would
stay lowest relative to its weight (``(count beyond base + 1) / weight``, ties to the earlier provider),
so FARGATE base 1 weight 1 + FARGATE_SPOT weight 3 over 9 tasks gives 3 and 6. Counts already running (a
service's) take part, so a replacement returns to the provider that lost a task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.core.errors import InvalidParameterError

FARGATE, FARGATE_SPOT = "FARGATE", "FARGATE_SPOT"
MAX_PROVIDERS = 6
MAX_WEIGHT = 1000
MAX_BASE = 100000


def check_strategy(strategy: Sequence[Mapping[str, Any]]) -> None:
    """ECS's rules for a strategy; InvalidParameterException when one is broken."""
    if not strategy:
        return
    if len(strategy) > MAX_PROVIDERS:
        raise InvalidParameterError(
            f"The capacity provider strategy cannot contain more than {MAX_PROVIDERS} capacity providers."
        )
    names = [str(item.get("capacityProvider", "")) for item in strategy]
    if len(set(names)) != len(names):
        raise InvalidParameterError(
            "The capacity provider strategy cannot contain duplicate capacity providers."
        )
    if sum(1 for item in strategy if item.get("base")) > 1:
        raise InvalidParameterError(
            "The capacity provider strategy can contain a base value for only one capacity provider."
        )
    for item in strategy:
        weight, base = int(item.get("weight", 0)), int(item.get("base", 0))
        if not 0 <= weight <= MAX_WEIGHT:
            raise InvalidParameterError(f"The weight must be between 0 and {MAX_WEIGHT}.")
        if not 0 <= base <= MAX_BASE:
            raise InvalidParameterError(f"The base must be between 0 and {MAX_BASE}.")
    if all(int(item.get("weight", 0)) == 0 for item in strategy):
        raise InvalidParameterError(
            "The capacity provider strategy must contain at least one capacity provider with a weight "
            "greater than zero."
        )


def split(
    strategy: Sequence[Mapping[str, Any]], count: int, existing: Mapping[str, int] | None = None
) -> list[str]:
    """The provider of each of ``count`` new tasks, in launch order, given the tasks ``existing`` counts
    per provider (a checked strategy)."""
    names = [str(item["capacityProvider"]) for item in strategy]
    weights = {str(item["capacityProvider"]): int(item.get("weight", 0)) for item in strategy}
    bases = {str(item["capacityProvider"]): int(item.get("base", 0)) for item in strategy}
    counts = {name: (existing or {}).get(name, 0) for name in names}
    chosen: list[str] = []
    for _ in range(count):
        short = [name for name in names if counts[name] < bases[name]]
        if short:
            pick = short[0]
        else:
            weighted = [name for name in names if weights[name] > 0]
            pick = min(
                weighted, key=lambda name: (_share_after(name, counts, bases, weights), names.index(name))
            )
        counts[pick] += 1
        chosen.append(pick)
    return chosen


def _share_after(
    name: str, counts: Mapping[str, int], bases: Mapping[str, int], weights: Mapping[str, int]
) -> float:
    """The provider's weighted share of the tasks beyond the bases, were it to take one more."""
    return (max(counts[name] - bases[name], 0) + 1) / weights[name]


EC2 = "EC2"
BOTH_GIVEN = (
    "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
)
NOT_ASSOCIATED = (
    "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
    "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
    "provider and try again."
)


def launch_strategy(
    launch_type: str | None,
    strategy: Sequence[Mapping[str, Any]] | None,
    *,
    cluster_providers: Sequence[str],
    cluster_default: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]] | None:
    """Where a RunTask or service's tasks go: None for container instances (the EC2 launch type), else
    the capacity provider strategy to split them with — ``launchType FARGATE`` is FARGATE alone; with
    neither a launch type nor a strategy, the cluster's default strategy if it has one, else EC2."""
    if launch_type and strategy:
        raise InvalidParameterError(BOTH_GIVEN)
    if launch_type == FARGATE:
        return [{"capacityProvider": FARGATE, "weight": 1, "base": 0}]
    if launch_type:
        return None
    chosen = strategy or cluster_default
    if not chosen:
        return None
    check_strategy(chosen)
    if any(str(item.get("capacityProvider")) not in cluster_providers for item in chosen):
        raise InvalidParameterError(NOT_ASSOCIATED)
    return [
        {
            "capacityProvider": str(i["capacityProvider"]),
            "weight": int(i.get("weight", 0)),
            "base": int(i.get("base", 0)),
        }
        for i in chosen
    ]
