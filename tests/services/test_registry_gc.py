"""Online garbage collection: never removes what a push in progress needs, removes what nothing needs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from dockyard.registry.digest import digest_of
from dockyard.registry.errors import BlobUnknown
from dockyard.services.ecr.blobs import GC_GRACE, RegistryScope
from dockyard.services.ecr.registry import RegistryService
from tests.services.conftest import T0, Clock


def upload(registry: RegistryService, scope: RegistryScope, data: bytes, now: datetime) -> str:
    upload_id = registry.start_upload(scope, "app", now)
    digest = str(digest_of(data))
    registry.complete_upload(scope, "app", upload_id, digest=digest, final_chunks=[data], now=now)
    return digest


def manifest_for(config: str, size: int) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": size,
                "digest": config,
            },
            "layers": [],
        }
    ).encode()


def test_gc_during_a_push_keeps_its_layers(setup: tuple[RegistryService, RegistryScope, Clock]) -> None:
    registry, scope, clock = setup
    config = upload(registry, scope, b"config of a push in progress", T0)
    clock.now = T0 + GC_GRACE / 2
    report = registry.collect_garbage(clock.now)
    assert (report.pruned_links, report.deleted_blobs) == (0, 0)
    registry.put_manifest(scope, "app", "v1", None, manifest_for(config, 28), clock.now)
    # Once referenced, the blob survives any number of collections, however late.
    clock.now = T0 + 10 * GC_GRACE
    registry.collect_garbage(clock.now)
    assert registry.blob_size(scope, "app", config) == 28


def test_gc_removes_blobs_nothing_references_after_the_grace_period(
    setup: tuple[RegistryService, RegistryScope, Clock],
) -> None:
    registry, scope, clock = setup
    config = upload(registry, scope, b"config of a deleted image", T0)
    registry.put_manifest(scope, "app", "v1", None, manifest_for(config, 25), T0)
    registry.delete_manifest(scope, "app", "v1")
    clock.now = T0 + 2 * GC_GRACE
    report = registry.collect_garbage(clock.now)
    assert (report.pruned_links, report.deleted_blobs) == (1, 1)
    with pytest.raises(BlobUnknown):
        registry.blob_size(scope, "app", config)


def test_a_repush_of_collected_content_refreshes_its_clock(
    setup: tuple[RegistryService, RegistryScope, Clock],
) -> None:
    registry, scope, clock = setup
    data = b"pushed twice"
    upload(registry, scope, data, T0)
    clock.now = T0 + 2 * GC_GRACE
    digest = upload(registry, scope, data, clock.now)  # same content again, long after the first push
    report = registry.collect_garbage(clock.now)
    assert report.deleted_blobs == 0
    assert registry.blob_size(scope, "app", digest) == len(data)


def test_abandoned_uploads_expire(setup: tuple[RegistryService, RegistryScope, Clock]) -> None:
    registry, scope, clock = setup
    upload_id = registry.start_upload(scope, "app", T0)
    clock.now = T0 + timedelta(days=2)
    assert registry.collect_garbage(clock.now).expired_uploads == 1
    from dockyard.registry.errors import BlobUploadUnknown

    with pytest.raises(BlobUploadUnknown):
        registry.upload_size(scope, "app", upload_id)


def test_a_moved_tag_is_served_at_once_despite_the_manifest_cache(
    setup: tuple[RegistryService, RegistryScope, Clock],
) -> None:
    registry, scope, _clock = setup
    first = upload(registry, scope, b"first config", T0)
    second = upload(registry, scope, b"second config", T0)
    registry.put_manifest(scope, "app", "v1", None, manifest_for(first, 12), T0)
    for _ in range(3):  # the first pull records its time, the next ones fill and use the cache
        served = registry.get_manifest(scope, "app", "v1", now=T0)
    assert registry.cached_manifest(scope, "app", "v1", now=T0) == served
    registry.put_manifest(scope, "app", "v1", None, manifest_for(second, 13), T0)
    assert registry.cached_manifest(scope, "app", "v1", now=T0) is None
    assert registry.get_manifest(scope, "app", "v1", now=T0).body == manifest_for(second, 13)
