"""RunTask → RUNNING and StopTask → STOPPED on a real agent, against ``docker run -d`` / ``docker stop``.

One run starts a dockyard server and one agent on this machine's Docker Engine, pushes a busybox image
into dockyard's registry (so it is already on the host), then alternates, ``--tasks`` times:

- docker:   ``docker run -d <image> <cmd>`` until it returns; ``docker stop -t 5 <id>`` until it returns.
- dockyard: RunTask, then DescribeTasks every ``--poll-ms`` until lastStatus is RUNNING; StopTask, then
            DescribeTasks until STOPPED.

The container command exits on SIGTERM at once on both sides, so stop measures the machinery, not a
timeout. Prints p50/p95 for each and the ratios (goal: dockyard p50 <= 1.5x docker's).

    .venv/bin/python bench/task_latency.py --tasks 30
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common import dockyard_server_command, free_port  # noqa: E402
from tests.integration.images import docker_import_busybox  # noqa: E402

KEY_ID = "AKIABENCHTASKS000001"
SECRET = "bench-task-latency-secret-000000000000000"
REGION = "us-east-1"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
BENCH_LABEL = "dockyard.bench"


def wait_for(
    predicate: Callable[[], bool], what: str, deadline_s: float = 60.0, interval_s: float = 0.01
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out waiting for {what}")


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION)
    env.update(DOCKYARD_ACCESS_KEY_ID=KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=SECRET)
    return env


@contextmanager
def dockyard(work: Path, cluster: str, server_env: dict[str, str] | None = None) -> Iterator[str]:
    """A server (with ``server_env`` added to its environment) and an agent joined to ``cluster``;
    yields the endpoint."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    python = [sys.executable, "-m", "dockyard.cli.main"]
    env = base_env()
    procs: list[subprocess.Popen[bytes]] = []
    with (work / "server.log").open("ab") as log:
        procs.append(
            subprocess.Popen(
                dockyard_server_command(work, port),
                env={**env, **(server_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        wait_for(lambda: server_healthy(endpoint), "the server")
        ecs = client("ecs", endpoint)
        ecs.create_cluster(clusterName=cluster)
        agent_flags = ["--data-dir", str(work / "agent"), "--metadata-port", str(free_port())]
        with (work / "agent.log").open("ab") as log:
            procs.append(
                subprocess.Popen(
                    [*python, "agent", "--endpoint", endpoint, "--cluster", cluster, *agent_flags],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for(lambda: _connected(ecs, cluster), "the agent to connect", interval_s=0.1)
        yield endpoint
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def server_healthy(endpoint: str) -> bool:
    try:
        return httpx.get(f"{endpoint}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _connected(ecs: Any, cluster: str) -> bool:
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return False
    return all(
        i["agentConnected"]
        for i in ecs.describe_container_instances(cluster=cluster, containerInstances=arns)[
            "containerInstances"
        ]
    )


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def push_image(endpoint: str, work: Path) -> str:
    ecr = client("ecr", endpoint)
    uri = ecr.create_repository(repositoryName=f"bench-{uuid.uuid4().hex[:6]}")["repository"]["repositoryUri"]
    image = f"{uri}:v1"
    docker_import_busybox(image, marker="bench")
    password = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])
    env = {**os.environ, "DOCKER_CONFIG": str(work / "docker-config")}
    subprocess.run(
        ["docker", "login", "-u", "AWS", "--password-stdin", uri.split("/")[0]],
        input=password.decode().split(":", 1)[1],
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(["docker", "push", image], env=env, check=True, capture_output=True)
    return image


def time_docker(image: str) -> tuple[float, float]:
    start = time.perf_counter()
    container = subprocess.run(
        ["docker", "run", "-d", "--label", f"{BENCH_LABEL}=1", image, *COMMAND],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    run_s = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["docker", "stop", "-t", "5", container], check=True, capture_output=True)
    stop_s = time.perf_counter() - start
    subprocess.run(["docker", "rm", container], check=True, capture_output=True)
    return run_s, stop_s


def time_dockyard(ecs: Any, cluster: str, family: str, poll_s: float) -> tuple[float, float]:
    start = time.perf_counter()
    task = ecs.run_task(cluster=cluster, taskDefinition=family)["tasks"][0]["taskArn"]
    wait_for(lambda: _status(ecs, cluster, task) == "RUNNING", "RUNNING", interval_s=poll_s)
    run_s = time.perf_counter() - start
    start = time.perf_counter()
    ecs.stop_task(cluster=cluster, task=task)
    wait_for(lambda: _status(ecs, cluster, task) == "STOPPED", "STOPPED", interval_s=poll_s)
    stop_s = time.perf_counter() - start
    return run_s, stop_s


def _status(ecs: Any, cluster: str, task: str) -> str:
    return str(ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"][0]["lastStatus"])


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--poll-ms", type=float, default=10.0, help="DescribeTasks interval while waiting")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dockyard-bench-tasks-") as tmp:
        work = Path(tmp)
        cluster = "bench"
        with dockyard(work, cluster) as endpoint:
            image = push_image(endpoint, work)
            ecs = client("ecs", endpoint)
            family = "bench-latency"
            ecs.register_task_definition(
                family=family,
                containerDefinitions=[
                    {"name": "main", "image": image, "memory": 16, "command": COMMAND, "stopTimeout": 5}
                ],
            )
            time_dockyard(ecs, cluster, family, args.poll_ms / 1000)  # warm-up: the first pull
            time_docker(image)
            docker_runs, docker_stops, ours_runs, ours_stops = [], [], [], []
            for _ in range(args.tasks):
                run_s, stop_s = time_docker(image)
                docker_runs.append(run_s)
                docker_stops.append(stop_s)
                run_s, stop_s = time_dockyard(ecs, cluster, family, args.poll_ms / 1000)
                ours_runs.append(run_s)
                ours_stops.append(stop_s)
            arn = ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"]
            leftovers = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.cluster={arn}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if leftovers:
                subprocess.run(["docker", "rm", "-f", *leftovers], check=False, capture_output=True)
    result = {
        "tasks": args.tasks,
        "poll_ms": args.poll_ms,
        "run": {"docker": quantiles(docker_runs), "dockyard": quantiles(ours_runs)},
        "stop": {"docker": quantiles(docker_stops), "dockyard": quantiles(ours_stops)},
    }
    for phase in ("run", "stop"):
        d, o = result[phase]["docker"], result[phase]["dockyard"]
        result[phase]["ratio_p50"] = o["p50_ms"] / d["p50_ms"]
        result[phase]["ratio_p95"] = o["p95_ms"] / d["p95_ms"]
    print(
        f"{'':10} {'docker p50':>11} {'p95':>8} {'dockyard p50':>13} {'p95':>8} {'ratio p50':>10} {'p95':>6}"
    )
    for phase, name in (("run", "RunTask"), ("stop", "StopTask")):
        r = result[phase]
        print(
            f"{name:10} {r['docker']['p50_ms']:9.0f}ms {r['docker']['p95_ms']:6.0f}ms"
            f" {r['dockyard']['p50_ms']:11.0f}ms {r['dockyard']['p95_ms']:6.0f}ms"
            f" {r['ratio_p50']:9.2f}x {r['ratio_p95']:5.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
