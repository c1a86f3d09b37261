"""TagResource, UntagResource and ListTagsForResource on clusters, node groups and Fargate profiles."""

from __future__ import annotations

from sqlalchemy import Connection

from dockyard.core.arn import parse_arn
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.eks.base import EksBase, put_tags, tag_map
from dockyard.services.eks.errors import BadRequestException, NotFoundException
from dockyard.store import eks as store
from dockyard.store import tags as tag_store
from dockyard.store.eks import FARGATE_PROFILES, NODEGROUPS

_KINDS = {"cluster", "nodegroup", "fargateprofile", "access-entry"}


class TagOperations(EksBase):
    def tag_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            arn = _existing(tx, ctx, params["resourceArn"])
            put_tags(tx, ctx.account_id, arn, params["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            arn = _existing(tx, ctx, params["resourceArn"])
            tag_store.remove_tags(tx, ctx.account_id, arn, params["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            arn = _existing(tx, ctx, params["resourceArn"])
            return {"tags": tag_map(tx, ctx.account_id, arn)}


def _existing(tx: Connection, ctx: RequestContext, arn: str) -> str:
    """The ARN of a taggable EKS resource of the caller's account in the call's region; BadRequestException
    for an ARN that names none, NotFoundException for one that does not exist (here)."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "eks" or parsed.resource_type not in _KINDS:
        raise BadRequestException(f"{arn} is not a valid resource ARN.")
    found = parsed.account_id == ctx.account_id and parsed.region == ctx.region
    if found:
        kind = parsed.resource_type
        if kind == "cluster":
            found = store.find_cluster_by_arn(tx, ctx.account_id, arn) is not None
        elif kind == "access-entry":
            found = store.find_access_entry_by_arn(tx, ctx.account_id, arn) is not None
        else:
            table = NODEGROUPS if kind == "nodegroup" else FARGATE_PROFILES
            found = store.find_part_by_arn(tx, table, ctx.account_id, arn) is not None
    if not found:
        raise NotFoundException(f"Resource {arn} not found.")
    return arn
