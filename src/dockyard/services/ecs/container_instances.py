"""ECS container instance operations: what the agent calls (register, discover its poll endpoint) and
what users call (describe, list with a cluster query, drain, deregister, attributes).

An instance belongs to one cluster of the caller's account and region; another account's ARN names
nothing. Registration needs an ACTIVE cluster; re-registration with ``containerInstanceArn`` (an agent
restart) keeps the ARN and replaces resources, version info and built-in attributes. Tasks do not exist
yet: remaining resources equal registered ones, but the store keeps the ledger tasks will debit.
:func:`instance_snapshots` turns the store's records into the scheduler's ``InstanceSnapshot``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed
from dockyard.control.launch.placing import instance_snapshot
from dockyard.control.scheduler import InstanceSnapshot, parse_query
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecs import container_instance_rules as rules
from dockyard.services.ecs.errors import (
    InvalidParameterException,
    TargetNotFoundException,
)
from dockyard.services.ecs.lookups import cluster_ref, visible_cluster
from dockyard.services.paging import decode_token, encode_token, page_size
from dockyard.store import clusters as cluster_store
from dockyard.store import container_instances as store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.container_instances import ACTIVE, DRAINING, INACTIVE, ContainerInstanceRecord
from dockyard.store.database import Database

PAGE_MAX = 100
DESCRIBE_MAX = 100
UPDATE_STATE_MAX = 10
NOT_FOUND = "The referenced container instance was not found."


class ContainerInstanceOperations:
    """Mixed into the ECS provider; needs ``_db`` and ``_endpoint_url`` (the server's own base URL,
    where agents open their push channel)."""

    _db: Database
    _endpoint_url: str
    _changes: ChangeFeed

    def register_container_instance(self, ctx: RequestContext, params: Params) -> Result:
        resources = rules.parse_total_resources(params.get("totalResources") or [])
        sent = rules.attribute_pairs(params.get("attributes") or [])
        tags = [(t["key"], t.get("value", "")) for t in params.get("tags") or []]
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=True)
            existing = _reregistered(ctx, tx, cluster, params.get("containerInstanceArn"))
            if existing is None:
                record = _new_instance(ctx, cluster, resources, params, sent)
                store.insert_instance(tx, record)
            else:
                record = store.save_instance(tx, _reregistration(ctx, existing, resources, params, sent))
            if tags:
                tag_store.put_tags(tx, ctx.account_id, record.arn, tags)
            stored_tags = tag_store.list_tags(tx, ctx.account_id, record.arn)
        self._changes.instances_changed(cluster_ref(cluster))
        return {"containerInstance": container_instance_view(record, stored_tags)}

    def describe_container_instances(self, ctx: RequestContext, params: Params) -> Result:
        references: Sequence[str] = params["containerInstances"]
        if not 1 <= len(references) <= DESCRIBE_MAX:
            raise InvalidParameterException(f"containerInstances must have 1 to {DESCRIBE_MAX} elements.")
        include = frozenset(params.get("include") or [])
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            ids = {ref: _instance_id(ctx, cluster, ref) for ref in references}
            found = store.find_instances(
                tx, ctx.account_id, ctx.region, cluster.name, filter(None, ids.values())
            )
            arns = [r.arn for r in found.values()] if "TAGS" in include else []
            tags = tag_store.list_tags_of_many(tx, ctx.account_id, arns)
            counts = task_store.count_by_instance(tx, ctx.account_id, [r.arn for r in found.values()])
        instances: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for reference, instance_id in ids.items():
            record = found.get(instance_id) if instance_id else None
            if record is None:
                failures.append({"arn": _missing_arn(ctx, cluster, reference), "reason": "MISSING"})
                continue
            view = container_instance_view(
                record, tags.get(record.arn, []) if "TAGS" in include else None, counts.get(record.arn)
            )
            if "CONTAINER_INSTANCE_HEALTH" in include:
                view["healthStatus"] = {"overallStatus": "INSUFFICIENT_DATA", "details": []}
            instances.append(view)
        return {"containerInstances": instances, "failures": failures}

    def list_container_instances(self, ctx: RequestContext, params: Params) -> Result:
        limit = _page_size(params)
        query = parse_query(params["filter"]) if params.get("filter") else None
        after = decode_token(params.get("nextToken"), (str,))
        statuses = [params["status"]] if params.get("status") else [ACTIVE, DRAINING]
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            records = store.list_instances(tx, ctx.account_id, ctx.region, cluster.name, statuses=statuses)
        arns = [
            r.arn
            for r in records
            if (after is None or r.arn > after[0]) and (query is None or query.matches(instance_snapshot(r)))
        ]
        result: Result = {"containerInstanceArns": arns[:limit]}
        if len(arns) > limit:
            result["nextToken"] = encode_token((arns[limit - 1],))
        return result

    def deregister_container_instance(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            record = _find(ctx, tx, cluster, params["containerInstance"])
            if record is None:
                raise InvalidParameterException(NOT_FOUND)
            if record.status != INACTIVE:
                # Without tasks there is nothing for ``force`` to override yet.
                record = store.save_instance(
                    tx, replace(record, status=INACTIVE, agent_connected=False, updated_at=ctx.now)
                )
            stored_tags = tag_store.list_tags(tx, ctx.account_id, record.arn)
        self._changes.instances_changed(cluster_ref(cluster))
        return {"containerInstance": container_instance_view(record, stored_tags)}

    def update_container_instances_state(self, ctx: RequestContext, params: Params) -> Result:
        status = params["status"]
        if status not in (ACTIVE, DRAINING):
            raise InvalidParameterException("Container instances status must be ACTIVE or DRAINING.")
        references: Sequence[str] = params["containerInstances"]
        if not 1 <= len(references) <= UPDATE_STATE_MAX:
            raise InvalidParameterException(f"containerInstances must have 1 to {UPDATE_STATE_MAX} elements.")
        instances: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            for reference in references:
                record = _find(ctx, tx, cluster, reference)
                if record is None or record.status == INACTIVE:
                    reason = "MISSING" if record is None else "INACTIVE"
                    failures.append({"arn": _missing_arn(ctx, cluster, reference), "reason": reason})
                    continue
                if record.status != status:
                    record = store.save_instance(tx, replace(record, status=status, updated_at=ctx.now))
                instances.append(container_instance_view(record, None))
        self._changes.instances_changed(cluster_ref(cluster))
        return {"containerInstances": instances, "failures": failures}

    def put_attributes(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_attributes(ctx, params, delete=False)

    def delete_attributes(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_attributes(ctx, params, delete=True)

    def list_attributes(self, ctx: RequestContext, params: Params) -> Result:
        limit = _page_size(params)
        name, value = params.get("attributeName"), params.get("attributeValue")
        if value is not None and name is None:
            raise InvalidParameterException("attributeValue requires attributeName.")
        after = decode_token(params.get("nextToken"), (str, str))
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            listed = store.list_attributes(
                tx,
                ctx.account_id,
                ctx.region,
                cluster.name,
                name=name,
                value=value,
                after=None if after is None else (after[0], after[1]),
                limit=limit + 1,
            )
        page = listed[:limit]
        result: Result = {"attributes": [rules.attribute_view(a.name, a.value, a.target_arn) for a in page]}
        if len(listed) > limit:
            result["nextToken"] = encode_token((page[-1].target_arn, page[-1].name))
        return result

    def discover_poll_endpoint(self, ctx: RequestContext, params: Params) -> Result:
        endpoint = self._endpoint_url.rstrip("/") + "/"
        return {"endpoint": endpoint, "telemetryEndpoint": endpoint, "serviceConnectEndpoint": endpoint}

    # --- helpers used by the provider ----------------------------------------------------------------------

    def _existing_container_instance_arn(self, ctx: RequestContext, tx: Connection, resource_arn: str) -> str:
        """The ARN of the container instance ``resource_arn`` names, for tagging."""
        parts = resource_arn.split(":", 5)[-1].split("/")
        name = parts[1] if len(parts) == 3 else None
        found = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
        record = _find(ctx, tx, found, resource_arn) if found is not None else None
        if record is None:
            raise InvalidParameterException(NOT_FOUND)
        return record.arn

    def _change_attributes(self, ctx: RequestContext, params: Params, *, delete: bool) -> Result:
        attributes: Sequence[Mapping[str, Any]] = params["attributes"]
        if not 1 <= len(attributes) <= rules.MAX_ATTRIBUTES_PER_CALL:
            raise InvalidParameterException(
                f"attributes must have 1 to {rules.MAX_ATTRIBUTES_PER_CALL} elements."
            )
        by_target: dict[str, dict[str, str | None]] = {}
        for attribute in attributes:
            if attribute.get("targetType", rules.TARGET_TYPE) != rules.TARGET_TYPE:
                raise InvalidParameterException("targetType must be container-instance.")
            if not attribute.get("targetId"):
                raise InvalidParameterException("targetId is required for container instance attributes.")
            pairs = {attribute["name"]: None} if delete else rules.attribute_pairs([attribute])
            by_target.setdefault(attribute["targetId"], {}).update(pairs)
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            for target, pairs in by_target.items():
                record = _find(ctx, tx, cluster, target)
                if record is None or record.status == INACTIVE:
                    raise TargetNotFoundException(f"Could not find {target}.")
                if delete:
                    changed = {k: v for k, v in record.attributes.items() if k not in pairs}
                else:
                    changed = rules.check_custom_limit({**record.attributes, **pairs})
                if changed != dict(record.attributes):
                    store.save_instance(tx, replace(record, attributes=changed, updated_at=ctx.now))
        self._changes.instances_changed(cluster_ref(cluster))
        return {"attributes": [{**a, "targetType": rules.TARGET_TYPE} for a in attributes]}


def container_instance_view(
    record: ContainerInstanceRecord,
    tags: Sequence[tuple[str, str]] | None,
    tasks: task_store.TaskCounts | None = None,
) -> dict[str, Any]:
    """The ContainerInstance structure ECS returns; ``tags`` only when asked for (not ``None``);
    ``tasks`` counts the instance's running and pending tasks (none when not given)."""
    tasks = tasks or task_store.TaskCounts()
    view: dict[str, Any] = {
        "containerInstanceArn": record.arn,
        "ec2InstanceId": record.ec2_instance_id,
        "version": record.version,
        "versionInfo": record.version_info,
        "remainingResources": rules.resources_view(_remaining(record)),
        "registeredResources": rules.resources_view(_registered(record)),
        "status": record.status,
        "agentConnected": record.agent_connected,
        "runningTasksCount": tasks.running,
        "pendingTasksCount": tasks.pending,
        "attributes": rules.attribute_list(record.attributes),
        "registeredAt": record.registered_at,
        "attachments": [],
    }
    if tags is not None:
        view["tags"] = [{"key": key, "value": value} for key, value in tags]
    return view


