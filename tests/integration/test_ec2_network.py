"""The EC2 VPC subset through boto3 and the aws CLI: the default network, security groups and their rules,
EC2's error codes, and accounts kept apart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    REGION,
    Keys,
    ServerProcess,
    make_client,
    run_aws,
    unique_name,
)


@pytest.fixture
def ec2(server: ServerProcess, account_keys: Keys) -> Any:
    return make_client(server, "ec2", account_keys)


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_the_cli_finds_one_default_subnet_per_zone(server: ServerProcess, account_keys: Keys) -> None:
    env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": account_keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account_keys.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
    }
    out = run_aws(
        env, "ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true", "--output", "json"
    )
    subnets = json.loads(out.stdout)["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == [f"us-east-1{c}" for c in "abcdef"]
    assert all(s["CidrBlock"].endswith("/20") and s["DefaultForAz"] for s in subnets)
    assert len({s["VpcId"] for s in subnets}) == 1


def test_the_default_vpc_and_group(ec2: Any) -> None:
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpc["IsDefault"] and vpc["State"] == "available"
    assert vpc["CidrBlock"].endswith(".0.0/16")
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    # The default group admits its own members and lets everything out.
    assert group["IpPermissions"][0]["IpProtocol"] == "-1"
    assert group["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    by_name = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [group["GroupId"]]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneId"] for z in zones][:2] == ["use1-az1", "use1-az2"]


def test_security_group_rules_round_trip(ec2: Any) -> None:
    name = unique_name("web")
    created = ec2.create_security_group(
        GroupName=name,
        Description="web tier",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "tier", "Value": "web"}]}],
    )
    group_id = created["GroupId"]
    assert group_id.startswith("sg-")
    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    with pytest.raises(ClientError) as excinfo:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert _code(excinfo) == "InvalidPermission.Duplicate"

    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert group["Tags"] == [{"Key": "tier", "Value": "web"}]
    assert group["IpPermissions"] == [{**http, "Ipv6Ranges": [], "UserIdGroupPairs": [], "PrefixListIds": []}]

    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"] == []
    with pytest.raises(ClientError) as excinfo:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert _code(excinfo) == "InvalidPermission.NotFound"

    with pytest.raises(ClientError) as excinfo:
        ec2.create_security_group(GroupName=name, Description="again")
    assert _code(excinfo) == "InvalidGroup.Duplicate"
    ec2.delete_security_group(GroupId=group_id)
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert _code(excinfo) == "InvalidGroup.NotFound"


def test_ec2_errors_and_refusals(ec2: Any) -> None:
    (default,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_security_group(GroupId=default["GroupId"])
    assert _code(excinfo) == "CannotDelete"
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])
    assert _code(excinfo) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_subnets(Filters=[{"Name": "colour", "Values": ["blue"]}])
    assert _code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        ec2.create_security_group(GroupName="sg-looks-like-an-id", Description="x")
    assert _code(excinfo) == "InvalidParameterValue"
    # A group another group's rule refers to cannot go.
    source = ec2.create_security_group(GroupName=unique_name("src"), Description="s")["GroupId"]
    target = ec2.create_security_group(GroupName=unique_name("dst"), Description="d")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=target,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": source}]}
        ],
    )
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_security_group(GroupId=source)
    assert _code(excinfo) == "DependencyViolation"
    # Operations outside the subset answer 501.
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_instances()
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_accounts_have_separate_networks(server: ServerProcess, ec2: Any) -> None:
    other = make_client(server, "ec2", server.create_key(unique_name("eve")))
    mine = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]}
    theirs = {s["SubnetId"] for s in other.describe_subnets()["Subnets"]}
    assert mine and theirs and not mine & theirs
    my_cidrs = {s["CidrBlock"] for s in ec2.describe_subnets()["Subnets"]}
    their_cidrs = {s["CidrBlock"] for s in other.describe_subnets()["Subnets"]}
    assert not my_cidrs & their_cidrs  # real addresses on shared hosts never overlap
    group = ec2.create_security_group(GroupName=unique_name("private"), Description="p")["GroupId"]
    with pytest.raises(ClientError) as excinfo:
        other.describe_security_groups(GroupIds=[group])
    assert _code(excinfo) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as excinfo:
        other.delete_security_group(GroupId=group)
    assert _code(excinfo) == "InvalidGroup.NotFound"
