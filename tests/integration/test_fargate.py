"""Fargate as a new user meets it: no host registered, ``run-task --launch-type FARGATE`` just runs, on the
server's own Docker Engine (the pool host the server supervises), in its own network namespace at an ENI
address from the default subnet, under gVisor, limited to the task's size, behind its security groups.

Real parts only: the server process, its pool agent, the Docker Engine with runsc, the aws CLI and boto3.
"""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    containers,
    push_busybox,
    remove_containers,
    require_docker,
    wait_for_status,
)
from tests.integration.conftest import REGION, Keys, ServerProcess, make_client, run_aws
from tests.polling import wait_until

RUNNING_DEADLINE_S = 90.0


@pytest.fixture(scope="module")
def fargate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with its built-in Fargate pool host on this machine's Docker Engine."""
    require_docker()
    proc = ServerProcess(
        tmp_path_factory.mktemp("fargate"),
        extra_env={
            "DOCKYARD_FARGATE_LOCAL_POOL": "1",
            "DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": "1",
            "DOCKYARD_SERVICE_RESYNC_S": "2",
            "DOCKYARD_SERVICE_HEALTHY_AFTER_S": "1",
        },
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        _clean_up_docker(proc)


def _clean_up_docker(proc: ServerProcess) -> None:
    """Remove what the pool host made: its firewall chain and the subnets' networks (the tasks' containers
    go with their cluster)."""
    del proc
    networks = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", "label=com.dockyard.subnet"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for network in networks:
        attached = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"network={network}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        # The attached ones are the pause containers; the tasks' containers only share their namespaces.
        for pause in attached:
            task_arn = subprocess.run(
                ["docker", "inspect", "-f", '{{index .Config.Labels "com.amazonaws.ecs.task-arn"}}', pause],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if task_arn:
                remove_containers("com.amazonaws.ecs.task-arn", task_arn)
        if attached:
            subprocess.run(["docker", "rm", "-f", *attached], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
    listed = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=False).stdout
    for chain in {line.split()[1] for line in listed.splitlines() if line.startswith("-N DYFW-")}:
        subprocess.run(["iptables", "-D", "DOCKER-USER", "-j", chain], capture_output=True, check=False)
        subprocess.run(["iptables", "-F", chain], capture_output=True, check=False)
        subprocess.run(["iptables", "-X", chain], capture_output=True, check=False)


@pytest.fixture(scope="module")
def user(fargate_server: ServerProcess) -> Keys:
    return fargate_server.create_key(f"fargate-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def image(fargate_server: ServerProcess, user: Keys, tmp_path_factory: pytest.TempPathFactory) -> str:
    return push_busybox(
        fargate_server.endpoint, user, tmp_path_factory.mktemp("docker"), f"fg-{uuid.uuid4().hex[:6]}"
    )


@pytest.fixture(scope="module")
def cluster(fargate_server: ServerProcess, user: Keys) -> Iterator[str]:
    name = f"fg-{uuid.uuid4().hex[:6]}"
    ecs = make_client(fargate_server, "ecs", user)
    ecs.create_cluster(clusterName=name)
    yield name
    remove_containers(CLUSTER_LABEL, ecs.describe_clusters(clusters=[name])["clusters"][0]["clusterArn"])


@pytest.fixture(autouse=True)
def pool_left_idle(fargate_server: ServerProcess, user: Keys, cluster: str) -> Iterator[None]:
    """After each test, even a failing one: the cluster's services deleted, its tasks stopped and STOPPED,
    so the next test finds the whole pool host free (a test that leaves tasks behind would starve the
    others of capacity and fail them too)."""
    yield
    ecs = make_client(fargate_server, "ecs", user)
    for service in ecs.list_services(cluster=cluster)["serviceArns"]:
        ecs.delete_service(cluster=cluster, service=service, force=True)
    for arn in ecs.list_tasks(cluster=cluster)["taskArns"]:
        ecs.stop_task(cluster=cluster, task=arn, reason="test teardown")

    def all_stopped() -> bool:
        if ecs.list_tasks(cluster=cluster)["taskArns"]:
            return False  # a service being deleted may still be stopping its tasks
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        return all(
            t["lastStatus"] == "STOPPED"
            for start in range(0, len(arns), 100)
            for t in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
        )

    wait_until(all_stopped, deadline_s=120, what="every task of the cluster STOPPED")


def cli_env(server: ServerProcess, keys: Keys, home: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": server.endpoint,
        "HOME": str(home),
    }


def aws_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(run_aws(env, *args, "--endpoint-url", env["AWS_ENDPOINT_URL"]).stdout or "{}")


def register(
    ecs: Any, family: str, containers_: list[dict[str, Any]], cpu: str = "256", memory: str = "512"
) -> str:
    arn: str = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=cpu,
        memory=memory,
        containerDefinitions=containers_,
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def eni_address(task: dict[str, Any]) -> str:
    (attachment,) = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    return str(details["privateIPv4Address"])


def task_containers(task_arn: str) -> dict[str, dict[str, Any]]:
    """``docker inspect`` of the task's containers, by ECS container name."""
    found = containers("com.amazonaws.ecs.task-arn", task_arn)
    return {c["Config"]["Labels"]["com.amazonaws.ecs.container-name"]: c for c in found}


def logs(docker_id: str) -> str:
    done = subprocess.run(["docker", "logs", docker_id], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


WEB = "httpd -f -p 8080 -h /www"
PROBE_LOCALHOST = (
    "while true; do if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080 | grep -q hello; "
    "then echo reached-localhost; fi; sleep 0.5; done"
)


def test_run_task_on_fargate_with_the_aws_cli(
    fargate_server: ServerProcess, user: Keys, image: str, cluster: str, tmp_path: Path
) -> None:
    env = cli_env(fargate_server, user, tmp_path)
    subnets = aws_json(env, "ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")[
        "Subnets"
    ]
    assert len(subnets) == 6 and all(s["DefaultForAz"] for s in subnets)
    groups = aws_json(env, "ec2", "describe-security-groups", "--filters", "Name=group-name,Values=default")
    default_group = groups["SecurityGroups"][0]["GroupId"]
    ecs = make_client(fargate_server, "ecs", user)
    definition = register(
        ecs,
        f"fg-web-{uuid.uuid4().hex[:6]}",
        [
            {"name": "web", "image": image, "essential": True, "command": ["sh", "-c", WEB]},
            {"name": "probe", "image": image, "essential": False, "command": ["sh", "-c", PROBE_LOCALHOST]},
            {
                "name": "meta",
                "image": image,
                "essential": False,
                "command": ["sh", "-c", READ_METADATA],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/fargate-web",
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": "fg",
                        "awslogs-create-group": "true",
                    },
                },
            },
        ],
    )
    network = (
        f"awsvpcConfiguration={{subnets=[{subnets[0]['SubnetId']}],securityGroups=[{default_group}],"
        "assignPublicIp=DISABLED}"
    )
    ran = aws_json(
        env,
        "ecs",
        "run-task",
        "--cluster",
        cluster,
        "--launch-type",
        "FARGATE",
        "--task-definition",
        definition,
        "--network-configuration",
        network,
    )
    assert ran["failures"] == []
    (task,) = ran["tasks"]
    assert task["lastStatus"] in ("PROVISIONING", "PENDING") and task["launchType"] == "FARGATE"
    (task,) = wait_for_status(ecs, cluster, [task["taskArn"]], "RUNNING", deadline_s=RUNNING_DEADLINE_S)
    assert task["platformVersion"] == "1.4.0" and task["capacityProviderName"] == "FARGATE"
    assert "containerInstanceArn" not in task
    assert task["availabilityZone"] == subnets[0]["AvailabilityZone"]
    assert {"name": "dockyard.runtime", "value": "runsc"} in task["attributes"]
    listed = aws_json(env, "ecs", "list-container-instances", "--cluster", cluster)
    assert listed["containerInstanceArns"] == []

    address = eni_address(task)
    assert address.startswith(subnets[0]["CidrBlock"].rsplit(".", 2)[0])
    wait_until(lambda: _answers(address), deadline_s=30, what=f"httpd at the ENI address {address}")

    inspected = task_containers(task["taskArn"])
    web, probe, pause = inspected["web"], inspected["probe"], inspected["~internal~ecs~pause"]
    assert web["HostConfig"]["Runtime"] == "runsc"
    assert web["HostConfig"]["Memory"] == 512 * 1024 * 1024
    assert web["HostConfig"]["NanoCpus"] == 250_000_000
    wait_until(lambda: "reached-localhost" in logs(probe["Id"]), deadline_s=30, what="the probe on localhost")
    _assert_one_task_cgroup(pause, [web, probe, inspected["meta"]])
    wait_until(lambda: "exit" in logs(inspected["meta"]["Id"]), deadline_s=30, what="the task metadata")
    first_read = logs(inspected["meta"]["Id"])
    assert first_read.rstrip().endswith("exit 0"), first_read  # at the container's start: no retry
    assert first_read.startswith(("HTTP/1.0 200", "HTTP/1.1 200")), first_read
    metadata = json.loads(first_read[first_read.index("{") : first_read.rindex("}") + 1])
    assert "AWS_EXECUTION_ENV=AWS_ECS_FARGATE" in web["Config"]["Env"]
    # The same output in CloudWatch Logs: shipped by the pool host into the user's account.
    stream = f"fg/meta/{task['taskArn'].rsplit('/', 1)[-1]}"
    cloudwatch = make_client(fargate_server, "logs", user)

    def shipped() -> list[str]:
        try:
            events = cloudwatch.get_log_events(logGroupName="/ecs/fargate-web", logStreamName=stream)[
                "events"
            ]
        except cloudwatch.exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in events]

    wait_until(lambda: "exit 0" in shipped(), deadline_s=30, what="the metadata read in CloudWatch Logs")
    assert any(m.startswith("{") and json.loads(m)["TaskARN"] == task["taskArn"] for m in shipped())
    assert metadata["LaunchType"] == "FARGATE" and metadata["TaskARN"] == task["taskArn"]
    assert metadata["AvailabilityZone"] == subnets[0]["AvailabilityZone"]
    assert metadata["Limits"] == {"CPU": 0.25, "Memory": 512}
    (web_metadata,) = [c for c in metadata["Containers"] if c["Name"] == "web"]
    assert web_metadata["Networks"][0]["NetworkMode"] == "awsvpc"
    assert web_metadata["Networks"][0]["IPv4Addresses"] == [address]

    interfaces = aws_json(env, "ec2", "describe-network-interfaces")["NetworkInterfaces"]
    assert [i["PrivateIpAddress"] for i in interfaces] == [address]

    ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="done")
    (stopped,) = wait_for_status(ecs, cluster, [task["taskArn"]], "STOPPED", deadline_s=60)
    assert stopped["stopCode"] == "UserInitiated"
    assert [a["status"] for a in stopped["attachments"]] == ["DELETED"]
    assert aws_json(env, "ec2", "describe-network-interfaces")["NetworkInterfaces"] == []


