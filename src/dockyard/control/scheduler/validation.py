"""Checks on a placement request, with messages fit for an ``InvalidParameterException``.

Limits are botocore's ECS model: "You can specify a maximum of 5 strategy rules for each task", "up to
10 constraints for each task (including constraints in the task definition and those specified at
runtime)", "up to 10 tasks for each call" (RunTask ``count``), an expression of at most 2000 characters
that "can't" be given for ``distinctInstance``, task group names of at most 255 characters.
"""

from __future__ import annotations

from dockyard.core.errors import InvalidParameterError

from .query import parse_query
from .scorers import ATTRIBUTE_PREFIX, BINPACK_FIELDS, INSTANCE_FIELDS
from .snapshot import Constraint, Strategy, TaskRequest

MAX_STRATEGIES = 5
MAX_CONSTRAINTS = 10
RUN_TASK_MAX_COUNT = 10
MAX_EXPRESSION_LENGTH = 2000
MAX_GROUP_LENGTH = 255
STRATEGY_TYPES = ("binpack", "spread", "random")
CONSTRAINT_TYPES = ("distinctInstance", "memberOf")


class PlacementRequestError(InvalidParameterError):
    """A placement request ECS would refuse (reaches the client as ``InvalidParameterException``)."""


def validate_request(request: TaskRequest, *, max_count: int | None = RUN_TASK_MAX_COUNT) -> None:
    """Raise :class:`PlacementRequestError` (or its ``QueryError`` sibling) unless ``request`` is valid.

    ``max_count`` is RunTask's limit; a service's scheduler passes None (its own quota applies).
    """
    if request.count < 1 or (max_count is not None and request.count > max_count):
        limit = f" and {max_count}" if max_count is not None else ""
        raise PlacementRequestError(f"count must be between 1{limit}; it was {request.count}.")
    if request.cpu < 0 or request.memory < 0:
        raise PlacementRequestError("The task's CPU and memory reservations cannot be negative.")
    for port in sorted(request.host_ports_tcp | request.host_ports_udp):
        if not 0 < port <= 65535:
            raise PlacementRequestError(f"Host port {port} is outside the range 1-65535.")
    if request.group is not None and not 0 < len(request.group) <= MAX_GROUP_LENGTH:
        raise PlacementRequestError(f"The task group name must be 1 to {MAX_GROUP_LENGTH} characters long.")
    if len(request.strategies) > MAX_STRATEGIES:
        given = len(request.strategies)
        raise PlacementRequestError(
            f"You can specify a maximum of {MAX_STRATEGIES} placement strategies; {given} were given."
        )
    if len(request.constraints) > MAX_CONSTRAINTS:
        given = len(request.constraints)
        raise PlacementRequestError(
            f"You can specify a maximum of {MAX_CONSTRAINTS} placement constraints, including those of "
            f"the task definition; {given} were given."
        )
    for strategy in request.strategies:
        validate_strategy(strategy)
    for constraint in request.constraints:
        validate_constraint(constraint)


def validate_strategy(strategy: Strategy) -> None:
    """A known type with a field it accepts (``random`` ignores its field, as the API reference says)."""
    field = strategy.field or ""
    if strategy.type == "binpack":
        if field.lower() not in BINPACK_FIELDS:
            raise PlacementRequestError(
                f"Invalid field {field!r} for the binpack strategy: use cpu or memory."
            )
    elif strategy.type == "spread":
        is_attribute = field.startswith(ATTRIBUTE_PREFIX) and len(field) > len(ATTRIBUTE_PREFIX)
        if field.lower() not in INSTANCE_FIELDS and not is_attribute:
            raise PlacementRequestError(
                f"Invalid field {field!r} for the spread strategy: use instanceId, host or attribute:<name>."
            )
    elif strategy.type != "random":
        choices = ", ".join(STRATEGY_TYPES)
        raise PlacementRequestError(f"Invalid placement strategy type {strategy.type!r}: use {choices}.")


def validate_constraint(constraint: Constraint) -> None:
    """A known type; ``memberOf`` with a well-formed expression, ``distinctInstance`` with none."""
    if constraint.type == "distinctInstance":
        if constraint.expression:
            raise PlacementRequestError("You can't specify an expression for a distinctInstance constraint.")
    elif constraint.type == "memberOf":
        expression = constraint.expression or ""
        if not expression.strip():
            raise PlacementRequestError("A memberOf constraint requires an expression.")
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise PlacementRequestError(
                f"A placement constraint expression can have at most {MAX_EXPRESSION_LENGTH} characters."
            )
        parse_query(expression)
    else:
        choices = ", ".join(CONSTRAINT_TYPES)
        raise PlacementRequestError(f"Invalid placement constraint type {constraint.type!r}: use {choices}.")
