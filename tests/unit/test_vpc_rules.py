"""The pure VPC arithmetic and security-group rule handling (control/vpc)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dockyard.control.vpc import network, permissions
from dockyard.core.errors import ApiError


def test_us_east_1_has_six_zones_with_aws_ids() -> None:
    zones = network.availability_zones("us-east-1")
    assert zones == [f"us-east-1{c}" for c in "abcdef"]
    assert network.zone_id("us-east-1a") == "use1-az1"
    assert network.zone_id("ap-northeast-1c") == "apne1-az3"
    assert network.zone_id("eu-central-1b") == "euc1-az2"


def test_default_vpcs_and_subnets_carve_aws_blocks() -> None:
    assert network.default_vpc_cidr(0) == "172.31.0.0/16"
    assert network.default_vpc_cidr(3) == "10.3.0.0/16"
    assert network.default_subnet_cidrs("172.31.0.0/16", 3) == [
        "172.31.0.0/20",
        "172.31.16.0/20",
        "172.31.32.0/20",
    ]


def test_addresses_skip_the_reserved_ones_and_fill_gaps() -> None:
    assert network.free_address("172.31.0.0/20", []) == "172.31.0.4"
    assert network.free_address("172.31.0.0/20", ["172.31.0.4", "172.31.0.6"]) == "172.31.0.5"
    full = [f"10.0.0.{i}" for i in range(4, 15)]  # a /28 has 16 addresses, 5 reserved
    assert network.free_address("10.0.0.0/28", full) is None
    assert network.available_addresses("172.31.0.0/20", 2) == 4096 - 5 - 2


def test_private_dns_names_follow_the_region() -> None:
    assert network.private_dns_name("us-east-1", "172.31.5.6") == "ip-172-31-5-6.ec2.internal"
    assert network.private_dns_name("eu-west-1", "10.1.0.4") == "ip-10-1-0-4.eu-west-1.compute.internal"


def test_filters_match_any_value_with_wildcards_and_refuse_unknown_names() -> None:
    accessors: dict[str, Any] = {"name": lambda item: item["name"]}
    item = {"name": "web-1"}
    assert network.matches(item, [{"Name": "name", "Values": ["db", "web-*"]}], accessors)
    assert not network.matches(item, [{"Name": "name", "Values": ["db"]}], accessors)
    with pytest.raises(ApiError) as excinfo:
        network.check_filters([{"Name": "colour", "Values": ["x"]}], accessors)
    assert excinfo.value.code == "InvalidParameterValue"


def _no_groups(group_id: str | None, name: str | None) -> str:
    raise AssertionError("no group expected")


def test_permissions_split_and_group_back_in_order() -> None:
    given = [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "6", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "192.168.1.7/24"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-1"}]},
    ]
    rules = permissions.expand(given, account_id="123", resolve_group=lambda gid, name: gid)
    assert [r["source"] for r in rules] == ["10.0.0.0/8", "192.168.1.0/24", "sg-1"]
    assert permissions.grouped(rules) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 80,
            "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.1.0/24"}],
            "Ipv6Ranges": [],
            "UserIdGroupPairs": [],
            "PrefixListIds": [],
        },
        {
            "IpProtocol": "-1",
            "IpRanges": [],
            "Ipv6Ranges": [],
            "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "123"}],
            "PrefixListIds": [],
        },
    ]


def test_a_duplicate_rule_is_refused_with_ec2s_wording() -> None:
    rule = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    existing = permissions.expand([rule], account_id="1", resolve_group=_no_groups)
    with pytest.raises(ApiError) as excinfo:
        permissions.add(existing, existing)
    assert excinfo.value.code == "InvalidPermission.Duplicate"
    assert excinfo.value.message == (
        'the specified rule "peer: 0.0.0.0/0, TCP, from port: 80, to port: 80, ALLOW" already exists'
    )


def test_revoking_a_missing_rule_is_not_found_and_a_present_one_goes() -> None:
    http = permissions.expand(
        [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        account_id="1",
        resolve_group=_no_groups,
    )
    ssh = permissions.expand(
        [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        account_id="1",
        resolve_group=_no_groups,
    )
    assert permissions.remove(http + ssh, http) == ssh
    with pytest.raises(ApiError) as excinfo:
        permissions.remove(ssh, http)
    assert excinfo.value.code == "InvalidPermission.NotFound"


@pytest.mark.parametrize(
    ("permission", "fragment"),
    [
        ({"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "Must specify both from and to ports"),
        (
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            "70000",
        ),
        ({"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "90-80"),
        (
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "300.0.0.0/8"}]},
            "malformed",
        ),
        ({"IpProtocol": "gre2", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "Unknown protocol"),
    ],
)
def test_bad_permissions_are_refused(permission: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        permissions.expand([permission], account_id="1", resolve_group=_no_groups)
    assert excinfo.value.code == "InvalidParameterValue"
    assert fragment in excinfo.value.message


def test_admits_checks_protocol_and_port_range() -> None:
    (rule,) = permissions.expand(
        [{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        account_id="1",
        resolve_group=_no_groups,
    )
    assert permissions.admits(rule, "tcp", 8000) and permissions.admits(rule, "tcp", 8080)
    assert not permissions.admits(rule, "tcp", 8081) and not permissions.admits(rule, "udp", 8000)
    assert permissions.admits(permissions.default_egress()[0], "udp", 53)


@dataclass(frozen=True)
class Group:
    group_id: str
    ingress: list[dict[str, Any]]


@dataclass(frozen=True)
class Interface:
    eni_id: str
    private_ip: str
    group_ids: list[str]


def _rules(*given: dict[str, Any]) -> list[dict[str, Any]]:
    return permissions.expand(list(given), account_id="1", resolve_group=lambda gid, name: gid)


def test_ingress_resolves_group_sources_to_member_addresses_and_drops_ipv6() -> None:
    web = Group(
        "sg-web",
        _rules(
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "UserIdGroupPairs": [{"GroupId": "sg-clients"}],
            },
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-web"}]},
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        ),
    )
    members = {"sg-clients": ["172.31.0.9", "172.31.0.5"], "sg-web": ["172.31.0.4"]}
    assert permissions.resolved_ingress([web], members) == [
        {
            "protocol": "tcp",
            "fromPort": 8080,
            "toPort": 8080,
            "cidrs": ["10.0.0.0/8", "172.31.0.5/32", "172.31.0.9/32"],
        },
        {"protocol": "-1", "cidrs": ["172.31.0.4/32"]},
        {"protocol": "icmp", "fromPort": 8, "toPort": -1, "cidrs": ["0.0.0.0/0"]},
        # udp/53 had only an IPv6 source: nothing of it is left
    ]


def test_ingress_merges_rules_of_several_groups_without_duplicates() -> None:
    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}
    first = Group("sg-1", _rules(http, {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-empty"}]}))
    second = Group(
        "sg-2",
        _rules({**http, "IpRanges": [{"CidrIp": "192.168.0.0/16"}, {"CidrIp": "10.1.2.3/32"}]}),
    )
    resolved = permissions.resolved_ingress([first, second], {"sg-empty": []})
    assert resolved == [
        {"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrs": ["10.1.2.3/32", "192.168.0.0/16"]}
    ]
    assert permissions.resolved_ingress([second, first], {"sg-empty": []}) == resolved
    assert permissions.resolved_ingress([], {}) == []


def test_firewall_interfaces_in_id_order_with_members_of_referenced_groups() -> None:
    default = Group("sg-default", permissions.default_ingress("sg-default", "1"))
    web = Group(
        "sg-web",
        _rules(
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 90, "UserIdGroupPairs": [{"GroupId": "sg-lb"}]}
        ),
    )
    everyone = [
        Interface("eni-b", "172.31.0.5", ["sg-default"]),
        Interface("eni-a", "172.31.0.4", ["sg-web", "sg-gone", "sg-web"]),
        Interface("eni-c", "172.31.0.6", ["sg-lb", "sg-default"]),
    ]
    groups = {g.group_id: g for g in (default, web)}
    referenced = permissions.referenced_groups(groups.values())
    assert referenced == {"sg-default", "sg-lb"}
    members = permissions.group_members(everyone, referenced)
    assert members == {"sg-default": ["172.31.0.5", "172.31.0.6"], "sg-lb": ["172.31.0.6"]}
    assert permissions.firewall_interfaces(everyone[:2], groups, members) == [
        {
            "networkInterfaceId": "eni-a",
            "privateIPv4Address": "172.31.0.4",
            "ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": 90, "cidrs": ["172.31.0.6/32"]}],
        },
        {
            "networkInterfaceId": "eni-b",
            "privateIPv4Address": "172.31.0.5",
            "ingress": [{"protocol": "-1", "cidrs": ["172.31.0.5/32", "172.31.0.6/32"]}],
        },
    ]