def instance_snapshots(
    conn: Connection, account_id: str, region: str, cluster_name: str
) -> list[InstanceSnapshot]:
    """The cluster's ACTIVE and DRAINING instances as the scheduler sees them, in ARN order."""
    records = store.list_instances(conn, account_id, region, cluster_name, statuses=store.REGISTERED)
    return [instance_snapshot(record) for record in records]


def _instance_id(ctx: RequestContext, cluster: ClusterRecord, reference: str) -> str | None:
    return rules.instance_id_from_reference(
        reference, region=ctx.region, account_id=ctx.account_id, cluster=cluster.name
    )


def _find(
    ctx: RequestContext, tx: Connection, cluster: ClusterRecord, reference: str
) -> ContainerInstanceRecord | None:
    instance_id = _instance_id(ctx, cluster, reference)
    if instance_id is None:
        return None
    return store.find_instance(tx, ctx.account_id, ctx.region, cluster.name, instance_id)


def _reregistered(
    ctx: RequestContext, tx: Connection, cluster: ClusterRecord, arn: str | None
) -> ContainerInstanceRecord | None:
    if not arn:
        return None
    record = _find(ctx, tx, cluster, arn)
    if record is None:
        raise InvalidParameterException(f"{NOT_FOUND} {arn}")
    if record.status == INACTIVE:
        raise InvalidParameterException(f"The referenced container instance is inactive: {arn}")
    return record


