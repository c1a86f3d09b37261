"""ECS task definitions through boto3, against a real server."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Keys, ServerProcess, make_client, run_aws, unique_name

WEB = {"name": "web", "image": "nginx:1.27", "memory": 128}
FARGATE_TASK = {
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
}


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def register(ecs: Any, family: str, *containers: dict[str, Any], **task: Any) -> dict[str, Any]:
    response = ecs.register_task_definition(
        family=family, containerDefinitions=list(containers or [WEB]), **task
    )
    definition: dict[str, Any] = response["taskDefinition"]
    return definition


def test_register_returns_the_definition_with_ecs_defaults(ecs: Any, account_keys: Keys) -> None:
    family = unique_name("td")
    definition = register(ecs, family, {**WEB, "portMappings": [{"containerPort": 80}]})
    account = account_keys.account_id
    assert definition["taskDefinitionArn"] == f"arn:aws:ecs:us-east-1:{account}:task-definition/{family}:1"
    assert (definition["family"], definition["revision"], definition["status"]) == (family, 1, "ACTIVE")
    assert definition["networkMode"] == "bridge"
    assert definition["compatibilities"] == ["EC2"]
    assert definition["registeredBy"].startswith(f"arn:aws:iam::{account}:")
    assert isinstance(definition["registeredAt"], datetime)
    assert "cpu" not in definition and "memory" not in definition
    container = definition["containerDefinitions"][0]
    assert container["essential"] is True and container["cpu"] == 0
    assert container["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    for key in ("environment", "mountPoints", "volumesFrom"):
        assert container[key] == []
    assert ecs.describe_task_definition(taskDefinition=family)["taskDefinition"] == definition


def test_everything_registered_is_stored_and_returned(ecs: Any) -> None:
    family = unique_name("full")
    container = {
        **WEB,
        "memoryReservation": 64,
        "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": "MODE", "value": "prod"}],
        "mountPoints": [
            {"sourceVolume": "logs", "containerPath": "/var/log/app", "readOnly": False},
            {"sourceVolume": "cache", "containerPath": "/cache"},
        ],
        "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192}],
        "readonlyRootFilesystem": True,
        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"], "retries": 2},
        "stopTimeout": 15,
        "dockerLabels": {"team": "web"},
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
        "command": ["nginx", "-g", "daemon off;"],
    }
    volumes = [
        {"name": "logs", "host": {"sourcePath": "/var/log/web"}},
        {
            "name": "cache",
            "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True, "driver": "local"},
        },
    ]
    response = ecs.register_task_definition(
        family=family,
        containerDefinitions=[container],
        volumes=volumes,
        networkMode="host",
        cpu="512",
        memory="1 GB",
        pidMode="task",
        ipcMode="none",
        taskRoleArn="arn:aws:iam::123456789012:role/app",
        executionRoleArn="arn:aws:iam::123456789012:role/exec",
        placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        tags=[{"key": "team", "value": "web"}],
    )
    assert response["tags"] == [{"key": "team", "value": "web"}]
    described = ecs.describe_task_definition(taskDefinition=f"{family}:1", include=["TAGS"])
    assert described["tags"] == [{"key": "team", "value": "web"}]
    definition = described["taskDefinition"]
    assert definition == response["taskDefinition"]
    assert (definition["cpu"], definition["memory"], definition["networkMode"]) == ("512", "1024", "host")
    assert definition["volumes"] == volumes
    for key in ("pidMode", "ipcMode", "taskRoleArn", "executionRoleArn", "runtimePlatform"):
        assert key in definition
    assert definition["placementConstraints"][0]["type"] == "memberOf"
    stored = definition["containerDefinitions"][0]
    for key, value in container.items():
        if key != "healthCheck":
            assert stored[key] == value, key
    assert stored["healthCheck"] == {**container["healthCheck"], "interval": 30, "timeout": 5}
    assert "tags" not in ecs.describe_task_definition(taskDefinition=family)


def test_fargate_compatible_definitions(ecs: Any) -> None:
    family = unique_name("fg")
    definition = register(
        ecs,
        family,
        {
            "name": "app",
            "image": "public.ecr.aws/docker/library/busybox:latest",
            "portMappings": [{"containerPort": 80}],
        },
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=".25 vCPU",
        memory="512",
    )
    assert definition["compatibilities"] == ["EC2", "FARGATE"]
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert (definition["cpu"], definition["memory"]) == ("256", "512")
    assert definition["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 80
    with pytest.raises(ClientError) as excinfo:
        register(
            ecs,
            family,
            WEB,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="4096",
        )
    assert error_of(excinfo) == (
        "ClientException",
        "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
        "See the Amazon ECS documentation for the valid values.",
    )


def test_fargate_settings_are_stored_and_returned(ecs: Any) -> None:
    family = unique_name("fgset")
    container = {
        **WEB,
        "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}},
    }
    definition = register(
        ecs,
        family,
        container,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="0.5 vCPU",
        memory="1 GB",
        runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"},
        ephemeralStorage={"sizeInGiB": 50},
    )
    assert definition["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert definition["ephemeralStorage"] == {"sizeInGiB": 50}
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert definition["compatibilities"] == ["EC2", "FARGATE"]
    assert definition["containerDefinitions"][0]["linuxParameters"] == container["linuxParameters"]
    assert ecs.describe_task_definition(taskDefinition=family)["taskDefinition"] == definition


def test_an_awsvpc_definition_without_required_compatibilities_is_fargate_compatible(ecs: Any) -> None:
    family = unique_name("fgauto")
    fits = register(ecs, family, networkMode="awsvpc", cpu="1 vCPU", memory="2 GB")
    assert "requiresCompatibilities" not in fits
    assert fits["compatibilities"] == ["EC2", "FARGATE"]
    too_big = register(ecs, family, networkMode="awsvpc", cpu="256", memory="4096")
    assert too_big["compatibilities"] == ["EC2"]
    windows = {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE", "cpuArchitecture": "X86_64"}
    on_windows = register(
        ecs, family, networkMode="awsvpc", cpu="1024", memory="2048", runtimePlatform=windows
    )
    assert on_windows["runtimePlatform"] == windows and on_windows["compatibilities"] == ["EC2"]


@pytest.mark.parametrize(
    ("containers", "task", "message"),
    [
        (
            [WEB],
            {**FARGATE_TASK, "ephemeralStorage": {"sizeInGiB": 20}},
            "The ephemeral storage size for the task definition should be between 21 GiB and 200 GiB.",
        ),
        (
            [WEB],
            {"ephemeralStorage": {"sizeInGiB": 201}},
            "The ephemeral storage size for the task definition should be between 21 GiB and 200 GiB.",
        ),
        (
            [WEB],
            {**FARGATE_TASK, "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"}},
            "Invalid setting for runtimePlatform. operatingSystemFamily 'WINDOWS_SERVER_2019_FULL' is not "
            "supported: dockyard runs Fargate tasks on Linux only, so the supported value is 'LINUX'.",
        ),
        (
            [{**WEB, "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE", "NET_ADMIN"]}}}],
            FARGATE_TASK,
            "NET_ADMIN is not allowed on Fargate.",
        ),
        (
            [{**WEB, "links": ["db"]}, {**WEB, "name": "db"}],
            FARGATE_TASK,
            "Links are not supported when networkMode=awsvpc.",
        ),
        (
            [WEB],
            {**FARGATE_TASK, "cpu": "1 vCPU", "memory": "0.5 GB"},
            "No Fargate configuration exists for given values: 1024 CPU, 512 memory. "
            "See the Amazon ECS documentation for the valid values.",
        ),
    ],
)
def test_fargate_definitions_are_refused_with_ecs_messages(
    ecs: Any, containers: list[dict[str, Any]], task: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.register_task_definition(family=unique_name("fgbad"), containerDefinitions=containers, **task)
    assert error_of(excinfo) == ("ClientException", message)
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


@pytest.mark.parametrize(
    ("platform", "member", "allowed"),
    [
        ({"cpuArchitecture": "MIPS"}, "cpuArchitecture", "[X86_64, ARM64]"),
        ({"operatingSystemFamily": "DOS"}, "operatingSystemFamily", "[WINDOWS_SERVER_2019_FULL"),
    ],
)
def test_runtime_platform_values_outside_the_model_are_refused(
    ecs: Any, platform: dict[str, str], member: str, allowed: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        register(ecs, unique_name("arch"), **FARGATE_TASK, runtimePlatform=platform)
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert f"at 'runtimePlatform.{member}' failed to satisfy constraint" in message
    assert f"Member must satisfy enum value set: {allowed}" in message
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


def test_an_invalid_cpu_memory_pair_is_refused_with_aws_message_by_the_aws_cli(
    server: ServerProcess, account_keys: Keys, ecs: Any, tmp_path: Path
) -> None:
    env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": account_keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account_keys.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    definition = {
        "family": unique_name("cli"),
        "containerDefinitions": [WEB],
        **FARGATE_TASK,
        "cpu": "0.25 vCPU",
        "memory": "4 GB",
    }
    refused = run_aws(
        env, "ecs", "register-task-definition", "--cli-input-json", json.dumps(definition), check=False
    )
    assert refused.returncode != 0
    assert (
        "An error occurred (ClientException) when calling the RegisterTaskDefinition operation: No Fargate "
        "configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS documentation for "
        "the valid values."
    ) in refused.stderr
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    accepted = run_aws(
        env,
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        json.dumps({**definition, "memory": "0.5 GB"}),
    )
    registered = json.loads(accepted.stdout)["taskDefinition"]
    assert (registered["cpu"], registered["memory"]) == ("256", "512")
    assert registered["compatibilities"] == ["EC2", "FARGATE"]


@pytest.mark.parametrize(
    ("family", "containers", "task", "message"),
    [
        (
            "ok",
            [{"name": "web", "image": "nginx"}],
            {},
            "Invalid setting for container 'web'. At least one of 'memory' or 'memoryReservation' must be "
            "specified.",
        ),
        (
            "ok",
            [{"name": "web", "image": "", "memory": 64}],
            {},
            "Container.image should not be null or empty.",
        ),
        ("bad family!", [WEB], {}, "Family contains invalid characters."),
        ("ok", [WEB, WEB], {}, "Container names must be unique within a Task Definition."),
        ("ok", [{**WEB, "name": f"c{i}"} for i in range(11)], {}, "Too many containers."),
        ("ok", [{**WEB, "essential": False}], {}, "Task definition doesn't have any essential container."),
        (
            "ok",
            [{**WEB, "dependsOn": [{"containerName": "db", "condition": "START"}]}],
            {},
            "Cannot depend on container + 'db' because it does not exist",
        ),
        (
            "ok",
            [{**WEB, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}],
            {"networkMode": "awsvpc"},
            "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
        ),
        (
            "ok",
            [{**WEB, "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}],
            {},
            "Unknown volume 'data'.",
        ),
    ],
)
def test_invalid_definitions_are_refused_with_ecs_messages(
    ecs: Any, family: str, containers: list[dict[str, Any]], task: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.register_task_definition(family=family, containerDefinitions=containers, **task)
    assert error_of(excinfo) == ("ClientException", message)
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


def test_privileged_containers_are_refused_by_default(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        register(ecs, unique_name("priv"), {**WEB, "privileged": True})
    code, message = error_of(excinfo)
    assert code == "ClientException" and "allow_privileged" in message


def test_describe_by_family_revision_and_arn(ecs: Any) -> None:
    family = unique_name("rev")
    first, second, third = (register(ecs, family) for _ in range(3))
    assert [d["revision"] for d in (first, second, third)] == [1, 2, 3]
    ecs.deregister_task_definition(taskDefinition=third["taskDefinitionArn"])
    assert ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["revision"] == 2
    assert (
        ecs.describe_task_definition(taskDefinition=f"{family}:3")["taskDefinition"]["status"] == "INACTIVE"
    )
    by_arn = ecs.describe_task_definition(taskDefinition=first["taskDefinitionArn"])["taskDefinition"]
    assert by_arn["revision"] == 1
    for missing in (f"{family}:9", unique_name("nope"), first["taskDefinitionArn"].replace(":1", ":7")):
        with pytest.raises(ClientError) as excinfo:
            ecs.describe_task_definition(taskDefinition=missing)
        assert error_of(excinfo) == ("ClientException", "Unable to describe task definition.")


def test_deregister(ecs: Any) -> None:
    family = unique_name("dereg")
    arn = register(ecs, family)["taskDefinitionArn"]
    with pytest.raises(ClientError) as excinfo:
        ecs.deregister_task_definition(taskDefinition=family)
    assert error_of(excinfo) == ("ClientException", "Revision is missing.")
    with pytest.raises(ClientError) as excinfo:
        ecs.deregister_task_definition(taskDefinition=f"{family}:2")
    assert error_of(excinfo) == ("ClientException", "Unable to describe task definition.")
    deregistered = ecs.deregister_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]
    assert deregistered["status"] == "INACTIVE" and isinstance(deregistered["deregisteredAt"], datetime)
    again = ecs.deregister_task_definition(taskDefinition=arn)["taskDefinition"]
    assert again["deregisteredAt"] == deregistered["deregisteredAt"]
    assert ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"] == []
    assert ecs.list_task_definitions(familyPrefix=family, status="INACTIVE")["taskDefinitionArns"] == [arn]
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_task_definition(taskDefinition=family)
    assert error_of(excinfo)[0] == "ClientException"


def test_delete_only_inactive_revisions_and_never_reuse_numbers(ecs: Any, account_keys: Keys) -> None:
    family = unique_name("del")
    active = register(ecs, family)["taskDefinitionArn"]
    inactive = register(ecs, family)["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=inactive)
    missing = f"{family}:9"
    result = ecs.delete_task_definitions(taskDefinitions=[active, inactive, missing, family])
    assert [d["taskDefinitionArn"] for d in result["taskDefinitions"]] == [inactive]
    deleted = result["taskDefinitions"][0]
    assert deleted["status"] == "DELETE_IN_PROGRESS" and isinstance(deleted["deleteRequestedAt"], datetime)
    assert result["failures"] == [
        {
            "arn": active,
            "reason": "The specified task definition is still in ACTIVE status. Please deregister the target "
            "and try again.",
        },
        {
            "arn": missing,
            "reason": "The specified task definition does not exist. Specify a valid account, family, "
            "revision and try again.",
        },
        {
            "arn": family,
            "reason": "The specified task definition identifier is invalid. Specify a valid name or ARN and "
            "try again.",
        },
    ]
    listed = ecs.list_task_definitions(familyPrefix=family, status="DELETE_IN_PROGRESS")
    assert listed["taskDefinitionArns"] == [inactive]
    assert register(ecs, family)["revision"] == 3


def test_list_task_definitions_filters_sorts_and_pages(ecs: Any) -> None:
    families = sorted(unique_name(prefix) for prefix in ("a", "b"))
    arns = [register(ecs, family)["taskDefinitionArn"] for family in families for _ in range(3)]
    assert ecs.list_task_definitions()["taskDefinitionArns"] == arns
    assert ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"] == arns[::-1]
    # familyPrefix names a whole family, as on AWS.
    assert ecs.list_task_definitions(familyPrefix=families[0])["taskDefinitionArns"] == arns[:3]
    assert ecs.list_task_definitions(familyPrefix=families[0][:-1])["taskDefinitionArns"] == []
    for sort in ("ASC", "DESC"):
        pages = ecs.get_paginator("list_task_definitions").paginate(
            sort=sort, PaginationConfig={"PageSize": 2}
        )
        seen = [arn for page in pages for arn in page["taskDefinitionArns"]]
        assert seen == (arns if sort == "ASC" else arns[::-1])
    for bad in ({"maxResults": 101}, {"nextToken": "garbage"}):
        with pytest.raises(ClientError) as excinfo:
            ecs.list_task_definitions(**bad)
        assert error_of(excinfo)[0] == "InvalidParameterException"


def test_list_task_definition_families(ecs: Any) -> None:
    stem = unique_name("fam")
    names = [f"{stem}_{suffix}" for suffix in ("api", "old", "web")]
    for name in names:
        register(ecs, name)
    ecs.deregister_task_definition(taskDefinition=f"{names[1]}:1")
    assert ecs.list_task_definition_families()["families"] == names
    assert ecs.list_task_definition_families(status="ALL")["families"] == names
    assert ecs.list_task_definition_families(status="ACTIVE")["families"] == [names[0], names[2]]
    assert ecs.list_task_definition_families(status="INACTIVE")["families"] == [names[1]]
    assert ecs.list_task_definition_families(familyPrefix=f"{stem}_w")["families"] == [names[2]]
    pages = ecs.get_paginator("list_task_definition_families").paginate(PaginationConfig={"PageSize": 1})
    assert [f for page in pages for f in page["families"]] == names


def test_tags_of_task_definitions(ecs: Any) -> None:
    arn = register(ecs, unique_name("tag"), tags=[{"key": "a", "value": "1"}])["taskDefinitionArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "2"},
    ]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(ClientError) as excinfo:
        ecs.list_tags_for_resource(resourceArn=arn.rsplit(":", 1)[0] + ":99")
    assert error_of(excinfo) == ("ClientException", "Unable to describe task definition.")


def test_accounts_and_regions_do_not_see_each_others_definitions(
    server: ServerProcess, ecs: Any, account_keys: Keys
) -> None:
    family = unique_name("private")
    arn = register(ecs, family, tags=[{"key": "owner", "value": "alice"}])["taskDefinitionArn"]
    mallory = make_client(server, "ecs", server.create_key(unique_name("mallory")))
    west = make_client(server, "ecs", account_keys, region="eu-west-1")
    for other in (mallory, west):
        assert other.list_task_definitions()["taskDefinitionArns"] == []
        assert other.list_task_definition_families()["families"] == []
        for call in (
            lambda c=other: c.describe_task_definition(taskDefinition=arn),
            lambda c=other: c.describe_task_definition(taskDefinition=family),
            lambda c=other: c.deregister_task_definition(taskDefinition=arn),
            lambda c=other: c.list_tags_for_resource(resourceArn=arn),
        ):
            with pytest.raises(ClientError) as excinfo:
                call()
            assert error_of(excinfo) == ("ClientException", "Unable to describe task definition.")
        assert other.delete_task_definitions(taskDefinitions=[arn])["failures"][0]["arn"] == arn
    own = register(mallory, family)
    assert own["revision"] == 1 and own["taskDefinitionArn"] != arn
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "ACTIVE"


def test_an_enormous_family_prefix_matches_nothing_and_costs_nothing(ecs: Any) -> None:
    family = unique_name("fam")
    register(ecs, family, {"name": "a", "image": "busybox", "memory": 32})
    huge = family + "x" * 60_000  # over SQLite's LIKE pattern limit of 50,000 bytes
    assert ecs.list_task_definition_families(familyPrefix=huge)["families"] == []
    assert ecs.list_task_definitions(familyPrefix=huge)["taskDefinitionArns"] == []
    # Wildcards are plain characters in a prefix.
    assert ecs.list_task_definition_families(familyPrefix=family[:3] + "%")["families"] == []
    assert family in ecs.list_task_definition_families(familyPrefix=family[:5])["families"]
