"""What the EKS operation groups share: the store, the controller's wake-up, lookups that raise EKS's
errors, tags and paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from dockyard.control.controllers.eks import EksClusterKey
from dockyard.core.context import RequestContext
from dockyard.services import paging
from dockyard.services.base import Provider
from dockyard.services.eks.errors import InvalidRequestException, ResourceNotFoundException
from dockyard.store import eks as store
from dockyard.store import tags as tag_store
from dockyard.store.database import Database
from dockyard.store.eks import EksClusterRecord

Wake = Callable[[EksClusterKey], None]
MAX_PAGE = 100


class EksBase(Provider):
    service_name = "eks"

    def __init__(self, db: Database, *, port_range: tuple[int, int], wake: Wake | None = None) -> None:
        self._db = db
        self._port_range = port_range
        self._wake_key = wake

    def _wake(self, cluster: EksClusterRecord) -> None:
        """Tell the cluster controller to look at ``cluster`` (after the commit)."""
        if self._wake_key is not None:
            self._wake_key(EksClusterKey(cluster.account_id, cluster.region, cluster.name))


def cluster_or_404(tx: Connection, ctx: RequestContext, name: str) -> EksClusterRecord:
    cluster = store.find_cluster(tx, ctx.account_id, ctx.region, name)
    if cluster is None:
        raise ResourceNotFoundException(f"No cluster found for name: {name}.")
    return cluster


def active_cluster(tx: Connection, ctx: RequestContext, name: str) -> EksClusterRecord:
    """The cluster, which must be ACTIVE to take node groups and Fargate profiles."""
    cluster = cluster_or_404(tx, ctx, name)
    if cluster.status != "ACTIVE":
        raise InvalidRequestException(f"Cluster '{name}' is not in ACTIVE status")
    return cluster


def tag_map(tx: Connection, account_id: str, arn: str) -> dict[str, str]:
    return dict(tag_store.list_tags(tx, account_id, arn))


def put_tags(tx: Connection, account_id: str, arn: str, tags: dict[str, str] | None) -> None:
    if tags:
        tag_store.put_tags(tx, account_id, arn, list(tags.items()))


def page_after(params: Any) -> tuple[str | None, int]:
    """``nextToken`` as the name a page starts after, and ``maxResults`` (default 100)."""
    size = paging.page_size(params.get("maxResults"), default=MAX_PAGE, maximum=MAX_PAGE)
    position = paging.decode_token(params.get("nextToken"), (str,))
    return (None if position is None else str(position[0])), size


def next_token(names: Sequence[str], size: int) -> str | None:
    """The token after a full page (``size + 1`` names were read to know whether more follow)."""
    return paging.encode_token([names[size - 1]]) if len(names) > size else None


def page_offset(params: Any) -> tuple[int, int]:
    """For listings kept in order without a unique sort key (updates, static lists): an offset token."""
    size = paging.page_size(params.get("maxResults"), default=MAX_PAGE, maximum=MAX_PAGE)
    position = paging.decode_token(params.get("nextToken"), (int,))
    return (0 if position is None else max(0, int(position[0]))), size


def offset_token(start: int, size: int, total: int) -> str | None:
    return paging.encode_token([start + size]) if start + size < total else None
