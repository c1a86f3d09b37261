"""ECS container definition → ContainerSpec (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.agent import container_specs
from dockyard.agent.container_specs import SpecError, build_spec, parse_memory_mib
from dockyard.agent.runtime import Bind, ContainerSpec, HealthCheck, PortBinding, Ulimit

MiB = 1024 * 1024
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
INSTANCE = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i1"


def _task(containers: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "taskArn": TASK_ARN,
        "clusterArn": CLUSTER,
        "family": "web",
        "version": "7",
        "desiredStatus": "RUNNING",
        "networkMode": "bridge",
        "containers": containers,
        **fields,
    }


def _spec(
    definition: dict[str, Any], *, endpoint: str | None = "http://127.0.0.1:51679", **task: Any
) -> ContainerSpec:
    payload = _task([definition], **task)
    return build_spec(
        payload,
        definition,
        cluster_arn=CLUSTER,
        container_instance_arn=INSTANCE,
        metadata_endpoint=endpoint,
        metadata_token="tok123",
        name_suffix="a1b2c3",
    )


def test_full_definition() -> None:
    definition = {
        "name": "app",
        "image": "registry.local/app:1",
        "command": ["serve", "--port", "80"],
        "entryPoint": ["/bin/entry"],
        "environment": [{"name": "MODE", "value": "prod"}],
        "workingDirectory": "/srv",
        "user": "1000",
        "cpu": 256,
        "memory": 512,
        "memoryReservation": 128,
        "portMappings": [
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
            {"containerPort": 53, "protocol": "udp"},
            {"containerPort": 9000, "hostPort": 0},
        ],
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "readonlyRootFilesystem": True,
        "privileged": True,
        "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost"], "interval": 10, "retries": 2},
        "stopTimeout": 5,
        "dockerLabels": {"team": "a", container_specs.LABEL_CLUSTER: "spoofed"},
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.5"}],
    }
    spec = _spec(definition)

    assert spec.name == "ecs-web-7-app-a1b2c3"
    assert spec.image == "registry.local/app:1"
    assert spec.command == ("serve", "--port", "80") and spec.entrypoint == ("/bin/entry",)
    assert spec.env == {
        "MODE": "prod",
        "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
        "ECS_CONTAINER_METADATA_URI_V4": "http://127.0.0.1:51679/v4/tok123",
    }
    assert (spec.working_dir, spec.user) == ("/srv", "1000")
    assert spec.cpu_shares == 256
    assert (spec.memory_bytes, spec.memory_reservation_bytes) == (512 * MiB, 128 * MiB)
    assert spec.port_bindings == (
        PortBinding(80, "tcp", host_port=8080),
        PortBinding(53, "udp", host_port=0),
        PortBinding(9000, "tcp", host_port=0),
    )
    assert spec.network_mode == "bridge"
    assert spec.ulimits == (Ulimit("nofile", 1024, 2048),)
    assert spec.readonly_rootfs and spec.privileged
    assert spec.health_check == HealthCheck(
        ("CMD-SHELL", "curl -f localhost"), interval_s=10, timeout_s=5, retries=2, start_period_s=0
    )
    assert spec.stop_timeout_s == 5
    assert spec.extra_hosts == (("db", "10.0.0.5"),)
    assert spec.labels == {
        "team": "a",
        "com.amazonaws.ecs.task-arn": TASK_ARN,
        "com.amazonaws.ecs.container-name": "app",
        "com.amazonaws.ecs.cluster": CLUSTER,
        "com.amazonaws.ecs.task-definition-family": "web",
        "com.amazonaws.ecs.task-definition-version": "7",
        "dockyard.container-instance-arn": INSTANCE,
    }


def test_defaults_of_a_minimal_definition() -> None:
    spec = _spec({"name": "app", "image": "busybox"}, endpoint=None)
    assert spec.command is None and spec.entrypoint is None
    assert spec.env == {"AWS_EXECUTION_ENV": "AWS_ECS_EC2"}
    assert spec.cpu_shares == 2  # cpu 0 → the minimum shares, as the ECS agent does
    assert spec.memory_bytes is None and spec.memory_reservation_bytes is None
    assert spec.stop_timeout_s == 30  # ECS's default, not Docker's 10
    assert spec.health_check is None and spec.binds == () and spec.port_bindings == ()


def test_task_memory_is_the_hard_limit_of_a_container_without_limits() -> None:
    assert _spec({"name": "a", "image": "i"}, memory="1 GB").memory_bytes == 1024 * MiB
    assert _spec({"name": "a", "image": "i"}, memory="512").memory_bytes == 512 * MiB
    only_soft = _spec({"name": "a", "image": "i", "memoryReservation": 64}, memory="512")
    assert (only_soft.memory_bytes, only_soft.memory_reservation_bytes) == (None, 64 * MiB)


@pytest.mark.parametrize(
    ("value", "mib"), [("512", 512), (256, 256), ("2GB", 2048), ("0.5 GB", 512), (None, None), ("x", None)]
)
def test_parse_memory(value: object, mib: int | None) -> None:
    assert parse_memory_mib(value) == mib


def test_network_modes() -> None:
    definition = {"name": "a", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 80}]}
    host = _spec(definition, networkMode="host")
    assert host.network_mode == "host" and host.port_bindings == ()
    assert "ECS_CONTAINER_METADATA_URI_V4" in host.env
    none = _spec(definition, networkMode="none")
    assert none.network_mode == "none" and none.port_bindings == ()
    assert "ECS_CONTAINER_METADATA_URI_V4" not in none.env


def test_volumes() -> None:
    volumes = [
        {"name": "logs", "host": {"sourcePath": "/var/log/app"}},
        {"name": "scratch", "host": {}},
        {"name": "cache"},
        {"name": "data", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}},
        {"name": "tmpvol", "dockerVolumeConfiguration": {"scope": "task"}},
    ]
    mounts = [
        {"sourceVolume": "logs", "containerPath": "/logs", "readOnly": True},
        {"sourceVolume": "scratch", "containerPath": "/scratch"},
        {"sourceVolume": "cache", "containerPath": "/cache"},
        {"sourceVolume": "data", "containerPath": "/data"},
        {"sourceVolume": "tmpvol", "containerPath": "/t"},
    ]
    spec = _spec({"name": "a", "image": "i", "mountPoints": mounts}, volumes=volumes)
    assert spec.binds == (
        Bind("/var/log/app", "/logs", read_only=True),
        Bind("ecs-0123456789abcdef-scratch", "/scratch"),
        Bind("ecs-0123456789abcdef-cache", "/cache"),
        Bind("data", "/data"),
        Bind("ecs-0123456789abcdef-tmpvol", "/t"),
    )
    with pytest.raises(SpecError, match="unknown volume"):
        _spec({"name": "a", "image": "i", "mountPoints": [{"sourceVolume": "x", "containerPath": "/x"}]})


def test_names_are_docker_safe() -> None:
    assert container_specs.container_name("my fam", "3", "web/app", "ff") == "ecs-my-fam-3-web-app-ff"
