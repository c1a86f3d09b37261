"""Fargate launches and the pool that runs them, inside the caller's write transaction.

```
RunTask FARGATE / a FARGATE service ─▶ launch_fargate(tx, cluster, spec, providers, network, pool)
   │ per task: an interface in the least used zone's subnet (interfaces.attach), the task PROVISIONING
   │ with no instance, launchType FARGATE, its capacity provider, platform 1.4.0
   ▼
place_waiting(tx, pool, tasks)  (also the pool controller, for every task still waiting)
   │ lock the pool's cluster, read its hosts, binpack each task onto one (fargate_rules.choose_host),
   │ debit it; the task becomes PENDING on that host, with the OCI runtime that will isolate it
   ▼ a task nothing fits stays PROVISIONING: the pool controller asks the provisioner for a host
```

The pool is the cluster ``fargate`` of the pool's own account (:class:`Pool`): its hosts are container
instances no user account can list, and the tasks on them stay in their users' clusters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from dockyard.control.changes import ClusterRef
from dockyard.control.launch import fargate_rules as rules
from dockyard.control.launch import interfaces
from dockyard.control.launch.placing import Launched, LaunchSpec, new_task
from dockyard.store import container_instances as instance_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as task_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.tasks import PENDING, PROVISIONING, TaskRecord

log = logging.getLogger(__name__)

FARGATE = "FARGATE"
X86_64 = "X86_64"
_weak_isolation_logged: set[str] = set()


@dataclass(frozen=True, slots=True)
class Pool:
    """The Fargate pool of one region: the cluster ``fargate`` of the pool's account."""

    account_id: str
    region: str

    @property
    def cluster_name(self) -> str:
        return rules.POOL_CLUSTER


def pool_ref(pool_account_id: str, region: str) -> ClusterRef:
    """The pool's cluster as the change feed names it (a change there wakes the pool controller)."""
    return ClusterRef(pool_account_id, region, rules.POOL_CLUSTER)


def launch_fargate(
    tx: Connection,
    cluster: ClusterRecord,
    spec: LaunchSpec,
    providers: Sequence[str],
    network: interfaces.TaskNetwork,
    pool: Pool,
    *,
    now: datetime,
) -> Launched:
    """One task per entry of ``providers`` (FARGATE or FARGATE_SPOT), each with its interface, placed on
    the pool at once when a host has room (else left PROVISIONING for the pool controller)."""
    architecture = str((spec.definition.body.get("runtimePlatform") or {}).get("cpuArchitecture") or X86_64)
    group = task_store.list_group_tasks(tx, cluster.account_id, cluster.region, cluster.name, spec.group)
    zones = interfaces.zone_counts(group)
    records: list[TaskRecord] = []
    for provider in providers:
        record = new_task(
            cluster,
            spec,
            now,
            container_instance_arn=None,
            last_status=PROVISIONING,
            launch_type=FARGATE,
            attributes=[{"name": "ecs.cpu-architecture", "value": _ecs_architecture(architecture)}],
            availability_zone=None,
            capacity_provider_name=provider,
            platform_version=rules.PLATFORM_VERSION,
            cpu_architecture=architecture,
        )
        record = interfaces.attach(tx, record, network, zones, now)
        task_store.insert_task(tx, record)
        if spec.tags:
            tag_store.put_tags(tx, cluster.account_id, record.arn, spec.tags)
        records.append(record)
    placed = {r.arn: r for r in place_waiting(tx, pool, records, now=now)}
    return Launched(tasks=[placed.get(r.arn, r) for r in records])


def pool_hosts(tx: Connection, pool: Pool) -> dict[str, rules.PoolHost]:
    records = instance_store.list_instances(
        tx, pool.account_id, pool.region, pool.cluster_name, statuses=instance_store.REGISTERED
    )
    return {
        r.arn: rules.PoolHost(
            arn=r.arn,
            remaining_cpu=r.remaining_cpu,
            remaining_memory=r.remaining_memory,
            active=r.status == "ACTIVE",
            connected=r.agent_connected,
            runtimes=rules.runtimes_of(r.attributes),
        )
        for r in records
    }


def place_waiting(
    tx: Connection, pool: Pool, waiting: Sequence[TaskRecord], *, now: datetime
) -> list[TaskRecord]:
    """Place those of ``waiting`` (PROVISIONING, no host, desired RUNNING) a pool host has room for, in
    order; the tasks as placed (PENDING on their host)."""
    todo = [
        t
        for t in waiting
        if t.container_instance_arn is None
        and t.last_status == PROVISIONING
        and t.desired_status == "RUNNING"
    ]
    if not todo:
        return []
    task_store.lock_cluster(tx, pool.account_id, pool.region, pool.cluster_name)
    hosts = pool_hosts(tx, pool)
    placed: list[TaskRecord] = []
    for task in todo:
        host = rules.choose_host(list(hosts.values()), task.reserved_cpu, task.reserved_memory)
        if host is None:
            continue
        debited = task_store.debit_instance(
            tx,
            pool.account_id,
            host.arn,
            cpu=task.reserved_cpu,
            memory=task.reserved_memory,
            ports_tcp=(),
            ports_udp=(),
            now=now,
        )
        if not debited:
            hosts.pop(host.arn)
            continue
        hosts[host.arn] = replace(
            host,
            remaining_cpu=host.remaining_cpu - task.reserved_cpu,
            remaining_memory=host.remaining_memory - task.reserved_memory,
        )
        runtime = rules.runtime_for(host)
        if runtime != rules.RUNSC and host.arn not in _weak_isolation_logged:
            _weak_isolation_logged.add(host.arn)
            log.warning(
                "Fargate host without gVisor (runsc): its tasks run under runc, isolation is weaker",
                extra={"instance": host.arn},
            )
        saved = task_store.save_task(
            tx,
            replace(
                task,
                container_instance_arn=host.arn,
                last_status=PENDING,
                attributes=[*task.attributes, {"name": rules.RUNTIME_ATTRIBUTE, "value": runtime}],
                attachments=rules.with_attachment_status(task.attachments, "ATTACHED"),
                updated_at=now,
            ),
        )
        placed.append(saved)
    return placed


def _ecs_architecture(runtime_platform_architecture: str) -> str:
    """``X86_64`` → ``x86_64``, ``ARM64`` → ``arm64`` (the task attribute's spelling)."""
    return runtime_platform_architecture.lower()


SPOT_INTERRUPTION = "SpotInterruption"
SPOT_INTERRUPTED = "Your Spot Task was interrupted."


def interrupt_spot(tx: Connection, task_arn: str, *, now: datetime) -> TaskRecord | None:
    """Reclaim a FARGATE_SPOT task's capacity, as AWS does with two minutes' notice: desired STOPPED with
    stopCode SpotInterruption; its agent sends SIGTERM and waits up to 120 s before SIGKILL. None if there
    is no such Spot task still running."""
    record = task_store.find_task_by_arn(tx, task_arn, lock=True)
    if (
        record is None
        or record.capacity_provider_name != "FARGATE_SPOT"
        or record.desired_status == "STOPPED"
    ):
        return None
    stop = task_store.request_stop(record, now=now, reason=SPOT_INTERRUPTED, stop_code=SPOT_INTERRUPTION)
    return task_store.save_task(tx, replace(stop, interrupt_at=now))
