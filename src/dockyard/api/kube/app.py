"""A cluster's Kubernetes API as an ASGI app: the app each cluster's HTTPS listener serves.

``KubeApi.app_for(cluster)`` builds the app of one EKS cluster (its store id and name fixed in it); the
server layer runs it on the cluster's own port with the cluster's serving certificate. The handlers are
in :mod:`dockyard.api.kube.handlers`; this module only routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.api.kube.handlers import KubeHandlers
from dockyard.api.principals import KeyResolver
from dockyard.core.clock import Clock
from dockyard.services.kube.access import KubeAccess
from dockyard.services.kube.objects import KubeObjects
from dockyard.store.database import Database
from dockyard.store.eks import EksClusterRecord


@dataclass(frozen=True, slots=True)
class KubeCluster:
    """What the handlers know of the cluster they serve."""

    id: int
    name: str
    account_id: str
    region: str
    endpoint: str


class KubeApi:
    def __init__(self, db: Database, objects: KubeObjects, keys: KeyResolver, *, clock: Clock) -> None:
        self._db = db
        self.objects = objects
        self._keys = keys
        self._clock = clock
        self._access = KubeAccess(db)

    def app_for(self, record: EksClusterRecord) -> ASGIApp:
        """The app of one cluster; bootstraps its objects store first (idempotent; does store I/O)."""
        self.objects.bootstrap(record.id)
        cluster = KubeCluster(
            record.id,
            record.name,
            record.account_id,
            record.region,
            f"https://127.0.0.1:{record.endpoint_port}",
        )
        handlers = KubeHandlers(
            cluster, self.objects, self._access, self._keys, clock=self._clock, db=self._db
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                return
            await handlers(scope, receive, send)

        return app
