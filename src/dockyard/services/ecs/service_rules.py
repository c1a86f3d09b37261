"""CreateService/UpdateService rules: validation with ECS's messages, ECS's defaults, references, and the
Service view. Pure functions, no I/O.

- REPLICA (default): ``desiredCount`` required; deploymentConfiguration defaults to minimumHealthyPercent
  100 and maximumPercent 200.
- DAEMON: no desiredCount (one task per instance), no placement strategy, maximumPercent 100 (anything
  above is refused with ECS's message), minimumHealthyPercent 0 by default.
- The circuit breaker is off unless asked for; only the ECS deployment controller is served.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.control.controllers.decide.deployments import DAEMON, REPLICA, event_time
from dockyard.core.arn import build_arn, parse_arn
from dockyard.services.ecs.errors import ClientException, InvalidParameterException
from dockyard.store.services import ServiceRecord

EC2, FARGATE = "EC2", "FARGATE"
MAX_DESIRED_COUNT = 5000  # tasks per service (REFERENCE.md "Quotas")
MAX_STRATEGIES = 5
MAX_CONSTRAINTS = 10
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,255}")
PROPAGATE_TAGS = ("TASK_DEFINITION", "SERVICE", "NONE")
# Stored as given and returned by DescribeServices; dockyard has no use for them yet.
_PASSTHROUGH = (
    "loadBalancers",
    "serviceRegistries",
    "networkConfiguration",
    "platformVersion",
    "role",
    "serviceConnectConfiguration",
    "volumeConfigurations",
    "availabilityZoneRebalancing",
)
DAEMON_MAX_PERCENT = (
    "The daemon scheduling strategy does not support values above 100 for maximumPercent on a deployment "
    "configuration. Change the maximumPercent value to 100, and try again"
)
NOT_IDEMPOTENT = "Creation of service was not idempotent."
SCALED_ABOVE_ZERO = "The service cannot be stopped while it is scaled above 0."


def service_arn(region: str, account_id: str, cluster: str, name: str) -> str:
    return build_arn("ecs", region, account_id, f"service/{cluster}/{name}")


def validate_service_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidParameterException(
            "Invalid service name. Up to 255 letters (uppercase and lowercase), numbers, underscores, and "
            "hyphens are allowed."
        )
    return name


def service_name_from_reference(reference: str, *, region: str, account_id: str, cluster: str) -> str | None:
    """The service name ``reference`` (a name, or an ARN ``service/<cluster>/<name>`` or the older
    ``service/<name>``) names in the caller's account, region and cluster; None when it cannot."""
    if not reference.startswith("arn:"):
        return reference if _NAME.fullmatch(reference) else None
    arn = parse_arn(reference)
    if arn is None or arn.service != "ecs" or arn.resource_type != "service":
        raise InvalidParameterException(f"Invalid service ARN: {reference}")
    if arn.account_id != account_id or arn.region != region:
        return None
    parts = arn.resource.split("/")
    if len(parts) == 3 and parts[1] == cluster and _NAME.fullmatch(parts[2]):
        return parts[2]
    if len(parts) == 2 and _NAME.fullmatch(parts[1]):
        return parts[1]
    return None


# --- configuration ----------------------------------------------------------------------------------------


def scheduling_strategy(params: Mapping[str, Any]) -> str:
    return str(params.get("schedulingStrategy") or REPLICA)


def launch_type(params: Mapping[str, Any]) -> str:
    if params.get("capacityProviderStrategy"):
        raise ClientException("Capacity provider strategies are not supported yet.")
    chosen = str(params.get("launchType") or EC2)
    if chosen != EC2:
        raise ClientException(f"The {chosen} launch type is not supported yet.")
    return chosen


def desired_count(params: Mapping[str, Any], strategy: str) -> int:
    """The requested desiredCount (DAEMON: none; the controller keeps one per instance)."""
    count = params.get("desiredCount")
    if strategy == DAEMON:
        if count is not None:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support a desired count for services."
            )
        return 0
    if count is None:
        raise InvalidParameterException("desiredCount is required for a service with the REPLICA strategy.")
    return checked_desired_count(count)


def checked_desired_count(count: int) -> int:
    if not 0 <= count <= MAX_DESIRED_COUNT:
        raise InvalidParameterException(f"desiredCount must be between 0 and {MAX_DESIRED_COUNT}.")
    return count


