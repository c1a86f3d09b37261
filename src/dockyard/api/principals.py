"""Access-key lookups for authentication, with a short-lived cache in front of the store.

Every API call needs the caller's secret; reading it from the database on each request would cost more
than the rest of the request. Keys are cached for a few seconds, so a key added with ``dockyard keys``
while the server runs is usable at once (misses are never cached) and a changed secret takes effect
within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dockyard.store.credentials import AccessKey, CredentialStore

CACHE_TTL_S = 5.0


class KeyResolver:
    def __init__(
        self,
        store: CredentialStore,
        *,
        ttl_s: float = CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, AccessKey]] = {}
        self._lock = threading.Lock()

    def find(self, access_key_id: str) -> AccessKey | None:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(access_key_id)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        key = self._store.find_key(access_key_id)
        if key is not None:
            with self._lock:
                self._cache[access_key_id] = (now, key)
        return key

    def secret_for(self, access_key_id: str) -> str | None:
        key = self.find(access_key_id)
        return None if key is None else key.secret_access_key
