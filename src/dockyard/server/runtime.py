"""What a running server holds before anything is wired: its settings, its store and its root key."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.core.clock import Clock, system_clock
from dockyard.core.settings import ServerSettings
from dockyard.store.credentials import AccessKey, CredentialStore
from dockyard.store.database import Database, open_database


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: ServerSettings
    db: Database
    root_key: AccessKey
    pool_key: AccessKey
    """The Fargate pool's account key: the built-in pool host signs with it."""


def open_runtime(settings: ServerSettings, clock: Clock = system_clock) -> Runtime:
    """Open (and migrate) the store and make sure the root key exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.resolved_database_url)
    root_key = CredentialStore(db).ensure_root_key(
        clock(), settings.access_key_id, settings.secret_access_key
    )
    pool_key = CredentialStore(db).ensure_pool_key(clock())
    return Runtime(settings, db, root_key, pool_key)
