"""ECR repository operations through boto3 against a real server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name


@pytest.fixture
def ecr(server: ServerProcess, account_keys: Keys) -> Any:
    return make_client(server, "ecr", account_keys)


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_create_describe_delete(ecr: Any, server: ServerProcess, account_keys: Keys) -> None:
    name = f"team/{unique_name('app')}"
    repo = ecr.create_repository(repositoryName=name, tags=[{"Key": "team", "Value": "a"}])["repository"]
    assert repo["repositoryName"] == name
    assert repo["registryId"] == account_keys.account_id
    assert repo["repositoryArn"] == f"arn:aws:ecr:us-east-1:{account_keys.account_id}:repository/{name}"
    assert repo["repositoryUri"] == f"localhost:{server.port}/{name}"
    assert repo["imageTagMutability"] == "MUTABLE"
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository(repositoryName=name)
    assert code_of(excinfo) == "RepositoryAlreadyExistsException"

    described = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryArn"] for r in described] == [repo["repositoryArn"]]
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [
        {"Key": "team", "Value": "a"}
    ]

    ecr.delete_repository(repositoryName=name)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(repositoryNames=[name])
    assert code_of(excinfo) == "RepositoryNotFoundException"
    assert name in str(excinfo.value)


def test_describe_pages(ecr: Any) -> None:
    names = sorted(unique_name("page") for _ in range(5))
    for name in names:
        ecr.create_repository(repositoryName=name)
    pages = ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2})
    seen = [r["repositoryName"] for page in pages for r in page["repositories"]]
    assert seen == names


def test_invalid_names_are_refused(ecr: Any) -> None:
    for bad in ("UPPER", "bad//name", "-dash", "trailing-"):
        with pytest.raises(ClientError) as excinfo:
            ecr.create_repository(repositoryName=bad)
        assert code_of(excinfo) in {"InvalidParameterException", "ValidationException"}, bad


def test_policies_and_mutability(ecr: Any) -> None:
    name = unique_name("pol")
    ecr.create_repository(repositoryName=name)
    with pytest.raises(ClientError) as excinfo:
        ecr.get_repository_policy(repositoryName=name)
    assert code_of(excinfo) == "RepositoryPolicyNotFoundException"
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]}
    )
    ecr.set_repository_policy(repositoryName=name, policyText=policy)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == policy
    with pytest.raises(ClientError) as excinfo:
        ecr.set_repository_policy(repositoryName=name, policyText='{"Statement": "nope"}')
    assert code_of(excinfo) == "InvalidParameterException"
    ecr.delete_repository_policy(repositoryName=name)

    result = ecr.put_image_tag_mutability(
        repositoryName=name,
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    assert result["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    with pytest.raises(ClientError) as excinfo:
        ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE_WITH_EXCLUSION")
    assert code_of(excinfo) == "InvalidParameterException"


def test_authorization_token_is_what_the_aws_cli_expects(ecr: Any, server: ServerProcess) -> None:
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":")
    assert user == "AWS" and password
    assert data["proxyEndpoint"] == f"http://localhost:{server.port}"


def test_accounts_do_not_share_repositories(server: ServerProcess, account_keys: Keys) -> None:
    alice = make_client(server, "ecr", account_keys)
    bob = make_client(server, "ecr", server.create_key("bob-ecr"))
    name = unique_name("private")
    arn = alice.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    for call in (
        lambda: bob.describe_repositories(repositoryNames=[name]),
        lambda: bob.delete_repository(repositoryName=name),
        lambda: bob.list_tags_for_resource(resourceArn=arn),
        lambda: bob.describe_repositories(registryId=account_keys.account_id, repositoryNames=[name]),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert code_of(excinfo) == "RepositoryNotFoundException"
    assert bob.describe_repositories()["repositories"] == []
