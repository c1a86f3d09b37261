"""The kube-controller-manager's shape, on dockyard's controller runner: keyed queues fed by the clusters'
change logs.

```
KubeObjects commit ─▶ notifier (cluster id) ─▶ ChangeFeedPump: read each cluster's change log after the
    revision it last read ─▶ for each controller: keys_for(cluster, change) ─▶ its WorkQueue
resync (every resync_period_s): controller.all_keys() across all clusters
worker thread: controller.sync(key) — re-read, decide (pure, control/kube/controllers), apply (Applier)
```
Level-triggered like the ECS controllers: a lost wake-up costs only latency until the resync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.control.controllers.queue import WorkQueue
from dockyard.control.controllers.runner import ControllerLoop
from dockyard.services.kube.objects import KubeObjects
from dockyard.store import kube as store
from dockyard.store.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, order=True)
class KubeKey:
    cluster_id: int
    namespace: str
    name: str


class KubeController(Protocol):
    name: str
    resync_period_s: float

    def keys_for(self, cluster_id: int, change: store.Change) -> Iterable[KubeKey]:
        """The keys a change concerns (its own object's, its owner's…)."""
        ...

    def cluster_keys(self, cluster_id: int) -> Iterable[KubeKey]:
        """Every key of one cluster, for the resync."""
        ...

    def sync(self, key: KubeKey) -> float | None:
        """Converge one key; the delay after which to look again, if a timer matters."""
        ...


class _Adapter:
    """A :class:`KubeController` as the runner's ``Controller`` (all clusters, one key per sync)."""

    def __init__(self, controller: KubeController, db: Database) -> None:
        self.controller = controller
        self.name = controller.name
        self.resync_period_s = controller.resync_period_s
        self._db = db

    def all_keys(self) -> Iterable[KubeKey]:
        with self._db.read() as conn:
            clusters = store.cluster_ids(conn)
        keys: list[KubeKey] = []
        for cluster_id in clusters:
            try:
                keys.extend(self.controller.cluster_keys(cluster_id))
            except Exception:
                log.exception("kube controller resync failed", extra={"controller": self.name})
        return keys

    def sync_many(self, keys: Sequence[KubeKey]) -> Mapping[KubeKey, float | Exception | None]:
        outcome: dict[KubeKey, float | Exception | None] = {}
        for key in keys:
            try:
                outcome[key] = self.controller.sync(key)
            except Exception as error:
                outcome[key] = error
        return outcome


class ChangeFeedPump:
    """Feeds every controller's queue from the clusters' change logs, woken by commits."""

    def __init__(
        self,
        db: Database,
        objects: KubeObjects,
        routes: Sequence[tuple[KubeController, WorkQueue[KubeKey]]],
        *,
        idle_check_s: float = 2.0,
    ) -> None:
        self._db = db
        self._objects = objects
        self._routes = routes
        self._idle_check_s = idle_check_s
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._positions: dict[int, int] = {}
        self._subscriptions: dict[int, Callable[[], None]] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kube-change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(10)
        for unsubscribe in self._subscriptions.values():
            unsubscribe()

    def pump_once(self) -> int:
        """Read every cluster's new changes and queue their keys; the number of changes read."""
        with self._db.read() as conn:
            clusters = store.cluster_ids(conn)
            current = {cluster_id: store.revisions(conn, cluster_id)[0] for cluster_id in clusters}
        read = 0
        for cluster_id in clusters:
            if cluster_id not in self._subscriptions:
                self._subscriptions[cluster_id] = self._objects.notifier.subscribe(
                    str(cluster_id), self._woken.set
                )
                self._positions[cluster_id] = current[cluster_id]
                for controller, queue in self._routes:  # a cluster seen for the first time: all is new
                    for key in controller.cluster_keys(cluster_id):
                        queue.add(key)
                continue
            read += self._pump_cluster(cluster_id)
        for gone in set(self._subscriptions) - set(clusters):
            self._subscriptions.pop(gone)()
            self._positions.pop(gone, None)
        return read

    def _pump_cluster(self, cluster_id: int) -> int:
        position = self._positions[cluster_id]
        read = 0
        while True:
            with self._db.read() as conn:
                try:
                    changes = store.changes(conn, cluster_id, position, limit=1000)
                except store.CompactedError:
                    # Missed changes: the resync of every controller catches up.
                    position = store.revisions(conn, cluster_id)[0]
                    for controller, queue in self._routes:
                        for key in controller.cluster_keys(cluster_id):
                            queue.add(key)
                    break
            for change in changes:
                for controller, queue in self._routes:
                    for key in controller.keys_for(cluster_id, change):
                        queue.add(key)
            read += len(changes)
            if changes:
                position = changes[-1].revision
            if len(changes) < 1000:
                break
        self._positions[cluster_id] = position
        return read

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                self.pump_once()
            except Exception:
                log.exception("kube change feed failed")
            self._woken.wait(self._idle_check_s)


class KubeControllerManager:
    """The kube controllers of every cluster: a loop (queue + worker) each, and the pump feeding them."""

    def __init__(self, db: Database, objects: KubeObjects, controllers: Sequence[KubeController]) -> None:
        self.loops = [ControllerLoop(_Adapter(controller, db)) for controller in controllers]
        self.pump = ChangeFeedPump(
            db, objects, [(c, loop.queue) for c, loop in zip(controllers, self.loops, strict=True)]
        )

    def start(self) -> None:
        for loop in self.loops:
            loop.start()
        self.pump.start()

    def stop(self) -> None:
        self.pump.stop()
        for loop in self.loops:
            loop.stop()

    def settle(self, rounds: int = 50) -> None:
        """For tests driving the controllers by hand: pump and process until nothing is left to do."""
        for _ in range(rounds):
            self.pump.pump_once()
            busy = False
            for loop in self.loops:
                while loop.process_one(timeout=0):
                    busy = True
            if not busy:
                return
