"""The kubelet's back-off (``client-go/util/flowcontrol.Backoff``) for restarts and image pulls. Pure:
every time is passed in.

Per key: the first failure is acted on at once and arms a 10 s delay; each later failure within the
delay waits, and acting again doubles the delay up to 300 s. An entry not updated for twice the maximum
(10 min) is forgotten, so a container that ran for 10 minutes starts over at 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

INITIAL_S = 10.0
MAX_S = 300.0


@dataclass
class _Entry:
    delay_s: float
    last_update: datetime


class Backoff:
    def __init__(self, initial_s: float = INITIAL_S, max_s: float = MAX_S) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, event: datetime) -> bool:
        return event - entry.last_update > timedelta(seconds=2 * self.max_s)

    def delay_s(self, key: str) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else entry.delay_s

    def in_backoff_since(self, key: str, event: datetime, now: datetime) -> bool:
        """Whether acting on ``key`` must still wait: its delay has not passed since ``event`` (for a
        restart: when the container finished)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event):
            return False
        return (now - event).total_seconds() < entry.delay_s

    def in_backoff_since_update(self, key: str, now: datetime) -> bool:
        """Whether the delay has not passed since the last :meth:`next` (for image pulls)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            return False
        return (now - entry.last_update).total_seconds() < entry.delay_s

    def next(self, key: str, event: datetime, now: datetime) -> None:
        """Record acting on ``key``: the first time (or after expiry) arms the initial delay, later ones
        double it up to the maximum."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event):
            self._entries[key] = _Entry(self.initial_s, now)
        else:
            entry.delay_s, entry.last_update = min(entry.delay_s * 2, self.max_s), now

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