def deployment_configuration(
    requested: Mapping[str, Any] | None, strategy: str, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``requested`` over ``current`` (UpdateService) over ECS's defaults for ``strategy``, checked."""
    defaults: dict[str, Any] = {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 100 if strategy == DAEMON else 200,
        "minimumHealthyPercent": 0 if strategy == DAEMON else 100,
    }
    merged = {**defaults, **(current or {}), **{k: v for k, v in (requested or {}).items() if v is not None}}
    breaker = merged.get("deploymentCircuitBreaker") or {}
    merged["deploymentCircuitBreaker"] = {
        "enable": bool(breaker.get("enable")),
        "rollback": bool(breaker.get("rollback")),
    }
    maximum, minimum = merged["maximumPercent"], merged["minimumHealthyPercent"]
    if strategy == DAEMON and maximum > 100:
        raise InvalidParameterException(DAEMON_MAX_PERCENT)
    if not 0 <= minimum <= 100:
        raise InvalidParameterException("minimumHealthyPercent must be between 0 and 100.")
    if maximum < 100 and strategy != DAEMON:
        raise InvalidParameterException("maximumPercent must be at least 100.")
    return merged


def placement(params: Mapping[str, Any], strategy: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The service's placement constraints and strategies, checked (their expressions are checked by
    the scheduler when the spec is validated)."""
    constraints = [dict(c) for c in params.get("placementConstraints") or []]
    strategies = [dict(s) for s in params.get("placementStrategy") or []]
    if strategy == DAEMON and strategies:
        raise InvalidParameterException(
            "The daemon scheduling strategy does not support placement strategies."
        )
    if len(strategies) > MAX_STRATEGIES:
        raise InvalidParameterException(f"A service can have at most {MAX_STRATEGIES} placement strategies.")
    if len(constraints) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"A service can have at most {MAX_CONSTRAINTS} placement constraints."
        )
    return constraints, strategies


def deployment_controller(params: Mapping[str, Any]) -> dict[str, str]:
    controller = params.get("deploymentController") or {"type": "ECS"}
    if controller.get("type") != "ECS":
        raise InvalidParameterException(
            f"The {controller.get('type')} deployment controller is not supported; use ECS."
        )
    return {"type": "ECS"}


def stored_config(params: Mapping[str, Any], strategy: str) -> dict[str, Any]:
    """Everything CreateService stores outside the columns."""
    constraints, strategies = placement(params, strategy)
    propagate = params.get("propagateTags") or "NONE"
    grace = params.get("healthCheckGracePeriodSeconds")
    if grace is not None and not 0 <= grace <= 2147483647:
        raise InvalidParameterException("healthCheckGracePeriodSeconds must be between 0 and 2147483647.")
    config: dict[str, Any] = {
        "deploymentConfiguration": deployment_configuration(params.get("deploymentConfiguration"), strategy),
        "deploymentController": deployment_controller(params),
        "placementConstraints": constraints,
        "placementStrategy": strategies,
        "propagateTags": propagate,
        "enableECSManagedTags": bool(params.get("enableECSManagedTags")),
        "enableExecuteCommand": bool(params.get("enableExecuteCommand")),
    }
    if grace is not None:
        config["healthCheckGracePeriodSeconds"] = grace
    config.update({k: params[k] for k in _PASSTHROUGH if params.get(k) is not None})
    return config


def updated_config(current: Mapping[str, Any], params: Mapping[str, Any], strategy: str) -> dict[str, Any]:
    """UpdateService's changes applied to the stored configuration."""
    config = dict(current)
    if params.get("deploymentConfiguration") is not None:
        config["deploymentConfiguration"] = deployment_configuration(
            params["deploymentConfiguration"], strategy, current.get("deploymentConfiguration")
        )
    if params.get("deploymentController") is not None:
        config["deploymentController"] = deployment_controller(params)
    if params.get("placementConstraints") is not None or params.get("placementStrategy") is not None:
        merged = {
            "placementConstraints": params.get("placementConstraints", current.get("placementConstraints")),
            "placementStrategy": params.get("placementStrategy", current.get("placementStrategy")),
        }
        config["placementConstraints"], config["placementStrategy"] = placement(merged, strategy)
    for key in ("propagateTags", "healthCheckGracePeriodSeconds", *_PASSTHROUGH):
        if params.get(key) is not None:
            config[key] = params[key]
    for key in ("enableECSManagedTags", "enableExecuteCommand"):
        if params.get(key) is not None:
            config[key] = bool(params[key])
    return config


# --- the view ---------------------------------------------------------------------------------------------


def service_view(record: ServiceRecord, tags: Sequence[tuple[str, str]] | None) -> dict[str, Any]:
    """The Service structure ECS returns; ``tags`` only when asked for."""
    config = record.config
    deployments = [deployment_view(d) for d in record.deployments]
    view: dict[str, Any] = {
        "serviceArn": record.arn,
        "serviceName": record.name,
        "clusterArn": record.cluster_arn,
        "loadBalancers": config.get("loadBalancers", []),
        "serviceRegistries": config.get("serviceRegistries", []),
        "status": record.status,
        "desiredCount": record.desired_count,
        "runningCount": sum(d["runningCount"] for d in deployments),
        "pendingCount": sum(d["pendingCount"] for d in deployments),
        "taskDefinition": record.task_definition_arn,
        "deploymentConfiguration": config["deploymentConfiguration"],
        "deployments": deployments,
        "events": [
            {"id": e["id"], "createdAt": event_time(e["createdAt"]), "message": e["message"]}
            for e in record.events
        ],
        "createdAt": record.created_at,
        "placementConstraints": config.get("placementConstraints", []),
        "placementStrategy": config.get("placementStrategy", []),
        "schedulingStrategy": record.scheduling_strategy,
        "deploymentController": config["deploymentController"],
        "enableECSManagedTags": config.get("enableECSManagedTags", False),
        "propagateTags": config.get("propagateTags", "NONE"),
        "enableExecuteCommand": config.get("enableExecuteCommand", False),
    }
    optional = {
        "launchType": record.launch_type,
        "capacityProviderStrategy": config.get("capacityProviderStrategy"),
        "createdBy": record.created_by,
        "healthCheckGracePeriodSeconds": config.get("healthCheckGracePeriodSeconds"),
        "networkConfiguration": config.get("networkConfiguration"),
        "platformVersion": config.get("platformVersion"),
        "roleArn": config.get("role"),
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    if tags is not None:
        view["tags"] = [{"key": k, "value": v} for k, v in tags]
    return view


def deployment_view(deployment: Mapping[str, Any]) -> dict[str, Any]:
    view = {
        key: deployment[key]
        for key in (
            "id",
            "status",
            "taskDefinition",
            "desiredCount",
            "pendingCount",
            "runningCount",
            "failedTasks",
            "launchType",
            "rolloutState",
            "rolloutStateReason",
        )
        if key in deployment
    }
    view["createdAt"] = event_time(deployment["createdAt"])
    view["updatedAt"] = event_time(deployment["updatedAt"])
    return view
