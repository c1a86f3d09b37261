"""Task definitions by ARN, cached in memory: a registered revision's body never changes.

The agents' sessions (payloads, health) and the service controller read the definitions of the tasks
they look at on every pass; this keeps those reads off the store. Only revisions that exist are cached.
"""

from __future__ import annotations

from sqlalchemy import Connection

from dockyard.store import task_definitions as store
from dockyard.store.task_definitions import TaskDefinitionRecord

DEFAULT_MAX_ENTRIES = 1024


class DefinitionCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max = max_entries
        self._found: dict[tuple[str, str], TaskDefinitionRecord] = {}

    def get(self, tx: Connection, account_id: str, region: str, arn: str) -> TaskDefinitionRecord | None:
        """The revision ``arn`` names in the account and region (any status), or None."""
        key = (account_id, arn)
        cached = self._found.get(key)
        if cached is not None:
            return cached
        family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
        found = (
            store.find_task_definition(tx, account_id, region, family, int(revision))
            if revision.isdigit()
            else None
        )
        if found is not None:
            if len(self._found) >= self._max:
                self._found.clear()
            self._found[key] = found
        return found
