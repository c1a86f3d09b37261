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

import httpx
import pytest

from tests.integration.conftest import REGION, Keys, ServerProcess, client_at, run_aws
from tests.integration.images import docker_available, docker_import_busybox
from tests.polling import wait_until

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


def push_busybox(endpoint: str, keys: Keys, docker_config: Path, repository: str) -> str:
    """Create ``repository`` in the ECR at ``endpoint``, push a busybox image to it; its URI with tag
    ``v1``."""
    ecr = client_at(endpoint, "ecr", keys)
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


def all_connected(ecs: Any, cluster: str, agent: AgentProcess | None) -> bool:
    """Every instance of ``cluster`` has a connected agent (and ``agent``, if given, still runs)."""
    if agent is not None:
        agent.assert_running()
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return False
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
    return all(i["agentConnected"] for i in described["containerInstances"])


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


def client_from_env(env: dict[str, str], service: str) -> Any:
    """A boto3 client configured like the aws CLI run with ``env``."""
    keys = Keys(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    return client_at(env["AWS_ENDPOINT_URL"], service, keys, env["AWS_DEFAULT_REGION"])


def serve_httpd_with_the_aws_cli(env: dict[str, str], cluster: str, image: str) -> None:
    """The acceptance path with the aws CLI (``env`` holds its endpoint and keys): a busybox httpd task
    on a dynamic host port runs, shows in ``docker ps`` with its labels, answers on the hostPort of its
    networkBindings, then stops with the reason given, its exit code and UserInitiated."""
    ecs = client_from_env(env, "ecs")
    cluster_arn = ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"]
    family = f"web-{unique_suffix()}"
    definition = {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "essential": True,
                "memory": 64,
                "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                "stopTimeout": 2,
                "dockerLabels": {"team": "web"},
            }
        ],
    }
    run_aws(env, "ecs", "register-task-definition", "--cli-input-json", json.dumps(definition))
    ran = json.loads(
        run_aws(env, "ecs", "run-task", "--cluster", cluster, "--task-definition", family).stdout
    )
    assert ran["failures"] == []
    task_arn = ran["tasks"][0]["taskArn"]
    run_aws(env, "ecs", "wait", "tasks-running", "--cluster", cluster, "--tasks", task_arn)

    task = describe_task(ecs, cluster, task_arn)
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    assert task["startedAt"] >= task["createdAt"]
    assert task["pullStartedAt"] <= task["pullStoppedAt"]
    web = task["containers"][0]
    assert web["lastStatus"] == "RUNNING"
    running = containers(TASK_ARN_LABEL, task_arn, all_states=False)
    assert len(running) == 1
    docker_container = running[0]
    assert web["runtimeId"] == docker_container["Id"]
    ecr = client_from_env(env, "ecr")
    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    pushed = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    assert web["imageDigest"] == pushed[0]["imageDigest"]
    labels = docker_container["Config"]["Labels"]
    assert labels["com.amazonaws.ecs.container-name"] == "web"
    assert labels["com.amazonaws.ecs.cluster"] == cluster_arn
    assert labels["com.amazonaws.ecs.task-definition-family"] == family
    assert labels["com.amazonaws.ecs.task-definition-version"] == "1"
    assert labels["team"] == "web"
    (binding,) = web["networkBindings"]
    assert binding["containerPort"] == 8080 and binding["protocol"] == "tcp"
    assert binding["hostPort"] > 0
    page = httpx.get(f"http://127.0.0.1:{binding['hostPort']}/index.html", timeout=5)
    assert page.status_code == 200 and page.text.startswith("hello from dockyard")

    run_aws(env, "ecs", "stop-task", "--cluster", cluster, "--task", task_arn, "--reason", "done here")
    run_aws(env, "ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", task_arn)
    stopped = describe_task(ecs, cluster, task_arn)
    assert stopped["lastStatus"] == "STOPPED" and stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "done here"
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppingAt"] <= stopped["stoppedAt"]
    assert isinstance(stopped["containers"][0]["exitCode"], int)
    assert containers(TASK_ARN_LABEL, task_arn, all_states=False) == []
