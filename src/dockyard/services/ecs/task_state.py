"""What agents report about their tasks: SubmitTaskStateChange, SubmitContainerStateChange, and the rules
for stop codes and task health (pure functions at the bottom).

A report is authorized by account: the task must belong to the caller's account and to the named cluster,
or be placed on one of the caller's instances in that cluster (a Fargate pool host reporting a user's task);
any other task is "not found". States move only forward (see
:func:`dockyard.store.tasks.record_task_state`); STOPPED credits the task's reservation back exactly once.

Stop codes, when the agent reports STOPPED and no code is set yet (StopTask's ``UserInitiated`` is kept):
a reason starting "Essential container in task exited" → ``EssentialContainerExited``; one starting
``CannotPullContainerError``, ``CannotCreateContainerError``, ``CannotStartContainerError`` or
``ResourceInitializationError`` → ``TaskFailedToStart``.

Task health (from the containers' Docker health checks, which agents publish on the push channel):
UNHEALTHY if any essential container is UNHEALTHY; HEALTHY if every essential container with a health
check is HEALTHY (and there is at least one); otherwise UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed, ClusterRef
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecs import naming
from dockyard.services.ecs import task_rules as rules
from dockyard.services.ecs.errors import ClusterNotFoundException, InvalidParameterException
from dockyard.store import clusters as cluster_store
from dockyard.store import tasks as store
from dockyard.store.database import Database
from dockyard.store.tasks import STOPPED, TaskRecord

ACK = "ACK"
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
TASK_FAILED_TO_START = "TaskFailedToStart"
_FAILED_TO_START_PREFIXES = (
    "CannotPullContainerError",
    "CannotCreateContainerError",
    "CannotStartContainerError",
    "ResourceInitializationError",
)
HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
HEALTH_STATUSES = frozenset({HEALTHY, UNHEALTHY, UNKNOWN})
_CONTAINER_FIELDS = ("status", "exitCode", "reason", "networkBindings", "runtimeId", "imageDigest")


class TaskStateOperations:
    """Mixed into the ECS provider; needs ``_db`` and ``_changes``."""

    _db: Database
    _changes: ChangeFeed

    def submit_task_state_change(self, ctx: RequestContext, params: Params) -> Result:
        status = params.get("status")
        if status is not None and status not in store.LIFECYCLE:
            raise InvalidParameterException(f"Invalid task status: {status}")
        reason = params.get("reason")
        containers = [
            {"containerName": c["containerName"], **{k: c[k] for k in _CONTAINER_FIELDS if k in c}}
            for c in params.get("containers") or []
            if c.get("containerName")
        ]
        with self._db.write() as tx:
            record = _reported_task(ctx, tx, params)
            store.record_task_state(
                tx,
                record.arn,
                status or record.last_status,
                now=ctx.now,
                containers=containers,
                reason=reason,
                stop_code=stop_code_for(reason) if status == STOPPED else None,
                pull_started_at=params.get("pullStartedAt"),
                pull_stopped_at=params.get("pullStoppedAt"),
                execution_stopped_at=params.get("executionStoppedAt"),
            )
        self._changes.tasks_changed(_cluster_of(record), [record.group])
        return {"acknowledgment": ACK}

    def submit_container_state_change(self, ctx: RequestContext, params: Params) -> Result:
        name = params.get("containerName")
        if not name:
            raise InvalidParameterException("containerName is required.")
        status = params.get("status")
        if status is not None and status not in store.LIFECYCLE:
            raise InvalidParameterException(f"Invalid container status: {status}")
        change = {"containerName": name, **{k: params[k] for k in _CONTAINER_FIELDS if k in params}}
        with self._db.write() as tx:
            record = _reported_task(ctx, tx, params)
            if name not in {c.get("name") for c in record.containers}:
                raise InvalidParameterException(f"The task has no container named {name}.")
            store.record_task_state(tx, record.arn, record.last_status, now=ctx.now, containers=[change])
        self._changes.tasks_changed(_cluster_of(record), [record.group])
        return {"acknowledgment": ACK}


def _cluster_of(record: TaskRecord) -> ClusterRef:
    return ClusterRef(record.account_id, record.region, record.cluster_name)


def _reported_task(ctx: RequestContext, tx: Connection, params: Params) -> TaskRecord:
    """The task a state change names, in the caller's account and the named cluster."""
    reference = params.get("task")
    if not reference:
        raise InvalidParameterException("task is required.")
    name = naming.cluster_name_from_reference(
        params.get("cluster"), region=ctx.region, account_id=ctx.account_id
    )
    cluster = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
    if cluster is None:
        raise ClusterNotFoundException()
    task_id = rules.task_id_from_reference(
        reference, region=ctx.region, account_id=ctx.account_id, cluster=cluster.name
    )
    record = (
        store.find_task(tx, ctx.account_id, ctx.region, cluster.name, task_id, lock=True) if task_id else None
    )
    if record is None and reference.startswith("arn:"):
        record = _hosted_task(tx, reference, ctx.account_id, cluster.name)
    if record is None:
        raise InvalidParameterException("The referenced task was not found.")
    return record


def _hosted_task(tx: Connection, task_arn: str, account_id: str, cluster_name: str) -> TaskRecord | None:
    """Another account's task placed on one of the caller's instances in the named cluster: what a
    Fargate pool host reports about."""
    record = store.find_task_by_arn(tx, task_arn, lock=True)
    instance = record.container_instance_arn if record is not None else None
    if instance is None or store.instance_account(instance) != account_id:
        return None
    if instance.split(":", 5)[-1].split("/")[1:2] != [cluster_name]:
        return None
    return record


def stop_code_for(reason: str | None) -> str | None:
    """The stopCode an agent's stop ``reason`` implies, if any."""
    if not reason:
        return None
    if reason.startswith("Essential container in task exited"):
        return ESSENTIAL_CONTAINER_EXITED
    if reason.startswith(_FAILED_TO_START_PREFIXES):
        return TASK_FAILED_TO_START
    return None


def task_health(definitions: Sequence[Mapping[str, Any]], container_health: Mapping[str, str]) -> str:
    """The task's healthStatus from its container ``definitions`` and each container's health by name."""
    essential = [d for d in definitions if d.get("essential", True)]
    if any(container_health.get(str(d.get("name"))) == UNHEALTHY for d in essential):
        return UNHEALTHY
    checked = [d for d in essential if d.get("healthCheck")]
    if checked and all(container_health.get(str(d.get("name"))) == HEALTHY for d in checked):
        return HEALTHY
    return UNKNOWN


def with_health(
    record: TaskRecord,
    definitions: Sequence[Mapping[str, Any]],
    reported: Mapping[str, str],
    now: Any,
) -> TaskRecord | None:
    """``record`` with the ``reported`` container health applied and its task health recomputed; None
    if nothing changes."""
    containers = []
    for container in record.containers:
        status = reported.get(str(container.get("name")))
        containers.append({**container, "healthStatus": status} if status in HEALTH_STATUSES else container)
    by_name = {str(c.get("name")): str(c.get("healthStatus", UNKNOWN)) for c in containers}
    health = task_health(definitions, by_name)
    if containers == record.containers and health == record.health_status:
        return None
    return replace(record, containers=containers, health_status=health, updated_at=now)
