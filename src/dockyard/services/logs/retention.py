"""Retention: the maintenance pass removes every event older than its group's retention policy."""

from __future__ import annotations

import logging
from datetime import datetime

from dockyard.core.logs_limits import MS_PER_DAY
from dockyard.store import logs as store
from dockyard.store.database import Database

log = logging.getLogger(__name__)

# Events removed per transaction: a large backlog never holds the store's write lock for long.
EXPIRY_CHUNK = 10_000


def expire_log_events(db: Database, now: datetime) -> int:
    """Remove the events of every group with a retention policy that are older than it at ``now``, a
    chunk per transaction; how many were removed."""
    now_ms = int(now.timestamp() * 1000)
    with db.read() as tx:
        groups = store.groups_with_retention(tx)
    removed = 0
    for group in groups:
        assert group.retention_days is not None
        cutoff = now_ms - group.retention_days * MS_PER_DAY
        while True:
            with db.write() as tx:
                count = store.expire_events(tx, group, cutoff, EXPIRY_CHUNK)
            removed += count
            if count < EXPIRY_CHUNK:
                break
    if removed:
        log.info("expired log events", extra={"events": removed})
    return removed
