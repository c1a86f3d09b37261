"""Runs controllers: worker threads take keys from each controller's queue and sync them.

```
event sources ──add(key)──▶ WorkQueue ──get──▶ worker: controller.sync_many(keys ready together)
                               ▲                   │ returns None          → forget(key)
   resync timer: every key ────┘                   │ returns delay (s)     → forget, add_after(key, delay)
   (controller.all_keys())                             │ raises                → add_rate_limited(key), logged
```

A batch is the keys that are ready at once (up to ``batch_size``): a controller whose syncs share work
(the service controller reads a cluster's instances once for all its services) does it once per batch.
A sync is level-triggered: it re-reads the desired and observed state of its key, so a lost or repeated
wake-up costs nothing and the periodic resync catches anything missed. Syncs block on the store, hence
threads rather than the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from dockyard.control.controllers.queue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class Controller(Protocol[K]):
    """One reconcile loop: what it watches (``all_keys``) and how it converges one key (``sync``)."""

    name: str
    resync_period_s: float

    def all_keys(self) -> Iterable[K]:
        """Every key that currently exists, for the periodic resync."""
        ...

    def sync_many(self, keys: Sequence[K]) -> Mapping[K, float | Exception | None]:
        """Converge each of ``keys`` once; for each, the delay after which to look at it again, None,
        or the exception its sync failed with. Raising fails every key of the batch (each is retried
        with its backoff)."""
        ...


class ControllerLoop(Generic[K]):
    """A controller with its queue and worker threads."""

    def __init__(
        self,
        controller: Controller[K],
        *,
        workers: int = 1,
        batch_size: int = 1,
        queue: WorkQueue[K] | None = None,
    ):
        self.controller = controller
        self._batch_size = batch_size
        self.queue: WorkQueue[K] = queue if queue is not None else WorkQueue()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> None:
        name = self.controller.name
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(self._workers)
        ]
        self._threads.append(threading.Thread(target=self._resync, name=f"{name}-resync", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self.queue.shut_down()
        for thread in self._threads:
            thread.join(timeout_s)

    def process_one(self, timeout: float | None = 0) -> bool:
        """Take the ready keys (a batch) and sync them; False if none was ready within ``timeout``.
        (Used by the workers, and by tests that drive a loop step by step.)"""
        keys = self.queue.get_many(self._batch_size, timeout)
        if not keys:
            return False
        try:
            again = self.controller.sync_many(keys)
        except Exception:
            for key in keys:
                delay = self.queue.add_rate_limited(key)
            log.exception(
                "controller sync failed; retrying",
                extra={"controller": self.controller.name, "keys": len(keys), "retry_in_s": delay},
            )
        else:
            for key in keys:
                outcome = again.get(key)
                if isinstance(outcome, Exception):
                    delay = self.queue.add_rate_limited(key)
                    log.error(
                        "controller sync failed; retrying",
                        exc_info=outcome,
                        extra={"controller": self.controller.name, "key": str(key), "retry_in_s": delay},
                    )
                    continue
                self.queue.forget(key)
                if outcome is not None:
                    self.queue.add_after(key, outcome)
        finally:
            for key in keys:
                self.queue.done(key)
        return True

    def resync(self) -> None:
        """Queue every key the controller knows."""
        for key in self.controller.all_keys():
            self.queue.add(key)

    def _work(self) -> None:
        while True:
            try:
                self.process_one(timeout=None)
            except ShutDown:
                return

    def _resync(self) -> None:
        period = self.controller.resync_period_s
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.resync()
            except Exception:
                log.exception("controller resync failed", extra={"controller": self.controller.name})
            self._stopping.wait(max(0.0, period - (time.monotonic() - started)))


class ControllerRunner:
    """Starts and stops a set of controller loops together."""

    def __init__(self, loops: Iterable[ControllerLoop[Any]] = ()) -> None:
        self._loops = list(loops)

    def add(self, loop: ControllerLoop[Any]) -> None:
        self._loops.append(loop)

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
