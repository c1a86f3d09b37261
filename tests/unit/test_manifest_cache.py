"""The manifest cache: valid only for the store generation it was filled at, for a bounded time and size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.services.ecr import manifest_cache
from dockyard.services.ecr.manifest_cache import ManifestCache
from dockyard.store.ecr import ImageRecord

NOW = datetime(2026, 11, 27, tzinfo=UTC)
KEY = ("111111111111", "us-east-1", "app", "v1")


def image(body: bytes = b"{}") -> ImageRecord:
    return ImageRecord(
        1, "sha256:aa", "application/vnd.oci.image.manifest.v1+json", None, None, 1, NOW, NOW, body
    )


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_write_since_the_fill_invalidates() -> None:
    cache = ManifestCache()
    cache.put(KEY, image(), generation=7)
    assert cache.get(KEY, generation=7) == image()
    assert cache.get(KEY, generation=8) is None
    assert cache.get(KEY, generation=7) is None  # dropped for good


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeMonotonic()
    cache = ManifestCache(monotonic=clock)
    cache.put(KEY, image(), generation=1)
    clock.now += manifest_cache.TTL_S / 2
    assert cache.get(KEY, generation=1) is not None
    clock.now += manifest_cache.TTL_S
    assert cache.get(KEY, generation=1) is None


def test_the_byte_budget_evicts_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_cache, "MAX_BYTES", 160)
    cache = ManifestCache()
    for i in range(4):
        cache.put(("a", "r", "n", f"t{i}"), image(b"x" * 10 * 5), generation=1)
    cache.get(("a", "r", "n", "t1"), generation=1)
    cache.put(("a", "r", "n", "t4"), image(b"x" * 10 * 5), generation=1)
    present = {i for i in range(5) if cache.get(("a", "r", "n", f"t{i}"), generation=1) is not None}
    assert present == {1, 3, 4}  # t0 went when t3 came, t2 (least recently used) when t4 came
