"""What a service's scheduler does next: ``decide(desired, observed, now) -> Decision``. Pure.

REPLICA, one pass (Kubernetes' rolling update in ECS's terms):

1. Count: the PRIMARY deployment's live tasks (desired RUNNING, not STOPPED) are *current*; the tasks of
   older deployments, and current tasks on a DRAINING or departed instance, are *to replace*. A task is
   healthy when RUNNING and, with a container health check, HEALTHY; without one, ``healthy_after_s``
   (ECS: 40 s) after it started.
2. Stop at once: tasks failing their health check (after the grace period), PENDING tasks to replace,
   and current tasks above the desired count (pending first, newest first).
3. Start current tasks up to ``desiredCount``, within ``floor(desired * maximumPercent / 100)`` in all,
   unless launches are throttled or the rollout FAILED.
4. Stop healthy tasks to replace while the healthy ones left stay at or above
   ``ceil(desired * minimumHealthyPercent / 100)``, oldest first.
5. Account: tasks of the PRIMARY that stopped without reaching RUNNING (or for failing health checks)
   are failedTasks; the circuit breaker trips at ``clamp(ceil(desired / 2), 3, 200)`` → rolloutState
   FAILED, and with rollback a new PRIMARY with the task definition of the last COMPLETED deployment.
   Consecutive launch failures throttle launches (interval doubling up to 15 min).
6. Complete: nothing left to replace and ``desiredCount`` healthy current tasks → COMPLETED, the old
   deployments dropped, then "has reached a steady state.".

DAEMON: one current task per eligible instance (ACTIVE, connected, meeting the constraints); a task to
replace on an instance is stopped first (maximumPercent is 100) and its successor started once it is
gone; tasks on instances no longer eligible stop, on a DRAINING instance only after its other tasks.

A DRAINING service (deleted) stops everything and becomes INACTIVE once no task is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dockyard.control.controllers.decide import deployments as docs
from dockyard.control.controllers.decide import messages

RUNNING = "RUNNING"
STOPPED = "STOPPED"
HEALTHY, UNHEALTHY = "HEALTHY", "UNHEALTHY"
PENDING_STATES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
DEFAULT_HEALTHY_AFTER_S = 40.0  # ECS: a task without a health check counts as healthy 40 s after RUNNING
THROTTLE_AFTER = 3  # consecutive launch failures before launches are spaced out
THROTTLE_BASE_S = 10.0
THROTTLE_MAX_S = 900.0  # ECS: up to 15 minutes
PLACEMENT_EVENT_REPEAT_S = 3600.0  # a repeated placement failure is reported once in this window
SAFETY_RESYNC_S = 15.0  # while a rollout is in progress, look again at least this often
UNHEALTHY_REASON = "Task failed container health checks"
SCALE_IN_REASON = "Scaling activity initiated by (deployment {})"
REPLACE_REASON = "Service deployment replaced the task (deployment {})"
DRAIN_REASON = "Container instance is draining"
DELETE_REASON = "Service deleted"
USER_INITIATED = "UserInitiated"


@dataclass(frozen=True, slots=True)
class ObservedTask:
    arn: str
    task_id: str
    deployment_id: str | None  # the task's startedBy
    last_status: str
    desired_status: str
    health: str
    has_health_check: bool
    created_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    instance_arn: str | None = None
    instance_leaving: bool = False  # its instance is DRAINING, INACTIVE or gone
    instance_lost: bool = False  # its instance is INACTIVE or gone: the task cannot be healthy

    @property
    def live(self) -> bool:
        return self.desired_status == RUNNING and self.last_status != STOPPED


@dataclass(frozen=True, slots=True)
class ObservedInstance:
    """DAEMON only: a registered instance of the cluster."""

    arn: str
    eligible: bool  # ACTIVE, agent connected, meets the service's constraints
    draining: bool
    other_live_tasks: int = 0  # live tasks on it that are not this service's


@dataclass(frozen=True, slots=True)
class Desired:
    name: str
    status: str  # ACTIVE | DRAINING
    strategy: str  # REPLICA | DAEMON
    desired_count: int
    minimum_healthy_percent: int
    maximum_percent: int
    breaker_enabled: bool
    breaker_rollback: bool
    deployments: Sequence[docs.Deployment]  # PRIMARY first
    events: Sequence[docs.Event]  # newest first
    state: dict[str, Any]
    health_check_grace_s: float = 0.0
    healthy_after_s: float = DEFAULT_HEALTHY_AFTER_S


@dataclass(frozen=True, slots=True)
class Stop:
    arn: str
    task_id: str
    reason: str
    unhealthy: bool = False


@dataclass(slots=True)
class Decision:
    launch: int = 0  # REPLICA: tasks of the PRIMARY deployment to start
    launch_on: list[str] = field(default_factory=list)  # DAEMON: one task on each of these instances
    stops: list[Stop] = field(default_factory=list)
    deployments: list[docs.Deployment] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # oldest first
    state: dict[str, Any] = field(default_factory=dict)
    status: str = "ACTIVE"
    desired_count: int = 0
    look_again_s: float | None = None

    @property
    def primary(self) -> docs.Deployment:
        return self.deployments[0]


IdFactory = Callable[[], str]


def circuit_breaker_threshold(desired_count: int) -> int:
    return max(3, min(200, math.ceil(0.5 * desired_count)))


def decide(
    desired: Desired,
    tasks: Sequence[ObservedTask],
    now: datetime,
    *,
    new_deployment_id: IdFactory,
    instances: Sequence[ObservedInstance] = (),
) -> Decision:
    decision = Decision(
        deployments=[dict(d) for d in desired.deployments],
        state=_copy_state(desired.state),
        status=desired.status,
        desired_count=desired.desired_count,
    )
    live = [t for t in tasks if t.live]
    if desired.status != "ACTIVE":
        _delete(desired, live, tasks, decision)
        return decision
    _account_failures(desired, tasks, now, decision, new_deployment_id)
    if desired.strategy == docs.DAEMON:
        _daemon(desired, live, instances, now, decision)
    else:
        _replica(desired, live, now, decision)
    _count(live, decision, now)
    _complete(desired, live, tasks, now, decision)
    return decision


# --- the passes -------------------------------------------------------------------------------------------


def _delete(
    desired: Desired, live: Sequence[ObservedTask], tasks: Sequence[ObservedTask], decision: Decision
) -> None:
    decision.desired_count = 0
    decision.stops = [Stop(t.arn, t.task_id, DELETE_REASON) for t in live]
    if not any(t.last_status != STOPPED for t in tasks):
        decision.status = "INACTIVE"
    for deployment in decision.deployments:
        deployment["desiredCount"] = 0


def _replica(desired: Desired, live: Sequence[ObservedTask], now: datetime, decision: Decision) -> None:
    primary = decision.primary
    want = desired.desired_count
    primary["desiredCount"] = want
    current = [t for t in live if t.deployment_id == primary["id"] and not t.instance_leaving]
    replace = [t for t in live if t not in current]
    stopping: set[str] = set()

    def stop(task: ObservedTask, reason: str, *, unhealthy: bool = False) -> None:
        if task.arn not in stopping:
            stopping.add(task.arn)
            decision.stops.append(Stop(task.arn, task.task_id, reason, unhealthy))

    def replaced(task: ObservedTask) -> None:
        stop(task, DRAIN_REASON if task.instance_leaving else REPLACE_REASON.format(primary["id"]))

    for task in live:
        if _failing_health(task, desired, now):
            stop(task, UNHEALTHY_REASON, unhealthy=True)
            decision.events.append(messages.failed_health_checks(desired.name, task.task_id))
    for task in replace:
        if task.last_status in PENDING_STATES:
            replaced(task)
    keep = [t for t in current if t.arn not in stopping]
    if len(keep) > want:
        # Pending ones first, then the newest.
        by_preference = sorted(
            keep, key=lambda t: (t.last_status in PENDING_STATES, t.created_at), reverse=True
        )
        for task in by_preference[: len(keep) - want]:
            stop(task, SCALE_IN_REASON.format(primary["id"]))
        keep = [t for t in keep if t.arn not in stopping]
    remaining_replace = [t for t in replace if t.arn not in stopping]
    max_total = math.floor(want * desired.maximum_percent / 100)
    min_healthy = math.ceil(want * desired.minimum_healthy_percent / 100)
    if _may_launch(decision, now):
        room = max(0, max_total - len(keep) - len(remaining_replace))
        decision.launch = max(0, min(want - len(keep), room))
    healthy = sum(1 for t in [*keep, *remaining_replace] if _healthy(t, desired, now))
    for task in sorted(remaining_replace, key=lambda t: t.created_at):
        is_healthy = _healthy(task, desired, now)
        if not is_healthy or healthy - 1 >= min_healthy:  # an unhealthy one costs no healthy task
            replaced(task)
            if is_healthy:
                healthy -= 1
    _look_again_when_healthy(desired, live, now, decision)


def _daemon(
    desired: Desired,
    live: Sequence[ObservedTask],
    instances: Sequence[ObservedInstance],
    now: datetime,
    decision: Decision,
) -> None:
    primary = decision.primary
    eligible = {i.arn: i for i in instances if i.eligible and not i.draining}
    by_instance: dict[str | None, list[ObservedTask]] = {}
    for task in live:
        by_instance.setdefault(task.instance_arn, []).append(task)
    decision.desired_count = len(eligible)
    primary["desiredCount"] = len(eligible)
    for task in live:
        if _failing_health(task, desired, now):
            decision.stops.append(Stop(task.arn, task.task_id, UNHEALTHY_REASON, unhealthy=True))
            decision.events.append(messages.failed_health_checks(desired.name, task.task_id))
    stopping = {s.arn for s in decision.stops}
    leaving = {i.arn: i for i in instances if i.arn not in eligible}
    for instance_arn, on_instance in by_instance.items():
        if instance_arn in eligible:
            kept = False
            for task in on_instance:  # one current task per instance; anything else is replaced
                if task.arn in stopping:
                    continue
                if task.deployment_id == primary["id"] and not kept:
                    kept = True
                    continue
                decision.stops.append(Stop(task.arn, task.task_id, REPLACE_REASON.format(primary["id"])))
            continue
        instance = leaving.get(instance_arn or "")
        if instance is not None and instance.draining and instance.other_live_tasks:
            continue  # daemons stop last: after the instance's other tasks
        for task in on_instance:
            if task.arn not in stopping:
                decision.stops.append(Stop(task.arn, task.task_id, DRAIN_REASON))
    if _may_launch(decision, now):
        # A successor starts once its predecessor is gone (maximumPercent 100: never two at once).
        decision.launch_on = [arn for arn in sorted(eligible) if not by_instance.get(arn)]
    _look_again_when_healthy(desired, live, now, decision)


def _account_failures(
    desired: Desired,
    tasks: Sequence[ObservedTask],
    now: datetime,
    decision: Decision,
    new_deployment_id: IdFactory,
) -> None:
    """Failed tasks of the PRIMARY, the launch throttle, and the circuit breaker."""
    primary = decision.primary
    record = decision.state.setdefault("deployments", {}).setdefault(primary["id"], {"failed": []})
    counted = set(record["failed"])
    throttle = decision.state.setdefault("throttle", {"failures": 0})
    for task in sorted(tasks, key=lambda t: t.stopped_at or now):
        if task.deployment_id != primary["id"]:
            continue
        if task.started_at is not None and task.last_status == RUNNING:
            throttle["failures"] = 0
            throttle.pop("next_at", None)
        if task.last_status != STOPPED or task.task_id in counted or not _failed(task):
            continue
        counted.add(task.task_id)
        record["failed"].append(task.task_id)
        if task.started_at is None:
            throttle["failures"] = throttle.get("failures", 0) + 1
            if throttle["failures"] >= THROTTLE_AFTER:
                delay = min(THROTTLE_MAX_S, THROTTLE_BASE_S * 2 ** (throttle["failures"] - THROTTLE_AFTER))
                throttle["next_at"] = now.timestamp() + delay
                decision.events.append(messages.unable_to_start(desired.name))
    primary["failedTasks"] = len(record["failed"])
    if (
        desired.breaker_enabled
        and primary.get("rolloutState") == docs.IN_PROGRESS
        and primary["failedTasks"] >= circuit_breaker_threshold(desired.desired_count)
    ):
        primary["rolloutState"] = docs.FAILED
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = now.timestamp()
        decision.events.append(messages.deployment_failed(desired.name, primary["id"]))
        last_good = next(
            (d for d in decision.deployments[1:] if d.get("rolloutState") == docs.COMPLETED), None
        )
        if desired.breaker_rollback and last_good is not None:
            rollback = docs.new_deployment(
                new_deployment_id(),
                last_good["taskDefinition"],
                desired.desired_count,
                primary.get("launchType"),
                now,
            )
            primary["status"] = docs.ACTIVE
            decision.deployments.insert(0, rollback)
            decision.state["throttle"] = {"failures": 0}
            decision.events.append(messages.rolling_back(desired.name, last_good["id"]))


def _count(live: Sequence[ObservedTask], decision: Decision, now: datetime) -> None:
    for deployment in decision.deployments:
        mine = [t for t in live if t.deployment_id == deployment["id"]]
        pending = sum(1 for t in mine if t.last_status in PENDING_STATES)
        running = sum(1 for t in mine if t.last_status == RUNNING)
        if (deployment["pendingCount"], deployment["runningCount"]) != (pending, running):
            deployment["pendingCount"], deployment["runningCount"] = pending, running
            deployment["updatedAt"] = now.timestamp()


def _complete(
    desired: Desired,
    live: Sequence[ObservedTask],
    tasks: Sequence[ObservedTask],
    now: datetime,
    decision: Decision,
) -> None:
    primary = decision.primary
    stopping = {s.arn for s in decision.stops}
    # Replaced tasks count until they have actually stopped (those of a lost instance never report).
    others = [
        t
        for t in tasks
        if t.last_status != STOPPED
        and not t.instance_lost
        and (t.deployment_id != primary["id"] or t.instance_leaving or not t.live)
    ]
    current = [t for t in live if t not in others and t.arn not in stopping]
    healthy = [t for t in current if _healthy(t, desired, now)]
    done = (
        not others
        and not decision.stops
        and decision.launch == 0
        and not decision.launch_on
        and len(healthy) == decision.desired_count == len(current)
    )
    if done and primary.get("rolloutState") == docs.IN_PROGRESS:
        primary["rolloutState"] = docs.COMPLETED
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
        primary["updatedAt"] = now.timestamp()
        decision.events.append(messages.deployment_completed(desired.name, primary["id"]))
    if done and primary.get("rolloutState") == docs.COMPLETED:
        decision.deployments = [primary]
        for old in desired.deployments[1:]:
            decision.state.get("deployments", {}).pop(old["id"], None)
    steady = done and len(decision.deployments) == 1
    if steady and not decision.state.get("steady"):
        decision.events.append(messages.steady(desired.name))
    decision.state["steady"] = steady
    if not steady and decision.look_again_s is None:
        decision.look_again_s = SAFETY_RESYNC_S


# --- rules ------------------------------------------------------------------------------------------------


def _healthy(task: ObservedTask, desired: Desired, now: datetime) -> bool:
    if task.last_status != RUNNING or task.instance_lost:
        return False
    if task.has_health_check:
        return task.health == HEALTHY
    started = task.started_at or task.created_at
    return now >= started + timedelta(seconds=desired.healthy_after_s)


def _failing_health(task: ObservedTask, desired: Desired, now: datetime) -> bool:
    if not task.has_health_check or task.health != UNHEALTHY or task.last_status != RUNNING:
        return False
    started = task.started_at or task.created_at
    return now >= started + timedelta(seconds=desired.health_check_grace_s)


def _failed(task: ObservedTask) -> bool:
    """A stopped task that counts against its deployment: it never reached RUNNING (and was not stopped
    by a user or the scheduler), or it was stopped for failing its health checks."""
    if task.stopped_reason == UNHEALTHY_REASON:
        return True
    return task.started_at is None and task.stop_code not in (USER_INITIATED, "ServiceSchedulerInitiated")


def _may_launch(decision: Decision, now: datetime) -> bool:
    if decision.primary.get("rolloutState") == docs.FAILED:
        return False
    next_at = decision.state.get("throttle", {}).get("next_at")
    if next_at is not None and now.timestamp() < next_at:
        decision.look_again_s = max(0.0, next_at - now.timestamp())
        return False
    return True


def _look_again_when_healthy(
    desired: Desired, live: Sequence[ObservedTask], now: datetime, decision: Decision
) -> None:
    """Without a health check a task becomes healthy by the clock alone: look again at that moment."""
    waits = [
        ((t.started_at or t.created_at) + timedelta(seconds=desired.healthy_after_s) - now).total_seconds()
        for t in live
        if t.last_status == RUNNING and not t.has_health_check and not _healthy(t, desired, now)
    ]
    if waits:
        soonest = max(0.0, min(waits))
        current = decision.look_again_s
        decision.look_again_s = soonest if current is None else min(current, soonest)


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    copied = dict(state)
    copied["deployments"] = {
        key: {"failed": list(value.get("failed", []))} for key, value in state.get("deployments", {}).items()
    }
    if "throttle" in state:
        copied["throttle"] = dict(state["throttle"])
    return copied


def with_events(
    events: Sequence[docs.Event],
    messages_: Sequence[str],
    now: datetime,
    new_id: IdFactory,
    *,
    repeat_window_s: float = 0.0,
) -> list[docs.Event]:
    """``events`` (newest first) with ``messages_`` added, at most ``MAX_EVENTS`` kept. A message equal to
    the newest event is not repeated; with ``repeat_window_s``, neither is one seen within that window
    (a placement failure retried on every sync is said once an hour, not on every sync)."""
    result = list(events)
    for message in messages_:
        if result and result[0]["message"] == message:
            continue
        if repeat_window_s and any(
            e["message"] == message and now.timestamp() - e["createdAt"] < repeat_window_s for e in result
        ):
            continue
        result.insert(0, docs.new_event(new_id(), message, now))
    return result[: docs.MAX_EVENTS]
