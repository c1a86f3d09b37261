"""The service scheduler's decisions, from in-memory desired and observed state (no I/O)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.control.controllers.decide import deployments as docs
from dockyard.control.controllers.decide import messages
from dockyard.control.controllers.decide.service import (
    Decision,
    Desired,
    ObservedInstance,
    ObservedTask,
    circuit_breaker_threshold,
    decide,
    with_events,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OLD, NEW = "ecs-svc/1000000000000000001", "ecs-svc/1000000000000000002"
ids = itertools.count(3)


def new_id() -> str:
    return docs.deployment_id(next(ids))


def deployment(ident: str, status: str = docs.PRIMARY, rollout: str = docs.IN_PROGRESS) -> docs.Deployment:
    made = docs.new_deployment(
        ident, f"arn:aws:ecs:us-east-1:1:task-definition/web:{ident[-1]}", 3, "EC2", T0
    )
    return {**made, "status": status, "rolloutState": rollout}


def desired(*deployments: docs.Deployment, count: int = 3, **changes: Any) -> Desired:
    base = Desired(
        name="web",
        status="ACTIVE",
        strategy=docs.REPLICA,
        desired_count=count,
        minimum_healthy_percent=100,
        maximum_percent=200,
        breaker_enabled=False,
        breaker_rollback=False,
        deployments=list(deployments) or [deployment(NEW)],
        events=[],
        state={},
    )
    return replace(base, **changes)


serial = itertools.count()


def task(dep: str = NEW, status: str = "RUNNING", *, age_s: float = 600, **changes: Any) -> ObservedTask:
    n = next(serial)
    created = T0 - timedelta(seconds=age_s)
    base = ObservedTask(
        arn=f"arn:task/{n}",
        task_id=f"t{n}",
        deployment_id=dep,
        last_status=status,
        desired_status="RUNNING" if status != "STOPPED" else "STOPPED",
        health="UNKNOWN",
        has_health_check=False,
        created_at=created,
        started_at=created if status in ("RUNNING", "STOPPED") else None,
        instance_arn="arn:instance/a",
    )
    return replace(base, **changes)


def run(spec: Desired, tasks: list[ObservedTask], now: datetime = T0, **kw: Any) -> Decision:
    return decide(spec, tasks, now, new_deployment_id=new_id, **kw)


def test_a_new_service_starts_its_desired_count() -> None:
    decision = run(desired(), [])
    assert decision.launch == 3
    assert decision.stops == []
    assert decision.primary["rolloutState"] == docs.IN_PROGRESS


def test_healthy_tasks_complete_the_deployment_once_and_then_the_service_is_steady() -> None:
    tasks = [task() for _ in range(3)]
    first = run(desired(), tasks)
    assert first.launch == 0
    assert first.primary["rolloutState"] == docs.COMPLETED
    assert first.primary["runningCount"] == 3
    assert first.events == [
        messages.deployment_completed("web", NEW),
        messages.steady("web"),
    ]
    again = run(desired(*first.deployments, state=first.state), tasks)
    assert again.events == []  # neither repeated


def test_without_a_health_check_a_task_counts_as_healthy_only_after_40_seconds() -> None:
    young = [task(age_s=10) for _ in range(3)]
    decision = run(desired(), young)
    assert decision.primary["rolloutState"] == docs.IN_PROGRESS
    assert decision.look_again_s == 30  # the moment they become healthy
    later = run(desired(), young, T0 + timedelta(seconds=30))
    assert later.primary["rolloutState"] == docs.COMPLETED


def test_a_stopped_task_is_replaced() -> None:
    tasks = [task(), task(), task(NEW, "STOPPED", stop_code="EssentialContainerExited")]
    decision = run(desired(), tasks)
    assert decision.launch == 1


def test_rolling_update_within_min_50_max_200_keeps_two_healthy() -> None:
    spec = desired(deployment(NEW), deployment(OLD, docs.ACTIVE, docs.COMPLETED), minimum_healthy_percent=50)
    old = [task(OLD) for _ in range(3)]
    step1 = run(spec, old)
    assert step1.launch == 3  # up to 200 % = 6 in all
    assert len(step1.stops) == 1  # ceil(1.5) = 2 must stay healthy: one old may go at once
    # New tasks running but not yet healthy: no more old ones stop.
    new = [task(NEW, age_s=5) for _ in range(3)]
    step2 = run(spec, [*old[1:], *new])
    assert step2.stops == [] and step2.launch == 0
    # New ones healthy: the rest of the old go, and the rollout then completes.
    healthy_new = [
        replace(t, created_at=T0 - timedelta(minutes=5), started_at=T0 - timedelta(minutes=5)) for t in new
    ]
    step3 = run(spec, [*old[1:], *healthy_new])
    assert {s.arn for s in step3.stops} == {t.arn for t in old[1:]}
    step4 = run(replace(spec, deployments=step3.deployments, state=step3.state), healthy_new)
    assert step4.primary["rolloutState"] == docs.COMPLETED
    assert [d["id"] for d in step4.deployments] == [NEW]


def test_max_percent_100_stops_before_it_starts() -> None:
    spec = desired(
        deployment(NEW),
        deployment(OLD, docs.ACTIVE, docs.COMPLETED),
        minimum_healthy_percent=0,
        maximum_percent=100,
    )
    old = [task(OLD) for _ in range(3)]
    decision = run(spec, old)
    assert decision.launch == 0
    assert len(decision.stops) == 3


def test_scale_in_stops_pending_tasks_first_then_the_newest() -> None:
    tasks = [task(age_s=900), task(age_s=800), task(status="PENDING", age_s=10), task(age_s=700)]
    decision = run(desired(count=2), tasks)
    assert [s.arn for s in decision.stops] == [tasks[2].arn, tasks[3].arn]


def test_an_unhealthy_task_is_stopped_and_replaced_with_an_event() -> None:
    sick = task(has_health_check=True, health="UNHEALTHY")
    tasks = [
        task(has_health_check=True, health="HEALTHY"),
        task(has_health_check=True, health="HEALTHY"),
        sick,
    ]
    decision = run(desired(), tasks)
    assert [(s.arn, s.unhealthy) for s in decision.stops] == [(sick.arn, True)]
    assert decision.launch == 1  # up to max percent, while the sick one is still stopping
    assert messages.failed_health_checks("web", sick.task_id) in decision.events


def test_the_grace_period_defers_health_check_failures() -> None:
    sick = task(has_health_check=True, health="UNHEALTHY", age_s=5)
    decision = run(desired(health_check_grace_s=60), [sick])
    assert decision.stops == []


def test_tasks_on_a_draining_instance_are_replaced_within_the_percentages() -> None:
    leaving = [task(instance_leaving=True) for _ in range(2)]
    pending_leaving = task(status="PENDING", instance_leaving=True)
    staying = task()
    decision = run(desired(count=4), [*leaving, pending_leaving, staying])
    assert pending_leaving.arn in {s.arn for s in decision.stops}  # pending ones stop at once
    assert decision.launch == 3
    assert {s.arn for s in decision.stops} == {pending_leaving.arn}  # running ones wait for replacements


def test_tasks_of_a_lost_instance_are_replaced_without_waiting_for_them() -> None:
    lost = [task(instance_leaving=True, instance_lost=True) for _ in range(3)]
    decision = run(desired(), lost)
    assert decision.launch == 3
    assert {s.arn for s in decision.stops} == {t.arn for t in lost}  # they count as unhealthy


def test_circuit_breaker_trips_at_the_threshold_and_rolls_back_to_the_last_completed() -> None:
    assert [circuit_breaker_threshold(n) for n in (1, 3, 6, 7, 1000)] == [3, 3, 3, 4, 200]
    spec = desired(
        deployment(NEW),
        deployment(OLD, docs.ACTIVE, docs.COMPLETED),
        breaker_enabled=True,
        breaker_rollback=True,
    )
    failed = [
        task(NEW, "STOPPED", started_at=None, stop_code="TaskFailedToStart", stopped_at=T0) for _ in range(3)
    ]
    decision = run(spec, [*[task(OLD) for _ in range(3)], *failed])
    failed_deployment = next(d for d in decision.deployments if d["id"] == NEW)
    assert failed_deployment["rolloutState"] == docs.FAILED
    assert failed_deployment["failedTasks"] == 3
    assert failed_deployment["status"] == docs.ACTIVE
    rollback = decision.primary
    assert rollback["taskDefinition"] == deployment(OLD)["taskDefinition"]
    assert rollback["status"] == docs.PRIMARY and rollback["id"] not in (NEW, OLD)
    assert decision.events[-2:] == [
        messages.deployment_failed("web", NEW),
        messages.rolling_back("web", OLD),
    ]


def test_failed_tasks_are_counted_once() -> None:
    spec = desired(breaker_enabled=True)
    failed = task(NEW, "STOPPED", started_at=None, stop_code="TaskFailedToStart", stopped_at=T0)
    first = run(spec, [failed])
    second = run(replace(spec, deployments=first.deployments, state=first.state), [failed])
    assert first.primary["failedTasks"] == second.primary["failedTasks"] == 1


def test_repeated_launch_failures_throttle_launches_and_a_running_task_resets_it() -> None:
    failed = [
        task(NEW, "STOPPED", started_at=None, stop_code="TaskFailedToStart", stopped_at=T0) for _ in range(3)
    ]
    decision = run(desired(), failed)
    assert decision.launch == 0
    assert decision.look_again_s == 10
    assert messages.unable_to_start("web") in decision.events
    after = run(desired(*decision.deployments, state=decision.state), failed, T0 + timedelta(seconds=11))
    assert after.launch == 3


def test_a_deleted_service_stops_everything_and_goes_inactive_when_empty() -> None:
    tasks = [task(), task(status="PENDING")]
    decision = run(desired(status="DRAINING"), tasks)
    assert len(decision.stops) == 2 and decision.status == "DRAINING"
    stopped = [replace(t, last_status="STOPPED", desired_status="STOPPED") for t in tasks]
    assert run(desired(status="DRAINING"), stopped).status == "INACTIVE"


def instance(arn: str, *, eligible: bool = True, draining: bool = False, others: int = 0) -> ObservedInstance:
    return ObservedInstance(arn=arn, eligible=eligible, draining=draining, other_live_tasks=others)


def test_daemon_one_task_per_eligible_instance() -> None:
    spec = desired(strategy=docs.DAEMON, count=0, minimum_healthy_percent=0, maximum_percent=100)
    instances = [instance("i-1"), instance("i-2"), instance("i-3", eligible=False)]
    decision = run(spec, [task(instance_arn="i-1")], instances=instances)
    assert decision.launch_on == ["i-2"]
    assert decision.desired_count == 2


def test_daemon_on_a_draining_instance_stops_last() -> None:
    spec = desired(strategy=docs.DAEMON, count=0, minimum_healthy_percent=0, maximum_percent=100)
    daemon = task(instance_arn="i-1")
    busy = run(spec, [daemon], instances=[instance("i-1", eligible=False, draining=True, others=2)])
    assert busy.stops == []
    idle = run(spec, [daemon], instances=[instance("i-1", eligible=False, draining=True)])
    assert [s.arn for s in idle.stops] == [daemon.arn]


def test_daemon_update_replaces_then_starts_on_each_instance() -> None:
    spec = desired(
        deployment(NEW),
        deployment(OLD, docs.ACTIVE, docs.COMPLETED),
        strategy=docs.DAEMON,
        count=0,
        minimum_healthy_percent=0,
        maximum_percent=100,
    )
    old = task(OLD, instance_arn="i-1")
    first = run(spec, [old], instances=[instance("i-1")])
    assert [s.arn for s in first.stops] == [old.arn] and first.launch_on == []
    second = run(spec, [], instances=[instance("i-1")])
    assert second.launch_on == ["i-1"]


def test_events_newest_first_capped_and_duplicates_suppressed() -> None:
    counter = itertools.count()
    events = with_events([], ["a", "b"], T0, lambda: str(next(counter)))
    assert [e["message"] for e in events] == ["b", "a"]
    assert with_events(events, ["b"], T0 + timedelta(minutes=5), lambda: "x") == events  # the newest
    assert with_events(events, ["a"], T0 + timedelta(minutes=5), lambda: "x")[0]["message"] == "a"
    windowed = with_events(events, ["a"], T0 + timedelta(minutes=5), lambda: "x", repeat_window_s=3600)
    assert windowed == events
    many = with_events([], [str(i) for i in range(150)], T0, lambda: str(next(counter)))
    assert len(many) == docs.MAX_EVENTS and many[0]["message"] == "149"
