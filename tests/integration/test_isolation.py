"""Two accounts on one server never see or touch each other's resources."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name


def test_accounts_are_isolated(server: ServerProcess, account_keys: Keys) -> None:
    other_keys = server.create_key("mallory")
    alice = make_client(server, "ecs", account_keys)
    mallory = make_client(server, "ecs", other_keys)
    name = unique_name("private")
    arn = alice.create_cluster(clusterName=name, tags=[{"key": "owner", "value": "alice"}])["cluster"][
        "clusterArn"
    ]

    assert arn not in mallory.list_clusters()["clusterArns"]
    for reference in (name, arn):
        result = mallory.describe_clusters(clusters=[reference])
        assert result["clusters"] == [] and result["failures"][0]["reason"] == "MISSING"
    for call in (
        lambda: mallory.delete_cluster(cluster=arn),
        lambda: mallory.tag_resource(resourceArn=arn, tags=[{"key": "owner", "value": "mallory"}]),
        lambda: mallory.untag_resource(resourceArn=arn, tagKeys=["owner"]),
        lambda: mallory.list_tags_for_resource(resourceArn=arn),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert excinfo.value.response["Error"]["Code"] == "ClusterNotFoundException"

    # The same name in the other account is another cluster, with the other account's ARN.
    own = mallory.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    assert own != arn and f":{other_keys.account_id}:" in own
    mallory.delete_cluster(cluster=name)
    assert alice.describe_clusters(clusters=[name], include=["TAGS"])["clusters"][0]["tags"] == [
        {"key": "owner", "value": "alice"}
    ]
    assert alice.describe_clusters(clusters=[name])["clusters"][0]["status"] == "ACTIVE"


def test_caller_identity_names_each_account(server: ServerProcess, account_keys: Keys) -> None:
    sts = make_client(server, "sts", account_keys)
    identity = sts.get_caller_identity()
    assert identity["Account"] == account_keys.account_id
    assert identity["Arn"].startswith(f"arn:aws:iam::{account_keys.account_id}:user/")
    second = server.create_key("second-user", account=account_keys.account_id)
    assert make_client(server, "sts", second).get_caller_identity()["Account"] == account_keys.account_id
