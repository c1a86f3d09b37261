"""The service controller: keeps each ECS service's tasks as its deployments want them.

```
ChangeFeed ── task group "service:web" ──▶ ServiceKey ──┐
           ── instances of a cluster    ──▶ ClusterRef ─┤─▶ WorkQueue ─▶ sync(key)
resync (every service)                                  ┘
sync(ServiceKey), one write transaction:
   read the service (locked), its tasks (live, and stopped since its oldest deployment began), the
   cluster's instances → decide (pure, decide/service.py) → stop tasks (desired STOPPED,
   ServiceSchedulerInitiated), launch through control/launch, events, save the service
after commit: wake the agents of the instances concerned; look again when the decision says so
```

Syncs of one service never overlap (the queue), and the row lock serializes a sync with UpdateService
and DeleteService. A sync is idempotent: killed at any moment, the transaction rolls back and the next
sync decides again from what is stored, so a restart neither loses a deployment nor doubles its tasks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Connection

from dockyard.control.changes import ClusterChange, ClusterRef
from dockyard.control.controllers.decide import deployments as docs
from dockyard.control.controllers.decide import messages
from dockyard.control.controllers.decide.service import (
    PLACEMENT_EVENT_REPEAT_S,
    Decision,
    Desired,
    ObservedInstance,
    ObservedTask,
    decide,
    with_events,
)
from dockyard.control.controllers.queue import WorkQueue
from dockyard.control.launch import capacity, fargate, interfaces
from dockyard.control.launch import placing as launch
from dockyard.control.launch.definitions import DefinitionCache
from dockyard.control.launch.shape import task_shape
from dockyard.control.scheduler import NO_CONTAINER_INSTANCES, QueryError, parse_query
from dockyard.core.clock import Clock, random_uuid
from dockyard.store import clusters as cluster_store
from dockyard.store import container_instances as instance_store
from dockyard.store import services as store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.database import Database
from dockyard.store.services import ServiceKey, ServiceRecord
from dockyard.store.task_definitions import TaskDefinitionRecord
from dockyard.store.tasks import RUNNING, STOPPED, TaskRecord

log = logging.getLogger(__name__)

SCHEDULER_STOP_CODE = "ServiceSchedulerInitiated"
FARGATE = "FARGATE"
Key = ServiceKey | ClusterRef
WakeInstances = Callable[[Iterable[str | None]], None]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one sync did (for the caller's wake-ups and for tests)."""

    launched: list[TaskRecord]
    stopped: list[TaskRecord]
    look_again_s: float | None


