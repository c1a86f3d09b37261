"""Fargate: RunTask FARGATE → RUNNING against ``docker run -d`` in a fresh network namespace, under runc and
under runsc (gVisor); then many tasks at once on one pool host, and the host memory each one costs.

One run, for each runtime in ``--runtimes`` (default ``runc,runsc``), starts a fresh ``dockyard server``
whose built-in pool host (the ``dockyard agent --fargate`` it supervises) offers only that runtime
(``DOCKYARD_AGENT_OCI_RUNTIMES``), pushes a busybox image into its registry, pulls it once (a warm-up
task), then alternates ``--tasks`` times:

- docker:   ``docker run -d --runtime R --network <bridge> --memory 512m --cpus 0.25 <image> <cmd>``
            until it returns (the container is running in its own network namespace on a user bridge,
            with the task's limits);
- dockyard: RunTask FARGATE (0.25 vCPU, 512 MiB, awsvpc on a default subnet), then DescribeTasks every
            ``--poll-ms`` until lastStatus is RUNNING (the pause container holding the task's
            namespace at its ENI address, then the task's container, both started and reported).

Each side's container is stopped and removed (untimed) before the next. Prints p50/p95 and the ratios;
goals: dockyard p50 under 2 s with runsc and at most 1.5x docker's.

Then, with ``--concurrent N`` (default 200) and the last runtime: N tasks launched at once (RunTask
``count`` 10, as fast as the API takes them), the time until all are RUNNING, and the host's memory in use
(MemTotal - MemAvailable) before and with all N running, divided by N: what one task costs the pool host
(its pause container, its sandbox, the agent's and server's share). The pool host registers enough CPU
units and memory for N small tasks (``--cpu-units``/``--memory``: overcommit, these tasks sleep).

    .venv/bin/python bench/fargate_latency.py --tasks 30 --concurrent 200

Talks only to 127.0.0.1 and the Docker Engine; removes its containers and networks at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common import dockyard_server_command, free_port, git_state  # noqa: E402
from task_latency import base_env, client, push_image, quantiles, server_healthy, wait_for  # noqa: E402

COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
BENCH_LABEL = "dockyard.bench"
BASELINE_NETWORK = "dockyard-bench-fargate"
BASELINE_SUBNET = "10.251.0.0/24"  # not 172.31/16: dockyard's default VPC
TASK_CPU, TASK_MEMORY = "256", "512"


@contextmanager
def dockyard(work: Path, runtime: str, cpu_units: int, memory_mib: int) -> Iterator[str]:
    """A fresh server whose own pool host offers only ``runtime``; yields the endpoint once the pool host
    is connected."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **base_env(),
        "DOCKYARD_FARGATE_LOCAL_POOL": "1",
        "DOCKYARD_AGENT_OCI_RUNTIMES": runtime,
        "DOCKYARD_AGENT_CPU_UNITS": str(cpu_units),
        "DOCKYARD_AGENT_MEMORY": str(memory_mib),
    }
    with (work / "server.log").open("ab") as log:
        server = subprocess.Popen(
            dockyard_server_command(work, port), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: server_healthy(endpoint), "the server")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=60)
        remove_dockyard_docker_objects()


def remove_dockyard_docker_objects() -> None:
    """The pool host's subnet networks and whatever is still attached to them."""
    networks = _lines(["docker", "network", "ls", "-q", "--filter", "label=com.dockyard.subnet"])
    for network in networks:
        attached = _lines(["docker", "ps", "-aq", "--filter", f"network={network}"])
        for pause in attached:  # the tasks' containers share their pause container's namespace
            label = '{{index .Config.Labels "com.amazonaws.ecs.task-arn"}}'
            for task_arn in _lines(["docker", "inspect", "-f", label, pause]):
                joined = _lines(
                    ["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}"]
                )
                if joined:
                    subprocess.run(["docker", "rm", "-f", *joined], capture_output=True, check=False)
        if attached:
            subprocess.run(["docker", "rm", "-f", *attached], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)


