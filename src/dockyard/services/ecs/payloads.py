"""What the push channel tells an agent about a task: a :data:`~dockyard.core.agent_protocol.TaskPayload`.

Pure functions of the stored task, its task definition's body and its tags; no I/O. The payload carries
everything the agent needs to run the task without asking again (fields in
:mod:`dockyard.core.agent_protocol`): each container is the definition's ``ContainerDefinition`` with
RunTask's container overrides applied (:func:`~dockyard.control.launch.shape.apply_override`, the
same function that shapes the task for placement) — ``command`` replaces, ``environment`` is merged by
name (the override's value wins, the definition's order is kept, new names follow), ``cpu``, ``memory``
and ``memoryReservation`` replace — plus the ``containerArn`` the task record gave it.

A task whose definition has since been purged still gets a payload (so that it can be stopped): its
containers are then what the task record knows of them (name, image, ARN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.control.launch.fargate_rules import RUNTIME_ATTRIBUTE
from dockyard.control.launch.shape import apply_override
from dockyard.core.agent_protocol import TaskPayload
from dockyard.store.tasks import TaskRecord

DEFAULT_NETWORK_MODE = "bridge"


SPOT_STOP_TIMEOUT_S = 120  # a Spot task gets two minutes between SIGTERM and SIGKILL
FARGATE_EPHEMERAL_DEFAULT_GIB = 20


def ephemeral_storage_gib(task: TaskRecord, body: Mapping[str, Any]) -> int | None:
    """A Fargate task's ephemeral storage: RunTask's override, else its definition's, else Fargate's
    20 GiB; None for other launch types (their storage is the host's)."""
    if task.launch_type != "FARGATE":
        return None
    for source in (task.overrides.get("ephemeralStorage"), body.get("ephemeralStorage")):
        if isinstance(source, Mapping) and isinstance(source.get("sizeInGiB"), int):
            return int(source["sizeInGiB"])
    return FARGATE_EPHEMERAL_DEFAULT_GIB


def task_payload(
    task: TaskRecord,
    definition: Mapping[str, Any] | None,
    tags: Sequence[tuple[str, str]],
    *,
    pull_credentials: Mapping[str, str] | None = None,
) -> TaskPayload:
    """The payload for ``task``, given its definition's stored body (None when it no longer exists), its
    tags and, for a host of another account (the Fargate pool), registry credentials of the task's
    account."""
    body: Mapping[str, Any] = definition or {}
    payload: dict[str, Any] = {
        "taskArn": task.arn,
        "clusterArn": task.cluster_arn,
        "family": task.family,
        "version": revision_of(task.task_definition_arn),
        "desiredStatus": task.desired_status,
        "networkMode": body.get("networkMode") or DEFAULT_NETWORK_MODE,
        "volumes": [dict(v) for v in body.get("volumes") or []],
        "tags": [{"key": key, "value": value} for key, value in tags],
        "launchType": task.launch_type,
        "containers": containers(task, body),
    }
    if task.cpu is not None:
        payload["cpu"] = task.cpu
    if task.memory is not None:
        payload["memory"] = task.memory
    if task.availability_zone is not None:
        payload["availabilityZone"] = task.availability_zone
    if pull_credentials is not None:
        payload["registryAuth"] = dict(pull_credentials)
    if task.interrupt_at is not None:
        payload["stopTimeoutSeconds"] = SPOT_STOP_TIMEOUT_S
    if (storage := ephemeral_storage_gib(task, body)) is not None:
        payload["ephemeralStorageGiB"] = storage
    payload.update(network_payload(task))
    return payload


def network_payload(task: TaskRecord) -> dict[str, Any]:
    """``networkInterface`` and ``containerRuntime`` from the task's ENI attachment (awsvpc tasks)."""
    found: dict[str, Any] = {}
    for attachment in task.attachments:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        details = {d["name"]: d["value"] for d in attachment.get("details") or []}
        interface = {
            "attachmentId": attachment["id"],
            "networkInterfaceId": details.get("networkInterfaceId"),
            "privateIPv4Address": details.get("privateIPv4Address"),
            "macAddress": details.get("macAddress"),
            "subnetId": details.get("subnetId"),
            # not among ECS's details (the API's output shape drops the key): kept for the agent
            "subnetCidr": (attachment.get("network") or {}).get("subnetCidr"),
            "subnetGateway": (attachment.get("network") or {}).get("subnetGateway"),
        }
        if details.get("privateDnsName"):
            interface["privateDnsName"] = details["privateDnsName"]
        found["networkInterface"] = interface
    runtime = next((a["value"] for a in task.attributes if a.get("name") == RUNTIME_ATTRIBUTE), None)
    if runtime is not None:
        found["containerRuntime"] = runtime
    return found


def containers(task: TaskRecord, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The task's containers: definitions with overrides applied, each with its ``containerArn``."""
    arns = {str(c.get("name")): c.get("containerArn") for c in task.containers}
    overrides = {
        str(o.get("name")): o for o in task.overrides.get("containerOverrides") or [] if o.get("name")
    }
    definitions: Sequence[Mapping[str, Any]] = body.get("containerDefinitions") or [
        {"name": c.get("name"), "image": c.get("image", "")} for c in task.containers
    ]
    result: list[dict[str, Any]] = []
    for definition in definitions:
        name = str(definition.get("name"))
        container = apply_override(definition, overrides.get(name, {}))
        if arns.get(name) is not None:
            container["containerArn"] = arns[name]
        result.append(container)
    return result


def revision_of(task_definition_arn: str) -> str:
    """The revision in ``…:task-definition/<family>:<revision>``, as a string."""
    return task_definition_arn.rsplit(":", 1)[-1]
