"""A registry service on a real SQLite store with one repository, ``app``, and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.registry.memory import MemoryBlobDriver
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.registry import RegistryService
from dockyard.store import ecr as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import open_database
from dockyard.store.ecr import RepositoryRecord

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[RegistryService, RegistryScope, Clock]]:
    db = open_database(f"sqlite:///{tmp_path / 'gc.db'}")
    account = CredentialStore(db).ensure_root_key(T0, None, None).principal.account_id
    with db.write() as tx:
        store.insert_repository(
            tx,
            RepositoryRecord(
                0, account, "us-east-1", "app", "arn:app", "MUTABLE", [], False, {}, None, None, None, T0
            ),
        )
    clock = Clock()
    yield RegistryService(db, MemoryBlobDriver(clock=clock)), RegistryScope(account, "us-east-1"), clock
    db.close()
