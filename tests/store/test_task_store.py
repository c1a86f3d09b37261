"""ECS tasks in the store, on every supported database: placement through the provider (concurrent
RunTask calls never oversubscribe an instance) and the agent path's state changes (STOPPED credits the
instance back exactly once)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.core.context import Principal, RequestContext
from dockyard.services.ecs.provider import EcsProvider
from dockyard.services.ecs.task_definitions import purge_deleted_task_definitions
from dockyard.services.ecs.tasks import purge_stopped_tasks
from dockyard.store import container_instances as instance_store
from dockyard.store import tags as tag_store
from dockyard.store import tasks as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from dockyard.store.schema import metadata

NOW = datetime(2026, 11, 28, 9, 30, 0, 250000, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture
def principal(db: Database) -> Principal:
    return CredentialStore(db).ensure_root_key(NOW, None, None).principal


def context(principal: Principal, now: datetime = NOW) -> RequestContext:
    return RequestContext(principal=principal, region=REGION, request_id=str(uuid.uuid4()), now=now)


@pytest.fixture
def provider(db: Database) -> EcsProvider:
    return EcsProvider(db)


def setup_cluster(db: Database, provider: EcsProvider, principal: Principal, *, cpu: int, memory: int) -> str:
    """A cluster with one instance whose agent counts as connected (placement needs one), and a
    task definition."""
    ctx = context(principal)
    provider.create_cluster(ctx, {"clusterName": "web"})
    provider.register_task_definition(
        ctx,
        {
            "family": "job",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "busybox",
                    "cpu": 256,
                    "memory": 512,
                    "portMappings": [{"containerPort": 80}],
                }
            ],
        },
    )
    instance = provider.register_container_instance(
        ctx,
        {
            "cluster": "web",
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
            ],
            "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1a"}],
        },
    )
    arn = str(instance["containerInstance"]["containerInstanceArn"])
    with db.write() as tx:
        instance_store.set_agent_connection(tx, principal.account_id, arn, connected=True, seen_at=NOW)
    return arn


def instance(db: Database, principal: Principal, arn: str) -> instance_store.ContainerInstanceRecord:
    with db.read() as tx:
        found = instance_store.find_instance(tx, principal.account_id, REGION, "web", arn.rsplit("/", 1)[1])
    assert found is not None
    return found


def test_schema_matches_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "ecs_tasks" in repr(d)] == []


def test_concurrent_run_task_never_oversubscribes(
    db: Database, provider: EcsProvider, principal: Principal
) -> None:
    arn = setup_cluster(db, provider, principal, cpu=256 * 10, memory=512 * 10)
    placed: list[str] = []
    failures: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def run() -> None:
        try:
            start.wait()
            # Bridge tasks with a dynamic host port: only CPU and memory bound the instance.
            result: dict[str, Any] = provider.run_task(
                context(principal), {"cluster": "web", "taskDefinition": "job", "count": 3}
            )
            with lock:
                placed.extend(t["taskArn"] for t in result["tasks"])
                failures.extend(f["reason"] for f in result["failures"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(placed) == 10 and len(set(placed)) == 10
    assert set(failures) <= {"RESOURCE:CPU", "RESOURCE:MEMORY"}
    record = instance(db, principal, arn)
    assert (record.remaining_cpu, record.remaining_memory) == (0, 0)
    with db.read() as tx:
        counts = store.count_by_instance(tx, principal.account_id, [arn])
    assert counts[arn] == store.TaskCounts(running=0, pending=10)


def test_stopped_credits_back_exactly_once(db: Database, provider: EcsProvider, principal: Principal) -> None:
    arn = setup_cluster(db, provider, principal, cpu=1024, memory=2048)
    provider.register_task_definition(
        context(principal),
        {
            "family": "ported",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "busybox",
                    "memory": 128,
                    "portMappings": [{"containerPort": 80, "hostPort": 8080}],
                }
            ],
        },
    )
    task = provider.run_task(context(principal), {"cluster": "web", "taskDefinition": "ported"})["tasks"][0]
    debited = instance(db, principal, arn)
    assert (debited.remaining_memory, debited.remaining_ports_tcp) == (2048 - 128, (22, 8080))

    later = NOW + timedelta(minutes=1)
    with db.write() as tx:
        pending = store.record_task_state(tx, task["taskArn"], store.PENDING, now=later)
        running = store.record_task_state(
            tx,
            task["taskArn"],
            store.RUNNING,
            now=later,
            containers=[
                {"containerName": "app", "status": "RUNNING", "networkBindings": [{"hostPort": 8080}]}
            ],
            pull_started_at=NOW,
            pull_stopped_at=later,
        )
    assert pending is not None and running is not None
    assert running.last_status == store.RUNNING and running.started_at == later
    assert running.containers[0]["lastStatus"] == "RUNNING"
    assert running.containers[0]["networkBindings"] == [{"hostPort": 8080}]
    with db.read() as tx:
        assert store.count_by_instance(tx, principal.account_id, [arn])[arn] == store.TaskCounts(1, 0)

    provider.stop_task(
        context(principal, later), {"cluster": "web", "task": task["taskArn"], "reason": "bye"}
    )
    stopped: store.TaskRecord | None = None
    for _ in range(3):
        with db.write() as tx:
            stopped = store.record_task_state(
                tx,
                task["taskArn"],
                store.STOPPED,
                now=later,
                containers=[{"containerName": "app", "status": "STOPPED", "exitCode": 137}],
                reason="Essential container in task exited",
                stop_code="EssentialContainerExited",
            )
    assert stopped is not None
    assert stopped.last_status == stopped.desired_status == store.STOPPED
    assert (stopped.stopped_reason, stopped.stop_code) == ("bye", "UserInitiated")
    assert stopped.containers[0]["exitCode"] == 137 and stopped.resources_released
    assert stopped.stopped_at == later
    credited = instance(db, principal, arn)
    assert (credited.remaining_cpu, credited.remaining_memory, credited.remaining_ports_tcp) == (
        1024,
        2048,
        (22,),
    )

    # A late RUNNING report does not move a stopped task back.
    with db.write() as tx:
        late = store.record_task_state(tx, task["taskArn"], store.RUNNING, now=later)
    assert late is not None and late.last_status == store.STOPPED
    with db.write() as tx:
        assert (
            store.record_task_state(tx, "arn:aws:ecs:us-east-1:1:task/web/none", store.STOPPED, now=later)
            is None
        )


def test_list_and_find(db: Database, provider: EcsProvider, principal: Principal) -> None:
    arn = setup_cluster(db, provider, principal, cpu=4096, memory=8192)
    tasks = provider.run_task(context(principal), {"cluster": "web", "taskDefinition": "job", "count": 4})[
        "tasks"
    ]
    arns = sorted(t["taskArn"] for t in tasks)
    with db.read() as tx:
        listed = store.list_task_arns(
            tx, principal.account_id, REGION, "web", desired_status="RUNNING", after=arns[0], limit=2
        )
        found = store.find_tasks(tx, principal.account_id, REGION, "web", [a.rsplit("/", 1)[1] for a in arns])
        groups = store.groups_by_instance(tx, principal.account_id, REGION, "web")
        by_cluster = store.count_by_cluster(tx, principal.account_id, REGION, ["web", "none"])
    assert listed == arns[1:3]
    assert {r.arn for r in found.values()} == set(arns)
    record = next(iter(found.values()))
    assert record.created_at == NOW and record.created_at.tzinfo is not None
    assert record.availability_zone == "us-east-1a"
    assert groups == {arn: {"family:job": 4}}
    assert by_cluster == {"web": store.TaskCounts(running=0, pending=4)}


def test_a_deleted_task_definition_is_purged_only_once_its_tasks_stopped(
    db: Database, provider: EcsProvider, principal: Principal
) -> None:
    setup_cluster(db, provider, principal, cpu=1024, memory=2048)
    ctx = context(principal)
    (task,) = provider.run_task(ctx, {"cluster": "web", "taskDefinition": "job"})["tasks"]
    provider.deregister_task_definition(ctx, {"taskDefinition": "job:1"})
    provider.delete_task_definitions(ctx, {"taskDefinitions": ["job:1"]})
    later = NOW + timedelta(hours=1)
    assert purge_deleted_task_definitions(db, requested_before=later) == 0
    described = provider.describe_task_definition(ctx, {"taskDefinition": "job:1"})
    assert described["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"

    with db.write() as tx:
        store.record_task_state(tx, task["taskArn"], store.STOPPED, now=NOW)
    assert purge_deleted_task_definitions(db, requested_before=later) == 1


def test_stopped_tasks_are_purged_after_the_retention_with_their_tags(
    db: Database, provider: EcsProvider, principal: Principal
) -> None:
    setup_cluster(db, provider, principal, cpu=1024, memory=4096)
    ctx = context(principal)
    ran = provider.run_task(
        ctx, {"cluster": "web", "taskDefinition": "job", "count": 3, "tags": [{"key": "k", "value": "v"}]}
    )
    old, recent, running = (t["taskArn"] for t in ran["tasks"])
    with db.write() as tx:
        store.record_task_state(tx, old, store.STOPPED, now=NOW)
        store.record_task_state(tx, recent, store.STOPPED, now=NOW + timedelta(minutes=50))
    assert purge_stopped_tasks(db, stopped_before=NOW + timedelta(minutes=1)) == 1
    with db.read() as tx:
        assert store.find_task_by_arn(tx, old) is None
        assert tag_store.list_tags(tx, principal.account_id, old) == []
        assert store.find_task_by_arn(tx, recent) is not None
        assert store.find_task_by_arn(tx, running) is not None
        assert tag_store.list_tags(tx, principal.account_id, running) == [("k", "v")]
