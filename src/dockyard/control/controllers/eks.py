"""The EKS cluster controller: moves clusters, node groups, Fargate profiles and updates through their
statuses (the transitions are :mod:`dockyard.control.controllers.decide.eks`).

```
EKS provider, after each committed write ─▶ wake(EksClusterKey(account, region, name))
resync (every resync_period_s): every cluster with work (store/eks.clusters_with_work)
   ▼ WorkQueue, key = the cluster
sync(key): read the cluster, its parts and updates in progress → decide (pure) → nothing to do: done
   else one write transaction: read again, decide again, apply (statuses, version, removals)
after commit: on_removed(cluster) for a cluster that is gone (the place to stop its Kubernetes API)
```

"Endpoint ready" (CREATING → ACTIVE) is a hook: by default a cluster is ready once its CA and port are
stored, which CreateCluster does at once; the Kubernetes API server will pass a check that its listener
for the cluster answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from dockyard.control.controllers.decide.eks import (
    ClusterActions,
    ClusterState,
    PartState,
    UpdateState,
    decide,
)
from dockyard.control.controllers.queue import WorkQueue
from dockyard.core.clock import Clock
from dockyard.store import eks as store
from dockyard.store import tags as tag_store
from dockyard.store.database import Database
from dockyard.store.eks import FARGATE_PROFILES, NODEGROUPS, EksClusterRecord

log = logging.getLogger(__name__)

EndpointReady = Callable[[Connection, EksClusterRecord], bool]
"""Whether a CREATING cluster's endpoint serves (inside the sync's transaction)."""


@dataclass(frozen=True, slots=True)
class EksClusterKey:
    account_id: str
    region: str
    name: str


def pki_and_port_stored(conn: Connection, cluster: EksClusterRecord) -> bool:
    """The default readiness: the cluster's CA and serving certificate exist (its port always does)."""
    return store.cluster_pki(conn, cluster.id) is not None


class EksClusterController:
    name = "eks-clusters"

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        endpoint_ready: EndpointReady = pki_and_port_stored,
        on_removed: Callable[[EksClusterRecord], None] | None = None,
        resync_period_s: float = 10.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._endpoint_ready = endpoint_ready
        self._on_removed = on_removed
        self.resync_period_s = resync_period_s

    def all_keys(self) -> Iterable[EksClusterKey]:
        with self._db.read() as tx:
            return [EksClusterKey(w.account_id, w.region, w.name) for w in store.clusters_with_work(tx)]

    @staticmethod
    def waker(queue: WorkQueue[EksClusterKey]) -> Callable[[EksClusterKey], None]:
        """What the EKS provider calls after a commit that changed a cluster or its parts."""
        return queue.add

    def sync_many(self, keys: Sequence[EksClusterKey]) -> dict[EksClusterKey, float | Exception | None]:
        results: dict[EksClusterKey, float | Exception | None] = {}
        for key in keys:
            try:
                self.sync(key)
                results[key] = None
            except Exception as exc:
                results[key] = exc
        return results

    def sync(self, key: EksClusterKey) -> None:
        """Apply the cluster's due transitions; a no-op (one read) when none is due."""
        with self._db.read() as tx:
            found = self._decide(tx, key)
        if found is None or found[1].empty:
            return
        with self._db.write() as tx:
            found = self._decide(tx, key)
            if found is None or found[1].empty:
                return
            cluster, actions = found
            self._apply(tx, cluster, actions)
        status = "removed" if actions.remove_cluster else actions.cluster_status
        log.info("eks cluster reconciled", extra={"cluster": cluster.arn, "status": status})
        if actions.remove_cluster and self._on_removed is not None:
            self._on_removed(cluster)

    def _decide(self, tx: Connection, key: EksClusterKey) -> tuple[EksClusterRecord, ClusterActions] | None:
        cluster = store.find_cluster(tx, key.account_id, key.region, key.name)
        if cluster is None:
            return None
        updates = store.list_all_updates(tx, cluster.id, in_progress_only=True)
        state = ClusterState(
            status=cluster.status,
            endpoint_ready=cluster.status != "CREATING" or self._endpoint_ready(tx, cluster),
            nodegroups=[PartState(p.name, p.status) for p in store.list_parts(tx, NODEGROUPS, cluster.id)],
            fargate_profiles=[
                PartState(p.name, p.status) for p in store.list_parts(tx, FARGATE_PROFILES, cluster.id)
            ],
            updates_in_progress=[
                UpdateState(
                    u.update_id, u.nodegroup_name, u.update_type, {p["type"]: p["value"] for p in u.params}
                )
                for u in updates
            ],
        )
        return cluster, decide(state)

    def _apply(self, tx: Connection, cluster: EksClusterRecord, actions: ClusterActions) -> None:
        now = self._clock()
        for update_id in actions.completed_updates:
            store.set_update_status(tx, update_id, "Successful")
        for table, statuses, removals in (
            (NODEGROUPS, actions.nodegroup_status, actions.remove_nodegroups),
            (FARGATE_PROFILES, actions.profile_status, actions.remove_profiles),
        ):
            parts = {p.name: p for p in store.list_parts(tx, table, cluster.id)}
            for name, status in statuses.items():
                store.save_part(tx, table, parts[name].id, now=now, status=status)
            for name in removals:
                tag_store.remove_all_tags(tx, cluster.account_id, parts[name].arn)
                if table is NODEGROUPS:
                    store.delete_nodegroup_updates(tx, cluster.id, name)
                store.delete_part(tx, table, parts[name].id)
        if actions.remove_cluster:
            for entry_arn in store.access_entry_arns(tx, cluster.id):
                tag_store.remove_all_tags(tx, cluster.account_id, entry_arn)
            tag_store.remove_all_tags(tx, cluster.account_id, cluster.arn)
            store.delete_cluster(tx, cluster.id)
        elif actions.cluster_status is not None or actions.cluster_version is not None:
            store.save_cluster(
                tx, cluster.id, now=now, status=actions.cluster_status, version=actions.cluster_version
            )
