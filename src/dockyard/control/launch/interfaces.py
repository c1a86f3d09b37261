"""awsvpc tasks' interfaces (ENIs), inside the caller's write transaction.

``resolve_network`` checks a launch's ``awsvpcConfiguration`` against the account's VPC (made on first
use): subnets that exist, security groups that exist (the VPC's ``default`` when none is named), all in one
VPC — with ECS's messages. ``attach`` gives one new task its interface in the subnet of the least used zone
of its group and records the ENI attachment on the task; ``release`` deletes the interface when the task
is deprovisioned.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.control.launch.fargate_rules import (
    SubnetChoice,
    choose_subnet,
    eni_attachment,
    with_attachment_status,
)
from dockyard.control.vpc import network as vpc_network
from dockyard.control.vpc.defaults import DEFAULT_GROUP, allocate_interface, ensure_default_vpc
from dockyard.core.arn import build_arn
from dockyard.core.errors import InvalidParameterError
from dockyard.store import ec2 as ec2_store
from dockyard.store.ec2 import SubnetRecord
from dockyard.store.tasks import TaskRecord

MAX_SUBNETS = 16
MAX_GROUPS = 5


@dataclass(frozen=True, slots=True)
class TaskNetwork:
    """Where a launch's tasks get their interfaces: the subnets (in the order named) and the groups."""

    subnets: tuple[SubnetRecord, ...]
    group_ids: tuple[str, ...]


def resolve_network(
    tx: Connection, account_id: str, region: str, configuration: Mapping[str, Any] | None, now: datetime
) -> TaskNetwork:
    """The checked ``networkConfiguration`` of a launch (``InvalidParameterException`` otherwise)."""
    vpc_config = (configuration or {}).get("awsvpcConfiguration")
    if not vpc_config:
        raise InvalidParameterError(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )
    subnet_ids = list(dict.fromkeys(vpc_config.get("subnets") or []))
    if not subnet_ids:
        raise InvalidParameterError("subnets can not be empty.")
    if len(subnet_ids) > MAX_SUBNETS:
        raise InvalidParameterError(f"subnets can have at most {MAX_SUBNETS} items.")
    group_ids = list(dict.fromkeys(vpc_config.get("securityGroups") or []))
    if len(group_ids) > MAX_GROUPS:
        raise InvalidParameterError(f"securityGroups can have at most {MAX_GROUPS} items.")
    if vpc_config.get("assignPublicIp") not in (None, "DISABLED", "ENABLED"):
        raise InvalidParameterError("assignPublicIp must be ENABLED or DISABLED.")
    ensure_default_vpc(tx, account_id, region, now)
    subnets = {s.subnet_id: s for s in ec2_store.list_subnets(tx, account_id, region)}
    missing = [s for s in subnet_ids if s not in subnets]
    if missing:
        raise InvalidParameterError(
            f"Error retrieving subnet information for [{', '.join(missing)}]: The subnet ID "
            f"'{missing[0]}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: "
            "InvalidSubnetID.NotFound)"
        )
    chosen = tuple(subnets[s] for s in subnet_ids)
    vpcs = {s.vpc_id for s in chosen}
    if len(vpcs) > 1:
        raise InvalidParameterError("The subnets must all be in the same VPC.")
    vpc_id = chosen[0].vpc_id
    groups = {g.group_id: g for g in ec2_store.list_groups(tx, account_id, region)}
    if not group_ids:
        group_ids = [g.group_id for g in groups.values() if g.vpc_id == vpc_id and g.name == DEFAULT_GROUP]
    unknown = [g for g in group_ids if g not in groups]
    if unknown:
        raise InvalidParameterError(
            f"Error retrieving security group information for [{', '.join(unknown)}]: The security group "
            f"'{unknown[0]}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: "
            "InvalidGroup.NotFound)"
        )
    if any(groups[g].vpc_id != vpc_id for g in group_ids):
        raise InvalidParameterError("Security groups and subnets must belong to the same VPC.")
    return TaskNetwork(chosen, tuple(group_ids))


def attach(
    tx: Connection, record: TaskRecord, network: TaskNetwork, zone_counts: dict[str, int], now: datetime
) -> TaskRecord:
    """``record`` with a new interface in the least used zone's subnet (``zone_counts`` is updated)."""
    choice = choose_subnet(
        [SubnetChoice(s.subnet_id, s.availability_zone) for s in network.subnets], zone_counts
    )
    subnet = next(s for s in network.subnets if s.subnet_id == choice.subnet_id)
    attachment_id = str(uuid.uuid4())
    attachment_arn = build_arn("ecs", record.region, record.account_id, f"attachment/{attachment_id}")
    interface = allocate_interface(
        tx,
        subnet,
        network.group_ids,
        description=attachment_arn,
        attachment=attachment_arn,
        now=now,
    )
    zone_counts[subnet.availability_zone] = zone_counts.get(subnet.availability_zone, 0) + 1
    attachment = eni_attachment(
        attachment_id,
        eni_id=interface.eni_id,
        subnet_id=subnet.subnet_id,
        private_ip=interface.private_ip,
        mac=interface.mac,
        private_dns_name=vpc_network.private_dns_name(record.region, interface.private_ip),
        subnet_cidr=subnet.cidr,
        subnet_gateway=str(ipaddress.ip_network(subnet.cidr)[1]),
    )
    return replace(
        record,
        attachments=[*record.attachments, attachment],
        eni_id=interface.eni_id,
        availability_zone=subnet.availability_zone,
    )


def release(tx: Connection, record: TaskRecord) -> TaskRecord:
    """``record`` with its interface deleted (a no-op for a task without one)."""
    if record.eni_id is None:
        return record
    ec2_store.delete_interface(tx, record.eni_id)
    return replace(record, eni_id=None, attachments=with_attachment_status(record.attachments, "DELETED"))


def zone_counts(records: Sequence[TaskRecord]) -> dict[str, int]:
    """Live tasks per availability zone (the spread of a group's tasks)."""
    counts: dict[str, int] = {}
    for record in records:
        if record.availability_zone is not None:
            counts[record.availability_zone] = counts.get(record.availability_zone, 0) + 1
    return counts
