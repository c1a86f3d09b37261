"""The store side of agents' push channels: who may open one, what an instance should run, and what
agents tell the server on it (heartbeats, stop verifications, container health).

The websocket session itself (:mod:`dockyard.api.agent_channel`) holds no state the store does not; it
calls these methods, each one short transaction, from worker threads.

- A session is for one container instance of the signer's account, in the cluster it names, that is not
  INACTIVE; anything else is refused with the ECS error the API would give for it.
- ``agent_connected`` is true exactly while the instance has a live session in this process. At start no
  session exists yet, so :meth:`AgentSessions.mark_all_disconnected` clears every flag (single-server
  behaviour: with several server processes sharing a database, one starting would clear the flags of
  sessions held by the others until their next heartbeat).
- What the instance should know about: its tasks whose lastStatus is not STOPPED, each with its
  desiredStatus (:meth:`AgentSessions.instance_tasks`), as payloads built by
  :func:`dockyard.services.ecs.payloads.task_payload`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockyard.control.changes import ChangeFeed, ClusterRef
from dockyard.control.launch.definitions import DefinitionCache
from dockyard.control.vpc import permissions
from dockyard.core.agent_protocol import TaskPayload
from dockyard.core.arn import parse_arn
from dockyard.services.ecs import naming
from dockyard.services.ecs.errors import ClientException, ClusterNotFoundException, InvalidParameterException
from dockyard.services.ecs.payloads import task_payload
from dockyard.services.ecs.task_state import with_health
from dockyard.store import container_instances as instance_store
from dockyard.store import ec2 as ec2_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.database import Database
from dockyard.store.tasks import STOPPED, TaskRecord

INSTANCE_NOT_FOUND = "The referenced container instance was not found."


@dataclass(frozen=True, slots=True)
class SessionTarget:
    """The container instance a session serves."""

    account_id: str
    region: str
    cluster_arn: str
    instance_arn: str

    @property
    def cluster(self) -> ClusterRef:
        return ClusterRef(self.account_id, self.region, self.cluster_arn.rsplit("/", 1)[-1])


@dataclass(frozen=True, slots=True)
class DesiredTask:
    """One task the instance should know about: its ARN and desired status."""

    arn: str
    desired_status: str


PullCredentials = Callable[[str, str], Mapping[str, str]]
"""``(account, region)`` → ``{registry, username, password}`` for that account's images."""