# busybox's wget fails under this gVisor (hostinet answers its read with EAGAIN), so nc speaks HTTP.
READ_METADATA = (
    "u=${ECS_CONTAINER_METADATA_URI_V4#http://}; hp=${u%%/*}; "
    'printf "GET /${u#*/}/task HTTP/1.0\\r\\n\\r\\n" | nc ${hp%:*} ${hp#*:}; '
    'code=$?; echo; echo "exit $code"; sleep 3600'
)


def _assert_one_task_cgroup(pause: dict[str, Any], task_containers_: list[dict[str, Any]]) -> None:
    """The task's size bounds its containers together, not only each one: their cgroups are created
    inside the pause container's, which has the task's limits (on this host's cgroup v1, cgroupfs)."""
    assert pause["HostConfig"]["Memory"] == 512 * 1024 * 1024
    assert pause["HostConfig"]["NanoCpus"] == 250_000_000
    task_cgroup = f"/docker/{pause['Id']}"
    memory = Path("/sys/fs/cgroup/memory") / task_cgroup.lstrip("/")
    cpu = Path("/sys/fs/cgroup/cpu") / task_cgroup.lstrip("/")
    assert int((memory / "memory.limit_in_bytes").read_text()) == 512 * 1024 * 1024
    assert int((cpu / "cpu.cfs_quota_us").read_text()) * 4 == int((cpu / "cpu.cfs_period_us").read_text())
    for container in task_containers_:
        assert container["HostConfig"]["CgroupParent"] == task_cgroup
        assert (memory / container["Id"]).is_dir(), f"{container['Name']} outside the task's cgroup"


