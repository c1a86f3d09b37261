"""StartLiveTail: events as they are ingested, pushed to open sessions in this process.

::

    PutLogEvents ─commit─▶ LiveTailHub.publish(batch)       (the provider's worker thread)
                              │ per session of the batch's group: stream filter, pattern, buffer (≤ 5,000,
                              │ oldest dropped first), wake (loop.call_soon_threadsafe)
                              ▼
    session_events(): sessionStart, then a sessionUpdate as soon as events wait (else one each second,
    empty: the stream's heartbeat), ≤ 500 events each (sampled down beyond, ``sampled`` true), until the
    client goes away (the response is cancelled) or three hours pass (SessionTimeoutException)

Nothing here reads the store after the session starts: a wake-up carries the events themselves. In-process
only: with several server processes sharing PostgreSQL, a session sees the events ingested by its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.control.logs.pattern import Pattern, PatternError, compile_pattern
from dockyard.core.context import RequestContext
from dockyard.core.errors import LimitExceededError
from dockyard.services.base import Params, Result
from dockyard.services.logs.errors import (
    GROUP_NOT_FOUND,
    InvalidParameterException,
    ResourceNotFoundException,
)
from dockyard.services.logs.events import Ingested
from dockyard.services.logs.naming import group_name_of
from dockyard.store import logs as store
from dockyard.store.database import Database

MAX_DURATION_S = 3 * 3600.0
UPDATE_INTERVAL_S = 1.0
MAX_EVENTS_PER_UPDATE = 500
MAX_BUFFERED_EVENTS = 5_000
MAX_SESSIONS_PER_ACCOUNT = 15
TIMEOUT_MESSAGE = "Live Tail session has ended after reaching the maximum duration of 3 hours."

Wake = Callable[[], None]


@dataclass(eq=False)
class LiveTailSession:
    """One open session: what it follows, and the events waiting to be sent (thread-safe)."""

    account_id: str
    groups: Mapping[int, str]
    """Group id → the ``logGroupIdentifier`` its events are reported with."""
    stream_names: frozenset[str] | None
    stream_prefixes: tuple[str, ...] | None
    pattern: Pattern
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiting: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED_EVENTS))
    _wake: Wake | None = None

    def follows(self, stream_name: str) -> bool:
        if self.stream_names is not None:
            return stream_name in self.stream_names
        if self.stream_prefixes is not None:
            return stream_name.startswith(self.stream_prefixes)
        return True

    def offer(self, batch: Ingested) -> None:
        """Take the batch's events this session follows; wake its sender if any were taken."""
        if not self.follows(batch.stream_name):
            return
        identifier = self.groups[batch.group_id]
        taken = [
            {
                "logStreamName": batch.stream_name,
                "logGroupIdentifier": identifier,
                "message": message,
                "timestamp": timestamp,
                "ingestionTime": batch.ingestion_time,
            }
            for timestamp, message in batch.events
            if self.pattern.matches(message)
        ]
        if not taken:
            return
        with self._lock:
            self._waiting.extend(taken)
            wake = self._wake
        if wake is not None:
            wake()

    def attach(self, wake: Wake) -> None:
        with self._lock:
            self._wake = wake

    def pending(self) -> bool:
        with self._lock:
            return bool(self._waiting)

    def drain(self) -> tuple[list[dict[str, Any]], bool]:
        """The waiting events, sampled down to 500 (evenly) if there are more; whether they were."""
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
        if len(waiting) <= MAX_EVENTS_PER_UPDATE:
            return waiting, False
        step = len(waiting) / MAX_EVENTS_PER_UPDATE
        return [waiting[int(i * step)] for i in range(MAX_EVENTS_PER_UPDATE)], True


