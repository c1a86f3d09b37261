"""A newcomer's path: ``dockyard up``, paste the printed lines, use the aws CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.conftest import free_port, run_aws

BANNER_DEADLINE_S = 30.0
EXPORTED = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


@contextmanager
def dockyard_up(data_dir: Path, port: int) -> Iterator[dict[str, str]]:
    """Run ``dockyard up``; yield the environment its printed ``export`` lines set; SIGTERM it at exit.

    Its logs go to ``<data_dir>.log``.
    """
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent)}
    command = [
        sys.executable,
        "-m",
        "dockyard.cli.main",
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
    ]
    with data_dir.with_suffix(".log").open("a") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    with proc:
        try:
            yield _read_banner(proc)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    # Graceful shutdown: the application's shutdown ran (uvicorn then re-raises SIGTERM, as it should).
    assert proc.returncode in {0, -15}
    assert '"message": "dockyard stopped"' in data_dir.with_suffix(".log").read_text()


def _read_banner(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    deadline = time.monotonic() + BANNER_DEADLINE_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"dockyard up exited early with {proc.wait()}")
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
        assert json.loads(run_aws(env, "ecs", "list-clusters").stdout)["clusterArns"] == [arn]

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