class AgentSessions:
    def __init__(
        self,
        db: Database,
        changes: ChangeFeed | None = None,
        pull_credentials: PullCredentials | None = None,
    ) -> None:
        self._db = db
        self._changes = changes or ChangeFeed()
        self._definitions = DefinitionCache()
        self._pull_credentials = pull_credentials

    def mark_all_disconnected(self) -> int:
        """Clear ``agent_connected`` everywhere (at server start: no session exists yet)."""
        with self._db.write() as tx:
            return instance_store.mark_all_disconnected(tx)

    def authorize(self, account_id: str, cluster: str, instance_arn: str) -> SessionTarget:
        """The instance a session may serve, or the ECS error refusing it."""
        arn = parse_arn(instance_arn)
        if arn is None or arn.service != "ecs" or arn.resource_type != "container-instance":
            raise InvalidParameterException(INSTANCE_NOT_FOUND)
        with self._db.read() as tx:
            record = instance_store.find_instance_by_arn(tx, account_id, instance_arn)
        if record is None:
            raise InvalidParameterException(INSTANCE_NOT_FOUND)
        if record.status == instance_store.INACTIVE:
            raise ClientException(f"The referenced container instance is inactive: {instance_arn}")
        cluster_arn = naming.cluster_arn(record.region, record.account_id, record.cluster_name)
        if cluster not in (cluster_arn, record.cluster_name):
            raise ClusterNotFoundException("The container instance is not in the named cluster.")
        return SessionTarget(record.account_id, record.region, cluster_arn, record.arn)

    def set_connected(self, target: SessionTarget, connected: bool, now: datetime) -> None:
        with self._db.write() as tx:
            instance_store.set_agent_connection(
                tx, target.account_id, target.instance_arn, connected=connected, seen_at=now
            )
        self._changes.instances_changed(target.cluster)

    def seen(self, target: SessionTarget, now: datetime) -> None:
        """The agent answered a heartbeat: refresh ``agent_last_seen_at``."""
        with self._db.write() as tx:
            instance_store.touch_agent(tx, target.account_id, target.instance_arn, now)

    def instance_tasks(self, target: SessionTarget) -> list[DesiredTask]:
        """The instance's tasks that are not STOPPED, in ARN order."""
        with self._db.read() as tx:
            records = task_store.list_instance_tasks(tx, target.instance_arn)
        return [DesiredTask(r.arn, r.desired_status) for r in records]

    def payloads(self, target: SessionTarget, task_arns: Iterable[str]) -> list[TaskPayload]:
        """Payloads for those of ``task_arns`` that are on the instance and not STOPPED, as stored now."""
        wanted = set(task_arns)
        if not wanted:
            return []
        with self._db.read() as tx:
            records = [r for r in task_store.list_instance_tasks(tx, target.instance_arn) if r.arn in wanted]
            tags: dict[str, list[tuple[str, str]]] = {}
            for account_id in {r.account_id for r in records}:
                arns = [r.arn for r in records if r.account_id == account_id]
                tags.update(tag_store.list_tags_of_many(tx, account_id, arns))
            bodies = [self._definition(tx, r) for r in records]
        return [
            task_payload(r, body, tags.get(r.arn, []), pull_credentials=self._credentials_for(target, r))
            for r, body in zip(records, bodies, strict=True)
        ]

    def _credentials_for(self, target: SessionTarget, record: TaskRecord) -> Mapping[str, str] | None:
        """Registry credentials of the task's account, for a host of another account (the Fargate pool):
        its own token would not open the task's repositories."""
        if record.account_id == target.account_id or self._pull_credentials is None:
            return None
        return self._pull_credentials(record.account_id, record.region)

    def confirm_stops(self, target: SessionTarget, candidates: Sequence[str]) -> list[str]:
        """Those of ``candidates`` (task ARNs running on the instance) the server confirms stopping: tasks
        it does not know on this instance, and tasks it wants STOPPED."""
        if not candidates:
            return []
        with self._db.read() as tx:
            known = {
                r.arn: r
                for r in (task_store.find_task_by_arn(tx, arn) for arn in dict.fromkeys(candidates))
                if r is not None and r.container_instance_arn == target.instance_arn
            }
        return [
            arn
            for arn in dict.fromkeys(candidates)
            if arn not in known or known[arn].desired_status == STOPPED or known[arn].last_status == STOPPED
        ]

    def record_health(
        self, target: SessionTarget, reports: Sequence[Mapping[str, Any]], now: datetime
    ) -> int:
        """Apply ``PublishHealthRequest.tasks`` (``[{taskArn, containers: [{containerName,
        healthStatus}]}]``) to the instance's tasks; others are ignored. How many tasks changed."""
        changed: dict[ClusterRef, list[str | None]] = {}
        with self._db.write() as tx:
            for report in reports:
                arn = report.get("taskArn")
                if not isinstance(arn, str):
                    continue
                record = task_store.find_task_by_arn(tx, arn, lock=True)
                if record is None or record.container_instance_arn != target.instance_arn:
                    continue
                statuses = {
                    str(c.get("containerName")): str(c.get("healthStatus"))
                    for c in report.get("containers") or []
                    if isinstance(c, Mapping)
                }
                body = self._definition(tx, record) or {}
                updated = with_health(record, body.get("containerDefinitions") or [], statuses, now)
                if updated is not None:
                    task_store.save_task(tx, updated)
                    cluster = ClusterRef(record.account_id, record.region, record.cluster_name)
                    changed.setdefault(cluster, []).append(record.group)
        for cluster, groups in changed.items():  # a pool instance's tasks are in their own clusters
            self._changes.tasks_changed(cluster, groups)
        return sum(len(groups) for groups in changed.values())

    def _definition(self, tx: Any, record: TaskRecord) -> dict[str, Any] | None:
        """The body of the task's definition."""
        found = self._definitions.get(tx, record.account_id, record.region, record.task_definition_arn)
        return None if found is None else found.body

    def firewall(self, target: SessionTarget) -> list[dict[str, Any]]:
        """``FirewallMessage.interfaces`` for the instance: the interfaces of its tasks that are not STOPPED
        (of any account: a Fargate pool instance runs every account's tasks), each with the ingress of its
        security groups resolved to IPv4 CIDRs (a group source → the ``/32``s of the interfaces of that
        account and region in the group). One read transaction."""
        with self._db.read() as tx:
            eni_ids = ec2_store.instance_interface_ids(tx, target.instance_arn)
            interfaces = ec2_store.find_interfaces(tx, eni_ids)
            resolved: list[dict[str, Any]] = []
            for account_id, region in sorted({(i.account_id, i.region) for i in interfaces}):
                groups = {g.group_id: g for g in ec2_store.list_groups(tx, account_id, region)}
                local = [i for i in interfaces if (i.account_id, i.region) == (account_id, region)]
                used = [groups[g] for i in local for g in i.group_ids if g in groups]
                members = permissions.group_members(
                    ec2_store.list_interfaces(tx, account_id, region), permissions.referenced_groups(used)
                )
                resolved.extend(permissions.firewall_interfaces(local, groups, members))
        return sorted(resolved, key=lambda entry: str(entry["networkInterfaceId"]))
