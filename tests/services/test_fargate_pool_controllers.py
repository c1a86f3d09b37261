"""The Fargate pool's time-driven controllers on a real SQLite store, with a settable clock: idle
provisioned hosts are retired after the grace period (never the server's own, never a busy one), and Spot
tasks are interrupted at random (never on-demand ones). No HTTP, no Docker."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.changes import ChangeFeed, ClusterChange
from dockyard.control.controllers.fargate_hosts import PoolHostRetirer
from dockyard.control.controllers.fargate_spot import SpotInterrupter
from dockyard.core.context import RequestContext
from dockyard.services.ecs.provider import EcsProvider
from dockyard.store import container_instances as instance_store
from dockyard.store import tasks as task_store
from dockyard.store.container_instances import ContainerInstanceRecord
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database
from tests.services.conftest import T0, Clock

REGION = "us-east-1"
GRACE_S = 600.0


@dataclass
class World:
    db: Database
    ecs: EcsProvider
    clock: Clock
    principal: Any
    changes: ChangeFeed
    published: list[ClusterChange] = field(default_factory=list)

    def call(self, operation: str, **params: Any) -> Any:
        ctx = RequestContext(principal=self.principal, region=REGION, request_id="r", now=self.clock.now)
        return getattr(self.ecs, operation)(ctx, params)

    def register_host(self, cluster: str, *, provisioned: bool) -> str:
        attributes = [{"name": "dockyard.pool.provisioned", "value": "true"}] if provisioned else []
        instance = self.call(
            "register_container_instance",
            cluster=cluster,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096},
            ],
            attributes=[*attributes, {"name": "dockyard.host.address", "value": "10.0.0.9"}],
        )["containerInstance"]
        arn = str(instance["containerInstanceArn"])
        with self.db.write() as tx:
            instance_store.set_agent_connection(
                tx, self.principal.account_id, arn, connected=True, seen_at=T0
            )
        return arn

    def status(self, arn: str) -> str:
        with self.db.read() as tx:
            record = instance_store.find_instance_by_arn(tx, self.principal.account_id, arn)
        assert record is not None
        return record.status

    def task(self, arn: str) -> task_store.TaskRecord:
        with self.db.read() as tx:
            record = task_store.find_task_by_arn(tx, arn)
        assert record is not None
        return record


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = open_database(f"sqlite:///{tmp_path / 'pool.db'}")
    principal = CredentialStore(db).ensure_root_key(T0, None, None).principal
    changes = ChangeFeed()
    w = World(db, EcsProvider(db), Clock(), principal, changes)
    changes.subscribe(w.published.append)
    for cluster in ("fargate", "web"):
        w.call("create_cluster", clusterName=cluster)
    w.call(
        "register_task_definition",
        family="job",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 128}],
    )
    yield w
    db.close()


def retirer(world: World, retired: list[ContainerInstanceRecord]) -> PoolHostRetirer:
    def on_retired(hosts: Sequence[ContainerInstanceRecord]) -> None:
        retired.extend(hosts)

    return PoolHostRetirer(
        world.db,
        pool_account_id=world.principal.account_id,
        clock=world.clock,
        grace_s=GRACE_S,
        changes=world.changes,
        on_retired=on_retired,
    )


def test_an_idle_provisioned_host_is_retired_after_the_grace_and_the_local_one_never(world: World) -> None:
    provisioned = world.register_host("fargate", provisioned=True)
    local = world.register_host("fargate", provisioned=False)
    retired: list[ContainerInstanceRecord] = []
    controller = retirer(world, retired)
    assert list(controller.all_keys()) == [REGION]

    world.clock.now = T0 + timedelta(seconds=599)
    assert controller.sync_region(REGION) == pytest.approx(1.0)
    assert retired == [] and world.status(provisioned) == "ACTIVE"

    # A task on it keeps it, however long it runs.
    (task,) = world.call(
        "start_task", cluster="fargate", taskDefinition="job", containerInstances=[provisioned]
    )["tasks"]
    world.clock.now = T0 + timedelta(seconds=5000)
    assert controller.sync_region(REGION) is None
    assert world.status(provisioned) == "ACTIVE"

    # Idle again from its task's stop: retired one grace period later.
    stopped_at = T0 + timedelta(seconds=5100)
    with world.db.write() as tx:
        task_store.record_task_state(tx, task["taskArn"], task_store.STOPPED, now=stopped_at)
    world.clock.now = stopped_at + timedelta(seconds=GRACE_S - 1)
    assert controller.sync_region(REGION) == pytest.approx(1.0)
    assert world.status(provisioned) == "ACTIVE"
    world.published.clear()
    world.clock.now = stopped_at + timedelta(seconds=GRACE_S)
    assert controller.sync_region(REGION) is None
    assert [h.arn for h in retired] == [provisioned]
    assert retired[0].status == "INACTIVE" and not retired[0].agent_connected
    assert retired[0].attributes["dockyard.host.address"] == "10.0.0.9"
    assert world.status(provisioned) == "INACTIVE"
    assert world.status(local) == "ACTIVE"
    assert any(c.instances and c.cluster.cluster_name == "fargate" for c in world.published)

    world.clock.now += timedelta(days=30)
    assert controller.sync_region(REGION) is None
    assert len(retired) == 1 and world.status(local) == "ACTIVE"


def test_hosts_of_other_accounts_and_clusters_are_not_the_pools(world: World) -> None:
    elsewhere = world.register_host("web", provisioned=True)
    retired: list[ContainerInstanceRecord] = []
    controller = retirer(world, retired)
    world.clock.now = T0 + timedelta(days=1)
    assert list(controller.all_keys()) == []
    assert controller.sync_region(REGION) is None
    assert retired == [] and world.status(elsewhere) == "ACTIVE"


def test_running_spot_tasks_are_interrupted_at_random_and_on_demand_ones_never(world: World) -> None:
    host = world.register_host("web", provisioned=False)
    ran = world.call("run_task", cluster="web", taskDefinition="job", count=2)["tasks"]
    spot, on_demand = (t["taskArn"] for t in ran)
    with world.db.write() as tx:
        for arn, provider in ((spot, "FARGATE_SPOT"), (on_demand, "FARGATE")):
            record = task_store.find_task_by_arn(tx, arn)
            assert record is not None
            task_store.save_task(
                tx,
                replace(
                    record,
                    launch_type="FARGATE",
                    capacity_provider_name=provider,
                    last_status="RUNNING",
                    started_at=T0,
                ),
            )
    woken: list[str | None] = []
    controller = SpotInterrupter(
        world.db,
        rate_per_hour=1e6,
        clock=world.clock,
        random=random.Random(5).random,
        wake_instances=woken.extend,
        changes=world.changes,
    )
    assert list(controller.all_keys()) == [REGION]
    world.published.clear()
    world.clock.now = T0 + timedelta(seconds=5)
    assert controller.sync_region(REGION) == [spot]
    interrupted = world.task(spot)
    assert interrupted.desired_status == "STOPPED"
    assert interrupted.stop_code == "SpotInterruption"
    assert interrupted.stopped_reason == "Your Spot Task was interrupted."
    assert interrupted.interrupt_at == world.clock.now
    assert woken == [host]
    assert [c.cluster.cluster_name for c in world.published] == ["web"]
    assert world.task(on_demand).desired_status == "RUNNING"

    world.clock.now += timedelta(hours=1)
    assert controller.sync_region(REGION) == []  # nothing Spot runs any more
    assert list(controller.all_keys()) == []
    assert world.task(on_demand).desired_status == "RUNNING"


def test_a_zero_exposure_check_interrupts_nothing(world: World) -> None:
    world.register_host("web", provisioned=False)
    (task,) = world.call("run_task", cluster="web", taskDefinition="job")["tasks"]
    with world.db.write() as tx:
        record = task_store.find_task_by_arn(tx, task["taskArn"])
        assert record is not None
        task_store.save_task(
            tx,
            replace(
                record,
                launch_type="FARGATE",
                capacity_provider_name="FARGATE_SPOT",
                last_status="RUNNING",
                started_at=T0,
            ),
        )
    controller = SpotInterrupter(
        world.db,
        rate_per_hour=1e6,
        clock=world.clock,
        random=random.Random(5).random,
        wake_instances=lambda _arns: None,
        changes=world.changes,
    )
    assert controller.sync_region(REGION) == []  # created at T0, checked at T0: no time has passed
    world.clock.now = T0 + timedelta(seconds=1)
    assert controller.sync_region(REGION) == [task["taskArn"]]
