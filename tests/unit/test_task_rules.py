"""Task rules: reservations from a task definition and overrides, host ports, references, the view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.control.launch import shape as launch_shape
from dockyard.control.scheduler import Constraint, Strategy
from dockyard.services.ecs import task_rules as rules
from dockyard.services.ecs.errors import InvalidParameterException
from dockyard.store.tasks import TaskRecord

NOW = datetime(2026, 11, 28, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"


def body(*containers: dict[str, object], **task: object) -> dict[str, object]:
    return {"containerDefinitions": list(containers), "networkMode": "bridge", **task}


def test_reservation_sums_containers_with_memory_reservation_first() -> None:
    shape = launch_shape.task_shape(
        body(
            {"name": "a", "image": "x", "cpu": 256, "memory": 512},
            {"name": "b", "image": "y", "cpu": 0, "memory": 512, "memoryReservation": 128},
        ),
        {},
    )
    assert (shape.cpu, shape.memory) == (256, 640)
    assert shape.task_cpu is None and shape.task_memory is None


def test_task_level_sizes_and_overrides_win() -> None:
    definition = body({"name": "a", "image": "x", "cpu": 256, "memory": 512}, cpu="1024", memory="2048")
    plain = launch_shape.task_shape(definition, {})
    assert (plain.cpu, plain.memory) == (1024, 2048)
    shape = launch_shape.task_shape(definition, {"cpu": "0.5 vCPU", "memory": "1 GB"})
    assert (shape.cpu, shape.memory, shape.task_cpu, shape.task_memory) == (512, 1024, "512", "1024")
    container = launch_shape.task_shape(
        body({"name": "a", "image": "x", "cpu": 256, "memory": 512}),
        {"containerOverrides": [{"name": "a", "cpu": 100, "memoryReservation": 64, "command": ["sh"]}]},
    )
    assert (container.cpu, container.memory) == (100, 64)
    assert container.containers[0]["memory"] == 512


def test_override_of_an_unknown_container_is_refused() -> None:
    with pytest.raises(InvalidParameterException, match="ghost is not a container"):
        launch_shape.task_shape(
            body({"name": "a", "image": "x", "memory": 1}), {"containerOverrides": [{"name": "ghost"}]}
        )


def test_host_ports_by_network_mode() -> None:
    containers = [
        {
            "name": "a",
            "portMappings": [
                {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
                {"containerPort": 81, "hostPort": 0, "protocol": "tcp"},
                {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
            ],
        }
    ]
    assert launch_shape.host_ports(containers, "bridge") == (frozenset({8080}), frozenset({53}))
    assert launch_shape.host_ports(containers, "host") == (frozenset({80, 81}), frozenset({53}))
    assert launch_shape.host_ports(containers, "awsvpc") == (frozenset(), frozenset())


def test_placement_request_joins_constraints_and_strategies() -> None:
    shape = launch_shape.task_shape(body({"name": "a", "image": "x", "memory": 64}), {})
    request = launch_shape.placement_request(
        shape,
        count=3,
        group="family:web",
        definition_constraints=[{"type": "memberOf", "expression": "attribute:stack == prod"}],
        constraints=[{"type": "distinctInstance"}],
        strategies=[{"type": "spread", "field": "instanceId"}],
    )
    assert request.count == 3 and request.group == "family:web" and request.memory == 64
    assert request.constraints == (
        Constraint.member_of("attribute:stack == prod"),
        Constraint.distinct_instance(),
    )
    assert request.strategies == (Strategy.spread("instanceId"),)


def test_references() -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/{'a' * 32}"
    assert launch_shape.task_arn(REGION, ACCOUNT, "web", "a" * 32) == arn
    find = rules.task_id_from_reference
    assert find(arn, region=REGION, account_id=ACCOUNT, cluster="web") == "a" * 32
    assert find("a" * 32, region=REGION, account_id=ACCOUNT, cluster="web") == "a" * 32
    assert find(
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{'b' * 32}", region=REGION, account_id=ACCOUNT, cluster="web"
    )
    assert find(arn, region=REGION, account_id="999999999999", cluster="web") is None
    assert find(arn, region=REGION, account_id=ACCOUNT, cluster="other") is None
    assert find("../x", region=REGION, account_id=ACCOUNT, cluster="web") is None


def test_initial_containers_and_view() -> None:
    definition = body({"name": "a", "image": "nginx", "memory": 64, "memoryReservation": 32})
    shape = launch_shape.task_shape(definition, {})
    arn = launch_shape.task_arn(REGION, ACCOUNT, "web", "c" * 32)
    containers = launch_shape.initial_containers(
        shape, task_arn=arn, container_ids=["id-1"], region=REGION, account_id=ACCOUNT, cluster="web"
    )
    assert containers == [
        {
            "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/web/{'c' * 32}/id-1",
            "taskArn": arn,
            "name": "a",
            "image": "nginx",
            "lastStatus": "PENDING",
            "networkBindings": [],
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": "0",
            "memory": "64",
            "memoryReservation": "32",
        }
    ]
    record = TaskRecord(
        account_id=ACCOUNT,
        region=REGION,
        cluster_name="web",
        task_id="c" * 32,
        arn=arn,
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web",
        task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1",
        family="web",
        container_instance_arn=None,
        last_status="PENDING",
        desired_status="RUNNING",
        launch_type="EC2",
        group="family:web",
        started_by=None,
        cpu=None,
        memory=None,
        reserved_cpu=0,
        reserved_memory=64,
        reserved_ports_tcp=(),
        reserved_ports_udp=(),
        overrides={},
        containers=containers,
        created_at=NOW,
        updated_at=NOW,
    )
    view = rules.task_view(record, None)
    assert view["overrides"] == {"containerOverrides": [], "inferenceAcceleratorOverrides": []}
    assert "tags" not in view and "stoppedReason" not in view and "startedBy" not in view
    assert view["group"] == "family:web" and view["healthStatus"] == "UNKNOWN"
    assert rules.task_view(record, [("k", "v")])["tags"] == [{"key": "k", "value": "v"}]
    assert launch_shape.task_attributes({"ecs.cpu-architecture": "arm64"}) == [
        {"name": "ecs.cpu-architecture", "value": "arm64"}
    ]