class ServiceController:
    name = "services"

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        wake_instances: WakeInstances,
        healthy_after_s: float = 40.0,
        resync_period_s: float = 30.0,
        pool_account_id: str = "",
    ) -> None:
        self._db = db
        self._pool_account_id = pool_account_id
        self._clock = clock
        self._wake = wake_instances
        self._healthy_after_s = healthy_after_s
        self.resync_period_s = resync_period_s
        self._definitions = DefinitionCache(max_entries=4096)
        self._queue: WorkQueue[Key] = WorkQueue()

    # --- the Controller protocol ------------------------------------------------------------------------

    def all_keys(self) -> Iterable[Key]:
        with self._db.read() as tx:
            return store.live_service_keys(tx)

    def sync_many(self, keys: Sequence[Key]) -> dict[Key, float | Exception | None]:
        """Sync ``keys``: the services of one cluster together, in one transaction that reads the
        cluster's instances once for all of them. If that fails, each is tried alone, so one service
        that cannot be synced does not hold back the others."""
        results: dict[Key, float | Exception | None] = {}
        by_cluster: dict[ClusterRef, list[ServiceKey]] = {}
        for key in keys:
            if isinstance(key, ClusterRef):
                for service in self.expand(key):
                    self._queue.add(service)
                results[key] = None
            else:
                by_cluster.setdefault(ClusterRef(key.account_id, key.region, key.cluster_name), []).append(
                    key
                )
        for group in by_cluster.values():
            try:
                synced: dict[ServiceKey, SyncResult | Exception] = dict(self._sync_cluster(group))
            except Exception as exc:
                alone = len(group) == 1
                synced = {group[0]: exc} if alone else {key: self._sync_alone(key) for key in group}
            for key, result in synced.items():
                if isinstance(result, Exception):
                    results[key] = result
                    continue
                self._wake([t.container_instance_arn for t in (*result.launched, *result.stopped)])
                results[key] = result.look_again_s
        return results

    def _sync_alone(self, key: ServiceKey) -> SyncResult | Exception:
        try:
            return self.sync_service(key)
        except Exception as exc:
            return exc

    def watch(self, queue: WorkQueue[Key]) -> Callable[[ClusterChange], None]:
        """A change-feed subscriber that queues the services a change concerns (on this controller's
        queue, which a cluster key also fans out to)."""
        self._queue = queue

        def on_change(change: ClusterChange) -> None:
            cluster = change.cluster
            for group in change.groups:
                if group.startswith("service:"):
                    name = group.removeprefix("service:")
                    queue.add(ServiceKey(cluster.account_id, cluster.region, cluster.cluster_name, name))
            if change.instances:
                queue.add(cluster)

        return on_change

    def expand(self, cluster: ClusterRef) -> list[ServiceKey]:
        """Every live service of ``cluster`` (an instance change concerns them all)."""
        with self._db.read() as tx:
            return store.live_service_keys(tx, (cluster.account_id, cluster.region, cluster.cluster_name))

    # --- one service --------------------------------------------------------------------------------

    def sync_service(self, key: ServiceKey) -> SyncResult:
        return self._sync_cluster([key])[key]

    def _sync_cluster(self, keys: Sequence[ServiceKey]) -> dict[ServiceKey, SyncResult]:
        """Sync services of one cluster in one write transaction."""
        now = self._clock()
        first = keys[0]
        with self._db.write() as tx:
            cluster = cluster_store.find_cluster(tx, first.account_id, first.region, first.cluster_name)
            if cluster is None:
                return {key: SyncResult([], [], None) for key in keys}
            shared = _Instances(tx, cluster)
            return {key: self._sync_one(tx, cluster, key, now, shared) for key in keys}

    def _sync_one(
        self, tx: Connection, cluster: ClusterRecord, key: ServiceKey, now: datetime, shared: _Instances
    ) -> SyncResult:
        service = store.find_service(tx, key.account_id, key.region, key.cluster_name, key.name, lock=True)
        if service is None or service.status == store.INACTIVE or not service.deployments:
            return SyncResult([], [], None)
        oldest = min(d["createdAt"] for d in service.deployments)
        records = task_store.list_group_tasks(
            tx,
            key.account_id,
            key.region,
            key.cluster_name,
            service.group,
            stopped_since=datetime.fromtimestamp(oldest, UTC),
        )
        statuses = instance_store.instance_statuses(
            tx, key.account_id, [r.container_instance_arn for r in records if r.container_instance_arn]
        )
        observed = [self._observed(tx, r, statuses) for r in records]
        daemon = service.scheduling_strategy == docs.DAEMON
        decision = decide(
            self._desired(service),
            observed,
            now,
            new_deployment_id=docs.random_deployment_id,
            instances=self._daemon_instances(service, records, shared.get(), tx) if daemon else (),
        )
        by_arn = {r.arn: r for r in records}
        stopped = [self._stop(tx, by_arn[s.arn], s.reason, now) for s in decision.stops]
        events = list(decision.events)
        running_stops = [s.task_id for s in decision.stops if by_arn[s.arn].last_status == RUNNING]
        if running_stops:
            events.append(messages.stopped(service.name, running_stops))
        launched, unplaced = self._launch(tx, cluster, service, decision, shared, now, events)
        if launched:
            decision.primary["pendingCount"] += len(launched)
        saved = replace(
            service,
            status=decision.status,
            desired_count=decision.desired_count if daemon else service.desired_count,
            task_definition_arn=decision.primary["taskDefinition"],
            deployments=decision.deployments,
            events=with_events(
                with_events(service.events, events, now, random_uuid),
                unplaced,
                now,
                random_uuid,
                repeat_window_s=PLACEMENT_EVENT_REPEAT_S,
            ),
            scheduler_state=decision.state,
            updated_at=now if decision.deployments != service.deployments else service.updated_at,
        )
        if saved != service and store.save_service(tx, saved) is None:
            raise RuntimeError(f"service {key.name} changed under its locked sync")
        return SyncResult(launched, stopped, decision.look_again_s)

    def _desired(self, service: ServiceRecord) -> Desired:
        config = service.config["deploymentConfiguration"]
        breaker = config.get("deploymentCircuitBreaker") or {}
        return Desired(
            name=service.name,
            status=service.status,
            strategy=service.scheduling_strategy,
            desired_count=service.desired_count,
            minimum_healthy_percent=int(config["minimumHealthyPercent"]),
            maximum_percent=int(config["maximumPercent"]),
            breaker_enabled=bool(breaker.get("enable")),
            breaker_rollback=bool(breaker.get("rollback")),
            deployments=service.deployments,
            events=service.events,
            state=service.scheduler_state,
            health_check_grace_s=float(service.config.get("healthCheckGracePeriodSeconds") or 0),
            healthy_after_s=self._healthy_after_s,
        )

    def _observed(self, tx: Connection, record: TaskRecord, statuses: Mapping[str, str]) -> ObservedTask:
        status = statuses.get(record.container_instance_arn or "")
        # a Fargate task's host is the pool's, not one of the cluster's instances
        placed = record.container_instance_arn is not None and record.launch_type != FARGATE
        definition = self._definitions.get(tx, record.account_id, record.region, record.task_definition_arn)
        return ObservedTask(
            arn=record.arn,
            task_id=record.task_id,
            deployment_id=record.started_by,
            last_status=record.last_status,
            desired_status=record.desired_status,
            health=record.health_status,
            has_health_check=_has_health_check(definition),
            created_at=record.created_at,
            started_at=record.started_at,
            stopped_at=record.stopped_at,
            stop_code=record.stop_code,
            stopped_reason=record.stopped_reason,
            instance_arn=record.container_instance_arn,
            instance_leaving=placed and status != "ACTIVE",
            instance_lost=placed and status not in ("ACTIVE", "DRAINING"),
        )

    def _daemon_instances(
        self,
        service: ServiceRecord,
        records: list[TaskRecord],
        instances: Mapping[str, launch.Placeable],
        tx: Connection,
    ) -> list[ObservedInstance]:
        queries = []
        for constraint in service.config.get("placementConstraints") or []:
            if constraint.get("type") == "memberOf" and constraint.get("expression"):
                try:
                    queries.append(parse_query(constraint["expression"]))
                except QueryError:
                    log.warning(
                        "a daemon service's constraint no longer parses", extra={"service": service.arn}
                    )
        mine = {r.arn for r in records}
        observed = []
        for arn, placed in instances.items():
            draining = placed.record.status == "DRAINING"
            others = [  # only a draining instance's other tasks matter: its daemon stops after them
                t
                for t in (task_store.list_instance_tasks(tx, arn) if draining else [])
                if t.arn not in mine and t.desired_status == RUNNING
            ]
            snapshot = placed.snapshot
            eligible = (
                placed.record.status == "ACTIVE"
                and placed.record.agent_connected
                and all(q.matches(snapshot) for q in queries)
            )
            observed.append(
                ObservedInstance(
                    arn=arn,
                    eligible=eligible,
                    draining=draining,
                    other_live_tasks=len(others),
                )
            )
        return observed

    def _stop(self, tx: Connection, record: TaskRecord, reason: str, now: datetime) -> TaskRecord:
        if record.desired_status == STOPPED:
            return record
        return task_store.save_task(
            tx, task_store.request_stop(record, now=now, reason=reason, stop_code=SCHEDULER_STOP_CODE)
        )

    def _launch(
        self,
        tx: Connection,
        cluster: ClusterRecord,
        service: ServiceRecord,
        decision: Decision,
        shared: _Instances,
        now: datetime,
        events: list[str],
    ) -> tuple[list[TaskRecord], list[str]]:
        """Launch what ``decision`` asks for; the tasks, and the placement-failure event if any."""
        if not decision.launch and not decision.launch_on:
            return [], []
        primary = decision.primary
        definition = self._definitions.get(tx, service.account_id, service.region, primary["taskDefinition"])
        if definition is None:
            return [], []
        spec = launch.LaunchSpec(
            definition=definition,
            shape=task_shape(definition.body, {}),
            group=service.group,
            started_by=primary["id"],
            constraints=service.config.get("placementConstraints") or [],
            strategies=service.config.get("placementStrategy") or [],
            tags=self._propagated_tags(tx, service, definition),
        )
        rng = random.Random(f"{service.arn}:{now.isoformat()}")  # noqa: S311 - ties only
        network_config = service.config.get("networkConfiguration")
        strategy = service.config.get("capacityProviderStrategy") or (
            [{"capacityProvider": FARGATE, "weight": 1, "base": 0}]
            if service.launch_type == FARGATE
            else None
        )
        if strategy is not None:
            network = interfaces.resolve_network(tx, service.account_id, service.region, network_config, now)
            group = task_store.list_group_tasks(
                tx, service.account_id, service.region, service.cluster_name, service.group
            )
            live = [r for r in group if r.desired_status != STOPPED]
            existing: dict[str, int] = {}
            for task in live:
                name = task.capacity_provider_name or FARGATE
                existing[name] = existing.get(name, 0) + 1
            providers = capacity.split(strategy, decision.launch, existing)
            pool = fargate.Pool(self._pool_account_id, service.region)
            launched = fargate.launch_fargate(tx, cluster, spec, providers, network, pool, now=now)
            return self._launched(service, decision, launched, events)
        if definition.body.get("networkMode") == "awsvpc":
            spec = replace(
                spec,
                network=interfaces.resolve_network(
                    tx, service.account_id, service.region, network_config, now
                ),
            )
        instances = shared.get()
        if decision.launch_on:
            targets = [
                (arn, instances[arn].record.instance_id) for arn in decision.launch_on if arn in instances
            ]
            launched = launch.launch_on(tx, cluster, replace(spec, strategies=()), targets, now=now, rng=rng)
            shared.invalidate()  # launch_on re-reads the instances itself
        else:
            launched = launch.launch(
                tx, cluster, spec, decision.launch, now=now, rng=rng, instances=instances
            )
        return self._launched(service, decision, launched, events)

    def _launched(
        self, service: ServiceRecord, decision: Decision, launched: launch.Launched, events: list[str]
    ) -> tuple[list[TaskRecord], list[str]]:
        if launched.tasks:
            replaced = int(decision.state.pop("unhealthy_replaced", 0)) + sum(
                1 for s in decision.stops if s.unhealthy
            )
            events.append(messages.started(service.name, [t.task_id for t in launched.tasks], replaced))
        else:
            unhealthy = sum(1 for s in decision.stops if s.unhealthy)
            if unhealthy:
                decision.state["unhealthy_replaced"] = (
                    int(decision.state.get("unhealthy_replaced", 0)) + unhealthy
                )
        if len(launched.tasks) < (decision.launch or len(decision.launch_on)):
            return launched.tasks, [messages.unable_to_place(service.name, _closest(launched.failures))]
        return launched.tasks, []

    def _propagated_tags(
        self, tx: Connection, service: ServiceRecord, definition: TaskDefinitionRecord
    ) -> list[tuple[str, str]]:
        source = service.config.get("propagateTags") or "NONE"
        tags: list[tuple[str, str]] = []
        if source == "SERVICE":
            tags = list(tag_store.list_tags(tx, service.account_id, service.arn))
        elif source == "TASK_DEFINITION":
            tags = list(tag_store.list_tags(tx, service.account_id, definition.arn))
        if service.config.get("enableECSManagedTags"):
            tags += [("aws:ecs:serviceName", service.name), ("aws:ecs:clusterName", service.cluster_name)]
        return tags


class _Instances:
    """The cluster's placeable instances, read once per transaction when first needed and kept current by
    the launches that share them."""

    def __init__(self, tx: Connection, cluster: ClusterRecord) -> None:
        self._tx, self._cluster = tx, cluster
        self._instances: dict[str, launch.Placeable] | None = None

    def get(self) -> dict[str, launch.Placeable]:
        if self._instances is None:
            launch.lock(self._tx, self._cluster)
            self._instances = launch.placeable(self._tx, self._cluster)
        return self._instances

    def invalidate(self) -> None:
        self._instances = None


def _has_health_check(definition: TaskDefinitionRecord | None) -> bool:
    if definition is None:
        return False
    return any(
        c.get("healthCheck") and c.get("essential", True)
        for c in definition.body.get("containerDefinitions", [])
    )


def _closest(failures: list[launch.Failure]) -> tuple[str, str] | None:
    """The instance that came nearest to taking the task: ECS names one with a resource shortfall."""
    for failure in failures:
        if failure.reason == NO_CONTAINER_INSTANCES:
            return None
    ranked = sorted(failures, key=lambda f: not f.reason.startswith("RESOURCE"))
    if not ranked:
        return None
    return ranked[0].arn.rsplit("/", 1)[-1], ranked[0].reason
