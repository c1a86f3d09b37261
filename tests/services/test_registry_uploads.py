"""Upload sessions: a per-repository cap a client cannot exhaust; pushes racing a repository's deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dockyard.registry.digest import digest_of
from dockyard.registry.errors import BlobUploadUnknown, NameUnknown, TooManyRequests
from dockyard.services.ecr.blobs import UPLOAD_EVICTABLE_AFTER, RegistryScope
from dockyard.services.ecr.registry import RegistryService
from dockyard.store import ecr as store
from tests.services.conftest import T0, Clock

Setup = tuple[RegistryService, RegistryScope, Clock]


def test_a_push_that_loses_its_repository_midway_is_name_unknown(setup: Setup) -> None:
    registry, scope, clock = setup
    data = b"layer pushed while the repository goes away"
    upload_id = registry.start_upload(scope, "app", clock())
    with registry.db.write() as tx:  # DeleteRepository --force commits between the check and the link
        repo = store.find_repository(tx, scope.account_id, scope.region, "app")
        assert repo is not None
        store.delete_repository(tx, repo.id)
    with pytest.raises((NameUnknown, BlobUploadUnknown)):
        registry.complete_upload(
            scope, "app", upload_id, digest=str(digest_of(data)), final_chunks=[data], now=clock()
        )


def test_the_repository_cap_refuses_fresh_sessions_then_evicts_the_oldest_stale_ones(setup: Setup) -> None:
    registry, scope, clock = setup
    registry.max_uploads_per_repository = 3
    first = []
    for i in range(3):
        clock.now = T0 + timedelta(seconds=i)
        first.append(registry.start_upload(scope, "app", clock()))
    with pytest.raises(TooManyRequests):
        registry.start_upload(scope, "app", clock())
    clock.now = T0 + UPLOAD_EVICTABLE_AFTER + timedelta(seconds=0.5)  # only the first is stale
    newest = registry.start_upload(scope, "app", clock())  # the oldest stale session makes room
    with pytest.raises(BlobUploadUnknown):
        registry.upload_size(scope, "app", first[0])
    assert registry.upload_size(scope, "app", first[1]) == 0
    assert registry.upload_size(scope, "app", newest) == 0
    with registry.db.read() as tx:
        repo = store.find_repository(tx, scope.account_id, scope.region, "app")
        assert repo is not None
        assert len(store.repository_uploads(tx, repo.id)) == 3


def test_completed_and_cancelled_sessions_free_their_place(setup: Setup) -> None:
    registry, scope, clock = setup
    registry.max_uploads_per_repository = 2
    data = b"done"
    done = registry.start_upload(scope, "app", clock())
    digest = str(digest_of(data))
    registry.complete_upload(scope, "app", done, digest=digest, final_chunks=[data], now=clock())
    cancelled = registry.start_upload(scope, "app", clock())
    registry.cancel_upload(scope, "app", cancelled)
    registry.start_upload(scope, "app", clock())
    registry.start_upload(scope, "app", clock())
    with pytest.raises(TooManyRequests):
        registry.start_upload(scope, "app", clock())
