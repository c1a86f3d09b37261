"""Log groups: create, describe, delete, retention policies and tags.

Tags live in the shared tag store under the group's bare ARN; the legacy operations (TagLogGroup,
UntagLogGroup, ListTagsLogGroup) and the ARN-based ones (TagResource, UntagResource, ListTagsForResource)
are the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from dockyard.control.logs.batch import check_retention
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.logs.errors import (
    GROUP_EXISTS,
    GROUP_NOT_FOUND,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    TooManyTagsException,
)
from dockyard.services.logs.naming import epoch_ms, group_arn, group_name_in_arn, group_name_of
from dockyard.services.paging import decode_token, encode_token
from dockyard.store import logs as store
from dockyard.store import tags as tag_store
from dockyard.store.database import Database
from dockyard.store.logs import STANDARD, LogGroupRecord

MAX_TAGS = 50
DESCRIBE_LIMIT = 50
RESERVED_PREFIX = "aws/"
# Classes DescribeLogGroups' logGroupClass filter matches: the two cheaper classes are asked for together.
_CLASS_FILTERS = {
    "INFREQUENT_ACCESS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
    "ESSENTIALS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
}


def require_group(tx: Connection, ctx: RequestContext, name: str | None) -> LogGroupRecord:
    """The caller's group ``name`` in the request's region; ResourceNotFoundException otherwise."""
    group = None if name is None else store.find_group(tx, ctx.account_id, ctx.region, name)
    if group is None:
        raise ResourceNotFoundException(GROUP_NOT_FOUND)
    return group


class GroupOperations:
    """Mixed into the Logs provider; needs ``_db``."""

    _db: Database

    def create_log_group(self, ctx: RequestContext, params: Params) -> Result:
        name = str(params["logGroupName"])
        if name.startswith(RESERVED_PREFIX):
            raise InvalidParameterException("Log group names can't start with the string aws/.")
        if params.get("deletionProtectionEnabled"):
            raise InvalidParameterException("dockyard does not support deletion protection for log groups.")
        tags = dict(params.get("tags") or {})
        with self._db.write() as tx:
            group = store.create_group(
                tx,
                account_id=ctx.account_id,
                region=ctx.region,
                name=name,
                created_ms=epoch_ms(ctx),
                kms_key_id=params.get("kmsKeyId"),
                log_group_class=params.get("logGroupClass") or STANDARD,
            )
            if group is None:
                raise ResourceAlreadyExistsException(GROUP_EXISTS)
            if tags:
                tag_store.put_tags(tx, ctx.account_id, _tag_arn(group), list(tags.items()))
        return {}

    def delete_log_group(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            group = require_group(tx, ctx, params["logGroupName"])
            store.delete_group(tx, group.id)
            tag_store.remove_all_tags(tx, ctx.account_id, _tag_arn(group))
        return {}

    def describe_log_groups(self, ctx: RequestContext, params: Params) -> Result:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix is not None and pattern is not None:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        if identifiers is not None and (prefix is not None or pattern is not None):
            raise InvalidParameterException(
                "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
            )
        names = None
        if identifiers is not None:
            names = [n for n in (group_name_of(ctx, str(i)) for i in identifiers) if n is not None]
        limit = int(params.get("limit") or DESCRIBE_LIMIT)
        after = decode_token(params.get("nextToken"), (str,), message="The specified nextToken is invalid.")
        group_class = params.get("logGroupClass")
        with self._db.read() as tx:
            groups = store.list_groups(
                tx,
                ctx.account_id,
                ctx.region,
                prefix=prefix,
                contains=pattern or None,
                names=names,
                classes=_CLASS_FILTERS.get(group_class, (group_class,)) if group_class else None,
                after=after[0] if after else None,
                limit=limit + 1,
            )
        result: Result = {"logGroups": [_group_view(g, brief=pattern is not None) for g in groups[:limit]]}
        if len(groups) > limit:
            result["nextToken"] = encode_token([groups[limit - 1].name])
        return result

    def put_retention_policy(self, ctx: RequestContext, params: Params) -> Result:
        days = check_retention(int(params["retentionInDays"]))
        with self._db.write() as tx:
            store.set_retention(tx, require_group(tx, ctx, params["logGroupName"]).id, days)
        return {}

    def delete_retention_policy(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            store.set_retention(tx, require_group(tx, ctx, params["logGroupName"]).id, None)
        return {}

    # --- tags: by group name (legacy) and by ARN ---------------------------------------------------------

    def tag_log_group(self, ctx: RequestContext, params: Params) -> Result:
        self._tag(ctx, params["logGroupName"], params["tags"], legacy=True)
        return {}

    def untag_log_group(self, ctx: RequestContext, params: Params) -> Result:
        self._untag(ctx, params["logGroupName"], params["tags"])
        return {}

    def list_tags_log_group(self, ctx: RequestContext, params: Params) -> Result:
        return {"tags": self._tags(ctx, params["logGroupName"])}

    def tag_resource(self, ctx: RequestContext, params: Params) -> Result:
        self._tag(ctx, _tagged_group(ctx, params["resourceArn"]), params["tags"], legacy=False)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Result:
        self._untag(ctx, _tagged_group(ctx, params["resourceArn"]), params["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Result:
        return {"tags": self._tags(ctx, _tagged_group(ctx, params["resourceArn"]))}

    def _tag(self, ctx: RequestContext, name: str | None, tags: Mapping[str, str], *, legacy: bool) -> None:
        with self._db.write() as tx:
            group = require_group(tx, ctx, name)
            arn = _tag_arn(group)
            keys = {key for key, _ in tag_store.list_tags(tx, ctx.account_id, arn)} | set(tags)
            if len(keys) > MAX_TAGS:
                message = "A resource can have no more than 50 tags."
                if legacy:
                    raise InvalidParameterException(message)
                raise TooManyTagsException(message)
            tag_store.put_tags(tx, ctx.account_id, arn, list(tags.items()))

    def _untag(self, ctx: RequestContext, name: str | None, keys: list[str]) -> None:
        with self._db.write() as tx:
            tag_store.remove_tags(tx, ctx.account_id, _tag_arn(require_group(tx, ctx, name)), keys)

    def _tags(self, ctx: RequestContext, name: str | None) -> dict[str, str]:
        with self._db.read() as tx:
            return dict(tag_store.list_tags(tx, ctx.account_id, _tag_arn(require_group(tx, ctx, name))))


def _tagged_group(ctx: RequestContext, resource_arn: str) -> str | None:
    """The group a tagging call's ARN names (None: nothing the caller has; destinations are not served)."""
    return group_name_in_arn(ctx, resource_arn)


def _tag_arn(group: LogGroupRecord) -> str:
    return group_arn(group.region, group.account_id, group.name)


def _group_view(group: LogGroupRecord, *, brief: bool) -> dict[str, Any]:
    """A DescribeLogGroups entry; ``brief`` (asked for by name pattern) holds only the name, ARN and
    creation time, as AWS answers then."""
    arn = _tag_arn(group)
    view: dict[str, Any] = {"logGroupName": group.name, "creationTime": group.created_ms, "arn": f"{arn}:*"}
    if brief:
        return view
    view.update(
        retentionInDays=group.retention_days,
        metricFilterCount=0,
        storedBytes=group.stored_bytes,
        kmsKeyId=group.kms_key_id,
        logGroupClass=group.log_group_class,
        logGroupArn=arn,
        deletionProtectionEnabled=False,
    )
    return view