def _answers(address: str) -> bool:
    """Whether the task's httpd serves its page at ``address``. A refused or cut connection is a "not yet":
    under load, busybox httpd under gVisor sometimes closes a connection unanswered (hostinet answers its
    first read with EAGAIN, the wget problem of READ_METADATA), so one request proves nothing either way."""
    try:
        answer = httpx.get(f"http://{address}:8080/", timeout=1)
    except httpx.TransportError:
        return False
    return answer.status_code == 200 and "hello from dockyard" in answer.text


PROBE_PEER = (
    "while true; do if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 $PEER 8080 | grep -q hello; "
    "then echo open; else echo closed; fi; sleep 0.5; done"
)


def test_security_group_ingress_is_enforced(
    fargate_server: ServerProcess, user: Keys, image: str, cluster: str
) -> None:
    ecs = make_client(fargate_server, "ecs", user)
    ec2 = make_client(fargate_server, "ec2", user)
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][1]
    closed = ec2.create_security_group(
        GroupName=f"closed-{uuid.uuid4().hex[:6]}", Description="nothing in", VpcId=subnet["VpcId"]
    )["GroupId"]
    web = register(
        ecs,
        f"fg-sg-web-{uuid.uuid4().hex[:6]}",
        [{"name": "web", "image": image, "command": ["sh", "-c", WEB]}],
    )
    (server_task,) = ecs.run_task(
        cluster=cluster,
        launchType="FARGATE",
        taskDefinition=web,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet["SubnetId"]], "securityGroups": [closed]}
        },
    )["tasks"]
    (server_task,) = wait_for_status(
        ecs, cluster, [server_task["taskArn"]], "RUNNING", deadline_s=RUNNING_DEADLINE_S
    )
    peer = eni_address(server_task)
    wait_until(lambda: _answers(peer), deadline_s=30, what="httpd from the host")  # the host is not filtered

    client = register(
        ecs,
        f"fg-sg-client-{uuid.uuid4().hex[:6]}",
        [
            {
                "name": "client",
                "image": image,
                "command": ["sh", "-c", PROBE_PEER],
                "environment": [{"name": "PEER", "value": peer}],
            }
        ],
    )
    (client_task,) = ecs.run_task(
        cluster=cluster,
        launchType="FARGATE",
        taskDefinition=client,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet["SubnetId"]]}},
    )["tasks"]
    wait_for_status(ecs, cluster, [client_task["taskArn"]], "RUNNING", deadline_s=RUNNING_DEADLINE_S)
    probe = task_containers(client_task["taskArn"])["client"]["Id"]
    wait_until(lambda: logs(probe).count("closed") >= 4, deadline_s=30, what="attempts refused")
    assert "open" not in logs(probe)

    ec2.authorize_security_group_ingress(
        GroupId=closed,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    wait_until(lambda: "open" in logs(probe), deadline_s=30, what="the port open after authorize")


TERM_AWARE = "trap 'echo got-sigterm; exit 0' TERM; while true; do sleep 0.2; done"


def test_a_fargate_service_of_two_tasks_becomes_stable(
    fargate_server: ServerProcess, user: Keys, image: str, cluster: str, tmp_path: Path
) -> None:
    """launchType FARGATE, desired 2: `aws ecs wait services-stable` returns, the service says it reached
    a steady state, and its two tasks are Fargate tasks with their own interfaces."""
    env = cli_env(fargate_server, user, tmp_path)
    ecs = make_client(fargate_server, "ecs", user)
    subnet = make_client(fargate_server, "ec2", user).describe_subnets()["Subnets"][1]["SubnetId"]
    definition = register(
        ecs,
        f"fg-two-{uuid.uuid4().hex[:6]}",
        [{"name": "app", "image": image, "command": ["sh", "-c", TERM_AWARE]}],
    )
    name = f"two-{uuid.uuid4().hex[:6]}"
    aws_json(
        env,
        "ecs",
        "create-service",
        "--cluster",
        cluster,
        "--service-name",
        name,
        "--task-definition",
        definition,
        "--desired-count",
        "2",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        f"awsvpcConfiguration={{subnets=[{subnet}]}}",
    )
    run_aws(env, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", name,
            "--endpoint-url", env["AWS_ENDPOINT_URL"])  # fmt: skip
    (service,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert (service["runningCount"], service["pendingCount"], len(service["deployments"])) == (2, 0, 1)
    assert service["launchType"] == "FARGATE" and service["platformVersion"] == "LATEST"

    def completed() -> bool:
        # The waiter asks only for one deployment running the desired count; the rollout completes once
        # its tasks have stayed healthy a while, as on ECS.
        (described,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
        return described["deployments"][0]["rolloutState"] == "COMPLETED" and any(
            "has reached a steady state." in e["message"] for e in described["events"]
        )

    wait_until(completed, deadline_s=30, what="the rollout COMPLETED and the steady-state event")
    tasks = ecs.describe_tasks(
        cluster=cluster, tasks=ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    )
    addresses = {eni_address(t) for t in tasks["tasks"]}
    assert len(addresses) == 2 and all(t["launchType"] == "FARGATE" for t in tasks["tasks"])


def test_fargate_service_with_a_spot_strategy_replaces_an_interruption(
    fargate_server: ServerProcess, user: Keys, image: str, cluster: str
) -> None:
    ecs = make_client(fargate_server, "ecs", user)
    ecs.put_cluster_capacity_providers(
        cluster=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=[]
    )
    ec2 = make_client(fargate_server, "ec2", user)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:3]
    definition = register(
        ecs,
        f"fg-svc-{uuid.uuid4().hex[:6]}",
        [{"name": "app", "image": image, "command": ["sh", "-c", TERM_AWARE]}],
    )
    name = f"spot-{uuid.uuid4().hex[:6]}"
    ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=definition,
        desiredCount=9,
        capacityProviderStrategy=[
            {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
        ],
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )

    # The one pool host has 2 cores (2,048 CPU units): eight 256-unit tasks fit, the ninth waits in
    # PROVISIONING for capacity, as a Fargate task does when the pool has none.
    def placed() -> bool:
        service = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
        listed = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
        return service["runningCount"] == 8 and len(listed) == 9

    wait_until(placed, deadline_s=120, what="8 tasks running and one waiting for capacity")
    arns = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    providers = sorted(t["capacityProviderName"] for t in tasks)
    assert providers == ["FARGATE"] * 3 + ["FARGATE_SPOT"] * 6
    assert sorted(t["lastStatus"] for t in tasks) == ["PROVISIONING"] + ["RUNNING"] * 8
    running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
    assert len({t["availabilityZone"] for t in running}) == 3  # spread over the subnets' zones

    spot = next(t for t in running if t["capacityProviderName"] == "FARGATE_SPOT")
    done = subprocess.run(
        fargate_server.command(
            "fargate", "--data-dir", str(fargate_server.data_dir), "interrupt", "--task", spot["taskArn"]
        ),
        env=fargate_server.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (stopped,) = wait_for_status(ecs, cluster, [spot["taskArn"]], "STOPPED", deadline_s=60)
    assert stopped["stopCode"] == "SpotInterruption"
    assert stopped["stoppedReason"] == "Your Spot Task was interrupted."

    def replaced() -> bool:
        live = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
        if spot["taskArn"] in live or len(live) != 9:
            return False
        described = ecs.describe_tasks(cluster=cluster, tasks=live)["tasks"]
        statuses = sorted(t["lastStatus"] for t in described)
        return (
            sorted(t["capacityProviderName"] for t in described) == providers
            and statuses == ["PROVISIONING"] + ["RUNNING"] * 8
        )

    wait_until(replaced, deadline_s=90, what="the interrupted Spot task replaced on FARGATE_SPOT")


def billed_seconds(task: dict[str, Any]) -> int:
    """What Fargate bills: from the image pull's start to the containers' stop, whole seconds rounded up,
    one minute at least."""
    start, stop = task["pullStartedAt"], task["executionStoppedAt"]
    return max(60, math.ceil((stop - start).total_seconds()))


def test_metering_survives_a_server_kill(
    fargate_server: ServerProcess, user: Keys, image: str, cluster: str, tmp_path: Path
) -> None:
    """Tasks of 30 s and 90 s bill 60 s (the minimum) and their own seconds, from the pull's start to the
    containers' stop, at the rates, by tag; a kill -9 of the server while both run changes nothing."""
    ecs = make_client(fargate_server, "ecs", user)
    ec2 = make_client(fargate_server, "ec2", user)
    subnet = ec2.describe_subnets()["Subnets"][2]["SubnetId"]
    runs = {}
    for seconds in (30, 90):
        definition = register(
            ecs,
            f"fg-meter-{seconds}-{uuid.uuid4().hex[:4]}",
            [{"name": "job", "image": image, "command": ["sleep", str(seconds)]}],
        )
        (task,) = ecs.run_task(
            cluster=cluster,
            launchType="FARGATE",
            taskDefinition=definition,
            tags=[{"key": "team", "value": f"t{seconds}"}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
        )["tasks"]
        runs[seconds] = task["taskArn"]
    wait_for_status(ecs, cluster, list(runs.values()), "RUNNING", deadline_s=RUNNING_DEADLINE_S)
    fargate_server.kill()  # while both run
    fargate_server.start()
    ecs = make_client(fargate_server, "ecs", user)
    stopped = wait_for_status(ecs, cluster, list(runs.values()), "STOPPED", deadline_s=150)
    by_arn = {t["taskArn"]: t for t in stopped}
    billed = {seconds: billed_seconds(by_arn[arn]) for seconds, arn in runs.items()}
    assert billed[30] == 60
    assert 90 <= billed[90] <= 100

    today = datetime.now(UTC).date()
    answer = aws_json(
        cli_env(fargate_server, user, tmp_path),
        "ce",
        "get-cost-and-usage",
        "--time-period",
        f"Start={today.isoformat()},End={(today + timedelta(days=1)).isoformat()}",
        "--granularity",
        "DAILY",
        "--metrics",
        "UnblendedCost",
        "UsageQuantity",
        "--group-by",
        "Type=TAG,Key=team",
    )
    groups = {
        g["Keys"][0]: Decimal(g["Metrics"]["UnblendedCost"]["Amount"])
        for g in answer["ResultsByTime"][0]["Groups"]
    }
    rate = Decimal("0.25") * Decimal("0.04048") + Decimal("0.5") * Decimal("0.004445")  # per hour
    for seconds in (30, 90):
        expected = rate * billed[seconds] / 3600
        assert abs(groups[f"team$t{seconds}"] - expected) < Decimal("0.0000001"), (groups, expected)
