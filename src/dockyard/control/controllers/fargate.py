"""The Fargate pool controller: gives waiting Fargate tasks a host and releases stopped tasks' interfaces.

```
ChangeFeed (any change in a region: a task waiting, a pool host joining, a task's containers stopped)
   ▼ key = region
sync(region), one write transaction, only when the region has such work (read first):
   tasks PROVISIONING without a host: desired STOPPED → STOPPED (interface released); else placed
   on a pool host (launch/fargate.place_waiting)
   tasks DEPROVISIONING (containers stopped, interface still held): release it → STOPPED
after commit: wake the hosts of the placed tasks and the controllers of the tasks' clusters; tasks still
waiting → ask the provisioner for capacity and look again shortly
```

Level-triggered and idempotent like every controller: killed mid-sync, the transaction rolls back and
the next sync (at the latest the resync) starts over from what is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed, ClusterChange, ClusterRef
from dockyard.control.controllers.by_region import queue_region, sync_each
from dockyard.control.controllers.queue import WorkQueue
from dockyard.control.launch import interfaces
from dockyard.control.launch.fargate import Pool, place_waiting
from dockyard.core.clock import Clock
from dockyard.store import tasks as task_store
from dockyard.store.database import Database
from dockyard.store.tasks import STOPPED, TaskRecord

WAITING_LOOK_AGAIN_S = 2.0
WakeInstances = Callable[[Iterable[str | None]], None]
AskForCapacity = Callable[[str, int], None]
"""``(region, tasks waiting)``: the provisioner's hook."""


class FargatePoolController:
    name = "fargate-pool"

    def __init__(
        self,
        db: Database,
        *,
        pool_account_id: str,
        clock: Clock,
        wake_instances: WakeInstances,
        changes: ChangeFeed,
        ask_for_capacity: AskForCapacity | None = None,
        resync_period_s: float = 5.0,
    ) -> None:
        self._db = db
        self._pool_account_id = pool_account_id
        self._clock = clock
        self._wake = wake_instances
        self._changes = changes
        self._ask = ask_for_capacity
        self.resync_period_s = resync_period_s

    def all_keys(self) -> Iterable[str]:
        with self._db.read() as tx:
            return task_store.regions_with_work(tx)

    def watch(self, queue: WorkQueue[str]) -> Callable[[ClusterChange], None]:
        return queue_region(queue)

    def sync_many(self, keys: Sequence[str]) -> dict[str, float | Exception | None]:
        return sync_each(keys, self.sync_region)

    def sync_region(self, region: str) -> float | None:
        """One pass over the region; when to look again (tasks still waiting) or None."""
        with self._db.read() as tx:
            if region not in task_store.regions_with_work(tx):
                return None
        now = self._clock()
        pool = Pool(self._pool_account_id, region)
        with self._db.write() as tx:
            waiting = task_store.list_waiting(tx, region)
            finished = [_finish(tx, t, now) for t in waiting if t.desired_status == STOPPED]
            placed = place_waiting(tx, pool, [t for t in waiting if t.desired_status != STOPPED], now=now)
            finished += [_finish(tx, t, now) for t in task_store.list_deprovisioning(tx, region)]
        still_waiting = len(waiting) - len(placed) - sum(1 for t in waiting if t.desired_status == STOPPED)
        if placed:
            self._wake([t.container_instance_arn for t in placed])
        touched = [*placed, *finished]
        for cluster, groups in tasks_by_cluster(touched).items():
            self._changes.tasks_changed(cluster, groups)
        if still_waiting > 0:
            if self._ask is not None:
                self._ask(region, still_waiting)
            return WAITING_LOOK_AGAIN_S
        return None


def _finish(tx: Connection, record: TaskRecord, now: datetime) -> TaskRecord:
    """Release the task's interface and record it STOPPED (DEPROVISIONING → STOPPED). A task that never
    had a host held no resources."""
    released = interfaces.release(tx, record)
    return task_store.save_task(
        tx,
        replace(
            released,
            last_status=STOPPED,
            desired_status=STOPPED,
            stopped_at=record.stopped_at or now,
            stopping_at=record.stopping_at or now,
            execution_stopped_at=record.execution_stopped_at or now,
            containers=[{**c, "lastStatus": STOPPED} for c in record.containers],
            resources_released=record.resources_released or record.container_instance_arn is None,
            updated_at=now,
        ),
    )


def tasks_by_cluster(records: Sequence[TaskRecord]) -> dict[ClusterRef, list[str | None]]:
    """The task groups of ``records`` per cluster, as the change feed wants them after a commit."""
    found: dict[ClusterRef, list[str | None]] = {}
    for record in records:
        found.setdefault(ClusterRef(record.account_id, record.region, record.cluster_name), []).append(
            record.group
        )
    return found
