"""Retiring idle provisioned pool hosts: the other half of the provisioner.

A host the provisioner started registers with ``dockyard agent --fargate --provisioned``, which adds the
attribute ``dockyard.pool.provisioned=true``; the server's own pool host has none and is never retired.
A host is idle while no task that is not STOPPED is on it, since the later of its registration and its
last task's stop (``fargate_rules.hosts_to_retire``, pure).

```
ChangeFeed (any change in a region: a task stopped, a host joined)  ─┐
resync timer, and "look again when the next idle host is due" ───────┴▶ key = region
sync(region):
   read: the pool's registered hosts, the tasks on each; nothing due → look again when one is
   one write transaction: lock the pool's cluster (task_store.lock_cluster, the lock place_waiting takes,
   so no task is placed on a host being retired), read again, decide again, and deregister the due hosts
   (INACTIVE, agent disconnected: what DeregisterContainerInstance writes)
after commit: the pool's instances changed; ``on_retired`` (the server closes the hosts' push channels,
whose provisioned agents then exit 0, and runs ``fargate_retire_command`` for each)
```
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed, ClusterChange
from dockyard.control.controllers.by_region import queue_region, sync_each
from dockyard.control.controllers.queue import WorkQueue
from dockyard.control.launch import fargate_rules as rules
from dockyard.control.launch.fargate import Pool, pool_ref
from dockyard.core.clock import Clock
from dockyard.store import container_instances as instance_store
from dockyard.store import tasks as task_store
from dockyard.store.container_instances import ContainerInstanceRecord
from dockyard.store.database import Database

log = logging.getLogger(__name__)

OnRetired = Callable[[Sequence[ContainerInstanceRecord]], None]
"""Called after the commit with the hosts just deregistered."""


class PoolHostRetirer:
    name = "fargate-retire"

    def __init__(
        self,
        db: Database,
        *,
        pool_account_id: str,
        clock: Clock,
        grace_s: float,
        changes: ChangeFeed,
        on_retired: OnRetired | None = None,
        resync_period_s: float = 30.0,
    ) -> None:
        self._db = db
        self._pool_account_id = pool_account_id
        self._clock = clock
        self._grace_s = grace_s
        self._changes = changes
        self._on_retired = on_retired
        self.resync_period_s = resync_period_s

    def all_keys(self) -> Iterable[str]:
        with self._db.read() as tx:
            return instance_store.cluster_regions(tx, self._pool_account_id, rules.POOL_CLUSTER)

    def watch(self, queue: WorkQueue[str]) -> Callable[[ClusterChange], None]:
        return queue_region(queue)

    def sync_many(self, keys: Sequence[str]) -> dict[str, float | Exception | None]:
        return sync_each(keys, self.sync_region)

    def sync_region(self, region: str) -> float | None:
        """Retire the region's due hosts; when the next idle one will be due (None: none is idle)."""
        pool = Pool(self._pool_account_id, region)
        now = self._clock()
        with self._db.read() as tx:
            uses = _host_uses(tx, _registered(tx, pool))
        if not rules.hosts_to_retire(uses, now, self._grace_s):
            return rules.next_retirement_in(uses, now, self._grace_s)
        with self._db.write() as tx:
            task_store.lock_cluster(tx, pool.account_id, pool.region, pool.cluster_name)
            hosts = {r.arn: r for r in _registered(tx, pool)}
            uses = _host_uses(tx, hosts.values())
            due = rules.hosts_to_retire(uses, now, self._grace_s)
            retired = [_deregister(tx, hosts[arn], now) for arn in due]
        for record in retired:
            log.info(
                "idle provisioned Fargate host retired",
                extra={"instance": record.arn, "idle_for_s": self._grace_s},
            )
        if retired:
            self._changes.instances_changed(pool_ref(pool.account_id, region))
            if self._on_retired is not None:
                self._on_retired(retired)
        return rules.next_retirement_in([u for u in uses if u.arn not in due], now, self._grace_s)


def _registered(tx: Connection, pool: Pool) -> list[ContainerInstanceRecord]:
    return instance_store.list_instances(
        tx, pool.account_id, pool.region, pool.cluster_name, statuses=instance_store.REGISTERED
    )


def _host_uses(tx: Connection, hosts: Iterable[ContainerInstanceRecord]) -> list[rules.PoolHostUse]:
    records = list(hosts)
    activity = task_store.instance_activity(tx, [r.arn for r in records])
    uses = []
    for record in records:
        seen = activity.get(record.arn, task_store.InstanceActivity())
        uses.append(
            rules.PoolHostUse(
                arn=record.arn,
                provisioned=rules.is_provisioned(record.attributes),
                registered_at=record.registered_at,
                live_tasks=seen.live,
                last_task_stopped_at=seen.last_stopped_at,
            )
        )
    return uses


def _deregister(tx: Connection, record: ContainerInstanceRecord, now: datetime) -> ContainerInstanceRecord:
    """INACTIVE and disconnected, as DeregisterContainerInstance leaves an instance."""
    return instance_store.save_instance(
        tx, replace(record, status=instance_store.INACTIVE, agent_connected=False, updated_at=now)
    )
