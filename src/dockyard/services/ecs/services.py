"""ECS service operations: CreateService, UpdateService, DeleteService, DescribeServices, ListServices.

The API only records what is wanted: the service row with its configuration and deployments (a new
PRIMARY deployment when the task definition changes or a new deployment is forced). The service
controller (:mod:`dockyard.control.controllers.services`) does the rest: it starts and stops tasks,
counts them into the deployments, completes or fails rollouts, writes events and finishes deletions
(DRAINING → INACTIVE). Every change is published on the change feed after commit, which wakes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed, ClusterChange, ClusterRef
from dockyard.control.controllers.decide import deployments as docs
from dockyard.control.launch import capacity, interfaces
from dockyard.control.launch import placing as launch
from dockyard.control.launch.shape import task_shape
from dockyard.core.arn import parse_arn
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecs import service_rules as rules
from dockyard.services.ecs import task_rules
from dockyard.services.ecs.errors import (
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from dockyard.services.ecs.lookups import active_definition, visible_cluster
from dockyard.services.ecs.naming import DEFAULT_CLUSTER
from dockyard.services.ecs.tag_rules import tag_pairs
from dockyard.services.paging import decode_token, encode_token, page_size
from dockyard.store import services as store
from dockyard.store import tags as tag_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.database import Database
from dockyard.store.services import ServiceRecord
from dockyard.store.task_definitions import TaskDefinitionRecord

DESCRIBE_MAX = 10
LIST_DEFAULT = 10
LIST_MAX = 100


FARGATE = "FARGATE"


def _launch_target(
    ctx: RequestContext,
    tx: Connection,
    cluster: ClusterRecord,
    definition: TaskDefinitionRecord,
    params: Params,
    scheduling: str,
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The service's launchType column and the capacity provider strategy it was given (or took from the
    cluster): EC2 and None for container instances; FARGATE for ``launchType FARGATE``; None and the
    strategy for a strategy. A Fargate service's network is checked now, as ECS does."""
    strategy = capacity.launch_strategy(
        params.get("launchType"),
        params.get("capacityProviderStrategy"),
        cluster_providers=cluster.capacity_providers,
        cluster_default=cluster.default_capacity_provider_strategy,
    )
    if strategy is None:
        rules.launch_type(params)
        return rules.EC2, None
    if scheduling == docs.DAEMON:
        raise InvalidParameterException("The DAEMON scheduling strategy is not supported on Fargate.")
    task_rules.check_fargate_launch(definition.body, params)
    interfaces.resolve_network(tx, ctx.account_id, ctx.region, params.get("networkConfiguration"), ctx.now)
    if params.get("launchType") == FARGATE:
        return FARGATE, None
    return None, strategy


