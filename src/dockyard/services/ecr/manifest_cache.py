"""Recently served manifests, so a pull of a hot tag needs no query and no worker thread.

An entry is used only while no write transaction has committed in this process since it was filled
(``Database.generation``) and for at most :data:`TTL_S` seconds, which bounds how long a change made by
another server process sharing the database can go unseen. The cache holds at most
:data:`MAX_BYTES` of manifests, least recently used out first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.store.ecr import ImageRecord

TTL_S = 1.0
MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024
"""Larger manifests are rare and are always read from the store."""

CacheKey = tuple[str, str, str, str]  # account, region, repository, reference


@dataclass(frozen=True, slots=True)
class _Entry:
    image: ImageRecord
    generation: int
    filled_at: float


class ManifestCache:
    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def get(self, key: CacheKey, generation: int) -> ImageRecord | None:
        """The image cached under ``key`` if it is still valid for the store's ``generation``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.generation != generation or self._monotonic() - entry.filled_at > TTL_S:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.image

    def put(self, key: CacheKey, image: ImageRecord, generation: int) -> None:
        """Cache ``image``, read in a transaction that began at store ``generation`` (read it before)."""
        size = len(image.manifest)
        if size > MAX_ENTRY_BYTES:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = _Entry(image, generation, self._monotonic())
            self._bytes += size
            while self._bytes > MAX_BYTES:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.image.manifest)
