"""The documents a service keeps in its row: deployments and events, and their vocabulary. Pure.

A deployment is ``{id, status, taskDefinition, desiredCount, pendingCount, runningCount, failedTasks,
createdAt, updatedAt, launchType, rolloutState, rolloutStateReason}`` with times as epoch seconds; an event
is ``{id, createdAt, message}``. Ids are inputs (the caller draws them), so decisions stay repeatable.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

REPLICA, DAEMON = "REPLICA", "DAEMON"
PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"  # deployment status
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"  # rolloutState
MAX_EVENTS = 100

Deployment = dict[str, Any]
Event = dict[str, Any]


def deployment_id(digits: int) -> str:
    """``ecs-svc/`` and 19 digits, as ECS's deployment ids look (``digits`` is reduced below 9e18)."""
    return f"ecs-svc/{10**18 + digits % (9 * 10**18)}"


def random_deployment_id() -> str:
    """A fresh deployment id (for the appliers; decisions take ids as inputs)."""
    return deployment_id(secrets.randbelow(9 * 10**18))


def new_deployment(
    ident: str, task_definition_arn: str, desired: int, launch_type: str | None, now: datetime
) -> Deployment:
    stamp = now.timestamp()
    return {
        "id": ident,
        "status": PRIMARY,
        "taskDefinition": task_definition_arn,
        "desiredCount": desired,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": stamp,
        "updatedAt": stamp,
        "launchType": launch_type,
        "rolloutState": IN_PROGRESS,
        "rolloutStateReason": f"ECS deployment {ident} in progress.",
    }


def new_event(ident: str, message: str, now: datetime) -> Event:
    return {"id": ident, "createdAt": now.timestamp(), "message": message}


def event_time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)
