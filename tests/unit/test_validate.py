"""The model-driven validator: types, constraints and AWS's Coral error format, on real botocore shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.validate import validate_input
from dockyard.core.errors import SerializationError, ValidationError


def _input(service: str, operation: str) -> Any:
    return ServiceCatalog.default().operation(service, operation).input_shape


def _validation_message(service: str, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as excinfo:
        validate_input(_input(service, operation), params)
    assert excinfo.value.code == "ValidationException"
    assert excinfo.value.status == 400
    return excinfo.value.message


def _serialization_message(service: str, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(SerializationError) as excinfo:
        validate_input(_input(service, operation), params)
    assert excinfo.value.code == "SerializationException"
    return excinfo.value.message


# --- accepted input ----------------------------------------------------------------------------------------


def test_valid_nested_input_is_returned_unchanged() -> None:
    params = {
        "clusterName": "prod",
        "tags": [{"key": "team", "value": "core platform"}],
        "settings": [{"name": "containerInsights", "value": "enabled"}],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
    }
    assert validate_input(_input("ecs", "CreateCluster"), params) == params


def test_unknown_members_and_nulls_are_dropped() -> None:
    result = validate_input(
        _input("ecs", "CreateCluster"),
        {
            "clusterName": "c",
            "bogus": 1,
            "tags": [{"key": "k", "value": "v", "extra": True}],
            "settings": None,
        },
    )
    assert result == {"clusterName": "c", "tags": [{"key": "k", "value": "v"}]}


def test_timestamps_accept_epoch_seconds_and_iso_text() -> None:
    result = validate_input(
        _input("ecs", "ListServiceDeployments"),
        {"service": "web", "createdAt": {"after": 1_700_000_000.5, "before": "2026-11-27T13:00:00Z"}},
    )
    assert result["createdAt"] == {
        "after": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
        "before": datetime(2026, 11, 27, 13, 0, tzinfo=UTC),
    }


def test_blob_is_decoded_from_base64() -> None:
    params = {
        "repositoryName": "app",
        "uploadId": "0f2a8c3e-1b7d-4e6f-9a01-23456789abcd",
        "partFirstByte": 0,
        "partLastByte": 4,
        "layerPartBlob": base64.b64encode(b"\x00layer").decode(),
    }
    assert validate_input(_input("ecr", "UploadLayerPart"), params)["layerPartBlob"] == b"\x00layer"


def test_doubles_accept_integers_and_become_floats() -> None:
    params = {
        "daemonName": "d",
        "daemonTaskDefinitionArn": "arn",
        "capacityProviderArns": ["cp"],
        "deploymentConfiguration": {"drainPercent": 50},
    }
    result = validate_input(_input("ecs", "CreateDaemon"), params)
    drain = result["deploymentConfiguration"]["drainPercent"]
    assert drain == 50.0
    assert isinstance(drain, float)


def test_unicode_letters_satisfy_java_letter_classes() -> None:
    # ECS TagKey's pattern uses \p{L}; an accented key is valid on AWS.
    params = {"clusterName": "c", "tags": [{"key": "équipe", "value": "données"}]}
    assert validate_input(_input("ecs", "CreateCluster"), params) == params


# --- constraint violations (ValidationException) --------------------------------------------------------


def test_missing_required_member() -> None:
    assert _validation_message("ecs", "DeleteCluster", {}) == (
        "1 validation error detected: Value null at 'cluster' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_missing_required_member_in_list_names_the_nested_path() -> None:
    message = _validation_message(
        "ecs", "CreateCluster", {"defaultCapacityProviderStrategy": [{"weight": 1}, {"weight": 2}]}
    )
    assert message == (
        "2 validation errors detected: "
        "Value null at 'defaultCapacityProviderStrategy.1.member.capacityProvider' failed to satisfy "
        "constraint: Member must not be null; "
        "Value null at 'defaultCapacityProviderStrategy.2.member.capacityProvider' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_value_outside_enum() -> None:
    message = _validation_message("ecs", "DescribeClusters", {"include": ["TAGS", "BOGUS"]})
    allowed = ", ".join(ServiceCatalog.default().service("ecs").shape_for("ClusterField").enum)
    assert message == (
        "1 validation error detected: Value 'BOGUS' at 'include.2.member' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{allowed}]"
    )


def test_overlong_and_too_short_strings() -> None:
    message = _validation_message("ecs", "CreateCluster", {"tags": [{"key": "k" * 129, "value": "v"}]})
    assert message == (
        f"1 validation error detected: Value '{'k' * 129}' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )
    message = _validation_message("ecr", "CreateRepository", {"repositoryName": "a"})
    assert message == (
        "1 validation error detected: Value 'a' at 'repositoryName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2"
    )


def test_pattern_mismatch() -> None:
    message = _validation_message("ecr", "CreateRepository", {"repositoryName": "Upper/Case"})
    assert message.startswith(
        "1 validation error detected: Value 'Upper/Case' at 'repositoryName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-z0-9]+"
    )


def test_number_out_of_range() -> None:
    message = _validation_message(
        "ecs",
        "CreateCluster",
        {"defaultCapacityProviderStrategy": [{"capacityProvider": "x", "weight": 1001}]},
    )
    assert message == (
        "1 validation error detected: Value '1001' at 'defaultCapacityProviderStrategy.1.member.weight' "
        "failed to satisfy constraint: Member must have value less than or equal to 1000"
    )
    message = _validation_message("ecr", "DescribeRepositories", {"maxResults": 0})
    assert message == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_all_violations_are_collected_in_member_order() -> None:
    message = _validation_message(
        "ecs", "CreateCluster", {"clusterName": "c", "settings": [{"name": "nope"}], "tags": [{"key": ""}]}
    )
    assert message.startswith("2 validation errors detected: ")
    first, second = message.removeprefix("2 validation errors detected: ").split("; ")
    assert first.startswith("Value '' at 'tags.1.member.key'")
    assert second.startswith("Value 'nope' at 'settings.1.member.name'")


def test_map_keys_and_values() -> None:
    message = _validation_message(
        "logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"ok": "v" * 257, "bad!": "v"}}
    )
    assert "Value '" + "v" * 257 + "' at 'tags.ok' failed to satisfy constraint: " in message
    assert "at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [" in message
    assert message.startswith("2 validation errors detected: ")


def test_list_length() -> None:
    message = _validation_message("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {}})
    assert message == (
        "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_lower_camel_paths_for_query_services() -> None:
    shape = ServiceCatalog.default().operation("sts", "AssumeRole").input_shape
    with pytest.raises(ValidationError) as excinfo:
        validate_input(shape, {"RoleArn": "arn:aws:iam::1:role/r"}, lower_camel_paths=True)
    assert "Value null at 'roleSessionName'" in excinfo.value.message


# --- type errors (SerializationException) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "path"),
    [
        ("CreateCluster", {"clusterName": 5}, "clusterName"),
        ("CreateCluster", {"tags": {"key": "k"}}, "tags"),
        ("CreateCluster", {"tags": ["k"]}, "tags.1.member"),
        (
            "CreateCluster",
            {"defaultCapacityProviderStrategy": [{"capacityProvider": "x", "weight": "1"}]},
            "defaultCapacityProviderStrategy.1.member.weight",
        ),
        (
            "CreateCluster",
            {"defaultCapacityProviderStrategy": [{"capacityProvider": "x", "weight": True}]},
            "defaultCapacityProviderStrategy.1.member.weight",
        ),
        (
            "CreateCluster",
            {"defaultCapacityProviderStrategy": [{"capacityProvider": "x", "base": 2**40}]},
            "defaultCapacityProviderStrategy.1.member.base",
        ),
        ("CreateService", {"serviceName": "s", "enableExecuteCommand": "yes"}, "enableExecuteCommand"),
        ("ListServiceDeployments", {"service": "s", "createdAt": {"after": "yesterday"}}, "createdAt.after"),
    ],
)
def test_wrong_types_name_the_parameter(operation: str, params: dict[str, Any], path: str) -> None:
    assert f"'{path}'" in _serialization_message("ecs", operation, params)


def test_malformed_base64_blob() -> None:
    params = {
        "repositoryName": "app",
        "uploadId": "0f2a8c3e-1b7d-4e6f-9a01-23456789abcd",
        "partFirstByte": 0,
        "partLastByte": 1,
        "layerPartBlob": "not base64!",
    }
    assert "'layerPartBlob'" in _serialization_message("ecr", "UploadLayerPart", params)


def test_non_object_top_level() -> None:
    with pytest.raises(SerializationError):
        validate_input(_input("ecs", "ListClusters"), [])
