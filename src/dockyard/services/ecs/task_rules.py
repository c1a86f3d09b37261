"""Task rules for the API: task references and the Task view. Pure functions, no I/O. (What a task *is*,
from its definition and overrides, is :mod:`dockyard.control.launch.shape`.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.core.arn import parse_arn
from dockyard.core.errors import ClientError, InvalidParameterError
from dockyard.store.tasks import TaskRecord


def task_id_from_reference(reference: str, *, region: str, account_id: str, cluster: str) -> str | None:
    """The task id ``reference`` (an id, or a task ARN, new ``task/<cluster>/<id>`` or old ``task/<id>``)
    names in the caller's account, region and cluster; None when it cannot name one of them."""
    if not reference.startswith("arn:"):
        return reference if reference.isalnum() and len(reference) <= 64 else None
    arn = parse_arn(reference)
    if arn is None or arn.service != "ecs" or arn.resource_type != "task":
        return None
    if arn.account_id != account_id or arn.region != region:
        return None
    parts = arn.resource.split("/")
    if len(parts) == 3 and parts[1] == cluster:
        return parts[2]
    if len(parts) == 2:
        return parts[1]
    return None


def task_view(record: TaskRecord, tags: Sequence[tuple[str, str]] | None) -> dict[str, Any]:
    """The Task structure ECS returns; ``tags`` only when asked for (not ``None``)."""
    view: dict[str, Any] = {
        "taskArn": record.arn,
        "clusterArn": record.cluster_arn,
        "taskDefinitionArn": record.task_definition_arn,
        "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **record.overrides},
        "lastStatus": record.last_status,
        "desiredStatus": record.desired_status,
        "containers": record.containers,
        "version": record.version,
        "createdAt": record.created_at,
        "launchType": record.launch_type,
        "attributes": record.attributes,
        "attachments": record.attachments,
        "healthStatus": record.health_status,
        "enableExecuteCommand": False,
        "inferenceAccelerators": [],
    }
    fargate = record.launch_type == "FARGATE"
    optional: dict[str, Any] = {
        # a Fargate task's host is the pool's, which the user never sees
        "containerInstanceArn": None if fargate else record.container_instance_arn,
        "capacityProviderName": record.capacity_provider_name,
        "platformVersion": record.platform_version,
        "platformFamily": "Linux" if fargate else None,
        "cpu": record.cpu,
        "memory": record.memory,
        "group": record.group,
        "startedBy": record.started_by,
        "availabilityZone": record.availability_zone,
        "connectivity": record.connectivity,
        "connectivityAt": record.connectivity_at,
        "stoppedReason": record.stopped_reason,
        "stopCode": record.stop_code,
        "pullStartedAt": record.pull_started_at,
        "pullStoppedAt": record.pull_stopped_at,
        "startedAt": record.started_at,
        "stoppingAt": record.stopping_at,
        "stoppedAt": record.stopped_at,
        "executionStoppedAt": record.execution_stopped_at,
    }
    view.update({key: value for key, value in optional.items() if value is not None})
    if tags is not None:
        view["tags"] = [{"key": key, "value": value} for key, value in tags]
    return view


PLATFORM_VERSIONS = frozenset({"LATEST", "1.4.0"})


def check_fargate_launch(body: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """What ECS refuses in a RunTask/CreateService for Fargate (ClientException /
    InvalidParameterException with ECS's messages)."""
    if "FARGATE" not in (body.get("compatibilities") or []):
        raise ClientError("Task definition does not support launch_type FARGATE.")
    if params.get("placementConstraints") or params.get("placementStrategy"):
        raise InvalidParameterError(
            "Task placement constraints and strategies are not supported for tasks launched on Fargate."
        )
    version = params.get("platformVersion")
    if version is not None and version not in PLATFORM_VERSIONS:
        raise InvalidParameterError("The specified platform version does not exist.")
