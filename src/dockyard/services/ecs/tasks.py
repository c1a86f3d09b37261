"""ECS task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks (EC2 launch type).

RunTask and StartTask are one write transaction each, through the launch path every task takes
(:mod:`dockyard.control.launch.placing`): lock the cluster's rows, place with the pure scheduler (an rng
seeded from the request id), debit each chosen instance (re-checked in the store, so concurrent calls never
oversubscribe) and insert the tasks PENDING with desired RUNNING. Tasks then wait for their instance's
agent, which reports their states through
:func:`dockyard.store.tasks.record_task_state`; that also credits the instance back once a task STOPPED.

Only instances whose agent holds a push channel right now (``agent_connected``) take placements; the
others fail with ``AGENT``. After RunTask, StartTask or StopTask commits, the instances concerned are
notified (:class:`~dockyard.services.ecs.notifier.InstanceNotifier`) so that their agent sessions push
the change at once, and the controllers hear of it (:class:`~dockyard.control.changes.ChangeFeed`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.control.changes import ChangeFeed
from dockyard.control.launch import capacity, fargate, interfaces
from dockyard.control.launch import placing as launch
from dockyard.control.launch.shape import task_arn, task_shape
from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecs import container_instance_rules as instance_rules
from dockyard.services.ecs import task_rules as rules
from dockyard.services.ecs.errors import ClientException, InvalidParameterException
from dockyard.services.ecs.lookups import active_definition, cluster_ref, visible_cluster
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.tag_rules import tag_pairs
from dockyard.services.paging import decode_token, encode_token, page_size
from dockyard.store import container_instances as instance_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.database import Database
from dockyard.store.services import service_group
from dockyard.store.tasks import RUNNING, STOPPED

PAGE_MAX = 100
DESCRIBE_MAX = 100
START_TASK_MAX = 10
RUN_TASK_MAX = 10
EC2 = launch.EC2
DEFAULT_STOP_REASON = "Task stopped by user"
USER_INITIATED = "UserInitiated"
TASK_NOT_FOUND = "The referenced task was not found."


class TaskOperations:
    """Mixed into the ECS provider; needs ``_db``, ``_notifier``, ``_changes`` and ``_pool_account_id``."""

    _db: Database
    _notifier: InstanceNotifier
    _changes: ChangeFeed
    _pool_account_id: str

    def run_task(self, ctx: RequestContext, params: Params) -> Result:
        count = params.get("count") or 1
        if not 1 <= count <= RUN_TASK_MAX:
            raise InvalidParameterException(f"count must be between 1 and {RUN_TASK_MAX}.")
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=True)
            spec = _launch_spec(ctx, tx, params, with_placement=True)
            strategy = capacity.launch_strategy(
                params.get("launchType"),
                params.get("capacityProviderStrategy"),
                cluster_providers=cluster.capacity_providers,
                cluster_default=cluster.default_capacity_provider_strategy,
            )
            if strategy is not None:
                launched = self._run_on_fargate(ctx, tx, cluster, spec, strategy, params, count)
            else:
                _check_ec2_launch(params, spec)
                spec = _with_network(ctx, tx, spec, params)
                launch.validate(spec, count)
                launched = launch.launch(tx, cluster, spec, count, now=ctx.now, rng=_placement_rng(ctx))
        if strategy is not None:
            self._changes.tasks_changed(fargate.pool_ref(self._pool_account_id, ctx.region), [])
        return self._launched(cluster, launched, spec, unique_failures=True)

    def _run_on_fargate(
        self,
        ctx: RequestContext,
        tx: Connection,
        cluster: ClusterRecord,
        spec: launch.LaunchSpec,
        strategy: list[dict[str, Any]],
        params: Params,
        count: int,
    ) -> launch.Launched:
        rules.check_fargate_launch(spec.definition.body, params)
        network = interfaces.resolve_network(
            tx, ctx.account_id, ctx.region, params.get("networkConfiguration"), ctx.now
        )
        providers = capacity.split(strategy, count)
        pool = fargate.Pool(self._pool_account_id, ctx.region)
        return fargate.launch_fargate(tx, cluster, spec, providers, network, pool, now=ctx.now)

    def start_task(self, ctx: RequestContext, params: Params) -> Result:
        references: Sequence[str] = params["containerInstances"]
        if not 1 <= len(references) <= START_TASK_MAX:
            raise InvalidParameterException(f"containerInstances must have 1 to {START_TASK_MAX} elements.")
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=True)
            spec = _with_network(ctx, tx, _launch_spec(ctx, tx, params, with_placement=False), params)
            launch.validate(spec, 1)
            targets = [
                (
                    reference,
                    instance_rules.instance_id_from_reference(
                        reference, region=ctx.region, account_id=ctx.account_id, cluster=cluster.name
                    ),
                )
                for reference in references
            ]
            launched = launch.launch_on(tx, cluster, spec, targets, now=ctx.now, rng=_placement_rng(ctx))
        return self._launched(cluster, launched, spec, unique_failures=False)

    def stop_task(self, ctx: RequestContext, params: Params) -> Result:
        changed = False
        with self._db.write() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            task_id = _task_id(ctx, cluster, params["task"])
            record = (
                store.find_task(tx, ctx.account_id, ctx.region, cluster.name, task_id, lock=True)
                if task_id
                else None
            )
            if record is None:
                raise InvalidParameterException(TASK_NOT_FOUND)
            if record.desired_status != STOPPED:
                stop = store.request_stop(
                    record,
                    now=ctx.now,
                    reason=params.get("reason") or DEFAULT_STOP_REASON,
                    stop_code=USER_INITIATED,
                )
                record = store.save_task(tx, stop)
                changed = True
        if changed:
            self._notifier.notify([record.container_instance_arn])
            self._changes.tasks_changed(cluster_ref(cluster), [record.group])
        return {"task": rules.task_view(record, None)}

    def describe_tasks(self, ctx: RequestContext, params: Params) -> Result:
        references: Sequence[str] = params["tasks"]
        if not 1 <= len(references) <= DESCRIBE_MAX:
            raise InvalidParameterException(
                f"Tasks cannot be empty or have more than {DESCRIBE_MAX} elements."
            )
        include_tags = "TAGS" in (params.get("include") or [])
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            ids = {ref: _task_id(ctx, cluster, ref) for ref in references}
            found = store.find_tasks(tx, ctx.account_id, ctx.region, cluster.name, filter(None, ids.values()))
            arns = [r.arn for r in found.values()] if include_tags else []
            tags = tag_store.list_tags_of_many(tx, ctx.account_id, arns)
        tasks: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for reference, task_id in ids.items():
            record = found.get(task_id) if task_id else None
            if record is None:
                arn = reference if reference.startswith("arn:") else None
                missing = arn or task_arn(ctx.region, ctx.account_id, cluster.name, reference)
                failures.append({"arn": missing, "reason": "MISSING"})
            else:
                tasks.append(rules.task_view(record, tags.get(record.arn, []) if include_tags else None))
        return {"tasks": tasks, "failures": failures}

    def list_tasks(self, ctx: RequestContext, params: Params) -> Result:
        limit = page_size(params.get("maxResults"), default=PAGE_MAX, maximum=PAGE_MAX)
        after = decode_token(params.get("nextToken"), (str,))
        with self._db.read() as tx:
            cluster = visible_cluster(ctx, tx, params.get("cluster"), active=False)
            instance_arn = None
            if params.get("containerInstance"):
                instance_id = instance_rules.instance_id_from_reference(
                    params["containerInstance"],
                    region=ctx.region,
                    account_id=ctx.account_id,
                    cluster=cluster.name,
                )
                found = (
                    instance_store.find_instance(tx, ctx.account_id, ctx.region, cluster.name, instance_id)
                    if instance_id
                    else None
                )
                if found is None:
                    raise InvalidParameterException("The referenced container instance was not found.")
                instance_arn = found.arn
            arns = store.list_task_arns(
                tx,
                ctx.account_id,
                ctx.region,
                cluster.name,
                desired_status=params.get("desiredStatus") or RUNNING,
                container_instance_arn=instance_arn,
                family=params.get("family") or None,
                started_by=params.get("startedBy") or None,
                launch_type=params.get("launchType") or None,
                group=service_group(params["serviceName"]) if params.get("serviceName") else None,
                after=None if after is None else after[0],
                limit=limit + 1,
            )
        result: Result = {"taskArns": arns[:limit]}
        if len(arns) > limit:
            result["nextToken"] = encode_token((arns[limit - 1],))
        return result

    def _launched(
        self,
        cluster: ClusterRecord,
        launched: launch.Launched,
        spec: launch.LaunchSpec,
        *,
        unique_failures: bool,
    ) -> Result:
        """After the launch committed: wake the agents and controllers; the RunTask/StartTask result."""
        self._notifier.notify([arn for arn in launched.instance_arns if arn is not None])
        self._changes.tasks_changed(cluster_ref(cluster), [spec.group])
        tags = list(spec.tags) if spec.tags else None
        failures = [{"arn": f.arn, "reason": f.reason} for f in launched.failures]
        return {
            "tasks": [rules.task_view(record, tags) for record in launched.tasks],
            "failures": _unique(failures) if unique_failures else failures,
        }


def purge_stopped_tasks(db: Database, *, stopped_before: datetime) -> int:
    """Remove tasks STOPPED before ``stopped_before``, with their tags; returns how many."""
    with db.write() as tx:
        purged = store.purge_stopped(tx, stopped_before=stopped_before)
        for account_id, arn in purged:
            tag_store.remove_all_tags(tx, account_id, arn)
    return len(purged)


def _placement_rng(ctx: RequestContext) -> random.Random:
    """The scheduler's random source, seeded by the request id: a placement is repeatable from its
    inputs. It only breaks ties between instances; nothing secret depends on it."""
    return random.Random(ctx.request_id)  # noqa: S311


def _launch_spec(
    ctx: RequestContext, tx: Connection, params: Params, *, with_placement: bool
) -> launch.LaunchSpec:
    """What RunTask/StartTask asked for: the definition, shaped by the overrides, its group and tags, and
    (RunTask) the call's placement constraints and strategies."""
    definition = active_definition(ctx, tx, params["taskDefinition"])
    overrides = params.get("overrides") or {}
    return launch.LaunchSpec(
        definition=definition,
        shape=task_shape(definition.body, overrides),
        group=params.get("group") or f"family:{definition.family}",
        started_by=params.get("startedBy") or None,
        overrides=overrides,
        constraints=(params.get("placementConstraints") or []) if with_placement else (),
        strategies=(params.get("placementStrategy") or []) if with_placement else (),
        tags=tag_pairs(params.get("tags") or []),
    )


