"""Log group and stream ARNs, and the ways a request names its log group.

A log group's ARN is ``arn:aws:logs:<region>:<account>:log-group:<name>``; DescribeLogGroups also answers
it with a trailing ``:*`` (``arn``, for IAM policies) beside the bare one (``logGroupArn``, for tagging and
``logGroupIdentifier``). A stream's ARN appends ``:log-stream:<name>``. An ARN of another account or region
names a group the caller does not have: it is "not found", exactly like an unknown name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.core.arn import build_arn, parse_arn
from dockyard.core.context import RequestContext
from dockyard.services.logs.errors import InvalidParameterException

SERVICE = "logs"
GROUP_RESOURCE = "log-group:"
ONE_GROUP_MESSAGE = "You must include either logGroupIdentifier or logGroupName, but not both."


def group_arn(region: str, account_id: str, name: str) -> str:
    return build_arn(SERVICE, region, account_id, f"{GROUP_RESOURCE}{name}")


def stream_arn(region: str, account_id: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account_id, group)}:log-stream:{stream}"


def group_name_in_arn(ctx: RequestContext, text: str) -> str | None:
    """The group a log group ARN names in the caller's account and region (a trailing ``:*`` allowed);
    None for an ARN of anything else, or of another account or region."""
    arn = parse_arn(text)
    if arn is None or arn.service != SERVICE or not arn.resource.startswith(GROUP_RESOURCE):
        return None
    if arn.account_id != ctx.account_id or arn.region != ctx.region:
        return None
    name = arn.resource.removeprefix(GROUP_RESOURCE).removesuffix(":*")
    return name or None


def group_name_of(ctx: RequestContext, identifier: str) -> str | None:
    """A ``logGroupIdentifier``: a group's name, or its ARN (see :func:`group_name_in_arn`)."""
    if identifier.startswith("arn:"):
        return group_name_in_arn(ctx, identifier)
    return identifier


def requested_group(ctx: RequestContext, params: Mapping[str, Any]) -> str | None:
    """The group an operation taking ``logGroupName`` or ``logGroupIdentifier`` (exactly one) names; None
    when the identifier is an ARN the caller has no group behind."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if (name is None) == (identifier is None):
        raise InvalidParameterException(ONE_GROUP_MESSAGE)
    return str(name) if name is not None else group_name_of(ctx, str(identifier))


def epoch_ms(ctx: RequestContext) -> int:
    """The request's time in epoch milliseconds, CloudWatch's unit for every time it stores."""
    return int(ctx.now.timestamp() * 1000)