def _lines(command: list[str]) -> list[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.split()


def register(ecs: Any, image: str) -> str:
    arn: str = ecs.register_task_definition(
        family=f"bench-fargate-{uuid.uuid4().hex[:6]}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=TASK_CPU,
        memory=TASK_MEMORY,
        containerDefinitions=[{"name": "main", "image": image, "command": COMMAND, "stopTimeout": 5}],
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def network_configuration(ec2: Any) -> dict[str, Any]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return {"awsvpcConfiguration": {"subnets": [s["SubnetId"] for s in subnets]}}


def describe(ecs: Any, cluster: str, arns: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), 100):
        described = ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
        found.update({t["taskArn"]: t for t in described})
    return found


def statuses(ecs: Any, cluster: str, arns: list[str]) -> dict[str, str]:
    return {arn: str(task["lastStatus"]) for arn, task in describe(ecs, cluster, arns).items()}


def time_dockyard(
    ecs: Any, cluster: str, definition: str, network: dict[str, Any], poll_s: float, deadline_s: float = 60
) -> float:
    start = time.perf_counter()
    (task,) = ecs.run_task(
        cluster=cluster, launchType="FARGATE", taskDefinition=definition, networkConfiguration=network
    )["tasks"]
    arn = task["taskArn"]
    wait_for(
        lambda: statuses(ecs, cluster, [arn])[arn] == "RUNNING",
        "RUNNING",
        deadline_s=deadline_s,
        interval_s=poll_s,
    )
    elapsed = time.perf_counter() - start
    ecs.stop_task(cluster=cluster, task=arn)
    wait_for(lambda: statuses(ecs, cluster, [arn])[arn] == "STOPPED", "STOPPED", interval_s=0.05)
    return elapsed


def time_docker(image: str, runtime: str) -> float:
    start = time.perf_counter()
    container = subprocess.run(
        [
            "docker", "run", "-d", "--label", f"{BENCH_LABEL}=1", "--runtime", runtime,
            "--network", BASELINE_NETWORK, "--memory", f"{TASK_MEMORY}m", "--cpus", "0.25",
            image, *COMMAND,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    elapsed = time.perf_counter() - start
    subprocess.run(["docker", "rm", "-f", container], check=True, capture_output=True)
    return elapsed


def memory_in_use_mib() -> float:
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    return (fields["MemTotal"] - fields["MemAvailable"]) / 1024


def settle_memory(seconds: float = 5.0) -> float:
    """Memory in use once it stops moving (reads over ``seconds``, the last one)."""
    time.sleep(seconds)  # a measurement window, not a readiness wait
    return memory_in_use_mib()


def run_concurrent(
    ecs: Any, cluster: str, definition: str, network: dict[str, Any], count: int
) -> dict[str, float]:
    before = settle_memory()
    start = time.perf_counter()
    arns: list[str] = []
    while len(arns) < count:
        answer = ecs.run_task(
            cluster=cluster,
            launchType="FARGATE",
            taskDefinition=definition,
            networkConfiguration=network,
            count=min(10, count - len(arns)),
        )
        if answer["failures"]:
            raise RuntimeError(f"RunTask failures: {answer['failures']}")
        arns += [t["taskArn"] for t in answer["tasks"]]
    launched_s = time.perf_counter() - start

    def all_running() -> bool:
        found = describe(ecs, cluster, arns)
        stopped = [t for t in found.values() if t["lastStatus"] == "STOPPED"]
        if stopped:
            reasons = [(t.get("stoppedReason"), [c.get("reason") for c in t["containers"]]) for t in stopped]
            raise RuntimeError(f"{len(stopped)} tasks stopped before running: {reasons}")
        return all(t["lastStatus"] == "RUNNING" for t in found.values())

    wait_for(all_running, f"{count} tasks RUNNING", deadline_s=1200, interval_s=0.5)
    running_s = time.perf_counter() - start
    with_tasks = settle_memory()
    for arn in arns:
        ecs.stop_task(cluster=cluster, task=arn)
    wait_for(
        lambda: all(s == "STOPPED" for s in statuses(ecs, cluster, arns).values()),
        "all stopped",
        deadline_s=600,
        interval_s=1.0,
    )
    return {
        "tasks": count,
        "launch_calls_s": launched_s,
        "all_running_s": running_s,
        "memory_before_mib": before,
        "memory_running_mib": with_tasks,
        "memory_per_task_mib": (with_tasks - before) / count,
    }


def bench_runtime(work: Path, runtime: str, args: argparse.Namespace, concurrent: int) -> dict[str, Any]:
    cpu_units = max(2048, (concurrent + 4) * int(TASK_CPU))
    memory_mib = max(4096, (concurrent + 4) * int(TASK_MEMORY))
    with dockyard(work, runtime, cpu_units, memory_mib) as endpoint:
        image = push_image(endpoint, work)
        ecs, ec2 = client("ecs", endpoint), client("ec2", endpoint)
        cluster = "bench"
        cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
        try:
            return _measure(ecs, ec2, cluster, image, runtime, args, concurrent)
        finally:  # the agent keeps stopped tasks' containers for an hour, as ECS's does: remove them
            label = f"label=com.amazonaws.ecs.cluster={cluster_arn}"
            leftovers = _lines(["docker", "ps", "-aq", "--filter", label])
            if leftovers:
                subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True, check=False)


def _measure(
    ecs: Any, ec2: Any, cluster: str, image: str, runtime: str, args: argparse.Namespace, concurrent: int
) -> dict[str, Any]:
    definition = register(ecs, image)
    network = network_configuration(ec2)
    poll_s = args.poll_ms / 1000
    # Warm-up: waits for the supervised pool host to join, pulls the image, creates the subnet networks.
    time_dockyard(ecs, cluster, definition, network, poll_s, deadline_s=180)
    time_docker(image, runtime)
    docker_runs, ours = [], []
    for _ in range(args.tasks):
        docker_runs.append(time_docker(image, runtime))
        ours.append(time_dockyard(ecs, cluster, definition, network, poll_s))
    result: dict[str, Any] = {"docker": quantiles(docker_runs), "dockyard": quantiles(ours)}
    result["ratio_p50"] = result["dockyard"]["p50_ms"] / result["docker"]["p50_ms"]
    result["ratio_p95"] = result["dockyard"]["p95_ms"] / result["docker"]["p95_ms"]
    if concurrent:
        result["concurrent"] = run_concurrent(ecs, cluster, definition, network, concurrent)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--runtimes", default="runc,runsc")
    parser.add_argument("--concurrent", type=int, default=200, help="0: skip the concurrent run")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="DescribeTasks interval while waiting")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]

    subprocess.run(
        ["docker", "network", "create", "--subnet", BASELINE_SUBNET, BASELINE_NETWORK],
        capture_output=True,
        check=False,
    )
    results: dict[str, Any] = {"tasks": args.tasks, "poll_ms": args.poll_ms, "git": git_state()}
    try:
        for index, runtime in enumerate(runtimes):
            with tempfile.TemporaryDirectory(prefix=f"dockyard-bench-fargate-{runtime}-") as tmp:
                concurrent = args.concurrent if index == len(runtimes) - 1 else 0
                results[runtime] = bench_runtime(Path(tmp), runtime, args, concurrent)
    finally:
        leftovers = _lines(["docker", "ps", "-aq", "--filter", f"label={BENCH_LABEL}=1"])
        if leftovers:
            subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", BASELINE_NETWORK], capture_output=True, check=False)

    print(
        f"{'RunTask FARGATE':16} {'docker p50':>11}"
        f" {'p95':>8} {'dockyard p50':>13} {'p95':>8} {'ratio p50':>10}"
    )
    for runtime in runtimes:
        r = results[runtime]
        print(
            f"{runtime:16} {r['docker']['p50_ms']:9.0f}ms {r['docker']['p95_ms']:6.0f}ms"
            f" {r['dockyard']['p50_ms']:11.0f}ms {r['dockyard']['p95_ms']:6.0f}ms {r['ratio_p50']:9.2f}x"
        )
        if "concurrent" in r:
            c = r["concurrent"]
            print(
                f"{c['tasks']} concurrent ({runtime}): all RUNNING in {c['all_running_s']:.1f}s"
                f" (RunTask calls {c['launch_calls_s']:.1f}s); host memory"
                f" {c['memory_before_mib']:.0f} → {c['memory_running_mib']:.0f} MiB,"
                f" {c['memory_per_task_mib']:.1f} MiB per task"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
