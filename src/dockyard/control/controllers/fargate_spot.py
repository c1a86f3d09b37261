"""Random Spot interruptions: with ``fargate_spot_interruption_rate_per_hour`` above 0, each RUNNING
FARGATE_SPOT task is interrupted as a Poisson process at that rate, exactly as
``dockyard fargate interrupt`` does it (:func:`~dockyard.control.launch.fargate.interrupt_spot`).

```
resync timer, every check_interval_s ─▶ key = region with RUNNING Spot tasks
sync(region):
   read: the region's RUNNING Spot tasks; fargate_rules.spot_interruptions draws once per task over its
   exposure since the region's last check (or its start, or the server's)
   only when some are drawn, one write transaction: interrupt_spot for each (desired STOPPED, stopCode
   SpotInterruption, two minutes between SIGTERM and SIGKILL)
after commit: wake the tasks' hosts (they get the stop at once) and their clusters' controllers (a
service replaces the task)
```

Why a controller and not the maintenance pass (``server/maintenance.py``): maintenance is housekeeping of
stored data (registry garbage, aged-out tasks) every few minutes from the server layer, with no wake-up
hooks; an interruption is a change of desired state that must reach hosts and controllers right after
its commit, at a period of seconds, with the keyed queue's backoff when the store fails, which is what
the controller runner gives the pool controller already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from dockyard.control.changes import ChangeFeed
from dockyard.control.controllers.by_region import sync_each
from dockyard.control.controllers.fargate import WakeInstances, tasks_by_cluster
from dockyard.control.launch import fargate_rules as rules
from dockyard.control.launch.fargate import interrupt_spot
from dockyard.core.clock import Clock
from dockyard.store import tasks as task_store
from dockyard.store.database import Database

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 5.0


class SpotInterrupter:
    name = "fargate-spot"

    def __init__(
        self,
        db: Database,
        *,
        rate_per_hour: float,
        clock: Clock,
        random: Callable[[], float],
        wake_instances: WakeInstances,
        changes: ChangeFeed,
        check_interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self._db = db
        self._rate = rate_per_hour
        self._clock = clock
        self._random = random
        self._wake = wake_instances
        self._changes = changes
        self.resync_period_s = check_interval_s
        self._started = clock()
        self._checked: dict[str, datetime] = {}
        """Each region's last completed check: the next one draws over the time since."""

    def all_keys(self) -> Iterable[str]:
        with self._db.read() as tx:
            return task_store.regions_with_running_spot(tx)

    def sync_many(self, keys: Sequence[str]) -> dict[str, float | Exception | None]:
        return sync_each(keys, self._check)

    def _check(self, region: str) -> None:
        """One check, then the next at the resync period."""
        self.sync_region(region)

    def sync_region(self, region: str) -> list[str]:
        """One draw over the region's RUNNING Spot tasks; the ARNs of those interrupted."""
        now = self._clock()
        since = self._checked.get(region, self._started)
        with self._db.read() as tx:
            running = task_store.list_running_spot(tx, region)
        drawn = rules.spot_interruptions(
            [rules.SpotTask(t.arn, t.started_at or t.created_at) for t in running],
            since=since,
            now=now,
            rate_per_hour=self._rate,
            random=self._random,
        )
        if not drawn:
            self._checked[region] = now
            return []
        with self._db.write() as tx:
            interrupted = [r for arn in drawn if (r := interrupt_spot(tx, arn, now=now)) is not None]
        self._checked[region] = now  # not before the commit: a failed write draws the same span again
        for record in interrupted:
            log.info("Spot task interrupted (random rate)", extra={"task": record.arn})
        self._wake([r.container_instance_arn for r in interrupted])
        for cluster, groups in tasks_by_cluster(interrupted).items():
            self._changes.tasks_changed(cluster, groups)
        return [r.arn for r in interrupted]