class LiveTailHub:
    """The open sessions by group; PutLogEvents publishes every committed batch here (thread-safe)."""

    def __init__(self, max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT) -> None:
        self._lock = threading.Lock()
        self._by_group: dict[int, set[LiveTailSession]] = {}
        self._per_account: dict[str, int] = {}
        self._max_per_account = max_sessions_per_account

    def check_room(self, account_id: str) -> None:
        """LimitExceededException if the account already has as many sessions open as it may."""
        with self._lock:
            if self._per_account.get(account_id, 0) >= self._max_per_account:
                raise LimitExceededError(
                    f"An account can have at most {self._max_per_account} concurrent Live Tail sessions."
                )

    def open(self, session: LiveTailSession) -> None:
        """Start delivering to ``session``."""
        with self._lock:
            self._per_account[session.account_id] = self._per_account.get(session.account_id, 0) + 1
            for group_id in session.groups:
                self._by_group.setdefault(group_id, set()).add(session)

    def close(self, session: LiveTailSession) -> None:
        """Stop delivering to ``session``; safe to call twice."""
        with self._lock:
            present = False
            for group_id in session.groups:
                sessions = self._by_group.get(group_id)
                if sessions is not None and session in sessions:
                    present = True
                    sessions.discard(session)
                    if not sessions:
                        del self._by_group[group_id]
            if present:
                self._per_account[session.account_id] -= 1
                if not self._per_account[session.account_id]:
                    del self._per_account[session.account_id]

    def publish(self, batch: Ingested) -> None:
        with self._lock:
            sessions = list(self._by_group.get(batch.group_id, ()))
        for session in sessions:
            session.offer(batch)

    def session_count(self) -> int:
        with self._lock:
            return sum(self._per_account.values())


class LiveTailOperations:
    """Mixed into the Logs provider; needs ``_db``, ``_live_tail`` and ``_live_tail_max_s``."""

    _db: Database
    _live_tail: LiveTailHub
    _live_tail_max_s: float

    def start_live_tail(self, ctx: RequestContext, params: Params) -> Result:
        identifiers = [str(i) for i in params["logGroupIdentifiers"]]
        names, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
        if names is not None and prefixes is not None:
            raise InvalidParameterException(
                "logStreamNames and logStreamNamePrefixes are mutually exclusive."
            )
        if (names is not None or prefixes is not None) and len(identifiers) > 1:
            raise InvalidParameterException(
                "logStreamNames and logStreamNamePrefixes can be specified only with one log group."
            )
        if any(identifier.endswith("*") for identifier in identifiers):
            raise InvalidParameterException(
                "A log group ARN in logGroupIdentifiers can't end with an asterisk."
            )
        try:
            pattern = compile_pattern(str(params.get("logEventFilterPattern") or ""))
        except PatternError as exc:
            raise InvalidParameterException(str(exc)) from None
        groups: dict[int, str] = {}
        with self._db.read() as tx:
            for identifier in identifiers:
                name = group_name_of(ctx, identifier)
                group = None if name is None else store.find_group(tx, ctx.account_id, ctx.region, name)
                if group is None:
                    raise ResourceNotFoundException(GROUP_NOT_FOUND)
                groups[group.id] = f"{group.account_id}:{group.name}"
        session = LiveTailSession(
            account_id=ctx.account_id,
            groups=groups,
            stream_names=frozenset(names) if names is not None else None,
            stream_prefixes=tuple(prefixes) if prefixes is not None else None,
            pattern=pattern,
        )
        self._live_tail.check_room(ctx.account_id)
        start = {
            "requestId": ctx.request_id,
            "sessionId": str(uuid.uuid4()),
            "logGroupIdentifiers": identifiers,
            "logStreamNames": names,
            "logStreamNamePrefixes": prefixes,
            "logEventFilterPattern": params.get("logEventFilterPattern"),
        }
        return {"responseStream": session_events(self._live_tail, session, start, self._live_tail_max_s)}


async def session_events(
    hub: LiveTailHub, session: LiveTailSession, start: Mapping[str, Any], max_duration_s: float
) -> AsyncGenerator[dict[str, Any], None]:
    """The session's stream (see the module's docstring); closing it (the client left) ends the session.

    The session opens when the stream is first read, before sessionStart goes out: a client that has
    seen sessionStart misses nothing ingested after it, and a stream never read holds nothing open."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed: nobody is listening
            loop.call_soon_threadsafe(ready.set)

    session.attach(wake)
    hub.open(session)
    try:
        yield {"sessionStart": dict(start)}
        deadline = loop.time() + max_duration_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                yield {"SessionTimeoutException": {"message": TIMEOUT_MESSAGE}}
                return
            if not session.pending():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), timeout=min(UPDATE_INTERVAL_S, remaining))
            ready.clear()
            results, sampled = session.drain()
            yield {"sessionUpdate": {"sessionMetadata": {"sampled": sampled}, "sessionResults": results}}
    finally:
        hub.close(session)
