"""ECS operations on clusters and tags; task definitions come from ``TaskDefinitionOperations``, container
instances from ``ContainerInstanceOperations``, tasks from ``TaskOperations``, agents' task state reports
from ``TaskStateOperations``.

Each method receives validated parameters and returns a dict shaped like the operation's output; the
gateway serializes it. State lives in the store; every write is one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dockyard.control.changes import ChangeFeed
from dockyard.control.launch import capacity
from dockyard.core.arn import parse_arn
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Provider, Result
from dockyard.services.ecs import naming
from dockyard.services.ecs.container_instances import ContainerInstanceOperations
from dockyard.services.ecs.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterNotFoundException,
    InvalidParameterException,
)
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.services import ServiceOperations
from dockyard.services.ecs.tag_rules import MAX_TAGS, tag_pairs
from dockyard.services.ecs.task_definitions import TaskDefinitionOperations
from dockyard.services.ecs.task_state import TaskStateOperations
from dockyard.services.ecs.tasks import TaskOperations
from dockyard.services.paging import decode_token, encode_token, page_size
from dockyard.store import clusters as cluster_store
from dockyard.store import container_instances as instance_store
from dockyard.store import services as service_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.clusters import ACTIVE, INACTIVE, ClusterRecord
from dockyard.store.database import Database

LIST_PAGE_MAX = 100
DESCRIBE_CLUSTERS_MAX = 100
BUILT_IN_PROVIDERS = (capacity.FARGATE, capacity.FARGATE_SPOT)
NOT_ASSOCIATED = capacity.NOT_ASSOCIATED
DEFAULT_SETTINGS = ({"name": "containerInsights", "value": "disabled"},)


class EcsProvider(
    TaskDefinitionOperations,
    ContainerInstanceOperations,
    TaskOperations,
    TaskStateOperations,
    ServiceOperations,
    Provider,
):
    service_name = "ecs"
    # Not ListContainerInstances: its filter runs a user's expression over every instance, work whose
    # cost the caller chooses, so it stays off the event loop.
    store_read_operations = frozenset(
        {
            "DescribeClusters",
            "ListClusters",
            "ListTagsForResource",
            "DescribeTaskDefinition",
            "ListTaskDefinitions",
            "ListTaskDefinitionFamilies",
            "DescribeContainerInstances",
            "ListAttributes",
            "DescribeTasks",
            "ListTasks",
            "DescribeServices",
            "ListServices",
        }
    )

    def __init__(
        self,
        db: Database,
        *,
        allow_privileged: bool = False,
        endpoint_url: str = "http://127.0.0.1:4566",
        notifier: InstanceNotifier | None = None,
        changes: ChangeFeed | None = None,
        pool_account_id: str = "",
    ) -> None:
        self._db = db
        self._pool_account_id = pool_account_id
        self._notifier = notifier or InstanceNotifier()
        self._changes = changes or ChangeFeed()
        self._allow_privileged = allow_privileged
        self._endpoint_url = endpoint_url

    # --- clusters ------------------------------------------------------------------------------------------

    def create_cluster(self, ctx: RequestContext, params: Params) -> Result:
        name = naming.validate_cluster_name(params.get("clusterName") or naming.DEFAULT_CLUSTER)
        tags = tag_pairs(params.get("tags", []))
        arn = naming.cluster_arn(ctx.region, ctx.account_id, name)
        desired = ClusterRecord(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            arn=arn,
            status=ACTIVE,
            settings=_merge_settings(params.get("settings", [])),
            configuration=params.get("configuration"),
            service_connect_defaults=params.get("serviceConnectDefaults"),
            capacity_providers=list(params.get("capacityProviders", [])),
            default_capacity_provider_strategy=_cluster_strategy(
                params.get("capacityProviders", []), params.get("defaultCapacityProviderStrategy", [])
            ),
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        with self._db.write() as tx:
            existing = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name)
            if existing is None:
                cluster_store.insert_cluster(tx, desired)
                record = desired
            elif existing.status == ACTIVE:
                # CreateCluster is idempotent: an existing active cluster is returned as it is.
                record = existing
            else:
                record = cluster_store.save_cluster(tx, _reactivated(existing, desired))
            if tags:
                tag_store.put_tags(tx, ctx.account_id, arn, tags)
            stored_tags = tag_store.list_tags(tx, ctx.account_id, arn)
            count = _instance_count(tx, record)
            tasks = _task_counts(tx, record)
        return {"cluster": _cluster_view(record, stored_tags, _ALL_INCLUDES, count, tasks)}

    def describe_clusters(self, ctx: RequestContext, params: Params) -> Result:
        references: list[str] = list(params.get("clusters") or [naming.DEFAULT_CLUSTER])
        if len(references) > DESCRIBE_CLUSTERS_MAX:
            raise InvalidParameterException(
                f"Clusters cannot have more than {DESCRIBE_CLUSTERS_MAX} elements"
            )
        include = frozenset(params.get("include", []))
        names = {ref: self._visible_name(ctx, ref) for ref in references}
        with self._db.read() as tx:
            found = cluster_store.find_cluster_summaries(
                tx, ctx.account_id, ctx.region, filter(None, names.values())
            )
            arns = [s.record.arn for s in found.values()] if "TAGS" in include else []
            tags = tag_store.list_tags_of_many(tx, ctx.account_id, arns)
            services = service_store.count_live_by_cluster(
                tx, ctx.account_id, ctx.region, list(found), statuses=(service_store.ACTIVE,)
            )
        result: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for reference, name in names.items():
            summary = found.get(name) if name is not None else None
            if summary is None:
                failures.append({"arn": _missing_arn(ctx, reference), "reason": "MISSING"})
                continue
            record = summary.record
            tasks = task_store.TaskCounts(running=summary.running_tasks, pending=summary.pending_tasks)
            view = _cluster_view(
                record, tags.get(record.arn, []), include, summary.registered_instances, tasks
            )
            view["activeServicesCount"] = services.get(record.name, 0)
            result.append(view)
        return {"clusters": result, "failures": failures}

    def put_cluster_capacity_providers(self, ctx: RequestContext, params: Params) -> Result:
        providers = list(params["capacityProviders"])
        strategy = _cluster_strategy(providers, params["defaultCapacityProviderStrategy"])
        name = self._visible_name(ctx, params["cluster"])
        with self._db.write() as tx:
            record = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
            if record is None or record.status != ACTIVE:
                raise ClusterNotFoundException()
            record = cluster_store.save_cluster(
                tx,
                replace(
                    record,
                    capacity_providers=providers,
                    default_capacity_provider_strategy=strategy,
                    updated_at=ctx.now,
                ),
            )
            stored_tags = tag_store.list_tags(tx, ctx.account_id, record.arn)
            count = _instance_count(tx, record)
            tasks = _task_counts(tx, record)
        return {"cluster": _cluster_view(record, stored_tags, _ALL_INCLUDES, count, tasks)}

    def describe_capacity_providers(self, ctx: RequestContext, params: Params) -> Result:
        """The built-in FARGATE and FARGATE_SPOT; dockyard has no Auto Scaling group providers."""
        wanted = list(params.get("capacityProviders") or BUILT_IN_PROVIDERS)
        found, failures = [], []
        for reference in wanted:
            name = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
            arn = naming.capacity_provider_arn(ctx.region, ctx.account_id, name)
            if name in BUILT_IN_PROVIDERS and reference in (name, arn):
                found.append({"capacityProviderArn": arn, "name": name, "status": ACTIVE, "tags": []})
            else:
                failures.append(
                    {"arn": arn if not reference.startswith("arn:") else reference, "reason": "MISSING"}
                )
        return {"capacityProviders": found, "failures": failures}

    def list_clusters(self, ctx: RequestContext, params: Params) -> Result:
        limit = page_size(params.get("maxResults"), default=LIST_PAGE_MAX, maximum=LIST_PAGE_MAX)
        position = decode_token(params.get("nextToken"), (str,))
        after = None if position is None else position[0]
        with self._db.read() as tx:
            arns = cluster_store.list_active_cluster_arns(
                tx, ctx.account_id, ctx.region, after_arn=after, limit=limit + 1
            )
        page, more = arns[:limit], len(arns) > limit
        result: Result = {"clusterArns": page}
        if more:
            result["nextToken"] = encode_token((page[-1],))
        return result

    def delete_cluster(self, ctx: RequestContext, params: Params) -> Result:
        name = self._visible_name(ctx, params["cluster"])
        with self._db.write() as tx:
            record = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
            if record is None or record.status != ACTIVE:
                raise ClusterNotFoundException()
            if _instance_count(tx, record):
                raise ClusterContainsContainerInstancesException(
                    "The Cluster cannot be deleted while Container Instances are active or draining."
                )
            if service_store.count_live_by_cluster(tx, ctx.account_id, ctx.region, [record.name]):
                raise ClusterContainsServicesException(
                    "The Cluster cannot be deleted while Services are active."
                )
            deleted = cluster_store.save_cluster(tx, _with_status(record, INACTIVE, ctx))
            stored_tags = tag_store.list_tags(tx, ctx.account_id, record.arn)
        return {"cluster": _cluster_view(deleted, stored_tags, _ALL_INCLUDES, 0, task_store.TaskCounts())}

    # --- tags ----------------------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, params: Params) -> Result:
        tags = tag_pairs(params["tags"])
        with self._db.write() as tx:
            arn = self._existing_resource_arn(ctx, tx, params["resourceArn"])
            current = dict(tag_store.list_tags(tx, ctx.account_id, arn))
            if len(current.keys() | {key for key, _ in tags}) > MAX_TAGS:
                raise InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
            tag_store.put_tags(tx, ctx.account_id, arn, tags)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            arn = self._existing_resource_arn(ctx, tx, params["resourceArn"])
            tag_store.remove_tags(tx, ctx.account_id, arn, params["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            arn = self._existing_resource_arn(ctx, tx, params["resourceArn"])
            tags = tag_store.list_tags(tx, ctx.account_id, arn)
        return {"tags": _tag_list(tags)}

    # --- helpers -------------------------------------------------------------------------------------------

    def _visible_name(self, ctx: RequestContext, reference: str) -> str | None:
        return naming.cluster_name_from_reference(reference, region=ctx.region, account_id=ctx.account_id)

    def _existing_resource_arn(self, ctx: RequestContext, tx: Any, resource_arn: str) -> str:
        """The ARN of a taggable resource the caller can see, or the ECS error AWS gives for it."""
        arn = parse_arn(resource_arn)
        if arn is None or arn.service != "ecs":
            raise InvalidParameterException("The ARN provided is invalid.")
        if arn.resource_type == "task-definition":
            return self._existing_task_definition_arn(ctx, tx, resource_arn)
        if arn.resource_type == "container-instance":
            return self._existing_container_instance_arn(ctx, tx, resource_arn)
        if arn.resource_type == "service":
            return self._existing_service_arn(ctx, tx, resource_arn)
        if arn.resource_type != "cluster":
            raise InvalidParameterException(
                f"Tagging is not supported for this resource type: {resource_arn}"
            )
        name = self._visible_name(ctx, resource_arn)
        record = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
        if record is None:
            raise ClusterNotFoundException("The specified cluster is not found.")
        return record.arn


_ALL_INCLUDES = frozenset({"TAGS", "SETTINGS", "CONFIGURATIONS", "ATTACHMENTS", "STATISTICS"})


def _cluster_view(
    record: ClusterRecord,
    tags: Sequence[tuple[str, str]],
    include: frozenset[str],
    instances: int,
    tasks: task_store.TaskCounts,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "clusterArn": record.arn,
        "clusterName": record.name,
        "status": record.status,
        "registeredContainerInstancesCount": instances,
        "runningTasksCount": tasks.running,
        "pendingTasksCount": tasks.pending,
        "activeServicesCount": 0,
        "statistics": [],
        "capacityProviders": record.capacity_providers,
        "defaultCapacityProviderStrategy": record.default_capacity_provider_strategy,
    }
    if "TAGS" in include:
        view["tags"] = _tag_list(tags)
    if "SETTINGS" in include:
        view["settings"] = record.settings
    if "CONFIGURATIONS" in include and record.configuration is not None:
        view["configuration"] = record.configuration
    if record.service_connect_defaults is not None:
        view["serviceConnectDefaults"] = record.service_connect_defaults
    return view


def _cluster_strategy(
    providers: Sequence[str], strategy: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A cluster's capacity providers and default strategy checked as ECS does; the strategy with its
    defaults (weight 0, base 0) filled in."""
    for provider in providers:
        if provider not in BUILT_IN_PROVIDERS:
            raise InvalidParameterException(
                f"The specified capacity provider '{provider}' does not exist. Specify a valid capacity "
                "provider and try again."
            )
    capacity.check_strategy(strategy)
    for item in strategy:
        if item["capacityProvider"] not in providers:
            raise InvalidParameterException(NOT_ASSOCIATED)
    return [
        {"capacityProvider": i["capacityProvider"], "weight": i.get("weight", 0), "base": i.get("base", 0)}
        for i in strategy
    ]


