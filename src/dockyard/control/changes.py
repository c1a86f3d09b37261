"""Wake-ups for controllers: "tasks or instances of this cluster changed".

Writers publish a :class:`ClusterChange` after their transaction commits (RunTask, StopTask, an agent's
state report, an instance registered, drained or deregistered, an agent connecting or going away);
controllers subscribe and turn changes into keys on their queues. A change carries no state, only where to
look: the task groups it touched (``service:web``) and whether instances changed. Changes may be lost or
repeated without harm, since controllers are level-triggered and resync periodically.

Thread-safe; subscribers run in the publisher's thread, outside the feed's lock, and must not block. One
that raises is logged and does not keep the others from running. In-process only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClusterRef:
    account_id: str
    region: str
    cluster_name: str


@dataclass(frozen=True, slots=True)
class ClusterChange:
    cluster: ClusterRef
    groups: frozenset[str] = frozenset()
    instances: bool = False


Subscriber = Callable[[ClusterChange], None]


class ChangeFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def publish(self, changes: Iterable[ClusterChange]) -> None:
        batch = list(changes)
        if not batch:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            for change in batch:
                try:
                    subscriber(change)
                except Exception:
                    log.exception("a controller wake-up failed")

    def tasks_changed(self, cluster: ClusterRef, groups: Iterable[str | None]) -> None:
        self.publish([ClusterChange(cluster, groups=frozenset(g for g in groups if g))])

    def instances_changed(self, cluster: ClusterRef) -> None:
        self.publish([ClusterChange(cluster, instances=True)])
