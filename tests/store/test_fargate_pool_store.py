"""The store queries behind the Fargate pool's time-driven work, on every supported database: what runs on
each host (for idle retirement), the running Spot tasks (for random interruptions) and the regions of a
cluster's hosts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from dockyard.core.context import Principal
from dockyard.services.ecs.provider import EcsProvider
from dockyard.store import container_instances as instance_store
from dockyard.store import tasks as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database
from tests.store.test_task_store import NOW, REGION, context, setup_cluster


def run_tasks(provider: EcsProvider, principal: Principal, count: int) -> list[str]:
    ran = provider.run_task(context(principal), {"cluster": "web", "taskDefinition": "job", "count": count})
    return [t["taskArn"] for t in ran["tasks"]]


def rewrite(db: Database, arn: str, **changes: object) -> None:
    with db.write() as tx:
        record = store.find_task_by_arn(tx, arn)
        assert record is not None
        store.save_task(tx, replace(record, **changes))  # type: ignore[arg-type]


def test_instance_activity_counts_live_tasks_and_the_last_stop(db: Database) -> None:
    provider = EcsProvider(db)
    principal = CredentialStore(db).ensure_root_key(NOW, None, None).principal
    host = setup_cluster(db, provider, principal, cpu=4096, memory=8192)
    first, second, third = run_tasks(provider, principal, 3)
    with db.read() as tx:
        assert store.instance_activity(tx, [host, "arn:never-used"]) == {
            host: store.InstanceActivity(3, None)
        }

    rewrite(db, first, last_status=store.STOPPED, stopped_at=NOW + timedelta(seconds=10))
    rewrite(db, second, last_status=store.STOPPED, stopped_at=NOW + timedelta(seconds=30))
    with db.read() as tx:
        assert store.instance_activity(tx, [host]) == {
            host: store.InstanceActivity(1, NOW + timedelta(seconds=30))
        }
    rewrite(db, third, last_status=store.DEPROVISIONING)  # still holds its interface: not idle yet
    with db.read() as tx:
        assert store.instance_activity(tx, [host])[host].live == 1
    rewrite(db, third, last_status=store.STOPPED, stopped_at=NOW + timedelta(seconds=20))
    with db.read() as tx:
        assert store.instance_activity(tx, [host]) == {
            host: store.InstanceActivity(0, NOW + timedelta(seconds=30))
        }
        assert store.instance_activity(tx, []) == {}


def test_running_spot_tasks_and_their_regions(db: Database) -> None:
    provider = EcsProvider(db)
    principal = CredentialStore(db).ensure_root_key(NOW, None, None).principal
    setup_cluster(db, provider, principal, cpu=4096, memory=8192)
    spot, on_demand, stopping, pending = run_tasks(provider, principal, 4)
    with db.read() as tx:
        assert store.list_running_spot(tx, REGION) == []
        assert store.regions_with_running_spot(tx) == []
    fargate = {"launch_type": "FARGATE", "last_status": store.RUNNING}
    rewrite(db, spot, capacity_provider_name="FARGATE_SPOT", **fargate)
    rewrite(db, on_demand, capacity_provider_name="FARGATE", **fargate)
    rewrite(db, stopping, capacity_provider_name="FARGATE_SPOT", desired_status=store.STOPPED, **fargate)
    rewrite(db, pending, capacity_provider_name="FARGATE_SPOT", launch_type="FARGATE")
    with db.read() as tx:
        assert [t.arn for t in store.list_running_spot(tx, REGION)] == [spot]
        assert store.list_running_spot(tx, "eu-west-1") == []
        assert store.regions_with_running_spot(tx) == [REGION]


def test_cluster_regions_are_those_with_registered_instances(db: Database) -> None:
    provider = EcsProvider(db)
    principal = CredentialStore(db).ensure_root_key(NOW, None, None).principal
    host = setup_cluster(db, provider, principal, cpu=1024, memory=2048)
    with db.read() as tx:
        assert instance_store.cluster_regions(tx, principal.account_id, "web") == [REGION]
        assert instance_store.cluster_regions(tx, principal.account_id, "other") == []
        assert instance_store.cluster_regions(tx, "000000000000", "web") == []
    with db.write() as tx:
        record = instance_store.find_instance_by_arn(tx, principal.account_id, host)
        assert record is not None
        instance_store.save_instance(tx, replace(record, status=instance_store.INACTIVE))
    with db.read() as tx:
        assert instance_store.cluster_regions(tx, principal.account_id, "web") == []