def _new_instance(
    ctx: RequestContext,
    cluster: ClusterRecord,
    resources: rules.Resources,
    params: Params,
    sent: Mapping[str, str | None],
) -> ContainerInstanceRecord:
    instance_id = uuid.uuid4().hex
    return ContainerInstanceRecord(
        account_id=ctx.account_id,
        region=ctx.region,
        cluster_name=cluster.name,
        instance_id=instance_id,
        arn=rules.container_instance_arn(ctx.region, ctx.account_id, cluster.name, instance_id),
        status=ACTIVE,
        ec2_instance_id=rules.ec2_instance_id(params.get("instanceIdentityDocument"), instance_id),
        registered_cpu=resources.cpu,
        registered_memory=resources.memory,
        remaining_cpu=resources.cpu,
        remaining_memory=resources.memory,
        registered_ports_tcp=resources.ports_tcp,
        registered_ports_udp=resources.ports_udp,
        remaining_ports_tcp=resources.ports_tcp,
        remaining_ports_udp=resources.ports_udp,
        version_info=dict(params.get("versionInfo") or {}),
        registered_at=ctx.now,
        updated_at=ctx.now,
        attributes=rules.registration_attributes({}, sent),
    )


def _reregistration(
    ctx: RequestContext,
    existing: ContainerInstanceRecord,
    resources: rules.Resources,
    params: Params,
    sent: Mapping[str, str | None],
) -> ContainerInstanceRecord:
    """``existing`` with the agent's new resources, keeping what tasks use of them."""
    remaining = rules.rebase_remaining(_registered(existing), _remaining(existing), resources)
    return replace(
        existing,
        status=ACTIVE,
        registered_cpu=resources.cpu,
        registered_memory=resources.memory,
        remaining_cpu=remaining.cpu,
        remaining_memory=remaining.memory,
        registered_ports_tcp=resources.ports_tcp,
        registered_ports_udp=resources.ports_udp,
        remaining_ports_tcp=remaining.ports_tcp,
        remaining_ports_udp=remaining.ports_udp,
        version_info=dict(params.get("versionInfo") or existing.version_info),
        updated_at=ctx.now,
        attributes=rules.registration_attributes(existing.attributes, sent),
    )


def _registered(record: ContainerInstanceRecord) -> rules.Resources:
    return rules.Resources(
        record.registered_cpu,
        record.registered_memory,
        record.registered_ports_tcp,
        record.registered_ports_udp,
    )


def _remaining(record: ContainerInstanceRecord) -> rules.Resources:
    return rules.Resources(
        record.remaining_cpu, record.remaining_memory, record.remaining_ports_tcp, record.remaining_ports_udp
    )


def _missing_arn(ctx: RequestContext, cluster: ClusterRecord, reference: str) -> str:
    if reference.startswith("arn:"):
        return reference
    return rules.container_instance_arn(ctx.region, ctx.account_id, cluster.name, reference)


def _page_size(params: Params) -> int:
    return page_size(params.get("maxResults"), default=PAGE_MAX, maximum=PAGE_MAX)
