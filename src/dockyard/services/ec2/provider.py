"""EC2, the part Fargate users touch: the default VPC, its subnets, security groups and the tasks' network
interfaces. Every other EC2 operation answers 501 (the gateway's NotImplemented for an unknown method).

The default network of an (account, region) is made on first use (:mod:`dockyard.control.vpc.defaults`),
so the first ``describe-subnets`` already shows one default subnet per availability zone.

After a change of security-group ingress commits, the agents of the container instances running the
account's awsvpc tasks in the region are woken (:class:`~dockyard.services.ecs.notifier.InstanceNotifier`):
their push-channel sessions send the new ``FirewallMessage``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Connection

from dockyard.control.vpc import network, permissions
from dockyard.control.vpc.defaults import DEFAULT_GROUP, ensure_default_vpc
from dockyard.control.vpc.network import flag
from dockyard.core.arn import build_arn
from dockyard.core.context import RequestContext
from dockyard.core.errors import ApiError
from dockyard.services.base import Params, Provider, Result
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.store import ec2 as store
from dockyard.store.database import Database
from dockyard.store.ec2 import InterfaceRecord, SecurityGroupRecord, SubnetRecord, VpcRecord

T = TypeVar("T")
MAX_GROUP_NAME = 255
DHCP_OPTIONS_ID = "dopt-00000000000000000"


def _not_found(code: str, message: str) -> ApiError:
    return ApiError(message, code=code)


_VPC_FILTERS: dict[str, Callable[[Any], Any]] = {
    "vpc-id": lambda v: v.vpc_id,
    "cidr": lambda v: v.cidr,
    "cidr-block-association.cidr-block": lambda v: v.cidr,
    "is-default": lambda v: flag(v.is_default),
    "isDefault": lambda v: flag(v.is_default),
    "state": lambda v: "available",
    "owner-id": lambda v: v.account_id,
    "dhcp-options-id": lambda v: DHCP_OPTIONS_ID,
}
_SUBNET_FILTERS: dict[str, Callable[[Any], Any]] = {
    "subnet-id": lambda s: s.subnet_id,
    "vpc-id": lambda s: s.vpc_id,
    "cidr": lambda s: s.cidr,
    "cidr-block": lambda s: s.cidr,
    "cidrBlock": lambda s: s.cidr,
    "availability-zone": lambda s: s.availability_zone,
    "availabilityZone": lambda s: s.availability_zone,
    "availability-zone-id": lambda s: network.zone_id(s.availability_zone),
    "default-for-az": lambda s: flag(s.default_for_az),
    "defaultForAz": lambda s: flag(s.default_for_az),
    "state": lambda s: "available",
    "owner-id": lambda s: s.account_id,
}
_GROUP_FILTERS: dict[str, Callable[[Any], Any]] = {
    "group-id": lambda g: g.group_id,
    "group-name": lambda g: g.name,
    "vpc-id": lambda g: g.vpc_id,
    "description": lambda g: g.description,
    "owner-id": lambda g: g.account_id,
}
_INTERFACE_FILTERS: dict[str, Callable[[Any], Any]] = {
    "network-interface-id": lambda i: i.eni_id,
    "subnet-id": lambda i: i.subnet_id,
    "vpc-id": lambda i: i.vpc_id,
    "availability-zone": lambda i: i.availability_zone,
    "private-ip-address": lambda i: i.private_ip,
    "addresses.private-ip-address": lambda i: i.private_ip,
    "mac-address": lambda i: i.mac,
    "group-id": lambda i: i.group_ids,
    "status": lambda i: i.status,
    "description": lambda i: i.description,
    "interface-type": lambda i: i.interface_type,
    "owner-id": lambda i: i.account_id,
}


class Ec2Provider(Provider):
    service_name = "ec2"

    def __init__(self, db: Database, notifier: InstanceNotifier | None = None) -> None:
        self._db = db
        self._notifier = notifier

    def _ensure_default_network(self, ctx: RequestContext) -> VpcRecord:
        """The default VPC, made on first use; a describe call that finds it writes nothing."""
        with self._db.read() as tx:
            found = [v for v in store.list_vpcs(tx, ctx.account_id, ctx.region) if v.is_default]
        if found:
            return found[0]
        with self._db.write() as tx:
            return ensure_default_vpc(tx, ctx.account_id, ctx.region, ctx.now)

    # --- zones, VPCs, subnets -----------------------------------------------------------------------------

    def describe_availability_zones(self, ctx: RequestContext, params: Params) -> Result:
        zones = [
            {
                "ZoneName": zone,
                "ZoneId": network.zone_id(zone),
                "State": "available",
                "RegionName": ctx.region,
                "ZoneType": "availability-zone",
                "OptInStatus": "opt-in-not-required",
                "GroupName": ctx.region,
                "NetworkBorderGroup": ctx.region,
                "Messages": [],
            }
            for zone in network.availability_zones(ctx.region)
        ]
        names, ids = params.get("ZoneNames") or [], params.get("ZoneIds") or []
        for wanted in names:
            if wanted not in {z["ZoneName"] for z in zones}:
                raise ApiError(f"Invalid availability zone: [{wanted}]", code="InvalidParameterValue")
        accessors: dict[str, Callable[[Any], Any]] = {
            "zone-name": lambda z: z["ZoneName"],
            "zone-id": lambda z: z["ZoneId"],
            "state": lambda z: z["State"],
            "region-name": lambda z: z["RegionName"],
            "zone-type": lambda z: z["ZoneType"],
            "opt-in-status": lambda z: z["OptInStatus"],
            "group-name": lambda z: z["GroupName"],
        }
        filters = params.get("Filters") or []
        network.check_filters(filters, accessors)
        chosen = [
            z
            for z in zones
            if (not names or z["ZoneName"] in names)
            and (not ids or z["ZoneId"] in ids)
            and network.matches(z, filters, accessors)
        ]
        return {"AvailabilityZones": chosen}

    def describe_vpcs(self, ctx: RequestContext, params: Params) -> Result:
        self._ensure_default_network(ctx)
        with self._db.read() as tx:
            vpcs = store.list_vpcs(tx, ctx.account_id, ctx.region)
        chosen = _select(
            vpcs,
            params.get("VpcIds"),
            lambda v: v.vpc_id,
            params,
            _VPC_FILTERS,
            lambda i: _not_found("InvalidVpcID.NotFound", f"The vpc ID '{i}' does not exist"),
        )
        return {"Vpcs": [_vpc_view(v) for v in chosen]}

    def describe_subnets(self, ctx: RequestContext, params: Params) -> Result:
        self._ensure_default_network(ctx)
        with self._db.read() as tx:
            subnets = store.list_subnets(tx, ctx.account_id, ctx.region)
            used = store.count_by_subnet(tx, [s.subnet_id for s in subnets])
        chosen = _select(
            subnets,
            params.get("SubnetIds"),
            lambda s: s.subnet_id,
            params,
            _SUBNET_FILTERS,
            lambda i: _not_found("InvalidSubnetID.NotFound", f"The subnet ID '{i}' does not exist"),
        )
        return {"Subnets": [_subnet_view(s, used.get(s.subnet_id, 0)) for s in chosen]}

    # --- security groups ----------------------------------------------------------------------------------

    def describe_security_groups(self, ctx: RequestContext, params: Params) -> Result:
        default_vpc = self._ensure_default_network(ctx)
        with self._db.read() as tx:
            groups = store.list_groups(tx, ctx.account_id, ctx.region)
        names = params.get("GroupNames") or []
        for name in names:  # names address the default VPC's groups
            if not any(g.name == name and g.vpc_id == default_vpc.vpc_id for g in groups):
                raise _group_name_not_found(name, default_vpc.vpc_id)
        if names:
            groups = [g for g in groups if g.name in names and g.vpc_id == default_vpc.vpc_id]
        chosen = _select(
            groups, params.get("GroupIds"), lambda g: g.group_id, params, _GROUP_FILTERS, _group_not_found
        )
        return {"SecurityGroups": [_group_view(g) for g in chosen]}

    def create_security_group(self, ctx: RequestContext, params: Params) -> Result:
        name, description = str(params["GroupName"]), str(params["Description"])
        if name.lower().startswith("sg-"):
            raise ApiError("Group names may not be in the format sg-*.", code="InvalidParameterValue")
        if not name or len(name) > MAX_GROUP_NAME:
            raise ApiError(
                f"Invalid value '{name}' for GroupName. Length must be between 1 and 255 characters.",
                code="InvalidParameterValue",
            )
        tags = _tags_for(params.get("TagSpecifications") or [], "security-group")
        with self._db.write() as tx:
            default_vpc = ensure_default_vpc(tx, ctx.account_id, ctx.region, ctx.now)
            vpc_id = str(params.get("VpcId") or default_vpc.vpc_id)
            if not any(v.vpc_id == vpc_id for v in store.list_vpcs(tx, ctx.account_id, ctx.region)):
                raise _not_found("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
            if store.find_group_by_name(tx, ctx.account_id, ctx.region, vpc_id, name) is not None:
                raise ApiError(
                    f"The security group '{name}' already exists for VPC '{vpc_id}'",
                    code="InvalidGroup.Duplicate",
                )
            group = SecurityGroupRecord(
                account_id=ctx.account_id,
                region=ctx.region,
                group_id=network.new_id("sg"),
                vpc_id=vpc_id,
                name=name,
                description=description,
                ingress=[],
                egress=permissions.default_egress(),
                tags=tags,
                created_at=ctx.now,
            )
            store.insert_group(tx, group)
        return {"GroupId": group.group_id, "Tags": tags, "SecurityGroupArn": _group_arn(group)}

    def authorize_security_group_ingress(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_rules(ctx, params, "ingress", permissions.add)

    def revoke_security_group_ingress(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_rules(ctx, params, "ingress", permissions.remove)

    def authorize_security_group_egress(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_rules(ctx, params, "egress", permissions.add)

    def revoke_security_group_egress(self, ctx: RequestContext, params: Params) -> Result:
        return self._change_rules(ctx, params, "egress", permissions.remove)

    def delete_security_group(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            group = self._addressed_group(ctx, tx, params, lock=True)
            if group.name == DEFAULT_GROUP:
                raise ApiError(
                    f'the specified group: "{group.group_id}" name: "default" cannot be deleted by a user',
                    code="CannotDelete",
                )
            referenced = any(
                rule.get("kind") == "group" and rule.get("source") == group.group_id
                for other in store.list_groups(tx, ctx.account_id, ctx.region)
                if other.group_id != group.group_id
                for rule in (*other.ingress, *other.egress)
            )
            if referenced or group.group_id in store.groups_in_use(tx, ctx.account_id, ctx.region):
                raise ApiError(
                    f"resource {group.group_id} has a dependent object", code="DependencyViolation"
                )
            store.delete_group(tx, group.group_id)
            hosts = self._firewall_hosts(ctx, tx)
        self._wake(hosts)
        return {"Return": True, "GroupId": group.group_id}

    def _change_rules(
        self,
        ctx: RequestContext,
        params: Params,
        direction: str,
        change: Callable[[Sequence[permissions.Rule], Sequence[permissions.Rule]], list[permissions.Rule]],
    ) -> Result:
        given = list(params.get("IpPermissions") or []) + permissions.legacy_permission(params)
        if not given:
            raise ApiError("The request must contain the parameter ipPermissions", code="MissingParameter")
        with self._db.write() as tx:
            group = self._addressed_group(ctx, tx, params, lock=True)

            def resolve(group_id: str | None, group_name: str | None) -> str:
                if group_id:
                    if store.find_group(tx, ctx.account_id, ctx.region, group_id) is None:
                        raise _group_not_found(group_id)
                    return group_id
                found = store.find_group_by_name(
                    tx, ctx.account_id, ctx.region, group.vpc_id, str(group_name)
                )
                if found is None:
                    raise _group_name_not_found(str(group_name), group.vpc_id)
                return found.group_id

            rules = permissions.expand(given, account_id=ctx.account_id, resolve_group=resolve)
            current = group.ingress if direction == "ingress" else group.egress
            updated = change(current, rules)
            hosts: set[str] = set()
            if direction == "ingress":
                store.save_group(tx, replace(group, ingress=updated))
                hosts = self._firewall_hosts(ctx, tx)
            else:
                store.save_group(tx, replace(group, egress=updated))
        self._wake(hosts)
        return {"Return": True}

    def _firewall_hosts(self, ctx: RequestContext, tx: Connection) -> set[str]:
        """The instances whose agents enforce ingress of the account's groups in the region."""
        if self._notifier is None:
            return set()
        return store.instances_hosting_interfaces(tx, ctx.account_id, ctx.region)

    def _wake(self, instance_arns: set[str]) -> None:
        """After the commit: those instances' sessions send their new firewall."""
        if self._notifier is not None and instance_arns:
            self._notifier.notify(instance_arns)

    def _addressed_group(
        self, ctx: RequestContext, tx: Connection, params: Params, *, lock: bool
    ) -> SecurityGroupRecord:
        group_id, name = params.get("GroupId"), params.get("GroupName")
        if group_id:
            found = store.find_group(tx, ctx.account_id, ctx.region, str(group_id), lock=lock)
            if found is None:
                raise _group_not_found(str(group_id))
            return found
        if not name:
            raise ApiError(
                "The request must contain the parameter groupName or groupId", code="MissingParameter"
            )
        default_vpc = ensure_default_vpc(tx, ctx.account_id, ctx.region, ctx.now)
        found = store.find_group_by_name(tx, ctx.account_id, ctx.region, default_vpc.vpc_id, str(name))
        if found is None:
            raise _group_name_not_found(str(name), default_vpc.vpc_id)
        return found

    # --- network interfaces -------------------------------------------------------------------------------

    def describe_network_interfaces(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            interfaces = store.list_interfaces(tx, ctx.account_id, ctx.region)
            names = {g.group_id: g.name for g in store.list_groups(tx, ctx.account_id, ctx.region)}
        chosen = _select(
            interfaces,
            params.get("NetworkInterfaceIds"),
            lambda i: i.eni_id,
            params,
            _INTERFACE_FILTERS,
            lambda i: _not_found(
                "InvalidNetworkInterfaceID.NotFound", f"The networkInterface ID '{i}' does not exist"
            ),
        )
        return {"NetworkInterfaces": [_interface_view(i, names) for i in chosen]}


# --- selection ----------------------------------------------------------------------------------------------


def _select(
    items: Sequence[T],
    ids: Iterable[str] | None,
    key: Callable[[T], str],
    params: Params,
    accessors: Mapping[str, Callable[[Any], Any]],
    not_found: Callable[[str], ApiError],
) -> list[T]:
    """The items named by ``ids`` (each must exist) that match the request's ``Filters``."""
    filters = params.get("Filters") or []
    network.check_filters(filters, accessors)
    wanted = list(ids or [])
    known = {key(item) for item in items}
    for ident in wanted:
        if ident not in known:
            raise not_found(ident)
    return [
        item
        for item in items
        if (not wanted or key(item) in wanted) and network.matches(item, filters, accessors)
    ]


def _group_not_found(group_id: str) -> ApiError:
    return _not_found("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")


def _group_name_not_found(name: str, vpc_id: str) -> ApiError:
    return _not_found(
        "InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC '{vpc_id}'"
    )


def _tags_for(specifications: Sequence[Mapping[str, Any]], resource_type: str) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in specifications:
        if spec.get("ResourceType") != resource_type:
            raise ApiError(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this operation.",
                code="InvalidParameterValue",
            )
        tags.extend({"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in spec.get("Tags") or [])
    return tags


# --- views --------------------------------------------------------------------------------------------------


def _vpc_view(vpc: VpcRecord) -> dict[str, Any]:
    return {
        "VpcId": vpc.vpc_id,
        "CidrBlock": vpc.cidr,
        "State": "available",
        "DhcpOptionsId": DHCP_OPTIONS_ID,
        "InstanceTenancy": "default",
        "IsDefault": vpc.is_default,
        "OwnerId": vpc.account_id,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-" + vpc.vpc_id[4:],
                "CidrBlock": vpc.cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Tags": [],
    }


def _subnet_view(subnet: SubnetRecord, used: int) -> dict[str, Any]:
    return {
        "SubnetId": subnet.subnet_id,
        "SubnetArn": build_arn("ec2", subnet.region, subnet.account_id, f"subnet/{subnet.subnet_id}"),
        "VpcId": subnet.vpc_id,
        "CidrBlock": subnet.cidr,
        "AvailabilityZone": subnet.availability_zone,
        "AvailabilityZoneId": network.zone_id(subnet.availability_zone),
        "AvailableIpAddressCount": network.available_addresses(subnet.cidr, used),
        "DefaultForAz": subnet.default_for_az,
        "MapPublicIpOnLaunch": subnet.default_for_az,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "State": "available",
        "OwnerId": subnet.account_id,
        "Tags": [],
    }


def _group_arn(group: SecurityGroupRecord) -> str:
    return build_arn("ec2", group.region, group.account_id, f"security-group/{group.group_id}")


def _group_view(group: SecurityGroupRecord) -> dict[str, Any]:
    return {
        "GroupId": group.group_id,
        "GroupName": group.name,
        "Description": group.description,
        "VpcId": group.vpc_id,
        "OwnerId": group.account_id,
        "SecurityGroupArn": _group_arn(group),
        "IpPermissions": permissions.grouped(group.ingress),
        "IpPermissionsEgress": permissions.grouped(group.egress),
        "Tags": group.tags,
    }


def _interface_view(interface: InterfaceRecord, group_names: Mapping[str, str]) -> dict[str, Any]:
    dns = network.private_dns_name(interface.region, interface.private_ip)
    view: dict[str, Any] = {
        "NetworkInterfaceId": interface.eni_id,
        "SubnetId": interface.subnet_id,
        "VpcId": interface.vpc_id,
        "AvailabilityZone": interface.availability_zone,
        "Description": interface.description,
        "Groups": [{"GroupId": g, "GroupName": group_names.get(g, "")} for g in interface.group_ids],
        "InterfaceType": interface.interface_type,
        "MacAddress": interface.mac,
        "OwnerId": interface.account_id,
        "PrivateIpAddress": interface.private_ip,
        "PrivateDnsName": dns,
        "PrivateIpAddresses": [
            {"Primary": True, "PrivateIpAddress": interface.private_ip, "PrivateDnsName": dns}
        ],
        "Ipv6Addresses": [],
        "RequesterId": "578734482556",
        "RequesterManaged": True,
        "SourceDestCheck": True,
        "Status": interface.status,
        "TagSet": [],
    }
    if interface.attachment is not None:
        view["Attachment"] = {
            "AttachmentId": "ela-attach-" + interface.eni_id[4:],
            "DeviceIndex": 1,
            "Status": "attached",
            "InstanceOwnerId": "amazon-aws",
            "AttachTime": interface.created_at,
        }
    return view
