"""Container output an agent ships for ``awslogs`` tasks, received over its push channel.

```
agent ──PutLogEventsRequest {messageId, taskArn, logGroupName, logStreamName, createGroup, region,
                             events: [{timestamp (ms), message, position: [ns, ordinal]}]}──▶ accept()
   the task must be on the agent's own instance; its account is the group's (a Fargate pool host writes
   into its tasks' accounts without holding their credentials), in awslogs-region or the task's region
   one write transaction: the group (created if createGroup and missing, else ResourceNotFoundException),
   the stream (always created, as the awslogs driver does), AWS's batch rules, the events after the
   stream's shipped position (store/logs.append_shipped), committed before the answer
   ◀──PutLogEventsAck {messageId, stored, duplicates, position} or {messageId, error: {code, message}}
after commit: live tail sessions get the events, as from PutLogEvents
```

Exactly once: an agent killed after our commit but before it saved its cursor sends the lines again;
their positions are at or before the stream's, so they are counted as duplicates and not stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.control.logs.batch import judge_batch
from dockyard.core.errors import ApiError, InvalidParameterError
from dockyard.services.logs.errors import GROUP_NOT_FOUND, ResourceNotFoundException
from dockyard.services.logs.events import Ingested, IngestListener
from dockyard.store import logs as store
from dockyard.store import tasks as task_store
from dockyard.store.database import Database

TASK_NOT_HERE = "The task is not running on this container instance."


class ShippingRefusedError(ApiError):
    """The batch names a task that is not this agent's to ship for."""

    code = "AccessDeniedException"
    status = 403


class AgentLogShipping:
    """Stores the batches agents ship (see the module docstring); callable from any thread."""

    def __init__(self, db: Database, *, on_ingest: IngestListener | None = None) -> None:
        self._db = db
        self._on_ingest = on_ingest

    def accept(self, instance_arn: str, message: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
        """The ``PutLogEventsAck`` for one ``PutLogEventsRequest`` from the agent of ``instance_arn``."""
        answer: dict[str, Any] = {"messageId": message.get("messageId")}
        try:
            answer.update(self._store(instance_arn, message, now_ms))
        except ApiError as error:
            answer["error"] = {"code": error.code, "message": error.message}
        return answer

    def _store(self, instance_arn: str, message: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
        events = _events(message.get("events"))
        group_name, stream_name = (
            str(message.get("logGroupName") or ""),
            str(message.get("logStreamName") or ""),
        )
        with self._db.write() as tx:
            task = task_store.find_task_by_arn(tx, str(message.get("taskArn") or ""))
            if task is None or task.container_instance_arn != instance_arn:
                raise ShippingRefusedError(TASK_NOT_HERE)
            region = _region(message.get("region")) or task.region
            group = store.find_group(tx, task.account_id, region, group_name)
            if group is None and message.get("createGroup"):
                # None only when created concurrently: then it exists
                group = store.create_group(
                    tx, account_id=task.account_id, region=region, name=group_name, created_ms=now_ms
                ) or store.find_group(tx, task.account_id, region, group_name)
            if group is None:
                raise ResourceNotFoundException(GROUP_NOT_FOUND)
            stream = store.find_stream(tx, group.id, stream_name)
            if stream is None:
                stream = store.create_stream(tx, group.id, stream_name, now_ms) or store.find_stream(
                    tx, group.id, stream_name
                )
                assert stream is not None  # created, or created concurrently
            verdict = judge_batch(
                [{"timestamp": t, "message": m} for t, m, _ in events],
                now_ms=now_ms,
                retention_days=group.retention_days,
            )
            shipped = store.append_shipped(tx, stream, events[verdict.start : verdict.end], now_ms)
        if shipped.stored and self._on_ingest is not None:
            accepted = [(t, m) for t, m, _ in shipped.stored]
            self._on_ingest(Ingested(group.id, group.name, group.account_id, stream.name, accepted, now_ms))
        return {
            "stored": len(shipped.stored),
            "duplicates": shipped.duplicates,
            "rejected": len(events) - (verdict.end - verdict.start),
            "position": list(shipped.position) if shipped.position is not None else None,
        }


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _region(given: object) -> str | None:
    """``awslogs-region`` when the container names one (the task's region otherwise);
    InvalidParameterException for something that is not a region name."""
    if given is None or given == "":
        return None
    if not isinstance(given, str) or not _REGION.fullmatch(given):
        raise InvalidParameterError(f"awslogs-region {given!r} is not a region")
    return given


def _events(raw: object) -> list[tuple[int, str, store.ShipPosition]]:
    """The batch's events, each ``(timestamp ms, message, (ns, ordinal))``, in the order sent."""
    if not isinstance(raw, Sequence):
        return []
    found: list[tuple[int, str, store.ShipPosition]] = []
    for event in raw:
        if not isinstance(event, Mapping):
            continue
        position = event.get("position")
        if not (isinstance(position, Sequence) and len(position) == 2):
            continue
        found.append((int(event["timestamp"]), str(event["message"]), (int(position[0]), int(position[1]))))
    return found
