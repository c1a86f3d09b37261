"""The service controller on a real SQLite store: the ECS provider records services, the controller
launches and stops their tasks, and agents' reports (made through the provider, as agents make them) drive
deployments to completion. No HTTP, no Docker: time is a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.controllers.services import ServiceController
from dockyard.core.context import RequestContext
from dockyard.services.ecs.errors import InvalidParameterException, ServiceNotActiveException
from dockyard.services.ecs.provider import EcsProvider
from dockyard.store import container_instances as instance_store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database
from dockyard.store.services import ServiceKey
from tests.services.conftest import T0, Clock

REGION = "us-east-1"
IDENTITY = {"instanceIdentityDocument": "{}", "instanceIdentityDocumentSignature": ""}


@dataclass
class World:
    db: Database
    ecs: EcsProvider
    controller: ServiceController
    clock: Clock
    principal: Any
    instances: list[str]

    def ctx(self) -> RequestContext:
        return RequestContext(principal=self.principal, region=REGION, request_id="req", now=self.clock.now)

    def call(self, operation: str, **params: Any) -> Any:
        return getattr(self.ecs, operation)(self.ctx(), params)

    def sync(self, name: str = "web") -> None:
        account = self.principal.account_id
        self.controller.sync_service(ServiceKey(account, REGION, "default", name))

    def tasks(self, name: str = "web", status: str = "RUNNING") -> list[dict[str, Any]]:
        arns = self.call("list_tasks", serviceName=name, desiredStatus=status)["taskArns"]
        return self.call("describe_tasks", tasks=arns)["tasks"] if arns else []

    def report(self, task: dict[str, Any], status: str, **extra: Any) -> None:
        containers = [{"containerName": c["name"], "status": status, **extra} for c in task["containers"]]
        self.call(
            "submit_task_state_change",
            cluster="default",
            task=task["taskArn"],
            status=status,
            containers=containers,
            **({"reason": extra["reason"]} if "reason" in extra else {}),
        )

    def run_all_pending(self, name: str = "web") -> None:
        for task in self.tasks(name):
            if task["lastStatus"] == "PENDING":
                self.report(task, "RUNNING")

    def stop_all_stopping(self, name: str = "web") -> None:
        for task in self.tasks(name, "STOPPED"):
            if task["lastStatus"] != "STOPPED":
                self.report(task, "STOPPED", exitCode=0)

    def service(self, name: str = "web") -> dict[str, Any]:
        return self.call("describe_services", services=[name])["services"][0]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = open_database(f"sqlite:///{tmp_path / 'svc.db'}")
    principal = CredentialStore(db).ensure_root_key(T0, None, None).principal
    clock = Clock()
    ecs = EcsProvider(db)
    controller = ServiceController(db, clock=clock, wake_instances=lambda _: None, healthy_after_s=5)
    w = World(db, ecs, controller, clock, principal, [])
    w.call("create_cluster", clusterName="default")
    for n in range(2):
        instance = w.call(
            "register_container_instance",
            cluster="default",
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 4096},
            ],
            attributes=[{"name": "ecs.availability-zone", "value": f"us-east-1{'ab'[n]}"}],
            **IDENTITY,
        )["containerInstance"]
        with db.write() as tx:
            instance_store.set_agent_connection(
                tx, principal.account_id, instance["containerInstanceArn"], connected=True, seen_at=T0
            )
        w.instances.append(instance["containerInstanceArn"])
    for revision in (1, 2):
        w.call(
            "register_task_definition",
            family="web",
            containerDefinitions=[{"name": "web", "image": f"web:{revision}", "memory": 128}],
        )
    yield w
    db.close()


def converge(world: World, rounds: int = 6, step_s: float = 6) -> None:
    """Let agents start and stop what the controller asked for, and time pass, a few times over."""
    for _ in range(rounds):
        world.sync()
        world.run_all_pending()
        world.stop_all_stopping()
        world.clock.now += timedelta(seconds=step_s)
    world.sync()


def test_a_service_reaches_a_steady_state_with_its_tasks(world: World) -> None:
    created = world.call("create_service", serviceName="web", taskDefinition="web:1", desiredCount=3)[
        "service"
    ]
    assert created["status"] == "ACTIVE" and created["deployments"][0]["id"].startswith("ecs-svc/")
    converge(world)
    service = world.service()
    assert (service["runningCount"], service["pendingCount"]) == (3, 0)
    [deployment] = service["deployments"]
    assert deployment["rolloutState"] == "COMPLETED"
    messages = [e["message"] for e in service["events"]]
    assert messages[0] == "(service web) has reached a steady state."
    assert messages[1] == f"(service web) (deployment {deployment['id']}) deployment completed."
    assert messages[-1].startswith("(service web) has started 3 tasks: (task ")
    tasks = world.tasks()
    assert {t["group"] for t in tasks} == {"service:web"}
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}


def test_a_task_that_dies_is_replaced(world: World) -> None:
    world.call("create_service", serviceName="web", taskDefinition="web:1", desiredCount=2)
    converge(world)
    victim = world.tasks()[0]
    world.report(victim, "STOPPED", exitCode=137, reason="Essential container in task exited")
    world.sync()
    assert len(world.tasks()) == 2
    assert victim["taskArn"] not in {t["taskArn"] for t in world.tasks()}


def test_a_rolling_update_replaces_every_task_and_completes(world: World) -> None:
    world.call(
        "create_service",
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=3,
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
    )
    converge(world)
    updated = world.call("update_service", service="web", taskDefinition="web:2")["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    converge(world, rounds=8)
    service = world.service()
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert {t["taskDefinitionArn"].rsplit(":", 1)[-1] for t in world.tasks()} == {"2"}
    assert len(world.tasks()) == 3
    newest = [e["message"] for e in service["events"][:2]]
    assert newest == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {service['deployments'][0]['id']}) deployment completed.",
    ]


def test_scaling_to_zero_and_deleting(world: World) -> None:
    world.call("create_service", serviceName="web", taskDefinition="web:1", desiredCount=2)
    converge(world)
    with pytest.raises(InvalidParameterException, match="scaled above 0"):
        world.call("delete_service", service="web")
    deleted = world.call("delete_service", service="web", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    converge(world)
    assert world.service()["status"] == "INACTIVE"
    assert world.tasks() == []
    with pytest.raises(ServiceNotActiveException):
        world.call("update_service", service="web", desiredCount=1)


def test_unplaceable_tasks_say_why_once(world: World) -> None:
    world.call(
        "create_service",
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=3,
        placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.availability-zone == nowhere"}
        ],
    )
    world.sync()
    world.sync()
    events = [e["message"] for e in world.service()["events"]]
    unable = [m for m in events if "was unable to place a task" in m]
    assert len(unable) == 1
    assert "did not match the placement constraint memberOf" in unable[0] or "closest matching" in unable[0]


def test_daemon_runs_one_task_per_instance(world: World) -> None:
    world.call("create_service", serviceName="agent", taskDefinition="web:1", schedulingStrategy="DAEMON")
    converge_daemon = lambda: [world.sync("agent"), world.run_all_pending("agent")]  # noqa: E731
    converge_daemon()
    tasks = world.tasks("agent")
    assert sorted(t["containerInstanceArn"] for t in tasks) == sorted(world.instances)
    world.call("update_container_instances_state", containerInstances=[world.instances[0]], status="DRAINING")
    world.sync("agent")
    remaining = world.tasks("agent")
    assert [t["containerInstanceArn"] for t in remaining] == [world.instances[1]]
    with pytest.raises(InvalidParameterException, match="maximumPercent"):
        world.call(
            "create_service",
            serviceName="d2",
            taskDefinition="web:1",
            schedulingStrategy="DAEMON",
            deploymentConfiguration={"maximumPercent": 200},
        )


def test_tasks_of_a_deregistered_instance_are_replaced_on_another(world: World) -> None:
    world.call(
        "create_service",
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=2,
        placementStrategy=[{"type": "spread", "field": "instanceId"}],
    )
    converge(world)
    lost = world.instances[0]
    assert lost in {t["containerInstanceArn"] for t in world.tasks()}
    world.call("deregister_container_instance", containerInstance=lost, force=True)
    converge(world)
    tasks = world.tasks()
    assert len(tasks) == 2 and {t["containerInstanceArn"] for t in tasks} == {world.instances[1]}
    assert world.service()["events"][0]["message"] == "(service web) has reached a steady state."
