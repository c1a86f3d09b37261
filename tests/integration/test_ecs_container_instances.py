"""ECS container instances through boto3 against a real server, registered as the ECS agent does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def register(ecs: Any, cluster: str, zone: str, **extra: Any) -> dict[str, Any]:
    """RegisterContainerInstance with what the real agent sends (no identity document)."""
    instance: dict[str, Any] = ecs.register_container_instance(
        cluster=cluster,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 3768},
            {
                "name": "PORTS",
                "type": "STRINGSET",
                "stringSetValue": ["22", "2375", "2376", "51678", "51679"],
            },
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        versionInfo={
            "agentVersion": "1.80.0",
            "agentHash": "abc123",
            "dockerVersion": "DockerVersion: 25.0.3",
        },
        attributes=[
            {"name": "ecs.os-type", "value": "linux"},
            {"name": "ecs.cpu-architecture", "value": "x86_64"},
            {"name": "ecs.availability-zone", "value": zone},
            {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.17"},
            {"name": "stack", "value": "prod"},
        ],
        **extra,
    )["containerInstance"]
    return instance


def cluster_count(ecs: Any, cluster: str) -> int:
    return int(ecs.describe_clusters(clusters=[cluster])["clusters"][0]["registeredContainerInstancesCount"])


def test_register_describe_list_drain_deregister(ecs: Any) -> None:
    cluster = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterName"]
    first = register(ecs, cluster, "us-east-1a", tags=[{"key": "team", "value": "web"}])
    second = register(ecs, cluster, "us-east-1b")

    assert first["containerInstanceArn"].startswith("arn:aws:ecs:us-east-1:")
    assert f":container-instance/{cluster}/" in first["containerInstanceArn"]
    assert len(first["containerInstanceArn"].rsplit("/", 1)[1]) == 32
    assert first["ec2InstanceId"].startswith("i-") and len(first["ec2InstanceId"]) == 19
    assert first["status"] == "ACTIVE" and first["agentConnected"] is False
    assert first["runningTasksCount"] == 0 and first["pendingTasksCount"] == 0
    assert first["remainingResources"] == first["registeredResources"]
    cpu = next(r for r in first["registeredResources"] if r["name"] == "CPU")
    assert cpu["integerValue"] == 2048
    assert {"name": "ecs.availability-zone", "value": "us-east-1a"} in first["attributes"]
    assert first["versionInfo"]["agentVersion"] == "1.80.0"
    assert first["tags"] == [{"key": "team", "value": "web"}]
    assert cluster_count(ecs, cluster) == 2

    described = ecs.describe_container_instances(
        cluster=cluster,
        containerInstances=[
            first["containerInstanceArn"],
            second["containerInstanceArn"].rsplit("/", 1)[1],
            "0" * 32,
        ],
        include=["TAGS"],
    )
    assert [i["containerInstanceArn"] for i in described["containerInstances"]] == [
        first["containerInstanceArn"],
        second["containerInstanceArn"],
    ]
    assert described["containerInstances"][0]["tags"] == [{"key": "team", "value": "web"}]
    assert [f["reason"] for f in described["failures"]] == ["MISSING"]

    listed = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    assert sorted(listed) == sorted([first["containerInstanceArn"], second["containerInstanceArn"]])
    in_a = ecs.list_container_instances(
        cluster=cluster, filter="attribute:ecs.availability-zone == us-east-1a"
    )
    assert in_a["containerInstanceArns"] == [first["containerInstanceArn"]]
    page = ecs.list_container_instances(cluster=cluster, maxResults=1)
    rest = ecs.list_container_instances(cluster=cluster, maxResults=1, nextToken=page["nextToken"])
    assert sorted(page["containerInstanceArns"] + rest["containerInstanceArns"]) == sorted(listed)
    assert "nextToken" not in rest

    drained = ecs.update_container_instances_state(
        cluster=cluster, containerInstances=[first["containerInstanceArn"]], status="DRAINING"
    )
    assert drained["containerInstances"][0]["status"] == "DRAINING" and drained["failures"] == []
    assert drained["containerInstances"][0]["version"] > first["version"]
    draining = ecs.list_container_instances(cluster=cluster, status="DRAINING")["containerInstanceArns"]
    assert draining == [first["containerInstanceArn"]]
    assert cluster_count(ecs, cluster) == 2

    gone = ecs.deregister_container_instance(
        cluster=cluster, containerInstance=second["containerInstanceArn"]
    )
    assert gone["containerInstance"]["status"] == "INACTIVE"
    assert (
        second["containerInstanceArn"]
        not in ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    )
    assert cluster_count(ecs, cluster) == 1

    with pytest.raises(ClientError) as excinfo:
        ecs.delete_cluster(cluster=cluster)
    assert error_code(excinfo) == "ClusterContainsContainerInstancesException"
    ecs.deregister_container_instance(
        cluster=cluster, containerInstance=first["containerInstanceArn"], force=True
    )
    assert ecs.delete_cluster(cluster=cluster)["cluster"]["status"] == "INACTIVE"


def test_reregistration_keeps_the_arn(ecs: Any) -> None:
    cluster = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterName"]
    first = register(ecs, cluster, "us-east-1a")
    ecs.put_attributes(
        cluster=cluster,
        attributes=[{"name": "team", "value": "web", "targetId": first["containerInstanceArn"]}],
    )
    again = register(ecs, cluster, "us-east-1c", containerInstanceArn=first["containerInstanceArn"])
    assert again["containerInstanceArn"] == first["containerInstanceArn"]
    assert again["ec2InstanceId"] == first["ec2InstanceId"]
    assert again["status"] == "ACTIVE" and again["version"] > first["version"]
    assert {"name": "ecs.availability-zone", "value": "us-east-1c"} in again["attributes"]
    assert {"name": "team", "value": "web"} in again["attributes"]
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == [
        first["containerInstanceArn"]
    ]

    ecs.deregister_container_instance(cluster=cluster, containerInstance=first["containerInstanceArn"])
    with pytest.raises(ClientError) as excinfo:
        register(ecs, cluster, "us-east-1a", containerInstanceArn=first["containerInstanceArn"])
    assert error_code(excinfo) == "InvalidParameterException"


def test_attributes_put_list_delete(ecs: Any) -> None:
    cluster = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterName"]
    arn = register(ecs, cluster, "us-east-1a")["containerInstanceArn"]
    put = ecs.put_attributes(
        cluster=cluster,
        attributes=[{"name": "gpu", "value": "a100", "targetId": arn}, {"name": "ssd", "targetId": arn}],
    )
    assert put["attributes"][0] == {
        "name": "gpu",
        "value": "a100",
        "targetType": "container-instance",
        "targetId": arn,
    }

    listed = ecs.list_attributes(cluster=cluster, targetType="container-instance", attributeName="gpu")
    assert listed["attributes"] == [
        {"name": "gpu", "value": "a100", "targetType": "container-instance", "targetId": arn}
    ]
    by_value = ecs.list_attributes(
        cluster=cluster, targetType="container-instance", attributeName="gpu", attributeValue="h100"
    )
    assert by_value["attributes"] == []
    everything = ecs.list_attributes(cluster=cluster, targetType="container-instance", maxResults=2)
    assert len(everything["attributes"]) == 2 and "nextToken" in everything
    query = "attribute:gpu == a100 and attribute:ssd exists"
    assert ecs.list_container_instances(cluster=cluster, filter=query)["containerInstanceArns"] == [arn]

    ecs.tag_resource(resourceArn=arn, tags=[{"key": "owner", "value": "ops"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "owner", "value": "ops"}]

    ecs.delete_attributes(cluster=cluster, attributes=[{"name": "gpu", "targetId": arn}])
    assert (
        ecs.list_attributes(cluster=cluster, targetType="container-instance", attributeName="gpu")[
            "attributes"
        ]
        == []
    )
    assert ecs.list_container_instances(cluster=cluster, filter=query)["containerInstanceArns"] == []

    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[{"name": "x", "value": "y", "targetId": "f" * 32}])
    assert error_code(excinfo) == "TargetNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=[{"name": "bad name", "value": "y", "targetId": arn}])
    assert error_code(excinfo) == "InvalidParameterException"
    too_many = [{"name": f"c{i}", "value": "v", "targetId": arn} for i in range(10)]
    with pytest.raises(ClientError) as excinfo:
        ecs.put_attributes(cluster=cluster, attributes=too_many)
    assert error_code(excinfo) == "AttributeLimitExceededException"


def test_errors_and_poll_endpoint(ecs: Any, server: ServerProcess) -> None:
    with pytest.raises(ClientError) as excinfo:
        register(ecs, unique_name("missing"), "us-east-1a")
    assert error_code(excinfo) == "ClusterNotFoundException"
    cluster = ecs.create_cluster(clusterName=unique_name())["cluster"]["clusterName"]
    arn = register(ecs, cluster, "us-east-1a")["containerInstanceArn"]
    with pytest.raises(ClientError) as excinfo:
        ecs.list_container_instances(cluster=cluster, filter="attribute:stack === prod")
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecs.update_container_instances_state(cluster=cluster, containerInstances=[arn], status="REGISTERING")
    assert error_code(excinfo) == "InvalidParameterException"

    endpoint = ecs.discover_poll_endpoint(cluster=cluster, containerInstance=arn)
    # The server advertises itself by its registry host, localhost:<port> unless configured.
    assert endpoint["endpoint"] == f"http://localhost:{server.port}/"
    assert endpoint["telemetryEndpoint"] == f"http://localhost:{server.port}/"


def test_another_account_sees_nothing(ecs: Any, server: ServerProcess, account_keys: Keys) -> None:
    name = unique_name()
    cluster_arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    arn = register(ecs, name, "us-east-1a")["containerInstanceArn"]
    other = make_client(server, "ecs", server.create_key(unique_name("user")))
    other.create_cluster(clusterName=name)
    assert other.list_container_instances(cluster=name)["containerInstanceArns"] == []
    described = other.describe_container_instances(cluster=name, containerInstances=[arn])
    assert described["containerInstances"] == [] and described["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as excinfo:
        other.list_container_instances(cluster=cluster_arn)
    assert error_code(excinfo) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        other.put_attributes(cluster=name, attributes=[{"name": "x", "value": "y", "targetId": arn}])
    assert error_code(excinfo) == "TargetNotFoundException"
    assert other.describe_clusters(clusters=[name])["clusters"][0]["registeredContainerInstancesCount"] == 0
