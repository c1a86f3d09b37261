"""The EKS API against a real server with boto3 and the aws CLI: the cluster lifecycle (CREATING →
ACTIVE with endpoint and CA, DELETING → gone), errors as EKS's, accounts isolated."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509

from tests.integration.conftest import Keys, ServerProcess, make_client, run_aws, unique_name
from tests.polling import wait_until

ROLE = "arn:aws:iam::123456789012:role/eks"
VPC = {"subnetIds": ["subnet-1", "subnet-2"]}


def _env(server: ServerProcess, keys: Keys) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint,
    }


def _gone(eks: Any, name: str) -> bool:
    try:
        eks.describe_cluster(name=name)
    except ClientError as error:
        return error.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_cluster_lifecycle_with_the_cli_and_boto3(server: ServerProcess, account_keys: Keys) -> None:
    eks = make_client(server, "eks", account_keys)
    env = _env(server, account_keys)
    name = unique_name("eks")
    created = json.loads(
        run_aws(
            env,
            "eks",
            "create-cluster",
            "--name",
            name,
            "--role-arn",
            ROLE,
            "--resources-vpc-config",
            "subnetIds=subnet-1,subnet-2",
        ).stdout
    )["cluster"]
    assert created["status"] == "CREATING"
    assert "endpoint" not in created
    run_aws(env, "eks", "wait", "cluster-active", "--name", name)
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["arn"] == f"arn:aws:eks:us-east-1:{account_keys.account_id}:cluster/{name}"
    assert cluster["version"] == "1.33"
    assert cluster["endpoint"].startswith("https://127.0.0.1:")
    ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["certificateAuthority"]["data"]))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert name in eks.list_clusters()["clusters"]

    with pytest.raises(ClientError) as duplicate:
        eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)
    assert duplicate.value.response["Error"]["Code"] == "ResourceInUseException"
    assert duplicate.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    other = make_client(server, "eks", server.create_key(unique_name("other")))
    with pytest.raises(ClientError) as hidden:
        other.describe_cluster(name=name)
    assert hidden.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert name not in other.list_clusters()["clusters"]

    assert eks.delete_cluster(name=name)["cluster"]["status"] == "DELETING"
    wait_until(lambda: _gone(eks, name), deadline_s=20, what="the cluster to be gone")
    with pytest.raises(ClientError) as missing:
        eks.delete_cluster(name=name)
    assert missing.value.response["Error"]["Message"] == f"No cluster found for name: {name}."


def test_list_clusters_pages_and_unimplemented_operations_answer_501(
    server: ServerProcess, account_keys: Keys
) -> None:
    eks = make_client(server, "eks", account_keys)
    names = sorted(unique_name("p") for _ in range(3))
    for name in names:
        eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC, version="1.31")
    first = eks.list_clusters(maxResults=2)
    second = eks.list_clusters(maxResults=2, nextToken=first["nextToken"])
    assert first["clusters"] + second["clusters"] == names
    assert "nextToken" not in second
    with pytest.raises(ClientError) as unsupported:
        eks.create_cluster(name=unique_name("v"), roleArn=ROLE, resourcesVpcConfig=VPC, version="1.20")
    assert unsupported.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as unimplemented:
        eks.list_addons(clusterName=names[0])
    assert unimplemented.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def _wait_active(describe: Any, what: str) -> None:
    wait_until(lambda: describe()["status"] == "ACTIVE", deadline_s=20, what=what)


def test_parts_block_cluster_deletion_until_deleted(server: ServerProcess, account_keys: Keys) -> None:
    eks = make_client(server, "eks", account_keys)
    name = unique_name("parts")
    eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)
    _wait_active(lambda: eks.describe_cluster(name=name)["cluster"], "the cluster")
    ng = eks.create_nodegroup(
        clusterName=name,
        nodegroupName="ng",
        subnets=["subnet-1"],
        nodeRole=ROLE,
        scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
    )["nodegroup"]
    assert (ng["status"], ng["scalingConfig"]["desiredSize"], ng["version"]) == ("CREATING", 2, "1.33")
    with pytest.raises(ClientError) as bad_scaling:
        eks.create_nodegroup(
            clusterName=name,
            nodegroupName="bad",
            subnets=["s"],
            nodeRole=ROLE,
            scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 3},
        )
    assert bad_scaling.value.response["Error"]["Code"] == "InvalidParameterException"
    profile = eks.create_fargate_profile(
        clusterName=name,
        fargateProfileName="fp",
        podExecutionRoleArn=ROLE,
        selectors=[{"namespace": "default", "labels": {"app": "web"}}],
    )["fargateProfile"]
    assert profile["selectors"] == [{"namespace": "default", "labels": {"app": "web"}}]
    _wait_active(lambda: eks.describe_nodegroup(clusterName=name, nodegroupName="ng")["nodegroup"], "ng")
    _wait_active(
        lambda: eks.describe_fargate_profile(clusterName=name, fargateProfileName="fp")["fargateProfile"],
        "fp",
    )
    assert eks.list_nodegroups(clusterName=name)["nodegroups"] == ["ng"]
    scaled = eks.update_nodegroup_config(
        clusterName=name, nodegroupName="ng", scalingConfig={"desiredSize": 3}
    )["update"]
    assert scaled["params"] == [{"type": "DesiredSize", "value": "3"}]
    _wait_active(lambda: eks.describe_nodegroup(clusterName=name, nodegroupName="ng")["nodegroup"], "ng")
    assert eks.describe_nodegroup(clusterName=name, nodegroupName="ng")["nodegroup"]["scalingConfig"] == {
        "minSize": 1,
        "maxSize": 3,
        "desiredSize": 3,
    }
    with pytest.raises(ClientError) as too_small:
        eks.update_nodegroup_config(clusterName=name, nodegroupName="ng", scalingConfig={"minSize": 4})
    assert "Minimum capacity 4" in too_small.value.response["Error"]["Message"]
    assert eks.list_fargate_profiles(clusterName=name)["fargateProfileNames"] == ["fp"]

    with pytest.raises(ClientError) as in_use:
        eks.delete_cluster(name=name)
    assert in_use.value.response["Error"]["Code"] == "ResourceInUseException"
    eks.delete_nodegroup(clusterName=name, nodegroupName="ng")
    eks.delete_fargate_profile(clusterName=name, fargateProfileName="fp")
    wait_until(
        lambda: (
            not eks.list_nodegroups(clusterName=name)["nodegroups"]
            and not eks.list_fargate_profiles(clusterName=name)["fargateProfileNames"]
        ),
        deadline_s=20,
        what="the parts to be gone",
    )
    eks.delete_cluster(name=name)
    wait_until(lambda: _gone(eks, name), deadline_s=20, what="the cluster to be gone")


def test_version_update_goes_in_progress_then_successful(server: ServerProcess, account_keys: Keys) -> None:
    eks = make_client(server, "eks", account_keys)
    name = unique_name("upd")
    eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC, version="1.32")
    _wait_active(lambda: eks.describe_cluster(name=name)["cluster"], "the cluster")
    with pytest.raises(ClientError) as skip:
        eks.update_cluster_version(name=name, version="1.30")
    assert skip.value.response["Error"]["Code"] == "InvalidParameterException"
    update = eks.update_cluster_version(name=name, version="1.33")["update"]
    assert (update["status"], update["type"]) == ("InProgress", "VersionUpdate")
    wait_until(
        lambda: eks.describe_update(name=name, updateId=update["id"])["update"]["status"] == "Successful",
        deadline_s=20,
        what="the update",
    )
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert (cluster["status"], cluster["version"]) == ("ACTIVE", "1.33")
    assert eks.list_updates(name=name)["updateIds"] == [update["id"]]


def test_tags_on_a_cluster_and_another_accounts_arn(server: ServerProcess, account_keys: Keys) -> None:
    eks = make_client(server, "eks", account_keys)
    name = unique_name("tags")
    arn = eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC, tags={"team": "web"})[
        "cluster"
    ]["arn"]
    eks.tag_resource(resourceArn=arn, tags={"env": "dev"})
    eks.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}
    assert eks.describe_cluster(name=name)["cluster"]["tags"] == {"env": "dev"}
    other = make_client(server, "eks", server.create_key(unique_name("tagother")))
    with pytest.raises(ClientError) as hidden:
        other.list_tags_for_resource(resourceArn=arn)
    assert hidden.value.response["Error"]["Code"] == "NotFoundException"


def test_creator_is_cluster_admin_and_access_entries_take_policies(
    server: ServerProcess, account_keys: Keys
) -> None:
    eks = make_client(server, "eks", account_keys)
    name = unique_name("acc")
    eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)
    creator = (
        f"arn:aws:iam::{account_keys.account_id}:user/"
        + next(iter(eks.list_access_entries(clusterName=name)["accessEntries"])).rsplit("/", 1)[-1]
    )
    entries = eks.list_access_entries(clusterName=name)["accessEntries"]
    assert entries == [creator]
    admin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    policies = eks.list_associated_access_policies(clusterName=name, principalArn=creator)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [admin]
    assert len(eks.list_access_policies()["accessPolicies"]) == 4
    bob = f"arn:aws:iam::{account_keys.account_id}:role/bob"
    entry = eks.create_access_entry(clusterName=name, principalArn=bob)["accessEntry"]
    assert entry["type"] == "STANDARD" and entry["username"].startswith("arn:aws:sts::")
    view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    eks.associate_access_policy(
        clusterName=name,
        principalArn=bob,
        policyArn=view,
        accessScope={"type": "namespace", "namespaces": ["a"]},
    )
    got = eks.list_associated_access_policies(clusterName=name, principalArn=bob)["associatedAccessPolicies"]
    assert got[0]["accessScope"] == {"type": "namespace", "namespaces": ["a"]}
    eks.disassociate_access_policy(clusterName=name, principalArn=bob, policyArn=view)
    eks.delete_access_entry(clusterName=name, principalArn=bob)
    with pytest.raises(ClientError) as gone:
        eks.describe_access_entry(clusterName=name, principalArn=bob)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
