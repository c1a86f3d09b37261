"""ECS names and ARNs: validation and resolution of "name or ARN" parameters, pure functions."""

from __future__ import annotations

import re

from dockyard.core.arn import build_arn, parse_arn
from dockyard.services.ecs.errors import InvalidParameterException

DEFAULT_CLUSTER = "default"
_CLUSTER_NAME = re.compile(r"[a-zA-Z0-9_-]{1,255}")


def cluster_arn(region: str, account_id: str, name: str) -> str:
    return build_arn("ecs", region, account_id, f"cluster/{name}")


def capacity_provider_arn(region: str, account_id: str, name: str) -> str:
    return build_arn("ecs", region, account_id, f"capacity-provider/{name}")


def validate_cluster_name(name: str) -> str:
    if not _CLUSTER_NAME.fullmatch(name):
        raise InvalidParameterException(
            "Invalid cluster name. Up to 255 letters (uppercase and lowercase), numbers, underscores, "
            "and hyphens are allowed."
        )
    return name


def cluster_name_from_reference(reference: str | None, *, region: str, account_id: str) -> str | None:
    """The cluster name that ``reference`` (a name or a cluster ARN) names in this account and region.

    Returns ``None`` when ``reference`` is an ARN of another account or region: such a cluster is never
    visible to the caller. A malformed reference raises InvalidParameterException.
    """
    if reference is None or reference == "":
        return DEFAULT_CLUSTER
    if not reference.startswith("arn:"):
        if not _CLUSTER_NAME.fullmatch(reference):
            raise InvalidParameterException(
                f"Cluster must match ^[a-zA-Z0-9\\-_]{{1,255}}$, but was {reference}"
            )
        return reference
    arn = parse_arn(reference)
    if arn is None or arn.service != "ecs" or arn.resource_type != "cluster":
        raise InvalidParameterException(f"Invalid cluster ARN: {reference}")
    name = arn.resource.split("/", 1)[1] if "/" in arn.resource else ""
    if not _CLUSTER_NAME.fullmatch(name):
        raise InvalidParameterException(f"Invalid cluster ARN: {reference}")
    if arn.account_id != account_id or arn.region != region:
        return None
    return name
