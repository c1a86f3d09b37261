"""The account's default network, and interface addresses, inside the caller's write transaction.

``ensure_default_vpc`` makes the (account, region)'s default VPC on first use: the VPC, one default subnet
per availability zone and the ``default`` security group. ``allocate_interface`` gives a task its ENI:
the lowest free address of the subnet, a MAC, the groups. Both lock the account first, so two concurrent
first uses make one VPC, and two tasks never get one address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from dockyard.control.vpc import network, permissions
from dockyard.core.errors import ApiError
from dockyard.store import ec2 as store
from dockyard.store.ec2 import InterfaceRecord, SecurityGroupRecord, SubnetRecord, VpcRecord

DEFAULT_GROUP = "default"
DEFAULT_GROUP_DESCRIPTION = "default VPC security group"


def ensure_default_vpc(tx: Connection, account_id: str, region: str, now: datetime) -> VpcRecord:
    """The default VPC of the account in the region, made (with its subnets and group) if missing."""
    store.lock_account(tx, account_id)
    existing = [v for v in store.list_vpcs(tx, account_id, region) if v.is_default]
    if existing:
        return existing[0]
    index = store.count_vpcs(tx)
    cidr = network.default_vpc_cidr(index)
    while store.vpc_cidr_taken(tx, cidr):  # another account's VPC was made at the same index
        index += 1
        cidr = network.default_vpc_cidr(index)
    vpc = VpcRecord(account_id, region, network.new_id("vpc"), cidr, True, now)
    store.insert_vpc(tx, vpc)
    zones = network.availability_zones(region)
    for zone, block in zip(zones, network.default_subnet_cidrs(cidr, len(zones)), strict=True):
        store.insert_subnet(
            tx, SubnetRecord(account_id, region, network.new_id("subnet"), vpc.vpc_id, block, zone, True, now)
        )
    group_id = network.new_id("sg")
    store.insert_group(
        tx,
        SecurityGroupRecord(
            account_id,
            region,
            group_id,
            vpc.vpc_id,
            DEFAULT_GROUP,
            DEFAULT_GROUP_DESCRIPTION,
            permissions.default_ingress(group_id, account_id),
            permissions.default_egress(),
            [],
            now,
        ),
    )
    return vpc


def allocate_interface(
    tx: Connection,
    subnet: SubnetRecord,
    group_ids: Sequence[str],
    *,
    description: str,
    attachment: str | None,
    now: datetime,
) -> InterfaceRecord:
    """A new in-use interface in ``subnet`` with the lowest free address; the caller checked the groups."""
    store.lock_account(tx, subnet.account_id)
    address = network.free_address(subnet.cidr, store.subnet_addresses(tx, subnet.subnet_id))
    if address is None:
        raise ApiError(
            f"There are not enough free addresses in subnet '{subnet.subnet_id}' to satisfy the requested "
            "number of instances.",
            code="InsufficientFreeAddressesInSubnet",
        )
    record = InterfaceRecord(
        account_id=subnet.account_id,
        region=subnet.region,
        eni_id=network.new_id("eni"),
        subnet_id=subnet.subnet_id,
        vpc_id=subnet.vpc_id,
        availability_zone=subnet.availability_zone,
        private_ip=address,
        mac=network.new_mac(),
        group_ids=list(group_ids),
        status=store.IN_USE,
        description=description,
        interface_type="interface",
        attachment=attachment,
        created_at=now,
    )
    store.insert_interface(tx, record)
    return record