def _instance_count(tx: Any, record: ClusterRecord) -> int:
    """The cluster's ACTIVE and DRAINING container instances."""
    return instance_store.count_registered(tx, record.account_id, record.region, [record.name]).get(
        record.name, 0
    )


def _task_counts(tx: Any, record: ClusterRecord) -> task_store.TaskCounts:
    counts = task_store.count_by_cluster(tx, record.account_id, record.region, [record.name])
    return counts.get(record.name, task_store.TaskCounts())


CONTAINER_INSIGHTS_VALUES = ("enabled", "disabled", "enhanced")


def _merge_settings(requested: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The cluster's settings: the defaults, overridden by well-formed requested ones."""
    merged = {s["name"]: dict(s) for s in DEFAULT_SETTINGS}
    for setting in requested:
        name, value = setting.get("name"), setting.get("value")
        if not name:
            raise InvalidParameterException("A cluster setting requires a name.")
        if value not in CONTAINER_INSIGHTS_VALUES:  # containerInsights is the model's only name
            raise InvalidParameterException(
                f"The value of cluster setting {name} must be one of: {', '.join(CONTAINER_INSIGHTS_VALUES)}."
            )
        merged[name] = {"name": name, "value": value}
    return list(merged.values())


def _reactivated(existing: ClusterRecord, desired: ClusterRecord) -> ClusterRecord:
    return replace(desired, created_at=existing.created_at, version=existing.version)


def _with_status(record: ClusterRecord, status: str, ctx: RequestContext) -> ClusterRecord:
    return replace(record, status=status, updated_at=ctx.now)


def _missing_arn(ctx: RequestContext, reference: str) -> str:
    if reference.startswith("arn:"):
        return reference
    return naming.cluster_arn(ctx.region, ctx.account_id, reference)


def _tag_list(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags]
