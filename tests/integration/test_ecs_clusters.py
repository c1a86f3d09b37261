"""ECS cluster and tagging operations through boto3, against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import unique_name


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_create_describe_list_delete(ecs: Any) -> None:
    name = unique_name()
    created = ecs.create_cluster(clusterName=name, tags=[{"key": "team", "value": "web"}])["cluster"]
    assert created["clusterName"] == name
    assert created["status"] == "ACTIVE"
    assert created["clusterArn"].startswith("arn:aws:ecs:us-east-1:") and created["clusterArn"].endswith(
        f":cluster/{name}"
    )
    assert created["tags"] == [{"key": "team", "value": "web"}]
    assert created["settings"] == [{"name": "containerInsights", "value": "disabled"}]

    described = ecs.describe_clusters(clusters=[name, created["clusterArn"]], include=["TAGS"])
    assert [c["clusterArn"] for c in described["clusters"]] == [created["clusterArn"]] * 2
    assert described["clusters"][0]["tags"] == [{"key": "team", "value": "web"}]
    assert described["failures"] == []

    assert created["clusterArn"] in ecs.list_clusters()["clusterArns"]

    deleted = ecs.delete_cluster(cluster=name)["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert created["clusterArn"] not in ecs.list_clusters()["clusterArns"]
    # An inactive cluster stays describable, as on AWS.
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_cluster(cluster=name)
    assert error_code(excinfo) == "ClusterNotFoundException"


def test_create_is_idempotent_and_recreate_reactivates(ecs: Any) -> None:
    name = unique_name()
    first = ecs.create_cluster(clusterName=name)["cluster"]
    again = ecs.create_cluster(clusterName=name)["cluster"]
    assert again["clusterArn"] == first["clusterArn"] and again["status"] == "ACTIVE"
    ecs.delete_cluster(cluster=first["clusterArn"])
    revived = ecs.create_cluster(clusterName=name)["cluster"]
    assert revived["status"] == "ACTIVE" and revived["clusterArn"] == first["clusterArn"]


def test_describe_reports_missing_clusters_as_failures(ecs: Any) -> None:
    name = unique_name("missing")
    result = ecs.describe_clusters(clusters=[name])
    assert result["clusters"] == []
    assert result["failures"] == [
        {"arn": f"arn:aws:ecs:us-east-1:{_account(ecs)}:cluster/{name}", "reason": "MISSING"}
    ]


def test_default_cluster_is_used_when_no_name_is_given(ecs: Any) -> None:
    assert ecs.describe_clusters()["failures"][0]["reason"] == "MISSING"
    created = ecs.create_cluster()["cluster"]
    assert created["clusterName"] == "default"
    assert ecs.describe_clusters()["clusters"][0]["clusterName"] == "default"


def test_list_clusters_pages_with_max_results_and_next_token(ecs: Any) -> None:
    arns = {ecs.create_cluster(clusterName=f"page-{i:02d}")["cluster"]["clusterArn"] for i in range(7)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 3}
    while True:
        page = ecs.list_clusters(**kwargs)
        assert len(page["clusterArns"]) <= 3
        seen.extend(page["clusterArns"])
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert sorted(seen) == sorted(arns) and len(seen) == len(arns)
    paginated = [
        arn
        for p in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2})
        for arn in p["clusterArns"]
    ]
    assert sorted(paginated) == sorted(arns)
    with pytest.raises(ClientError) as excinfo:
        ecs.list_clusters(nextToken="not-a-token")
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.list_clusters(maxResults=101)
    assert error_code(excinfo) == "InvalidParameterException"


def test_tagging(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "3"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "3"},
        {"key": "b", "value": "2"},
    ]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]


def test_tagging_errors(ecs: Any) -> None:
    arn = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterArn"]
    with pytest.raises(ClientError) as excinfo:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "aws:reserved", "value": "x"}])
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    assert error_code(excinfo) in {"InvalidParameterException", "ValidationException"}
    missing = arn.rsplit("/", 1)[0] + "/" + unique_name("nope")
    with pytest.raises(ClientError) as excinfo:
        ecs.list_tags_for_resource(resourceArn=missing)
    assert error_code(excinfo) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecs.tag_resource(resourceArn="not-an-arn", tags=[{"key": "a", "value": "b"}])
    assert error_code(excinfo) == "InvalidParameterException"


def test_invalid_cluster_names_are_refused(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.create_cluster(clusterName="bad name!")
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.create_cluster(clusterName="x" * 256)
    assert error_code(excinfo) == "InvalidParameterException"


def test_regions_are_separate(server: Any, account_keys: Any) -> None:
    from tests.integration.conftest import make_client

    east = make_client(server, "ecs", account_keys, region="us-east-1")
    west = make_client(server, "ecs", account_keys, region="eu-west-1")
    name = unique_name()
    east.create_cluster(clusterName=name)
    assert west.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"
    west_arn = west.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    assert ":eu-west-1:" in west_arn


def _account(ecs: Any) -> str:
    arn = ecs.create_cluster(clusterName="account-probe")["cluster"]["clusterArn"]
    return str(arn.split(":")[4])


# --- capacity providers ---------------------------------------------------------------------------------


def test_the_fargate_capacity_providers_exist(ecs: Any) -> None:
    providers = ecs.describe_capacity_providers()["capacityProviders"]
    assert [p["name"] for p in providers] == ["FARGATE", "FARGATE_SPOT"]
    assert all(
        p["status"] == "ACTIVE" and p["capacityProviderArn"].endswith(f"/{p['name']}") for p in providers
    )
    missing = ecs.describe_capacity_providers(capacityProviders=["FARGATE", "my-asg"])
    assert [p["name"] for p in missing["capacityProviders"]] == ["FARGATE"]
    assert missing["failures"][0]["reason"] == "MISSING"


def test_put_cluster_capacity_providers_sets_the_default_strategy(ecs: Any) -> None:
    name = unique_name("cp")
    ecs.create_cluster(clusterName=name)
    strategy = [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 3},
    ]
    cluster = ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=strategy
    )["cluster"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 3},
    ]
    (described,) = ecs.describe_clusters(clusters=[name])["clusters"]
    assert described["defaultCapacityProviderStrategy"] == cluster["defaultCapacityProviderStrategy"]


@pytest.mark.parametrize(
    ("providers", "strategy", "fragment"),
    [
        (["FARGATE"], [{"capacityProvider": "FARGATE_SPOT", "weight": 1}], "not associated with the cluster"),
        (["my-asg"], [], "'my-asg' does not exist"),
        (
            ["FARGATE", "FARGATE_SPOT"],
            [
                {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                {"capacityProvider": "FARGATE_SPOT", "base": 2},
            ],
            "only one capacity provider",
        ),
    ],
)
def test_bad_capacity_provider_settings_are_refused(
    ecs: Any, providers: list[str], strategy: list[dict[str, Any]], fragment: str
) -> None:
    name = unique_name("cp")
    ecs.create_cluster(clusterName=name)
    with pytest.raises(ClientError) as excinfo:
        ecs.put_cluster_capacity_providers(
            cluster=name, capacityProviders=providers, defaultCapacityProviderStrategy=strategy
        )
    assert error_code(excinfo) == "InvalidParameterException"
    assert fragment in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        ecs.create_cluster(
            clusterName=unique_name("cp"),
            capacityProviders=providers,
            defaultCapacityProviderStrategy=strategy,
        )
    assert error_code(excinfo) == "InvalidParameterException"
