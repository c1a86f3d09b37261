"""A keyed work queue, as Kubernetes controllers use one.

- **Dedupe.** A key waiting in the queue is there once, however often it is added.
- **One sync per key at a time.** A key being processed is not handed out again; if it is added meanwhile
  it is marked dirty and queued again when its worker calls :meth:`WorkQueue.done`.
- **Delays.** :meth:`WorkQueue.add_after` queues a key once a delay has passed (the earliest of several
  requested times wins); :meth:`WorkQueue.add_rate_limited` does so with a per-key exponential backoff
  (``base * 2**failures``, capped), which :meth:`WorkQueue.forget` resets after a success.

Thread-safe. Time comes from an injectable monotonic function, so tests step it by hand and call
:meth:`WorkQueue.get` with ``timeout=0``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Per-key retry delays: ``base_s * 2**failures``, at most ``max_s``."""

    base_s: float = 0.05
    max_s: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_s, self.base_s * 2.0 ** min(failures, 62)))


class ShutDown(Exception):  # noqa: N818 - a signal to stop, not an error
    """The queue was shut down: no more keys will be handed out."""


class WorkQueue(Generic[K]):
    def __init__(self, *, backoff: Backoff | None = None, monotonic: Monotonic = time.monotonic) -> None:
        self._backoff = backoff or Backoff()
        self._now = monotonic
        self._cond = threading.Condition()
        self._ready: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._waiting: list[tuple[float, int, K]] = []  # heap of (due, sequence, key)
        self._due: dict[K, float] = {}  # each waiting key's earliest due time
        self._sequence = itertools.count()
        self._failures: dict[K, int] = {}
        self._shut_down = False

    # --- adding -----------------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` now (a no-op if it is already queued)."""
        with self._cond:
            self._add_locked(key)

    def add_after(self, key: K, delay_s: float) -> None:
        """Queue ``key`` once ``delay_s`` seconds have passed (at once when ``delay_s <= 0``)."""
        if delay_s <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shut_down:
                return
            due = self._now() + delay_s
            if self._due.get(key, float("inf")) <= due:
                return
            self._due[key] = due
            heapq.heappush(self._waiting, (due, next(self._sequence), key))
            self._cond.notify()

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff delay, counting one more failure; returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self._backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (its last sync succeeded)."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # --- taking -----------------------------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> K | None:
        """The next ready key, marked as processing; None after ``timeout`` seconds without one.

        Raises :class:`ShutDown` once the queue is shut down. Every key returned must be passed to
        :meth:`done`.
        """
        deadline = None if timeout is None else self._now() + timeout
        with self._cond:
            while True:
                if self._shut_down:
                    raise ShutDown
                self._promote_due_locked()
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._next_wait_locked(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)

    def get_many(self, limit: int, timeout: float | None = None) -> list[K]:
        """Up to ``limit`` ready keys: waits (up to ``timeout``) for the first, takes the others only if
        they are ready already. Each must be passed to :meth:`done`."""
        first = self.get(timeout)
        if first is None:
            return []
        taken = [first]
        with self._cond:
            self._promote_due_locked()
            while self._ready and len(taken) < limit:
                key = self._ready.popleft()
                self._queued.discard(key)
                self._processing.add(key)
                taken.append(key)
        return taken

    def done(self, key: K) -> None:
        """``key``'s sync finished; if it was added meanwhile, queue it again."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._add_locked(key)

    def shut_down(self) -> None:
        with self._cond:
            self._shut_down = True
            self._cond.notify_all()

    def __len__(self) -> int:
        """Keys ready to be taken (not the delayed ones)."""
        with self._cond:
            self._promote_due_locked()
            return len(self._ready)

    def delayed(self) -> int:
        with self._cond:
            return len(self._due)

    # --- internals --------------------------------------------------------------------------------------

    def _add_locked(self, key: K) -> None:
        if self._shut_down:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._ready.append(key)
        self._cond.notify()

    def _promote_due_locked(self) -> None:
        now = self._now()
        while self._waiting and self._waiting[0][0] <= now:
            due, _, key = heapq.heappop(self._waiting)
            if self._due.get(key) != due:
                continue  # superseded by an earlier due time
            del self._due[key]
            self._add_locked(key)

    def _next_wait_locked(self, deadline: float | None) -> float | None:
        now = self._now()
        next_due = self._waiting[0][0] if self._waiting else None
        candidates = [t - now for t in (deadline, next_due) if t is not None]
        return min(candidates) if candidates else None
