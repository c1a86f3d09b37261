"""Placement: build a snapshot, run the scheduler, assert on the plan."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from dockyard.control.scheduler import (
    AGENT,
    DISTINCT_INSTANCE,
    MEMBER_OF,
    NO_CONTAINER_INSTANCES,
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    RESOURCE_PORTS,
    Constraint,
    InstanceStatus,
    PlacementFailure,
    PlacementRequestError,
    QueryError,
    Strategy,
    TaskRequest,
    place,
)
from tests.unit.scheduler.harness import CLUSTER_ARN, arn, cluster, hosts, instance, reasons, run

SMALL = TaskRequest(cpu=256, memory=512, group="family:web")

# --- each filter's reason --------------------------------------------------------------------------------


def test_no_instances_is_one_failure_naming_the_cluster() -> None:
    plan = run(cluster(), TaskRequest(cpu=1, memory=1, count=3))
    assert plan.placements == ()
    assert plan.failures == (PlacementFailure(CLUSTER_ARN, NO_CONTAINER_INSTANCES),)
    assert plan.unplaced == 3


def test_inactive_instances_are_not_part_of_the_cluster() -> None:
    plan = run(cluster(instance("gone", status=InstanceStatus.INACTIVE)), SMALL)
    assert plan.failures == (PlacementFailure(CLUSTER_ARN, NO_CONTAINER_INSTANCES),)


@pytest.mark.parametrize(
    ("host", "request_", "reason"),
    [
        (instance("a", connected=False), SMALL, AGENT),
        (instance("a", status=InstanceStatus.DRAINING), SMALL, AGENT),
        (instance("a", remaining_cpu=255), SMALL, RESOURCE_CPU),
        (instance("a", remaining_memory=511), SMALL, RESOURCE_MEMORY),
        (instance("a"), TaskRequest(cpu=1, memory=1, host_ports_tcp=frozenset({22})), RESOURCE_PORTS),
        (
            instance("a", ports_udp={53}),
            TaskRequest(cpu=1, memory=1, host_ports_udp=frozenset({53})),
            RESOURCE_PORTS,
        ),
        (
            instance("a", zone="us-east-1c"),
            TaskRequest(
                cpu=1,
                memory=1,
                constraints=(Constraint.member_of("attribute:ecs.availability-zone == us-east-1a"),),
            ),
            MEMBER_OF,
        ),
        (
            instance("a", groups={"family:web": 1}),
            TaskRequest(cpu=1, memory=1, group="family:web", constraints=(Constraint.distinct_instance(),)),
            DISTINCT_INSTANCE,
        ),
    ],
)
def test_each_filter_records_its_reason(host, request_, reason) -> None:  # type: ignore[no-untyped-def]
    plan = run(cluster(host), request_)
    assert plan.placements == ()
    assert plan.failures == (PlacementFailure(arn("a"), reason),)
    assert plan.unplaced == 1


def test_exact_fit_is_feasible() -> None:
    plan = run(cluster(instance("a", remaining_cpu=256, remaining_memory=512)), SMALL)
    assert hosts(plan) == ["a"] and plan.failures == ()


def test_the_first_failing_filter_names_the_reason() -> None:
    # Short of everything: the agent check comes first, then CPU before memory before ports.
    snapshot = cluster(
        instance("a", connected=False, remaining_cpu=0, remaining_memory=0),
        instance("b", remaining_cpu=0, remaining_memory=0),
        instance("c", remaining_cpu=0),
        instance("d"),
    )
    plan = run(snapshot, TaskRequest(cpu=1, memory=1, host_ports_tcp=frozenset({22})))
    assert reasons(plan) == {"a": AGENT, "b": RESOURCE_CPU, "c": RESOURCE_CPU, "d": RESOURCE_PORTS}


def test_failures_name_each_instance_once_when_several_tasks_are_left() -> None:
    snapshot = cluster(instance("a", remaining_memory=1024), instance("b", remaining_memory=100))
    plan = run(snapshot, TaskRequest(cpu=0, memory=512, count=5))
    assert hosts(plan) == ["a", "a"]
    assert plan.unplaced == 3
    assert reasons(plan) == {"a": RESOURCE_MEMORY, "b": RESOURCE_MEMORY}


def test_zero_reservation_tasks_fit_anywhere_usable() -> None:
    plan = run(
        cluster(instance("a", remaining_cpu=0, remaining_memory=0)), TaskRequest(cpu=0, memory=0, count=3)
    )
    assert hosts(plan) == ["a", "a", "a"]


# --- strategies ----------------------------------------------------------------------------------------


def test_spread_by_instance_puts_twenty_tasks_ten_and_ten() -> None:
    request = TaskRequest(
        cpu=100, memory=128, group="service:web", count=20, strategies=(Strategy.spread("instanceId"),)
    )
    plan = run(cluster(instance("a"), instance("b")), request)
    assert Counter(hosts(plan)) == {"a": 10, "b": 10}
    assert hosts(plan)[:4] == ["a", "b", "a", "b"]


def test_spread_counts_the_groups_existing_tasks() -> None:
    request = TaskRequest(
        cpu=1, memory=1, group="service:web", count=4, strategies=(Strategy.spread("host"),)
    )
    snapshot = cluster(instance("a", groups={"service:web": 3, "service:other": 9}), instance("b"))
    assert hosts(run(snapshot, request)) == ["b", "b", "b", "a"]


def test_spread_by_zone_then_instance() -> None:
    snapshot = cluster(
        instance("a1", zone="us-east-1a"),
        instance("a2", zone="us-east-1a"),
        instance("b1", zone="us-east-1b"),
    )
    request = TaskRequest(
        cpu=1,
        memory=1,
        group="service:web",
        count=6,
        strategies=(Strategy.spread("attribute:ecs.availability-zone"), Strategy.spread("instanceId")),
    )
    placed = hosts(run(snapshot, request))
    zones = Counter(host[0] for host in placed)
    assert zones == {"a": 3, "b": 3}
    assert Counter(placed) == {"a1": 2, "a2": 1, "b1": 3}


def test_spread_by_zone_counts_tasks_on_instances_that_cannot_take_more() -> None:
    snapshot = cluster(
        instance("a-full", zone="us-east-1a", remaining_memory=0, groups={"service:web": 2}),
        instance("a-free", zone="us-east-1a"),
        instance("b", zone="us-east-1b"),
    )
    request = TaskRequest(
        cpu=1,
        memory=1,
        group="service:web",
        count=2,
        strategies=(Strategy.spread("attribute:ecs.availability-zone"),),
    )
    assert hosts(run(snapshot, request)) == ["b", "b"]


def test_binpack_fills_one_host_first() -> None:
    snapshot = cluster(instance("big", memory=8192), instance("small", memory=2048))
    request = TaskRequest(cpu=0, memory=1024, count=4, strategies=(Strategy.binpack("memory"),))
    assert hosts(run(snapshot, request)) == ["small", "small", "big", "big"]


def test_binpack_on_cpu_accepts_the_field_in_any_case() -> None:
    snapshot = cluster(instance("a", remaining_cpu=4096), instance("b", remaining_cpu=1024))
    request = TaskRequest(cpu=512, memory=0, count=3, strategies=(Strategy.binpack("CPU"),))
    assert hosts(run(snapshot, request)) == ["b", "b", "a"]


def test_later_strategies_break_ties_of_earlier_ones() -> None:
    snapshot = cluster(
        instance("a1", zone="us-east-1a", remaining_memory=4000),
        instance("a2", zone="us-east-1a", remaining_memory=1000),
        instance("b1", zone="us-east-1b", remaining_memory=3000),
    )
    request = TaskRequest(
        cpu=0,
        memory=100,
        group="g",
        count=2,
        strategies=(Strategy.spread("attribute:ecs.availability-zone"), Strategy.binpack("memory")),
    )
    assert hosts(run(snapshot, request)) == ["a2", "b1"]


def test_without_strategies_ties_go_to_the_smallest_arn() -> None:
    snapshot = cluster(instance("c"), instance("a"), instance("b"))
    assert hosts(run(snapshot, TaskRequest(cpu=1, memory=1, count=2))) == ["a", "a"]


def test_random_is_repeatable_with_a_seed_and_varies_across_seeds() -> None:
    snapshot = cluster(*(instance(f"i{n}") for n in range(8)))
    request = TaskRequest(cpu=1, memory=1, count=10, strategies=(Strategy.random(),))
    assert hosts(run(snapshot, request, seed=1)) == hosts(run(snapshot, request, seed=1))
    assert len({tuple(hosts(run(snapshot, request, seed=seed))) for seed in range(10)}) > 1


def test_the_plan_does_not_depend_on_the_order_of_the_snapshot() -> None:
    instances = [instance(f"i{n}", remaining_memory=500 + 100 * (n % 3)) for n in range(6)]
    request = TaskRequest(cpu=1, memory=100, group="g", count=10, strategies=(Strategy.spread("instanceId"),))
    shuffled = list(instances)
    random.Random(3).shuffle(shuffled)
    assert run(cluster(*instances), request) == run(cluster(*shuffled), request)


# --- constraints -----------------------------------------------------------------------------------------


def _member_of(expression: str, count: int = 1) -> TaskRequest:
    return TaskRequest(cpu=1, memory=1, count=count, constraints=(Constraint.member_of(expression),))


def test_member_of_zone_list() -> None:
    snapshot = cluster(
        instance("a", zone="us-east-1a"), instance("b", zone="us-east-1b"), instance("c", zone="us-east-1c")
    )
    request = TaskRequest(
        cpu=1,
        memory=1,
        group="g",
        count=4,
        constraints=(Constraint.member_of("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"),),
        strategies=(Strategy.spread("instanceId"),),
    )
    assert Counter(hosts(run(snapshot, request))) == {"a": 2, "b": 2}


def test_member_of_instance_type_regex() -> None:
    snapshot = cluster(instance("m", instance_type="m5.large"), instance("t", instance_type="t2.micro"))
    plan = run(snapshot, _member_of("attribute:ecs.instance-type =~ t2.*"))
    assert hosts(plan) == ["t"]


def test_member_of_compound_expression() -> None:
    snapshot = cluster(
        instance("busy", running=6), instance("off", connected=False), instance("quiet", running=5)
    )
    plan = run(snapshot, _member_of("agentConnected == true and not runningTasksCount > 5"))
    assert hosts(plan) == ["quiet"]


def test_member_of_failure_when_nothing_matches() -> None:
    plan = run(cluster(instance("a"), instance("b", connected=False)), _member_of("attribute:stack == prod"))
    assert reasons(plan) == {"a": MEMBER_OF, "b": AGENT}


def test_member_of_task_group_sees_this_plans_placements() -> None:
    # Anti-affinity with the plan's own group: the first task makes its instance ineligible for the next.
    snapshot = cluster(instance("a"), instance("b"))
    request = TaskRequest(
        cpu=1, memory=1, group="db", count=3, constraints=(Constraint.member_of("not(task:group == db)"),)
    )
    plan = run(snapshot, request)
    assert hosts(plan) == ["a", "b"]
    assert reasons(plan) == {"a": MEMBER_OF, "b": MEMBER_OF}


def test_several_member_of_constraints_must_all_hold() -> None:
    snapshot = cluster(
        instance("a", zone="us-east-1a", instance_type="m5.large"), instance("b", zone="us-east-1a")
    )
    request = TaskRequest(
        cpu=1,
        memory=1,
        constraints=(
            Constraint.member_of("attribute:ecs.availability-zone == us-east-1a"),
            Constraint.member_of("attribute:ecs.instance-type =~ t2.*"),
        ),
    )
    assert hosts(run(snapshot, request)) == ["b"]


def test_distinct_instance_places_each_task_of_the_group_apart() -> None:
    snapshot = cluster(instance("a"), instance("b"), instance("c", groups={"service:web": 1}))
    request = TaskRequest(
        cpu=1, memory=1, group="service:web", count=3, constraints=(Constraint.distinct_instance(),)
    )
    plan = run(snapshot, request)
    assert hosts(plan) == ["a", "b"]
    assert plan.unplaced == 1
    assert reasons(plan) == {"a": DISTINCT_INSTANCE, "b": DISTINCT_INSTANCE, "c": DISTINCT_INSTANCE}


def test_distinct_instance_ignores_other_groups() -> None:
    snapshot = cluster(instance("a", groups={"service:other": 4}))
    request = TaskRequest(cpu=1, memory=1, group="service:web", constraints=(Constraint.distinct_instance(),))
    assert hosts(run(snapshot, request)) == ["a"]


def test_distinct_instance_without_a_group_separates_this_plans_tasks() -> None:
    request = TaskRequest(cpu=1, memory=1, count=3, constraints=(Constraint.distinct_instance(),))
    plan = run(cluster(instance("a"), instance("b")), request)
    assert hosts(plan) == ["a", "b"] and plan.unplaced == 1


# --- ports and resources across placements of one plan ----------------------------------------------------


def test_ports_taken_by_an_earlier_placement_of_the_plan_conflict() -> None:
    request = TaskRequest(cpu=1, memory=1, count=3, host_ports_tcp=frozenset({80}))
    plan = run(cluster(instance("a"), instance("b")), request)
    assert hosts(plan) == ["a", "b"]
    assert reasons(plan) == {"a": RESOURCE_PORTS, "b": RESOURCE_PORTS}


def test_tcp_and_udp_ports_are_separate() -> None:
    request = TaskRequest(
        cpu=1, memory=1, count=2, host_ports_tcp=frozenset({53}), host_ports_udp=frozenset({53})
    )
    plan = run(cluster(instance("a", ports_tcp=(), ports_udp=())), request)
    assert hosts(plan) == ["a"] and reasons(plan) == {"a": RESOURCE_PORTS}
    udp_only = TaskRequest(cpu=1, memory=1, host_ports_udp=frozenset({22}))
    assert hosts(run(cluster(instance("a")), udp_only)) == ["a"]


def test_resources_are_consumed_between_placements() -> None:
    plan = run(cluster(instance("a", remaining_cpu=1000)), TaskRequest(cpu=300, memory=1, count=4))
    assert hosts(plan) == ["a", "a", "a"]
    assert reasons(plan) == {"a": RESOURCE_CPU}


def test_the_snapshot_is_left_untouched() -> None:
    host = instance("a", groups={"g": 1})
    snapshot = cluster(host)
    run(snapshot, TaskRequest(cpu=100, memory=100, group="g", count=3, host_ports_tcp=frozenset({80})))
    assert snapshot.instances[0] is host
    assert (
        host.remaining_cpu == 2048
        and dict(host.task_groups) == {"g": 1}
        and 80 not in host.reserved_ports_tcp
    )


# --- invalid requests ------------------------------------------------------------------------------------


def test_place_refuses_an_invalid_request_before_placing() -> None:
    with pytest.raises(QueryError):
        run(cluster(instance("a")), _member_of("attribute:x ==="))
    with pytest.raises(PlacementRequestError):
        run(cluster(instance("a")), TaskRequest(cpu=1, memory=1, strategies=(Strategy("binpack", "disk"),)))


def test_place_allows_service_sized_counts() -> None:
    plan = place(
        cluster(instance("a", cpu=100_000, memory=100_000)),
        TaskRequest(cpu=1, memory=1, count=50),
        random.Random(0),
        cluster_arn=CLUSTER_ARN,
    )
    assert len(plan.placements) == 50
