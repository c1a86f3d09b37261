"""Service event sentences, as ECS writes them (tools match on these). Pure."""

from __future__ import annotations

from collections.abc import Sequence

TROUBLESHOOTING = "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."

# Scheduler failure reason → what ECS says of the closest matching instance.
_CLOSEST = {
    "RESOURCE:MEMORY": "has insufficient memory available",
    "RESOURCE:CPU": "has insufficient CPU units available",
    "RESOURCE:PORTS": "is already using a port required by your task",
    "RESOURCE:PORTS_UDP": "is already using a port required by your task",
    "AGENT": 'encountered error "AGENT"',
    "MemberOf": "did not match the placement constraint memberOf",
    "DistinctInstance": "is already running a task of this group",
    "Attribute": "is missing an attribute required by your task",
}


def _tasks(task_ids: Sequence[str]) -> str:
    return " ".join(f"(task {t})" for t in task_ids)


def started(service: str, task_ids: Sequence[str], replaced_unhealthy: int = 0) -> str:
    message = f"(service {service}) has started {len(task_ids)} tasks: {_tasks(task_ids)}."
    if replaced_unhealthy:
        message += f" Amazon ECS replaced {replaced_unhealthy} tasks due to an unhealthy status."
    return message


def stopped(service: str, task_ids: Sequence[str]) -> str:
    return f"(service {service}) has stopped {len(task_ids)} running tasks: {_tasks(task_ids)}."


def steady(service: str) -> str:
    return f"(service {service}) has reached a steady state."


def deployment_completed(service: str, deployment_id: str) -> str:
    return f"(service {service}) (deployment {deployment_id}) deployment completed."


def deployment_failed(service: str, deployment_id: str) -> str:
    return f"(service {service}) (deployment {deployment_id}) deployment failed: tasks failed to start."


def rolling_back(service: str, deployment_id: str) -> str:
    return f"(service {service}) rolling back to deployment {deployment_id}."


def failed_health_checks(service: str, task_id: str) -> str:
    return f"(service {service}) (task {task_id}) failed container health checks."


def unable_to_start(service: str) -> str:
    return f"(service {service}) is unable to consistently start tasks successfully. {TROUBLESHOOTING}"


def unable_to_place(service: str, closest: tuple[str, str] | None) -> str:
    """``closest``: (container instance id, scheduler reason) of the instance that came nearest, or None
    when the cluster has no instance at all."""
    head = (
        f"(service {service}) was unable to place a task because no container instance met all of its "
        "requirements."
    )
    if closest is None:
        return f"{head} Reason: No Container Instances were found in your cluster. {TROUBLESHOOTING}"
    instance_id, reason = closest
    what = _CLOSEST.get(reason, f'encountered error "{reason}"')
    return f"{head} The closest matching (container-instance {instance_id}) {what}. {TROUBLESHOOTING}"
