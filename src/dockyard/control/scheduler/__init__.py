"""ECS task placement: a pure function from a frozen cluster snapshot to a placement plan.

::

    TaskRequest + ClusterSnapshot + random.Random
          │  validate_request        limits and well-formed strategies/constraints (InvalidParameter)
          ▼
    place(...)  for each task: filters → scorers → select, on a working copy of the snapshot
          ▼
    PlacementPlan(placements, failures, unplaced)

The caller (the ECS provider or the service controller) reads the store, builds the snapshot and the
request, calls :func:`place`, and commits the plan. Modules: ``snapshot`` (inputs), ``query`` and
``query_syntax`` (the cluster query language), ``filters``, ``scorers``, ``placement`` (the pipeline),
``plan`` (outputs), ``validation`` (limits).
"""

from __future__ import annotations

from .placement import place
from .plan import (
    AGENT,
    DISTINCT_INSTANCE,
    MEMBER_OF,
    NO_CONTAINER_INSTANCES,
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    RESOURCE_PORTS,
    Placement,
    PlacementFailure,
    PlacementPlan,
)
from .query import Query, parse_query
from .query_syntax import QueryError
from .snapshot import ClusterSnapshot, Constraint, InstanceSnapshot, InstanceStatus, Strategy, TaskRequest
from .validation import (
    MAX_CONSTRAINTS,
    MAX_STRATEGIES,
    RUN_TASK_MAX_COUNT,
    PlacementRequestError,
    validate_request,
)

__all__ = [
    "AGENT",
    "DISTINCT_INSTANCE",
    "MAX_CONSTRAINTS",
    "MAX_STRATEGIES",
    "MEMBER_OF",
    "NO_CONTAINER_INSTANCES",
    "RESOURCE_CPU",
    "RESOURCE_MEMORY",
    "RESOURCE_PORTS",
    "RUN_TASK_MAX_COUNT",
    "ClusterSnapshot",
    "Constraint",
    "InstanceSnapshot",
    "InstanceStatus",
    "Placement",
    "PlacementFailure",
    "PlacementPlan",
    "PlacementRequestError",
    "Query",
    "QueryError",
    "Strategy",
    "TaskRequest",
    "parse_query",
    "place",
    "validate_request",
]
