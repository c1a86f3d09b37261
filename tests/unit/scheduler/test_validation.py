"""Request limits and shapes, with the messages the API shows."""

from __future__ import annotations

import pytest

from dockyard.control.scheduler import (
    MAX_CONSTRAINTS,
    MAX_STRATEGIES,
    RUN_TASK_MAX_COUNT,
    Constraint,
    PlacementRequestError,
    QueryError,
    Strategy,
    TaskRequest,
    validate_request,
)


def _request(**changes: object) -> TaskRequest:
    fields: dict[str, object] = {"cpu": 256, "memory": 512} | changes
    return TaskRequest(**fields)  # type: ignore[arg-type]


def test_a_full_valid_request_passes() -> None:
    validate_request(
        _request(
            count=RUN_TASK_MAX_COUNT,
            group="family:web",
            host_ports_tcp=frozenset({80, 65535}),
            strategies=(
                Strategy.spread("attribute:ecs.availability-zone"),
                Strategy.spread("instanceId"),
                Strategy.spread("host"),
                Strategy.binpack("memory"),
                Strategy("random", "ignored"),
            ),
            constraints=(Constraint.distinct_instance(),)
            + (Constraint.member_of("attribute:ecs.instance-type =~ t2.*"),) * (MAX_CONSTRAINTS - 1),
        )
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"count": 0}, "count must be between 1 and 10; it was 0."),
        ({"count": 11}, "count must be between 1 and 10; it was 11."),
        ({"cpu": -1}, "The task's CPU and memory reservations cannot be negative."),
        ({"host_ports_tcp": frozenset({0})}, "Host port 0 is outside the range 1-65535."),
        ({"host_ports_udp": frozenset({70000})}, "Host port 70000 is outside the range 1-65535."),
        ({"group": "g" * 256}, "The task group name must be 1 to 255 characters long."),
        (
            {"strategies": (Strategy.random(),) * (MAX_STRATEGIES + 1)},
            "You can specify a maximum of 5 placement strategies; 6 were given.",
        ),
        (
            {"constraints": (Constraint.distinct_instance(),) * (MAX_CONSTRAINTS + 1)},
            "You can specify a maximum of 10 placement constraints, including those of the task definition; "
            "11 were given.",
        ),
        (
            {"strategies": (Strategy.binpack("disk"),)},
            "Invalid field 'disk' for the binpack strategy: use cpu or memory.",
        ),
        (
            {"strategies": (Strategy.spread("zone"),)},
            "Invalid field 'zone' for the spread strategy: use instanceId, host or attribute:<name>.",
        ),
        (
            {"strategies": (Strategy.spread("attribute:"),)},
            "Invalid field 'attribute:' for the spread strategy",
        ),
        (
            {"strategies": (Strategy("pack", "cpu"),)},
            "Invalid placement strategy type 'pack': use binpack, spread, random.",
        ),
        (
            {"constraints": (Constraint("distinctInstance", "attribute:a exists"),)},
            "You can't specify an expression for a distinctInstance constraint.",
        ),
        ({"constraints": (Constraint("memberOf"),)}, "A memberOf constraint requires an expression."),
        (
            {"constraints": (Constraint.member_of("attribute:a == " + "x" * 2000),)},
            "A placement constraint expression can have at most 2000 characters.",
        ),
        (
            {"constraints": (Constraint("sameZone"),)},
            "Invalid placement constraint type 'sameZone': use distinctInstance, memberOf.",
        ),
    ],
)
def test_invalid_requests_are_refused_with_a_message(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PlacementRequestError) as caught:
        validate_request(_request(**changes))
    assert caught.value.message.startswith(message)
    assert caught.value.code == "InvalidParameterException"


def test_a_malformed_expression_is_a_query_error_with_its_position() -> None:
    with pytest.raises(QueryError) as caught:
        validate_request(_request(constraints=(Constraint.member_of("attribute:a === b"),)))
    assert caught.value.position == 14
    assert caught.value.code == "InvalidParameterException"


def test_services_lift_the_count_limit() -> None:
    validate_request(_request(count=500), max_count=None)