class ServiceOperations:
    """Mixed into the ECS provider; needs ``_db`` and ``_changes``."""

    _db: Database
    _changes: ChangeFeed

    def create_service(self, ctx: RequestContext, params: Params) -> Result:
        name = rules.validate_service_name(params["serviceName"])
        strategy = rules.scheduling_strategy(params)
        desired = rules.desired_count(params, strategy)
        config = rules.stored_config(params, strategy)
        tags = tag_pairs(params.get("tags") or [])
        if not params.get("taskDefinition"):
            raise InvalidParameterException("A task definition is required to create a service.")
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=True)
            definition = active_definition(ctx, tx, params["taskDefinition"])
            launch_type, providers = _launch_target(ctx, tx, cluster, definition, params, strategy)
            if providers is not None:
                config["capacityProviderStrategy"] = providers
            if launch_type == FARGATE:
                config.setdefault("platformVersion", "LATEST")
            _check_placement(definition, config)
            existing = store.find_service(tx, ctx.account_id, ctx.region, cluster.name, name, lock=True)
            if existing is not None and existing.status != store.INACTIVE:
                raise InvalidParameterException(rules.NOT_IDEMPOTENT)
            deployment = docs.new_deployment(
                docs.random_deployment_id(), definition.arn, desired, launch_type, ctx.now
            )
            record = ServiceRecord(
                account_id=ctx.account_id,
                region=ctx.region,
                cluster_name=cluster.name,
                name=name,
                arn=rules.service_arn(ctx.region, ctx.account_id, cluster.name, name),
                cluster_arn=cluster.arn,
                status=store.ACTIVE,
                launch_type=launch_type,
                scheduling_strategy=strategy,
                desired_count=desired,
                task_definition_arn=definition.arn,
                config=config,
                deployments=[deployment],
                created_by=ctx.principal.arn,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
            if existing is None:
                store.insert_service(tx, record)
            else:
                tag_store.remove_all_tags(tx, ctx.account_id, record.arn)
                store.replace_service(tx, replace(record, version=existing.version + 1))
            if tags:
                tag_store.put_tags(tx, ctx.account_id, record.arn, tags)
        self._service_changed(record)
        return {"service": rules.service_view(record, tags or None)}

    def update_service(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            record = _service(ctx, tx, cluster, params["service"], lock=True)
            if record.status != store.ACTIVE:
                raise ServiceNotActiveException("Service was not ACTIVE.")
            strategy = record.scheduling_strategy
            if params.get("launchType"):
                raise InvalidParameterException("The launch type of a service cannot be updated.")
            desired = record.desired_count
            if params.get("desiredCount") is not None:
                if strategy == docs.DAEMON:
                    raise InvalidParameterException(
                        "The daemon scheduling strategy does not support a desired count for services."
                    )
                desired = rules.checked_desired_count(params["desiredCount"])
            config = rules.updated_config(record.config, params, strategy)
            definition = (
                active_definition(ctx, tx, params["taskDefinition"]) if params.get("taskDefinition") else None
            )
            definition_arn = definition.arn if definition is not None else record.task_definition_arn
            placement_changed = any(
                config.get(k) != record.config.get(k) for k in ("placementConstraints", "placementStrategy")
            )
            if definition is not None or placement_changed:
                _check_placement(definition or active_definition(ctx, tx, record.task_definition_arn), config)
            deployments = [dict(d) for d in record.deployments]
            state = dict(record.scheduler_state)
            redeploy = (
                definition_arn != record.task_definition_arn
                or bool(params.get("forceNewDeployment"))
                or placement_changed
            )
            if redeploy:
                deployments = _with_new_primary(deployments, definition_arn, desired, record, ctx)
                state.pop("throttle", None)  # a new deployment resets the launch-failure throttle
            elif deployments:
                deployments[0]["desiredCount"] = desired
                deployments[0]["updatedAt"] = ctx.now.timestamp()
            updated = replace(
                record,
                desired_count=desired,
                task_definition_arn=definition_arn,
                config=config,
                deployments=deployments,
                scheduler_state=state,
                updated_at=ctx.now,
            )
            saved = store.save_service(tx, updated)
            if saved is None:  # the row is locked for this transaction: cannot happen
                raise InvalidParameterException("The service changed while it was being updated; retry.")
        self._service_changed(saved)
        return {"service": rules.service_view(saved, None)}

    def delete_service(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            record = _service(ctx, tx, cluster, params["service"], lock=True)
            if record.status == store.INACTIVE:
                raise ServiceNotActiveException("Service was not ACTIVE.")
            force = bool(params.get("force"))
            if (
                record.scheduling_strategy == docs.REPLICA
                and record.desired_count > 0
                and record.status == store.ACTIVE
                and not force
            ):
                raise InvalidParameterException(rules.SCALED_ABOVE_ZERO)
            saved = record
            if record.status == store.ACTIVE:
                deployments = [dict(d) for d in record.deployments]
                for deployment in deployments:
                    deployment["desiredCount"] = 0
                found = store.save_service(
                    tx,
                    replace(
                        record,
                        status=store.DRAINING,
                        desired_count=0,
                        deployments=deployments,
                        updated_at=ctx.now,
                    ),
                )
                saved = found or record
        self._service_changed(saved)
        return {"service": rules.service_view(saved, None)}

    def describe_services(self, ctx: RequestContext, params: Params) -> Result:
        references: Sequence[str] = params["services"]
        if not 1 <= len(references) <= DESCRIBE_MAX:
            raise InvalidParameterException(
                f"services can have at most {DESCRIBE_MAX} items and cannot be empty."
            )
        include_tags = "TAGS" in (params.get("include") or [])
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            names = {ref: _name(ctx, cluster, ref) for ref in references}
            found = store.find_services(
                tx, ctx.account_id, ctx.region, cluster.name, [n for n in names.values() if n]
            )
            arns = [r.arn for r in found.values()] if include_tags else []
            tags = tag_store.list_tags_of_many(tx, ctx.account_id, arns)
        services: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for reference, name in names.items():
            record = found.get(name) if name else None
            if record is None:
                missing = reference if reference.startswith("arn:") else None
                arn = missing or rules.service_arn(ctx.region, ctx.account_id, cluster.name, reference)
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            services.append(rules.service_view(record, tags.get(record.arn, []) if include_tags else None))
        return {"services": services, "failures": failures}

    def list_services(self, ctx: RequestContext, params: Params) -> Result:
        limit = page_size(params.get("maxResults"), default=LIST_DEFAULT, maximum=LIST_MAX)
        after = decode_token(params.get("nextToken"), (str,))
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            arns = store.list_service_arns(
                tx,
                ctx.account_id,
                ctx.region,
                cluster.name,
                launch_type=params.get("launchType") or None,
                scheduling_strategy=params.get("schedulingStrategy") or None,
                after=None if after is None else after[0],
                limit=limit + 1,
            )
        result: Result = {"serviceArns": arns[:limit]}
        if len(arns) > limit:
            result["nextToken"] = encode_token((arns[limit - 1],))
        return result

    def _existing_service_arn(self, ctx: RequestContext, tx: Connection, resource_arn: str) -> str:
        """The ARN of a service the caller can see (for tagging), or ECS's error."""
        parsed = parse_arn(resource_arn)
        parts = parsed.resource.split("/") if parsed is not None else []
        cluster_name = parts[1] if len(parts) == 3 else DEFAULT_CLUSTER  # old ARNs: service/<name>
        record = None
        name = rules.service_name_from_reference(
            resource_arn, region=ctx.region, account_id=ctx.account_id, cluster=cluster_name
        )
        if name is not None:
            record = store.find_service(tx, ctx.account_id, ctx.region, cluster_name, name)
        if record is None:
            raise ServiceNotFoundException("Service not found.")
        return record.arn

    def _service_changed(self, record: ServiceRecord) -> None:
        cluster = ClusterRef(record.account_id, record.region, record.cluster_name)
        self._changes.publish([ClusterChange(cluster, groups=frozenset({record.group}))])


def _service(
    ctx: RequestContext, tx: Connection, cluster: ClusterRecord, reference: str, *, lock: bool
) -> ServiceRecord:
    name = _name(ctx, cluster, reference)
    record = (
        store.find_service(tx, ctx.account_id, ctx.region, cluster.name, name, lock=lock) if name else None
    )
    if record is None:
        raise ServiceNotFoundException("Service not found.")
    return record


def _name(ctx: RequestContext, cluster: ClusterRecord, reference: str) -> str | None:
    return rules.service_name_from_reference(
        reference, region=ctx.region, account_id=ctx.account_id, cluster=cluster.name
    )


def _check_placement(definition: TaskDefinitionRecord, config: dict[str, Any]) -> None:
    """The scheduler's checks of the service's constraints and strategies, as RunTask makes them."""
    spec = launch.LaunchSpec(
        definition=definition,
        shape=task_shape(definition.body, {}),
        group="service:check",
        constraints=config.get("placementConstraints") or [],
        strategies=config.get("placementStrategy") or [],
    )
    launch.validate(spec, 1)


def _with_new_primary(
    deployments: list[dict[str, Any]],
    definition_arn: str,
    desired: int,
    record: ServiceRecord,
    ctx: RequestContext,
) -> list[dict[str, Any]]:
    """A new PRIMARY deployment first; the previous ones become ACTIVE (the controller drains them)."""
    for deployment in deployments:
        if deployment["status"] == docs.PRIMARY:
            deployment["status"] = docs.ACTIVE
            deployment["updatedAt"] = ctx.now.timestamp()
    primary = docs.new_deployment(
        docs.random_deployment_id(), definition_arn, desired, record.launch_type, ctx.now
    )
    return [primary, *deployments]
