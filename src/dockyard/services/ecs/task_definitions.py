"""ECS task definition operations: register, describe, list, list families, deregister, delete.

A task definition is identified by family and revision within the caller's account and region; another
account's ARN is treated as a name that does not exist. Revisions count up per family and are never
reused. Deregistering makes a revision INACTIVE; DeleteTaskDefinitions moves INACTIVE revisions to
DELETE_IN_PROGRESS, and :func:`purge_deleted_task_definitions` (for the server's maintenance loop)
removes them for good. Validation rules and ECS's defaults live in ``task_definition_rules``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecs import task_definition_rules as rules
from dockyard.services.ecs.errors import ClientException, InvalidParameterException
from dockyard.services.paging import decode_token, encode_token, page_size
from dockyard.store import tags as tag_store
from dockyard.store import task_definitions as store
from dockyard.store.database import Database
from dockyard.store.task_definitions import ACTIVE, DELETE_IN_PROGRESS, INACTIVE, TaskDefinitionRecord

LIST_PAGE_MAX = 100
DELETE_MAX = 10
NOT_FOUND = "Unable to describe task definition."
DELETE_INVALID = (
    "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."
)
DELETE_MISSING = (
    "The specified task definition does not exist. Specify a valid account, family, revision and try again."
)
DELETE_ACTIVE = (
    "The specified task definition is still in ACTIVE status. Please deregister the target and try again."
)


class TaskDefinitionOperations:
    """Mixed into the ECS provider; needs ``_db``.

    ``_allow_privileged`` is the server's policy for ``privileged: true`` containers: refused (the
    default) unless the provider is built with ``allow_privileged=True``.
    """

    _db: Database
    _allow_privileged: bool = False

    def register_task_definition(self, ctx: RequestContext, params: Params) -> Result:
        checked = rules.build_task_definition(params, allow_privileged=self._allow_privileged)
        with self._db.write() as tx:
            revision = store.next_revision(tx, ctx.account_id, ctx.region, checked.family)
            record = TaskDefinitionRecord(
                account_id=ctx.account_id,
                region=ctx.region,
                family=checked.family,
                revision=revision,
                arn=rules.task_definition_arn(ctx.region, ctx.account_id, checked.family, revision),
                status=ACTIVE,
                body=checked.body,
                registered_at=ctx.now,
                registered_by=ctx.principal.arn,
            )
            store.insert_task_definition(tx, record)
            if checked.tags:
                tag_store.put_tags(tx, ctx.account_id, record.arn, checked.tags)
        result: Result = {"taskDefinition": task_definition_view(record)}
        if checked.tags:
            result["tags"] = _tag_list(checked.tags)
        return result

    def describe_task_definition(self, ctx: RequestContext, params: Params) -> Result:
        """By family (its latest ACTIVE revision), ``family:revision`` or ARN (any status)."""
        with self._db.read() as tx:
            record = self._resolve(ctx, tx, params["taskDefinition"])
            if record is None:
                raise ClientException(NOT_FOUND)
            result: Result = {"taskDefinition": task_definition_view(record)}
            if "TAGS" in params.get("include", []):
                result["tags"] = _tag_list(tag_store.list_tags(tx, ctx.account_id, record.arn))
        return result

    def list_task_definitions(self, ctx: RequestContext, params: Params) -> Result:
        """ARNs in ``status`` (default ACTIVE), by family then revision; ``familyPrefix`` names one family."""
        limit = _page_size(params)
        after = decode_token(params.get("nextToken"), (str, int))
        with self._db.read() as tx:
            listed = store.list_task_definitions(
                tx,
                ctx.account_id,
                ctx.region,
                status=params.get("status", ACTIVE),
                family=params.get("familyPrefix") or None,
                descending=params.get("sort") == "DESC",
                after=None if after is None else (after[0], after[1]),
                limit=limit + 1,
            )
        page = listed[:limit]
        result: Result = {"taskDefinitionArns": [item.arn for item in page]}
        if len(listed) > limit:
            result["nextToken"] = encode_token((page[-1].family, page[-1].revision))
        return result

    def list_task_definition_families(self, ctx: RequestContext, params: Params) -> Result:
        """Family names starting with ``familyPrefix``, filtered by ``status`` (default ALL)."""
        limit = _page_size(params)
        after = decode_token(params.get("nextToken"), (str,))
        with self._db.read() as tx:
            names = store.list_families(
                tx,
                ctx.account_id,
                ctx.region,
                status=params.get("status", store.ALL),
                prefix=params.get("familyPrefix"),
                after=None if after is None else after[0],
                limit=limit + 1,
            )
        result: Result = {"families": names[:limit]}
        if len(names) > limit:
            result["nextToken"] = encode_token((names[limit - 1],))
        return result

    def deregister_task_definition(self, ctx: RequestContext, params: Params) -> Result:
        """``family:revision`` or ARN → INACTIVE (again if already INACTIVE); a bare family is refused."""
        reference = params["taskDefinition"]
        with self._db.write() as tx:
            ref = rules.parse_reference(reference, region=ctx.region, account_id=ctx.account_id)
            if ref is not None and ref.revision is None:
                raise ClientException("Revision is missing.")
            record = self._find(ctx, tx, ref)
            if record is None:
                raise ClientException(NOT_FOUND)
            if record.status == DELETE_IN_PROGRESS:
                raise ClientException("The specified task definition is in the process of being deleted.")
            record = store.save_task_definition(tx, store.with_status(record, INACTIVE, ctx.now))
        return {"taskDefinition": task_definition_view(record)}

    def delete_task_definitions(self, ctx: RequestContext, params: Params) -> Result:
        """INACTIVE revisions → DELETE_IN_PROGRESS; anything else is reported in ``failures`` with ECS's
        reason, and the others are still deleted."""
        references: Sequence[str] = params["taskDefinitions"]
        if len(references) > DELETE_MAX:
            raise InvalidParameterException(f"taskDefinitions can have at most {DELETE_MAX} items.")
        deleted: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        with self._db.write() as tx:
            for reference in references:
                record, reason = self._deletable(ctx, tx, reference)
                if record is None:
                    failures.append({"arn": reference, "reason": reason})
                    continue
                record = store.save_task_definition(
                    tx, store.with_status(record, DELETE_IN_PROGRESS, ctx.now)
                )
                deleted.append(task_definition_view(record))
        return {"taskDefinitions": deleted, "failures": failures}

    # --- helpers used by the provider ----------------------------------------------------------------------

    def _existing_task_definition_arn(self, ctx: RequestContext, tx: Connection, resource_arn: str) -> str:
        """The ARN of the task definition revision ``resource_arn`` names, for tagging; ECS's error if the
        caller has no such revision."""
        ref = rules.parse_reference(resource_arn, region=ctx.region, account_id=ctx.account_id)
        record = self._find(ctx, tx, ref) if ref is not None and ref.revision is not None else None
        if record is None:
            raise ClientException(NOT_FOUND)
        return record.arn

    def _resolve(self, ctx: RequestContext, tx: Connection, reference: str) -> TaskDefinitionRecord | None:
        ref = rules.parse_reference(reference, region=ctx.region, account_id=ctx.account_id)
        if ref is not None and ref.revision is None:
            return store.find_latest_active(tx, ctx.account_id, ctx.region, ref.family)
        return self._find(ctx, tx, ref)

    def _find(
        self, ctx: RequestContext, tx: Connection, ref: rules.TaskDefinitionRef | None
    ) -> TaskDefinitionRecord | None:
        if ref is None or ref.revision is None:
            return None
        return store.find_task_definition(tx, ctx.account_id, ctx.region, ref.family, ref.revision)

    def _deletable(
        self, ctx: RequestContext, tx: Connection, reference: str
    ) -> tuple[TaskDefinitionRecord | None, str]:
        try:
            ref = rules.parse_reference(reference, region=ctx.region, account_id=ctx.account_id)
        except InvalidParameterException:
            return None, DELETE_INVALID
        if ref is not None and ref.revision is None:
            return None, DELETE_INVALID
        record = self._find(ctx, tx, ref)
        if record is None:
            return None, DELETE_MISSING
        if record.status == ACTIVE:
            return None, DELETE_ACTIVE
        return record, ""


def task_definition_view(record: TaskDefinitionRecord) -> dict[str, Any]:
    """The TaskDefinition structure ECS returns for ``record``."""
    view: dict[str, Any] = {
        "taskDefinitionArn": record.arn,
        "family": record.family,
        "revision": record.revision,
        "status": record.status,
        **record.body,
        "registeredAt": record.registered_at,
        "registeredBy": record.registered_by,
    }
    if record.deregistered_at is not None:
        view["deregisteredAt"] = record.deregistered_at
    if record.delete_requested_at is not None:
        view["deleteRequestedAt"] = record.delete_requested_at
    return view


def purge_deleted_task_definitions(db: Database, *, requested_before: datetime) -> int:
    """Remove task definitions whose deletion was requested before ``requested_before``, with their tags;
    returns how many. A revision a task still uses (not STOPPED) waits for a later run."""
    with db.write() as tx:
        purged = store.purge_deleted(tx, requested_before=requested_before)
        for account_id, arn in purged:
            tag_store.remove_all_tags(tx, account_id, arn)
    return len(purged)


def _page_size(params: Params) -> int:
    return page_size(params.get("maxResults"), default=LIST_PAGE_MAX, maximum=LIST_PAGE_MAX)


def _tag_list(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags]
