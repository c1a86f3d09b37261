"""Provisioned Fargate capacity, end to end: a server with no pool host of its own runs a provisioner
command when a Fargate task waits; the command starts a real ``dockyard agent --fargate --provisioned``;
the task runs there; once the host has been idle for the grace period the server retires it: deregistered,
its agent exits 0, and the retire command runs with the host's ARN, instance id and address.

Real parts only: the server process, the agent the provisioner command starts, the Docker Engine, boto3.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    push_busybox,
    remove_containers,
    require_docker,
    wait_for_status,
)
from tests.integration.conftest import Keys, ServerProcess, make_client
from tests.integration.test_fargate import TERM_AWARE, _clean_up_docker, register
from tests.polling import wait_until

GRACE_S = 5
RUNNING_DEADLINE_S = 90.0


class Provisioned:
    """What the provisioner command leaves in ``directory``: the agent's data dir and log, the marker
    that it ran, the agent's exit status, and the retire command's environment."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ran = directory / "provisioner-ran"
        self.shell_pid = directory / "shell.pid"
        self.exit_status = directory / "agent.exit"
        self.log = directory / "agent.log"
        self.retired = directory / "retired.env"

    def provisioner_command(self) -> str:
        d = shlex.quote(str(self.directory))
        agent = " ".join(
            shlex.quote(part)
            for part in (sys.executable, "-m", "dockyard.cli.main", "agent", "--fargate", "--provisioned")
        )
        return (
            f'echo $$ > {d}/shell.pid; echo "$DOCKYARD_FARGATE_WAITING" > {d}/provisioner-ran; '
            f'{agent} --endpoint "$DOCKYARD_ENDPOINT" --data-dir {d}/agent --heartbeat-interval 0.5 '
            f"--metadata-port 0 >> {d}/agent.log 2>&1; "
            f"echo $? > {d}/agent.exit.tmp; mv {d}/agent.exit.tmp {d}/agent.exit"
        )

    def retire_command(self) -> str:
        d = shlex.quote(str(self.directory))
        return f"env > {d}/retired.tmp && mv {d}/retired.tmp {d}/retired.env"

    def agent_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop_agent(self) -> None:
        """End the provisioner's shell and its agent if the test left them running (its own session:
        the shell's pid is the group's id)."""
        if self.exit_status.exists() or not self.shell_pid.exists():
            return
        pid = int(self.shell_pid.read_text().strip())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_until(self.exit_status.exists, deadline_s=30, what="the provisioned agent to stop")


@pytest.fixture
def provisioned(tmp_path: Path) -> Provisioned:
    return Provisioned(tmp_path / "provisioned")


@pytest.fixture
def pool_server(tmp_path: Path, provisioned: Provisioned) -> Iterator[ServerProcess]:
    """A server without a pool host of its own (DOCKYARD_FARGATE_LOCAL_POOL=0, the test default) whose
    provisioner starts one."""
    require_docker()
    proc = ServerProcess(
        tmp_path / "server",
        extra_env={
            "DOCKYARD_FARGATE_PROVISIONER_COMMAND": provisioned.provisioner_command(),
            "DOCKYARD_FARGATE_PROVISION_INTERVAL_S": "600",
            "DOCKYARD_FARGATE_IDLE_RETIRE_S": str(GRACE_S),
            "DOCKYARD_FARGATE_RETIRE_COMMAND": provisioned.retire_command(),
            "DOCKYARD_AGENT_HEARTBEAT_INTERVAL_S": "1",
        },
    )
    proc.data_dir.mkdir(parents=True)
    try:
        proc.start()
        yield proc
    finally:
        provisioned.stop_agent()
        proc.stop()
        _clean_up_docker(proc)


def pool_keys(server: ServerProcess) -> Keys:
    """A key of the Fargate pool's account (``dockyard keys create --fargate-pool``)."""
    args = ["keys", "--data-dir", str(server.data_dir), "create", "--user", "pool-test", "--fargate-pool"]
    out = subprocess.run(
        server.command(*args), env=server.env(), capture_output=True, text=True, check=True
    ).stdout
    values = dict(re.findall(r"^(account|access key id|secret access key)\s+(\S+)$", out, re.MULTILINE))
    return Keys(values["access key id"], values["secret access key"], values["account"])


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def pool_hosts(pool_ecs: Any, status: str) -> list[dict[str, Any]]:
    arns = pool_ecs.list_container_instances(cluster="fargate", status=status)["containerInstanceArns"]
    if not arns:
        return []
    described: list[dict[str, Any]] = pool_ecs.describe_container_instances(
        cluster="fargate", containerInstances=arns
    )["containerInstances"]
    return described


