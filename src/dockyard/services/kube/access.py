"""Who a verified caller is inside a cluster: its EKS access entry, as Kubernetes user, groups and grants.

EKS maps an IAM principal through the cluster's access entries: no entry, no access (401, as EKS answers
an unmapped identity). The entry gives the user name (the entry's, else EKS's default for the
principal), its Kubernetes groups (plus ``system:authenticated``) and the associated access policies
(``control/kube/authz``). A short cache keeps kubectl's bursts of requests from reading the entry each
time; a change of access is seen within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.control.kube.authz import PolicyGrant, grants_of
from dockyard.store import eks as store
from dockyard.store.database import Database

CACHE_SECONDS = 2.0
AUTHENTICATED_GROUP = "system:authenticated"


@dataclass(frozen=True, slots=True)
class Subject:
    username: str
    groups: tuple[str, ...]
    grants: tuple[PolicyGrant, ...]
    entry_type: str


class KubeAccess:
    def __init__(self, db: Database, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str], tuple[float, Subject | None]] = {}

    def subject(self, cluster_id: int, principal_arn: str) -> Subject | None:
        """The principal's subject in the cluster, or None when it has no access entry there."""
        key = (cluster_id, principal_arn)
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        subject = self._read(cluster_id, principal_arn)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, subject)
        return subject

    def _read(self, cluster_id: int, principal_arn: str) -> Subject | None:
        with self._db.read() as conn:
            entry = store.find_access_entry(conn, cluster_id, principal_arn)
            if entry is None:
                return None
            policies = store.list_access_policies(conn, entry.id)
        grants = grants_of(((p.policy_arn, p.access_scope) for p in policies), entry.kubernetes_groups)
        groups = (*entry.kubernetes_groups, AUTHENTICATED_GROUP)
        return Subject(entry.username, groups, tuple(grants), entry.entry_type)
