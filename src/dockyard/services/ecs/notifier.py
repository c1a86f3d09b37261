"""Wake-ups for push-channel sessions: "the tasks of this container instance changed".

The ECS provider calls :meth:`InstanceNotifier.notify` after a write that changes what an instance's
agent should run (RunTask, StartTask, StopTask) has committed; each agent session subscribes for its
instance with a callback, which then reads the store and pushes the change. Notifications carry no data
and may be lost or repeated without harm: sessions also re-check on a slow timer (level-triggered).

Thread-safe: providers run in worker threads while sessions live on the event loop, so a callback must be
safe to call from any thread (an asyncio session passes
``lambda: loop.call_soon_threadsafe(event.set)``). Callbacks run outside the notifier's lock; one that
raises is logged and does not keep the others from running. In-process only: with several server
processes sharing PostgreSQL, an instance's session in another process learns of a change from its
periodic re-check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

Wake = Callable[[], None]


class InstanceNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, dict[int, Wake]] = {}
        self._next_id = 0

    def subscribe(self, instance_arn: str, wake: Wake) -> Callable[[], None]:
        """Call ``wake`` whenever ``instance_arn`` is notified; returns the function that unsubscribes."""
        with self._lock:
            token = self._next_id
            self._next_id += 1
            self._subscribers.setdefault(instance_arn, {})[token] = wake

        def unsubscribe() -> None:
            with self._lock:
                subscribers = self._subscribers.get(instance_arn)
                if subscribers is not None:
                    subscribers.pop(token, None)
                    if not subscribers:
                        del self._subscribers[instance_arn]

        return unsubscribe

    def notify(self, instance_arns: Iterable[str | None]) -> None:
        """Wake every subscriber of each of ``instance_arns`` (``None`` entries are ignored)."""
        wanted = {arn for arn in instance_arns if arn}
        if not wanted:
            return
        with self._lock:
            wakes = [w for arn in wanted for w in self._subscribers.get(arn, {}).values()]
        for wake in wakes:
            try:
                wake()
            except Exception:
                log.exception("a push-channel wake-up failed")

    def subscriber_count(self, instance_arn: str) -> int:
        with self._lock:
            return len(self._subscribers.get(instance_arn, {}))
