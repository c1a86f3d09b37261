"""ECS services through boto3 against a real server: the API's fields, defaults, errors, pagination and
tags, and the controller placing service tasks on (fake-agent) instances. The real-engine behaviour is in
``test_ecs_services_on_agent.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name
from tests.integration.fake_agent import fake_agents
from tests.integration.test_ecs_tasks import Hosts, definition, error_of
from tests.polling import wait_until


@pytest.fixture
def hosts(ecs: Any, server: ServerProcess, account_keys: Keys) -> Iterator[Hosts]:
    with fake_agents() as agents:
        yield Hosts(ecs, server, account_keys, agents)


@pytest.fixture
def cluster(ecs: Any) -> str:
    return str(ecs.create_cluster(clusterName=unique_name("svc"))["cluster"]["clusterName"])


def test_create_describe_list_with_ecs_defaults(ecs: Any, cluster: str) -> None:
    arn = definition(ecs, "svc-web")
    created = ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition="svc-web",
        desiredCount=0,
        tags=[{"key": "team", "value": "a"}],
    )["service"]
    assert created["serviceArn"].endswith(f":service/{cluster}/web")
    assert created["status"] == "ACTIVE"
    assert created["taskDefinition"] == arn
    assert created["schedulingStrategy"] == "REPLICA"
    assert created["launchType"] == "EC2"
    assert created["deploymentController"] == {"type": "ECS"}
    assert created["propagateTags"] == "NONE"
    assert created["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    (deployment,) = created["deployments"]
    assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["id"].startswith("ecs-svc/") and len(deployment["id"]) == len("ecs-svc/") + 19
    described = ecs.describe_services(cluster=cluster, services=["web", "nope"], include=["TAGS"])
    assert described["services"][0]["tags"] == [{"key": "team", "value": "a"}]
    assert described["failures"] == [
        {"arn": created["serviceArn"].replace("/web", "/nope"), "reason": "MISSING"}
    ]
    assert ecs.list_tags_for_resource(resourceArn=created["serviceArn"])["tags"] == [
        {"key": "team", "value": "a"}
    ]
    ecs.tag_resource(resourceArn=created["serviceArn"], tags=[{"key": "b", "value": "2"}])
    assert len(ecs.list_tags_for_resource(resourceArn=created["serviceArn"])["tags"]) == 2
    cluster_view = ecs.describe_clusters(clusters=[cluster])["clusters"][0]
    assert cluster_view["activeServicesCount"] == 1


def test_list_services_filters_and_pages(ecs: Any, cluster: str) -> None:
    definition(ecs, "svc-list")
    for n in range(5):
        ecs.create_service(cluster=cluster, serviceName=f"s{n}", taskDefinition="svc-list", desiredCount=0)
    ecs.create_service(
        cluster=cluster, serviceName="d", taskDefinition="svc-list", schedulingStrategy="DAEMON"
    )
    first = ecs.list_services(cluster=cluster, maxResults=4)
    rest = ecs.list_services(cluster=cluster, maxResults=4, nextToken=first["nextToken"])
    assert len(first["serviceArns"]) == 4 and len(rest["serviceArns"]) == 2 and "nextToken" not in rest
    daemons = ecs.list_services(cluster=cluster, schedulingStrategy="DAEMON")["serviceArns"]
    assert [a.rsplit("/", 1)[-1] for a in daemons] == ["d"]
    assert ecs.list_services(cluster=cluster, launchType="FARGATE")["serviceArns"] == []


def test_errors_as_ecs_gives_them(ecs: Any, cluster: str) -> None:
    definition(ecs, "svc-err")
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition="svc-err", desiredCount=1)
    cases = [
        (
            lambda: ecs.create_service(
                cluster=cluster, serviceName="web", taskDefinition="svc-err", desiredCount=1
            ),
            ("InvalidParameterException", "Creation of service was not idempotent."),
        ),
        (
            lambda: ecs.create_service(
                cluster=cluster,
                serviceName="d",
                taskDefinition="svc-err",
                schedulingStrategy="DAEMON",
                deploymentConfiguration={"maximumPercent": 200},
            ),
            (
                "InvalidParameterException",
                "The daemon scheduling strategy does not support values above 100 for maximumPercent on a "
                "deployment configuration. Change the maximumPercent value to 100, and try again",
            ),
        ),
        (
            lambda: ecs.update_service(cluster=cluster, service="nope", desiredCount=1),
            ("ServiceNotFoundException", "Service not found."),
        ),
        (
            lambda: ecs.delete_service(cluster=cluster, service="web"),
            ("InvalidParameterException", "The service cannot be stopped while it is scaled above 0."),
        ),
        (
            lambda: ecs.create_service(
                cluster=cluster, serviceName="x", taskDefinition="nope:1", desiredCount=1
            ),
            ("InvalidParameterException", "TaskDefinition not found."),
        ),
        (
            lambda: ecs.delete_cluster(cluster=cluster),
            ("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active."),
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == expected
    ecs.delete_service(cluster=cluster, service="web", force=True)
    with pytest.raises(ClientError) as excinfo:
        ecs.update_service(cluster=cluster, service="web", desiredCount=2)
    assert error_of(excinfo)[0] == "ServiceNotActiveException"


def test_the_controller_places_service_tasks_spread_over_instances(
    ecs: Any, cluster: str, hosts: Hosts
) -> None:
    for zone in ("us-east-1a", "us-east-1b"):
        hosts.register(cluster, cpu=1024, memory=2048, zone=zone)
    definition(ecs, "svc-spread")
    ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition="svc-spread",
        desiredCount=4,
        placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    )

    def placed() -> list[dict[str, Any]]:
        arns = ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"]
        return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []

    wait_until(lambda: len(placed()) == 4, deadline_s=30, what="four service tasks", interval_s=0.1)
    tasks = placed()
    assert {t["group"] for t in tasks} == {"service:web"}
    per_instance: dict[str, int] = {}
    for task in tasks:
        per_instance[task["containerInstanceArn"]] = per_instance.get(task["containerInstanceArn"], 0) + 1
    assert sorted(per_instance.values()) == [2, 2]
    service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    assert service["pendingCount"] == 4 and service["runningCount"] == 0  # the fake agents never start them


def test_another_account_sees_no_service(ecs: Any, cluster: str, server: ServerProcess) -> None:
    definition(ecs, "svc-iso")
    created = ecs.create_service(cluster=cluster, serviceName="web", taskDefinition="svc-iso", desiredCount=0)
    other = make_client(server, "ecs", server.create_key(unique_name("user"), account=None))
    other.create_cluster(clusterName=cluster)
    described = other.describe_services(cluster=cluster, services=[created["service"]["serviceArn"], "web"])
    assert described["services"] == []
    with pytest.raises(ClientError) as excinfo:
        other.list_tags_for_resource(resourceArn=created["service"]["serviceArn"])
    assert error_of(excinfo)[0] in ("ServiceNotFoundException", "InvalidParameterException")
