"""``dockyard agent`` processes against a test server, and what the tests need around them: a busybox
image pushed into the server's registry, and the Docker containers an agent made (found by label)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REGION, Keys, ServerProcess, make_client, wait_until
from tests.integration.images import docker_available, docker_import_busybox

TASK_ARN_LABEL = "com.amazonaws.ecs.task-arn"
CLUSTER_LABEL = "com.amazonaws.ecs.cluster"


class AgentProcess:
    """A ``dockyard agent`` subprocess; ``prefix`` runs it elsewhere (e.g. ``ip netns exec <ns>``)."""

    def __init__(
        self,
        server: ServerProcess,
        keys: Keys,
        cluster: str,
        data_dir: Path,
        *,
        endpoint: str | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.server, self.keys, self.cluster, self.data_dir = server, keys, cluster, data_dir
        self.endpoint = endpoint or server.endpoint
        self.prefix = tuple(prefix)
        self.log_path = data_dir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
        env.update(
            AWS_ACCESS_KEY_ID=self.keys.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.keys.secret_access_key,
            AWS_REGION=REGION,
            AWS_CONFIG_FILE=str(self.data_dir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.data_dir / "no-aws-credentials"),
            DOCKYARD_AGENT_HEARTBEAT_INTERVAL="0.5",
        )
        command = [*self.prefix, sys.executable, "-m", "dockyard.cli.main", "agent"]
        command += ["--endpoint", self.endpoint, "--cluster", self.cluster, "--data-dir", str(self.data_dir)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([*command, *extra], env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def assert_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"the agent exited with {self.process.returncode}:\n{self.log()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def require_docker() -> None:
    if not docker_available():
        pytest.fail("the Docker Engine is not running: scripts/setup installs and starts it")


def push_busybox(server: ServerProcess, keys: Keys, docker_config: Path, repository: str) -> str:
    """Create ``repository`` in the server's ECR, push a busybox image to it; its URI with tag ``v1``."""
    ecr = make_client(server, "ecr", keys)
    uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    image = f"{uri}:v1"
    docker_import_busybox(image, marker=repository)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    docker_config.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
    for args in (["login", "-u", "AWS", "--password-stdin", uri.split("/")[0]], ["push", image]):
        done = subprocess.run(
            ["docker", *args], env=env, input=password, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"docker {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return image


def containers(label: str, value: str, *, all_states: bool = True) -> list[dict[str, Any]]:
    """``docker inspect`` of every container whose ``label`` is ``value``."""
    args = ["docker", "ps", "-q", "--no-trunc", "--filter", f"label={label}={value}"]
    ids = subprocess.run(
        [*args, *(["-a"] if all_states else [])], capture_output=True, text=True, check=True
    ).stdout.split()
    if not ids:
        return []
    found: list[dict[str, Any]] = json.loads(
        subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout
    )
    return found


def remove_containers(label: str, value: str) -> None:
    for container in containers(label, value):
        subprocess.run(["docker", "rm", "-f", container["Id"]], capture_output=True, check=False)


def describe_task(ecs: Any, cluster: str, task_arn: str) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
    assert len(tasks) == 1, tasks
    return tasks[0]


def wait_for_status(
    ecs: Any,
    cluster: str,
    task_arns: Sequence[str],
    status: str,
    *,
    deadline_s: float,
    agents: Sequence[AgentProcess] = (),
) -> list[dict[str, Any]]:
    """Poll DescribeTasks until every task's lastStatus is ``status``; the tasks as last described."""
    seen: list[dict[str, Any]] = []

    def reached() -> bool:
        for agent in agents:
            agent.assert_running()
        seen[:] = []
        for start in range(0, len(task_arns), 100):
            seen.extend(
                ecs.describe_tasks(cluster=cluster, tasks=list(task_arns[start : start + 100]))["tasks"]
            )
        return len(seen) == len(task_arns) and all(t["lastStatus"] == status for t in seen)

    wait_until(reached, deadline_s=deadline_s, what=f"tasks {status}", interval_s=0.1)
    return seen


def unique_suffix() -> str:
    return uuid.uuid4().hex[:8]
