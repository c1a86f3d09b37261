"""Inputs that once reached a 500 (found by model-driven fuzzing): each is now AWS's client error."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import REGION, Keys, ServerProcess

NO_CLIENT_CHECKS = Config(parameter_validation=False, retries={"max_attempts": 0})


def unchecked(server: ServerProcess, service: str, keys: Keys) -> Any:
    """A client that sends what it is given: botocore's own validation would stop some of these."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=NO_CLIENT_CHECKS,
    )


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    return str(raised.value.response["Error"]["Code"])


@pytest.mark.parametrize("setting", [{"value": "enabled"}, {"name": "containerInsights"}, {}])
def test_a_cluster_setting_without_name_or_value_is_invalid(
    server: ServerProcess, account_keys: Keys, setting: dict[str, str]
) -> None:
    ecs = unchecked(server, "ecs", account_keys)
    assert error_code(ecs.create_cluster, clusterName="s", settings=[setting]) == "InvalidParameterException"


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("ecs", "list_clusters", {}),
        ("ecs", "list_task_definitions", {}),
        ("ecs", "list_task_definition_families", {}),
        ("ecs", "list_container_instances", {}),
        ("ecs", "list_tasks", {}),
        ("ecs", "list_attributes", {"targetType": "container-instance"}),
        ("ecr", "describe_repositories", {}),
    ],
)
def test_max_results_zero_is_invalid_not_the_default(
    server: ServerProcess, account_keys: Keys, service: str, operation: str, params: dict[str, Any]
) -> None:
    client = unchecked(server, service, account_keys)
    code = error_code(getattr(client, operation), maxResults=0, **params)
    assert code in {"InvalidParameterException", "ValidationException"}, code
