"""The CloudWatch Logs provider: log groups (``groups.py``), streams (``streams.py``), events
(``events.py``) and live tail (``live_tail.py``) over the store (``store/logs.py``).

Each method receives validated parameters and returns a dict shaped like the operation's output; every
write is one transaction, committed before the reply. StartLiveTail returns its ``responseStream`` as an
async iterator of events, which the gateway writes as an event stream.
"""

from __future__ import annotations

from dockyard.services.base import Provider
from dockyard.services.logs.events import EventOperations
from dockyard.services.logs.groups import GroupOperations
from dockyard.services.logs.live_tail import MAX_DURATION_S, LiveTailHub, LiveTailOperations
from dockyard.services.logs.streams import StreamOperations
from dockyard.store.database import Database


class LogsProvider(GroupOperations, StreamOperations, EventOperations, LiveTailOperations, Provider):
    service_name = "logs"
    # Not GetLogEvents and FilterLogEvents: they read up to thousands of events (FilterLogEvents runs a
    # user's pattern over up to SCAN_BUDGET of them), work that stays off the event loop.
    store_read_operations = frozenset(
        {"DescribeLogGroups", "DescribeLogStreams", "ListTagsLogGroup", "ListTagsForResource"}
    )

    def __init__(
        self,
        db: Database,
        *,
        live_tail: LiveTailHub | None = None,
        live_tail_max_s: float = MAX_DURATION_S,
    ) -> None:
        self._db = db
        self._live_tail = live_tail or LiveTailHub()
        self._live_tail_max_s = live_tail_max_s
        self._on_ingest = self._live_tail.publish