def _check_ec2_launch(params: Params, spec: launch.LaunchSpec) -> None:
    launch_type = params.get("launchType") or EC2
    if launch_type != EC2:
        raise ClientException(f"The {launch_type} launch type is not supported by dockyard.")
    if "EC2" not in (spec.definition.body.get("compatibilities") or ["EC2"]):
        raise ClientException("Task definition does not support launch_type EC2.")


def _with_network(
    ctx: RequestContext, tx: Connection, spec: launch.LaunchSpec, params: Params
) -> launch.LaunchSpec:
    """An awsvpc task on container instances gets an interface too: the launch's network, checked."""
    awsvpc = spec.definition.body.get("networkMode") == "awsvpc"
    if not awsvpc:
        if params.get("networkConfiguration"):
            raise InvalidParameterException(
                "Network Configuration is not valid for the given networkMode of this task definition."
            )
        return spec
    network = interfaces.resolve_network(
        tx, ctx.account_id, ctx.region, params.get("networkConfiguration"), ctx.now
    )
    return replace(spec, network=network)


def _task_id(ctx: RequestContext, cluster: ClusterRecord, reference: str) -> str | None:
    return rules.task_id_from_reference(
        reference, region=ctx.region, account_id=ctx.account_id, cluster=cluster.name
    )


def _unique(failures: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for failure in failures:
        seen.setdefault((failure["arn"], failure["reason"]), failure)
    return list(seen.values())
