"""A newcomer's path: ``dockyard up``, paste the printed lines, use the aws CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import (
    CLUSTER_LABEL,
    push_busybox,
    remove_containers,
    serve_httpd_with_the_aws_cli,
)
from tests.integration.conftest import Keys, free_port, run_aws
from tests.integration.images import docker_available
from tests.polling import wait_until

BANNER_DEADLINE_S = 30.0
AGENT_DEADLINE_S = 60.0
EXPORTED = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


@contextmanager
def dockyard_up(
    data_dir: Path, port: int, *extra_args: str, extra_env: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Run ``dockyard up``; yield the environment its printed ``export`` lines set; SIGTERM it at exit.

    Its logs go to ``<data_dir>.log``; the banner to ``<data_dir>.banner``.
    """
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent), **(extra_env or {})}
    command = [
        sys.executable,
        "-m",
        "dockyard.cli.main",
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        *extra_args,
    ]
    with data_dir.with_suffix(".log").open("a") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    with proc:
        try:
            yield _read_banner(proc, data_dir.with_suffix(".banner"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    # Graceful shutdown: the application's shutdown ran (uvicorn then re-raises SIGTERM, as it should).
    assert proc.returncode in {0, -15}
    assert '"message": "dockyard stopped"' in data_dir.with_suffix(".log").read_text()


def _read_banner(proc: subprocess.Popen[str], banner_path: Path) -> dict[str, str]:
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    deadline = time.monotonic() + BANNER_DEADLINE_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"dockyard up exited early with {proc.wait()}")
        with banner_path.open("a") as banner:
            banner.write(line)
        match = re.fullmatch(r"export (\w+)=(\S+)\n", line)
        if match:
            exports[match.group(1)] = match.group(2)
        if line.startswith("Then try:"):
            return exports
    pytest.fail("dockyard up printed no banner in time")


def test_up_then_the_aws_cli_with_only_the_printed_lines(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    port = free_port()
    with dockyard_up(data_dir, port) as env:
        assert set(env) == EXPORTED
        env["HOME"] = str(tmp_path)

        identity = json.loads(run_aws(env, "sts", "get-caller-identity").stdout)
        assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:root"

        created = json.loads(run_aws(env, "ecs", "create-cluster", "--cluster-name", "demo").stdout)
        arn = created["cluster"]["clusterArn"]
        assert arn == f"arn:aws:ecs:us-east-1:{identity['Account']}:cluster/demo"
        # The local agent may have created the cluster "default" meanwhile.
        assert arn in json.loads(run_aws(env, "ecs", "list-clusters").stdout)["clusterArns"]

        run_aws(env, "ecs", "tag-resource", "--resource-arn", arn, "--tags", "key=env,value=dev")
        tags = json.loads(run_aws(env, "ecs", "list-tags-for-resource", "--resource-arn", arn).stdout)
        assert tags["tags"] == [{"key": "env", "value": "dev"}]
        run_aws(env, "ecs", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
        tags = json.loads(run_aws(env, "ecs", "list-tags-for-resource", "--resource-arn", arn).stdout)
        assert tags["tags"] == []

        described = json.loads(
            run_aws(env, "ecs", "describe-clusters", "--clusters", "demo", "nothere").stdout
        )
        assert [c["clusterName"] for c in described["clusters"]] == ["demo"]
        assert described["failures"][0]["reason"] == "MISSING"

        deleted = json.loads(run_aws(env, "ecs", "delete-cluster", "--cluster", "demo").stdout)["cluster"]
        assert deleted["status"] == "INACTIVE"

        failed = run_aws(env, "ecs", "delete-cluster", "--cluster", "demo", check=False)
        assert failed.returncode != 0 and "ClusterNotFoundException" in failed.stderr

    # A second run reuses the data dir: same credentials, same state.
    with dockyard_up(data_dir, port) as again:
        assert {k: again[k] for k in EXPORTED} == {k: env[k] for k in EXPORTED}
        again["HOME"] = str(tmp_path)
        described = json.loads(run_aws(again, "ecs", "describe-clusters", "--clusters", "demo").stdout)
        assert described["clusters"][0]["status"] == "INACTIVE"


def _agent_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"^agent \| started \(pid (\d+)\)", log, re.MULTILINE)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_joins_a_local_agent_to_the_default_cluster(tmp_path: Path) -> None:
    if not docker_available():
        pytest.fail("the Docker Engine is not running: scripts/setup installs and starts it")
    data_dir = tmp_path / "state"
    log_path = data_dir.with_suffix(".log")
    with dockyard_up(data_dir, free_port()) as env:
        env["HOME"] = str(tmp_path)
        banner = data_dir.with_suffix(".banner").read_text()
        assert "cluster    default: a local agent joins it" in banner
        assert 'prefixed "agent | "' in banner

        instances: list[dict[str, Any]] = []

        def registered() -> bool:
            listed = run_aws(env, "ecs", "list-container-instances", "--cluster", "default", check=False)
            if listed.returncode != 0:
                return False  # ClusterNotFoundException until the agent has created it
            arns = json.loads(listed.stdout)["containerInstanceArns"]
            if not arns:
                return False
            described = run_aws(
                env,
                "ecs",
                "describe-container-instances",
                "--cluster",
                "default",
                "--container-instances",
                *arns,
            )
            instances[:] = json.loads(described.stdout)["containerInstances"]
            return True

        wait_until(
            registered, deadline_s=AGENT_DEADLINE_S, what="the local agent to register", interval_s=0.5
        )
        assert len(instances) == 1
        assert instances[0]["status"] == "ACTIVE"
        assert instances[0]["containerInstanceArn"].startswith("arn:aws:ecs:us-east-1:")
        assert ":container-instance/default/" in instances[0]["containerInstanceArn"]
        clusters = json.loads(run_aws(env, "ecs", "describe-clusters", "--clusters", "default").stdout)
        assert clusters["clusters"][0]["status"] == "ACTIVE"
        assert (data_dir / "agent" / "agent-state.json").exists()

        keys = Keys(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        image = push_busybox(env["AWS_ENDPOINT_URL"], keys, tmp_path / "docker-config", "web")
        try:
            serve_httpd_with_the_aws_cli(env, "default", image)
        finally:
            remove_containers(
                CLUSTER_LABEL,
                f"{instances[0]['containerInstanceArn'].split(':container-instance/')[0]}:cluster/default",
            )

    log = log_path.read_text()
    pids = _agent_pids(log)
    assert len(pids) == 1, log
    assert "agent | " in log and "registered container instance" in log
    assert "agent | stopped (status 0)" in log
    assert not _alive(pids[0])


def test_up_without_docker_serves_the_api_and_says_the_agent_waits(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    socket_path = tmp_path / "no-docker.sock"
    extra_env = {"DOCKYARD_AGENT_DOCKER_SOCKET": str(socket_path)}
    with dockyard_up(data_dir, free_port(), extra_env=extra_env) as env:
        env["HOME"] = str(tmp_path)
        banner = data_dir.with_suffix(".banner").read_text()
        assert f"the local agent is waiting for Docker at {socket_path}" in banner
        identity = json.loads(run_aws(env, "sts", "get-caller-identity").stdout)
        assert identity["Arn"].endswith(":root")
        wait_until(
            lambda: "agent | started" in data_dir.with_suffix(".log").read_text(),
            deadline_s=AGENT_DEADLINE_S,
            what="the local agent to start",
        )
    log = data_dir.with_suffix(".log").read_text()
    # It was still waiting (not crashed, not restarted) when up stopped it (-15: stopped while still
    # starting, before its SIGTERM handler was in place).
    assert "exited with status" not in log
    assert re.search(r"^agent \| stopped \(status (0|-15)\)$", log, re.MULTILINE), log


def test_up_no_agent(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with dockyard_up(data_dir, free_port(), "--no-agent") as env:
        env["HOME"] = str(tmp_path)
        assert "agent      none (--no-agent)" in data_dir.with_suffix(".banner").read_text()
        run_aws(env, "sts", "get-caller-identity")
    assert "agent | " not in data_dir.with_suffix(".log").read_text()
