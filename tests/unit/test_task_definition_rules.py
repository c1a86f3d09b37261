"""RegisterTaskDefinition's pure rules: ECS's defaults, ECS's messages and references."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.services.ecs.errors import ClientException, InvalidParameterException
from dockyard.services.ecs.tag_rules import tag_pairs
from dockyard.services.ecs.task_definition_rules import (
    FARGATE_SIZES,
    TaskDefinitionRef,
    build_task_definition,
    fargate_incompatibility,
    parse_reference,
    parse_task_units,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"


def web(**overrides: Any) -> dict[str, Any]:
    return {"name": "web", "image": "nginx:1.27", "memory": 128, **overrides}


def build(
    containers: list[dict[str, Any]] | None = None, *, allow_privileged: bool = False, **task: Any
) -> Any:
    params = {"family": "app", "containerDefinitions": containers or [web()], **task}
    return build_task_definition(params, allow_privileged=allow_privileged)


def fargate(**task: Any) -> dict[str, Any]:
    return {
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        **task,
    }


def message_of(excinfo: pytest.ExceptionInfo[Exception]) -> str:
    error = excinfo.value
    assert isinstance(error, ClientException | InvalidParameterException)
    return error.message


# --- defaults ----------------------------------------------------------------------------------------------


def test_minimal_definition_gets_ecs_defaults() -> None:
    checked = build()
    assert checked.family == "app" and checked.tags == []
    body = checked.body
    assert body["networkMode"] == "bridge"
    assert body["compatibilities"] == ["EC2"]
    assert body["volumes"] == [] and body["placementConstraints"] == []
    assert "cpu" not in body and "memory" not in body and "requiresCompatibilities" not in body
    assert body["containerDefinitions"] == [
        {
            "name": "web",
            "image": "nginx:1.27",
            "memory": 128,
            "cpu": 0,
            "essential": True,
            "portMappings": [],
            "environment": [],
            "mountPoints": [],
            "volumesFrom": [],
            "systemControls": [],
        }
    ]


def test_port_mappings_are_completed_for_the_network_mode() -> None:
    mappings = [{"containerPort": 80}, {"containerPort": 53, "protocol": "udp"}]
    bridge = build([web(portMappings=mappings)]).body["containerDefinitions"][0]["portMappings"]
    assert bridge == [
        {"containerPort": 80, "hostPort": 0, "protocol": "tcp"},
        {"containerPort": 53, "hostPort": 0, "protocol": "udp"},
    ]
    host = build([web(portMappings=mappings)], networkMode="host").body["containerDefinitions"][0]
    assert [m["hostPort"] for m in host["portMappings"]] == [80, 53]
    kept = build([web(portMappings=[{"containerPort": 80, "hostPort": 8080}])])
    assert kept.body["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 8080


@pytest.mark.parametrize("mode", ["host", "awsvpc"])
def test_host_and_awsvpc_modes_need_matching_ports(mode: str) -> None:
    with pytest.raises(ClientException) as excinfo:
        build([web(portMappings=[{"containerPort": 80, "hostPort": 8080}])], networkMode=mode)
    assert message_of(excinfo) == (
        f"When networkMode={mode}, the host ports and container ports in port mappings must match."
    )


def test_settings_are_kept_and_health_checks_get_default_timings() -> None:
    container = web(
        healthCheck={"command": ["CMD-SHELL", "true"], "retries": 5},
        ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        readonlyRootFilesystem=True,
        stopTimeout=10,
        dockerLabels={"team": "web"},
        logConfiguration={"logDriver": "json-file", "options": {"max-size": "10m"}},
        mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}],
    )
    volumes = [{"name": "data", "dockerVolumeConfiguration": {"driver": "local"}}]
    body = build([container], volumes=volumes, pidMode="task", taskRoleArn="arn:aws:iam::1:role/r").body
    stored = body["containerDefinitions"][0]
    assert stored["healthCheck"] == {
        "command": ["CMD-SHELL", "true"],
        "interval": 30,
        "timeout": 5,
        "retries": 5,
    }
    for key in ("ulimits", "readonlyRootFilesystem", "stopTimeout", "dockerLabels", "logConfiguration"):
        assert stored[key] == container[key]
    assert body["volumes"] == [
        {"name": "data", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}
    ]
    assert body["pidMode"] == "task" and body["taskRoleArn"] == "arn:aws:iam::1:role/r"


def test_task_units_are_normalized_to_strings() -> None:
    body = build(cpu="1 vCPU", memory="2 GB").body
    assert (body["cpu"], body["memory"]) == ("1024", "2048")
    assert parse_task_units("0.25 vcpu", "cpu") == parse_task_units(".25vCPU", "cpu") == 256
    assert parse_task_units("512", "memory") == 512
    assert parse_task_units(None, "cpu") is None
    for bad, field in [
        ("abc", "cpu"),
        ("1 GB", "cpu"),
        ("1 vCPU", "memory"),
        ("0.3 vCPU", "cpu"),
        ("0", "memory"),
    ]:
        with pytest.raises(ClientException) as excinfo:
            parse_task_units(bad, field)
        assert message_of(excinfo).startswith(f"Invalid '{field}' setting for task.")
    with pytest.raises(ClientException):
        build(cpu="64")


# --- Fargate ----------------------------------------------------------------------------------------------


def test_fargate_compatible_definitions_list_fargate() -> None:
    assert build(**fargate()).body["compatibilities"] == ["EC2", "FARGATE"]
    assert build(networkMode="awsvpc", cpu="256", memory="512").body["compatibilities"] == ["EC2", "FARGATE"]
    assert build(networkMode="awsvpc").body["compatibilities"] == ["EC2"]
    assert build(requiresCompatibilities=["EXTERNAL"]).body["compatibilities"] == ["EC2", "EXTERNAL"]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"networkMode": "bridge"}, "Fargate only supports network mode \u2018awsvpc\u2019."),
        ({"cpu": None}, "Fargate requires that 'cpu' be defined at the task level."),
        ({"memory": None}, "Fargate requires that 'memory' be defined at the task level."),
        (
            {"memory": "4096"},
            "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
            "See the Amazon ECS documentation for the valid values.",
        ),
        (
            {"pidMode": "host"},
            "Tasks using the Fargate launch type do not support pidMode 'host'. "
            "The supported value for pidMode is 'task'.",
        ),
        ({"ipcMode": "host"}, "Tasks using the Fargate launch type do not support ipcMode."),
    ],
)
def test_fargate_requirements(task: dict[str, Any], message: str) -> None:
    params = {k: v for k, v in fargate(**task).items() if v is not None}
    with pytest.raises(ClientException) as excinfo:
        build(**params)
    assert message_of(excinfo) == message


def test_fargate_refuses_privileged_containers_and_host_volumes() -> None:
    body = {
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"privileged": True}],
    }
    assert fargate_incompatibility(body) is not None
    with_volume = {
        **body,
        "containerDefinitions": [],
        "volumes": [{"name": "v", "host": {"sourcePath": "/x"}}],
    }
    assert fargate_incompatibility(with_volume) is not None
    bind_mount = {**with_volume, "volumes": [{"name": "v", "host": {}}]}
    assert fargate_incompatibility(bind_mount) is None


EPHEMERAL_MESSAGE = "The ephemeral storage size for the task definition should be between 21 GiB and 200 GiB."


@pytest.mark.parametrize(
    ("cpu", "memory", "normalized"),
    [
        ("0.25 vCPU", "0.5 GB", ("256", "512")),
        (".25 vcpu", "2GB", ("256", "2048")),
        ("0.5 vCPU", "1 GB", ("512", "1024")),
        ("1 vCPU", "3 GB", ("1024", "3072")),
        ("16 vCPU", "120 GB", ("16384", "122880")),
        ("1024", "2048", ("1024", "2048")),
    ],
)
def test_fargate_sizes_are_checked_on_the_normalized_units(
    cpu: str, memory: str, normalized: tuple[str, str]
) -> None:
    body = build(**fargate(cpu=cpu, memory=memory)).body
    assert (body["cpu"], body["memory"]) == normalized
    assert body["compatibilities"] == ["EC2", "FARGATE"]


@pytest.mark.parametrize(
    ("cpu", "memory", "pair"),
    [
        ("1 vCPU", "0.5 GB", "1024 CPU, 512 memory"),
        ("0.25 vCPU", "4 GB", "256 CPU, 4096 memory"),
        ("2 vCPU", "4.5 GB", "2048 CPU, 4608 memory"),
        ("8 vCPU", "18 GB", "8192 CPU, 18432 memory"),
    ],
)
def test_fargate_size_refusals_name_the_normalized_units(cpu: str, memory: str, pair: str) -> None:
    with pytest.raises(ClientException) as excinfo:
        build(**fargate(cpu=cpu, memory=memory))
    assert message_of(excinfo) == (
        f"No Fargate configuration exists for given values: {pair}. See the Amazon ECS documentation for "
        "the valid values."
    )
    # The same pair is fine for EC2, which only lacks FARGATE in its compatibilities.
    ec2 = build(networkMode="awsvpc", cpu=cpu, memory=memory, requiresCompatibilities=["EC2"])
    assert ec2.body["compatibilities"] == ["EC2"]


@pytest.mark.parametrize("architecture", ["X86_64", "ARM64"])
def test_runtime_platform_is_stored_as_given(architecture: str) -> None:
    platform = {"operatingSystemFamily": "LINUX", "cpuArchitecture": architecture}
    body = build(**fargate(runtimePlatform=platform)).body
    assert body["runtimePlatform"] == platform
    assert body["compatibilities"] == ["EC2", "FARGATE"]
    only_arch = build(**fargate(runtimePlatform={"cpuArchitecture": architecture})).body
    assert only_arch["runtimePlatform"] == {"cpuArchitecture": architecture}
    assert only_arch["compatibilities"] == ["EC2", "FARGATE"]


@pytest.mark.parametrize("family", ["WINDOWS_SERVER_2019_CORE", "WINDOWS_SERVER_2022_FULL"])
def test_fargate_definitions_must_be_linux(family: str) -> None:
    platform = {"operatingSystemFamily": family, "cpuArchitecture": "X86_64"}
    with pytest.raises(ClientException) as excinfo:
        build(**fargate(runtimePlatform=platform))
    assert message_of(excinfo) == (
        f"Invalid setting for runtimePlatform. operatingSystemFamily '{family}' is not supported: dockyard "
        "runs Fargate tasks on Linux only, so the supported value is 'LINUX'."
    )
    # Without FARGATE required the definition registers, as given, and does not list FARGATE.
    task = {k: v for k, v in fargate(runtimePlatform=platform).items() if k != "requiresCompatibilities"}
    body = build(**task).body
    assert body["runtimePlatform"] == platform and body["compatibilities"] == ["EC2"]
    assert fargate_incompatibility({**body, "runtimePlatform": {"cpuArchitecture": "ARM64"}}) is None


@pytest.mark.parametrize("size", [21, 100, 200])
def test_ephemeral_storage_within_bounds_is_kept(size: int) -> None:
    body = build(**fargate(ephemeralStorage={"sizeInGiB": size})).body
    assert body["ephemeralStorage"] == {"sizeInGiB": size}
    assert body["compatibilities"] == ["EC2", "FARGATE"]
    # AWS accepts it on a definition that is not for Fargate too (only Fargate provisions it).
    assert build(ephemeralStorage={"sizeInGiB": size}).body["ephemeralStorage"] == {"sizeInGiB": size}


@pytest.mark.parametrize("size", [0, 20, 201, 1000, -1])
def test_ephemeral_storage_out_of_bounds_is_refused(size: int) -> None:
    for task in (fargate(ephemeralStorage={"sizeInGiB": size}), {"ephemeralStorage": {"sizeInGiB": size}}):
        with pytest.raises(ClientException) as excinfo:
            build(**task)
        assert message_of(excinfo) == EPHEMERAL_MESSAGE


def test_links_are_refused_with_awsvpc() -> None:
    linked = [web(links=["db"]), web(name="db")]
    with pytest.raises(ClientException) as excinfo:
        build(linked, **fargate())
    assert message_of(excinfo) == "Links are not supported when networkMode=awsvpc."
    with pytest.raises(ClientException):
        build(linked, networkMode="awsvpc")
    assert build(linked).body["containerDefinitions"][0]["links"] == ["db"]
    assert build([web(links=[])], **fargate()).body["compatibilities"] == ["EC2", "FARGATE"]


def capabilities(add: list[str] | None = None, drop: list[str] | None = None) -> dict[str, Any]:
    kernel = {key: value for key, value in (("add", add), ("drop", drop)) if value is not None}
    return web(linuxParameters={"capabilities": kernel, "initProcessEnabled": True})


def test_fargate_containers_may_add_only_sys_ptrace() -> None:
    allowed = build([capabilities(add=["SYS_PTRACE"], drop=["ALL"])], **fargate()).body
    assert allowed["containerDefinitions"][0]["linuxParameters"] == {
        "capabilities": {"add": ["SYS_PTRACE"], "drop": ["ALL"]},
        "initProcessEnabled": True,
    }
    assert build([capabilities(drop=["NET_RAW", "MKNOD"])], **fargate()).body["compatibilities"] == [
        "EC2",
        "FARGATE",
    ]
    for add, refused in (
        (["NET_ADMIN"], "NET_ADMIN"),
        (["SYS_PTRACE", "SYS_ADMIN"], "SYS_ADMIN"),
        (["ALL"], "ALL"),
    ):
        with pytest.raises(ClientException) as excinfo:
            build([web(name="sidecar", essential=False), capabilities(add=add)], **fargate())
        assert message_of(excinfo) == f"{refused} is not allowed on Fargate."
        # EC2 takes any capability; such a definition just is not Fargate-compatible.
        task = {k: v for k, v in fargate().items() if k != "requiresCompatibilities"}
        assert build([capabilities(add=add)], **task).body["compatibilities"] == ["EC2"]


def test_fargate_sizes() -> None:
    assert FARGATE_SIZES[256] == {512, 1024, 2048}
    assert 4096 in FARGATE_SIZES[512] and 5120 not in FARGATE_SIZES[512]
    assert 20480 in FARGATE_SIZES[8192] and 18432 not in FARGATE_SIZES[8192]
    assert 122880 in FARGATE_SIZES[16384] and 36864 not in FARGATE_SIZES[16384]


# --- ECS's messages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "task", "message"),
    [
        ([web()], {"family": ""}, "Family can not be blank."),
        ([web()], {"family": "bad family!"}, "Family contains invalid characters."),
        ([], {}, "Container list cannot be empty."),
        ([web(name=f"c{i}") for i in range(11)], {}, "Too many containers."),
        ([{"image": "nginx", "memory": 64}], {}, "Container.name should not be null or empty."),
        ([web(name="has space")], {}, "Container.name contains invalid characters."),
        ([{"name": "web", "memory": 64}], {}, "Container.image should not be null or empty."),
        ([web(image="nginx latest")], {}, "Container.image contains invalid characters."),
        ([web(), web()], {}, "Container names must be unique within a Task Definition."),
        ([web(essential=False)], {}, "Task definition doesn't have any essential container."),
        (
            [{"name": "web", "image": "nginx"}],
            {},
            "Invalid setting for container 'web'. At least one of 'memory' or 'memoryReservation' must be "
            "specified.",
        ),
        (
            [web(memoryReservation=256)],
            {},
            "Invalid setting for container 'web'. 'memoryReservation' must be less than or equal to "
            "'memory'.",
        ),
        (
            [web(memory=1024)],
            {"memory": "512"},
            "The 'memory' setting for container 'web' is greater than for the task.",
        ),
        (
            [web(memory=None, memoryReservation=300), web(name="b", memory=None, memoryReservation=300)],
            {"memory": "512"},
            "The sum of all container 'memoryReservation' values cannot be greater than the value of the "
            "task 'memory'.",
        ),
        (
            [web(cpu=512)],
            {"cpu": "256"},
            "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
        ),
        ([web(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}])], {}, "Unknown volume 'nope'."),
        (
            [web(hostname="box")],
            {"networkMode": "awsvpc"},
            "hostname is not supported on container when networkMode=awsvpc.",
        ),
    ],
)
def test_refusals_carry_ecs_messages(
    containers: list[dict[str, Any]], task: dict[str, Any], message: str
) -> None:
    cleaned = [{k: v for k, v in c.items() if v is not None} for c in containers]
    params = {"family": "app", "containerDefinitions": cleaned, **task}
    with pytest.raises(ClientException) as excinfo:
        build_task_definition(params, allow_privileged=False)
    assert message_of(excinfo) == message


def test_task_memory_alone_satisfies_containers() -> None:
    checked = build([{"name": "web", "image": "nginx"}], memory="512")
    assert checked.body["memory"] == "512"


def test_privileged_containers_need_the_server_setting() -> None:
    with pytest.raises(ClientException) as excinfo:
        build([web(privileged=True)])
    assert "allow_privileged" in message_of(excinfo) and "'web'" in message_of(excinfo)
    assert build([web(privileged=True)], allow_privileged=True).body["containerDefinitions"][0]["privileged"]
    with pytest.raises(ClientException):
        build([web(privileged=True)], allow_privileged=True, **fargate())


def test_dependencies() -> None:
    init = web(name="init", essential=False)
    ok = build([web(dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]), init])
    assert ok.body["containerDefinitions"][0]["dependsOn"][0]["condition"] == "SUCCESS"
    cases = [
        (
            [web(dependsOn=[{"containerName": "ghost", "condition": "START"}])],
            "Cannot depend on container + 'ghost' because it does not exist",
        ),
        (
            [web(dependsOn=[{"containerName": "db", "condition": "COMPLETE"}]), web(name="db")],
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container",
        ),
    ]
    for containers, message in cases:
        with pytest.raises(ClientException) as excinfo:
            build(containers)
        assert message_of(excinfo) == message
    with pytest.raises(ClientException, match="HEALTHY"):
        build([web(dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]), web(name="db")])
    with pytest.raises(ClientException, match="Invalid dependency condition"):
        build([web(dependsOn=[{"containerName": "db", "condition": "READY"}]), web(name="db")])
    healthy_db = web(name="db", healthCheck={"command": ["CMD", "true"]})
    build([web(dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]), healthy_db])


def test_tags() -> None:
    assert build(tags=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]).tags == [("a", "2")]
    assert tag_pairs([{"key": "k"}]) == [("k", "")]
    for tags in ([{"key": f"k{i}", "value": ""} for i in range(51)], [{"key": "aws:x", "value": ""}]):
        with pytest.raises(InvalidParameterException):
            tag_pairs(tags)


# --- references -------------------------------------------------------------------------------------------


def test_references() -> None:
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:3"
    assert parse_reference("app", region=REGION, account_id=ACCOUNT) == TaskDefinitionRef("app", None)
    assert parse_reference("app:3", region=REGION, account_id=ACCOUNT) == TaskDefinitionRef("app", 3)
    assert parse_reference(arn, region=REGION, account_id=ACCOUNT) == TaskDefinitionRef("app", 3)
    assert parse_reference(arn, region="eu-west-1", account_id=ACCOUNT) is None
    assert parse_reference(arn, region=REGION, account_id="210987654321") is None
    assert (
        parse_reference(f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/app", region=REGION, account_id=ACCOUNT)
        is None
    )
    assert parse_reference("bad family:1", region=REGION, account_id=ACCOUNT) is None
    with pytest.raises(InvalidParameterException) as excinfo:
        parse_reference("app:foo", region=REGION, account_id=ACCOUNT)
    assert message_of(excinfo) == "Invalid revision number. Number: foo"