def test_a_provisioned_host_runs_the_waiting_task_and_is_retired_once_idle(
    pool_server: ServerProcess, provisioned: Provisioned, tmp_path: Path
) -> None:
    user = pool_server.create_key(f"prov-{uuid.uuid4().hex[:6]}")
    image = push_busybox(pool_server.endpoint, user, tmp_path / "docker", f"prov-{uuid.uuid4().hex[:6]}")
    ecs = make_client(pool_server, "ecs", user)
    cluster = f"prov-{uuid.uuid4().hex[:6]}"
    cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
    subnet = make_client(pool_server, "ec2", user).describe_subnets()["Subnets"][0]["SubnetId"]
    definition = register(
        ecs,
        f"prov-{uuid.uuid4().hex[:6]}",
        [{"name": "app", "image": image, "command": ["sh", "-c", TERM_AWARE]}],
    )
    try:
        # No pool host exists: the task waits in PROVISIONING and the provisioner is asked.
        (task,) = ecs.run_task(
            cluster=cluster,
            launchType="FARGATE",
            taskDefinition=definition,
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
        )["tasks"]
        assert task["lastStatus"] == "PROVISIONING"
        wait_until(provisioned.ran.exists, deadline_s=30, what="the provisioner command to run")
        assert provisioned.ran.read_text().strip() == "1"
        (task,) = wait_for_status(ecs, cluster, [task["taskArn"]], "RUNNING", deadline_s=RUNNING_DEADLINE_S)
        assert not provisioned.exit_status.exists(), provisioned.agent_log()

        pool_ecs = make_client(pool_server, "ecs", pool_keys(pool_server))
        (host,) = pool_hosts(pool_ecs, "ACTIVE")
        attributes = {a["name"]: a.get("value") for a in host["attributes"]}
        assert attributes["dockyard.pool.provisioned"] == "true"
        assert attributes["dockyard.host.address"] == "127.0.0.1"
        assert host["agentConnected"] and host["runningTasksCount"] == 0  # the task is another account's
        assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []

        # Busy for longer than the grace period (counted from its registration): not retired.
        def older_than_the_grace() -> bool:
            return (datetime.now(UTC) - host["registeredAt"]).total_seconds() > GRACE_S + 2

        wait_until(older_than_the_grace, deadline_s=GRACE_S + 10, what="the grace period to pass")
        assert [h["status"] for h in pool_hosts(pool_ecs, "ACTIVE")] == ["ACTIVE"]
        assert not provisioned.retired.exists()

        ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="done")
        (stopped,) = wait_for_status(ecs, cluster, [task["taskArn"]], "STOPPED", deadline_s=60)
        assert stopped["stopCode"] == "UserInitiated"

        # Idle for the grace period: deregistered, the retire command runs, the agent exits 0.
        wait_until(provisioned.retired.exists, deadline_s=GRACE_S + 30, what="the retire command to run")
        retired = read_env(provisioned.retired)
        assert retired["DOCKYARD_FARGATE_CONTAINER_INSTANCE_ARN"] == host["containerInstanceArn"]
        assert retired["DOCKYARD_FARGATE_EC2_INSTANCE_ID"] == host["ec2InstanceId"]
        assert retired["DOCKYARD_FARGATE_HOST_ADDRESS"] == "127.0.0.1"
        assert retired["DOCKYARD_FARGATE_REGION"] == "us-east-1"
        (gone,) = pool_ecs.describe_container_instances(
            cluster="fargate", containerInstances=[host["containerInstanceArn"]]
        )["containerInstances"]
        assert gone["status"] == "INACTIVE" and not gone["agentConnected"]
        assert pool_hosts(pool_ecs, "ACTIVE") == []
        wait_until(provisioned.exit_status.exists, deadline_s=30, what="the provisioned agent to exit")
        assert provisioned.exit_status.read_text().strip() == "0", provisioned.agent_log()
        assert "the server retired container instance" in provisioned.agent_log()
        assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
    finally:
        remove_containers(CLUSTER_LABEL, cluster_arn)
