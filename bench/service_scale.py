"""Service scheduling at scale with simulated agents (no Docker): N services of M tasks over K instances.

One run starts a dockyard server and registers ``--instances`` container instances through the API.

1. Their agents are not connected yet, so creating ``--services`` services of ``--tasks`` tasks (4 client
   threads) places nothing: every task waits, as pods wait in Kubernetes' scheduler_perf.
2. The simulated agents connect (marked so in the store: they hold no push channel; nothing would run the
   payloads) and the service controller places the whole backlog on its next look at each service.
   Simulated agents report every PENDING task RUNNING through SubmitTaskStateChange (the call a real
   agent makes) while a sampler calls DescribeServices (10 services) every 20 ms.

With ``--connected`` the agents are connected throughout instead, and the stable time runs from the last
CreateService (the placement rate then also waits on the API's CreateService rate).

Prints: CreateService calls per second; placements per second (tasks recorded / the time from the agents
connecting to the last task recorded; with ``--connected``, from the first task recorded to the last);
the time from the agents connecting to every task placed and to every service stable (``services-stable``'s
condition: one deployment, runningCount == desiredCount); DescribeServices p50/p99 meanwhile; the ratios
to the goals (>= 1,000 placements/s; the Kubernetes scheduler_perf floor is 680-810 pods/s; DescribeServices
p99 <= 50 ms).

    .venv/bin/python bench/service_scale.py --services 1000 --tasks 5 --instances 500
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common import dockyard_server_command, free_port  # noqa: E402
from task_latency import server_healthy, wait_for  # noqa: E402

KEY_ID = "AKIABENCHSERVICES001"
SECRET = "bench-service-scale-secret-0000000000000"
REGION = "us-east-1"
CLUSTER = "scale"
PLACEMENT_GOAL = 1000.0
K8S_FLOOR = 810.0
DESCRIBE_P99_GOAL_MS = 50.0
SAMPLE_INTERVAL_S = 0.02  # DescribeServices about 40 times a second, as dashboards and waiters poll


def client(endpoint: str) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=16),
    )


@contextmanager
def server(workdir: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(DOCKYARD_ACCESS_KEY_ID=KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=SECRET)
    log = (workdir / "server.log").open("ab")
    process = subprocess.Popen(dockyard_server_command(workdir, port), env=env, stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server_healthy(endpoint), "the server", deadline_s=60)
        yield endpoint, workdir / "dockyard-data" / "dockyard.db"
    finally:
        process.terminate()
        process.wait(timeout=30)


def register_instances(ecs: Any, count: int) -> None:
    def register(n: int) -> None:
        ecs.register_container_instance(
            cluster=CLUSTER,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 16384},
            ],
            attributes=[{"name": "ecs.availability-zone", "value": f"us-east-1{'abc'[n % 3]}"}],
        )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(register, range(count)))


class SimulatedAgents:
    """Report every PENDING task RUNNING, as agents do once their containers start."""

    def __init__(self, endpoint: str, db_path: Path, threads: int = 4) -> None:
        self._db_path = db_path
        self._clients = [client(endpoint) for _ in range(threads)]
        self._stop = threading.Event()
        self._reported: set[str] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SimulatedAgents:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        db = sqlite3.connect(self._db_path, timeout=30)
        with ThreadPoolExecutor(len(self._clients)) as pool:
            while not self._stop.is_set():
                rows = db.execute(
                    "SELECT arn, containers FROM ecs_tasks"
                    " WHERE last_status = 'PENDING' AND desired_status = 'RUNNING'"
                ).fetchall()
                fresh = [(arn, json.loads(c)) for arn, c in rows if arn not in self._reported]
                self._reported.update(arn for arn, _ in fresh)
                list(pool.map(self._report, range(len(fresh)), fresh))
                self._stop.wait(0.05)

    def _report(self, n: int, task: tuple[str, list[dict[str, Any]]]) -> None:
        arn, containers = task
        self._clients[n % len(self._clients)].submit_task_state_change(
            cluster=CLUSTER,
            task=arn,
            status="RUNNING",
            containers=[{"containerName": c["name"], "status": "RUNNING"} for c in containers],
        )


class Sampler:
    def __init__(self, endpoint: str, names: list[str]) -> None:
        self._ecs = client(endpoint)
        self._names = names
        self.latencies_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        rng = random.Random(7)
        while not self._stop.is_set():
            batch = rng.sample(self._names, 10)
            started = time.perf_counter()
            self._ecs.describe_services(cluster=CLUSTER, services=batch)
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self._stop.wait(SAMPLE_INTERVAL_S)  # an observer, not a second load generator


def counts(db_path: Path) -> tuple[int, int]:
    """(tasks recorded, services stable)."""
    with sqlite3.connect(db_path, timeout=30) as db:
        (placed,) = db.execute("SELECT count(*) FROM ecs_tasks").fetchone()
        rows = db.execute(
            "SELECT desired_count, deployments FROM ecs_services WHERE status = 'ACTIVE'"
        ).fetchall()
    stable = 0
    for desired, deployments in rows:
        parsed = json.loads(deployments)
        if len(parsed) == 1 and parsed[0]["runningCount"] == desired:
            stable += 1
    return int(placed), stable


def connect_all(db_path: Path) -> None:
    with sqlite3.connect(db_path, timeout=30) as db:  # the simulated agents' "push channel"
        db.execute("UPDATE ecs_container_instances SET agent_connected = 1")


def placement_window(db_path: Path) -> tuple[int, float]:
    """(tasks recorded, seconds from the first task recorded to the last)."""
    with sqlite3.connect(db_path, timeout=30) as db:
        placed, first, last = db.execute(
            "SELECT count(*), min(created_at), max(created_at) FROM ecs_tasks"
        ).fetchone()
    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() if placed else 0.0
    return int(placed), span


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument(
        "--connected",
        action="store_true",
        help="agents connected from the start: time from the last CreateService to every service stable",
    )
    args = parser.parse_args()
    total = args.services * args.tasks
    with (
        tempfile.TemporaryDirectory(prefix="bench-services-") as tmp,
        server(Path(tmp)) as (endpoint, db_path),
    ):
        ecs = client(endpoint)
        ecs.create_cluster(clusterName=CLUSTER)
        register_instances(ecs, args.instances)
        ecs.register_task_definition(
            family="scale",
            containerDefinitions=[{"name": "app", "image": "busybox", "cpu": 10, "memory": 16}],
        )
        names = [f"svc-{n:04d}" for n in range(args.services)]

        def create(name: str) -> None:
            ecs.create_service(
                cluster=CLUSTER, serviceName=name, taskDefinition="scale", desiredCount=args.tasks
            )

        if args.connected:
            # Agents connected throughout: tasks are placed as their services are created.
            connect_all(db_path)
            with SimulatedAgents(endpoint, db_path), Sampler(endpoint, names) as sampler:
                started = time.monotonic()
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(create, names))
                create_s = time.monotonic() - started
                last_create = time.monotonic()
                wait_for(lambda: counts(db_path)[1] == args.services, "every service stable", 1800, 0.5)
                stable_s = time.monotonic() - last_create
                placed_s = float("nan")
        else:
            # Phase 1: every service created while no agent is connected, so all their tasks wait: the
            # scheduler then meets the whole backlog at once, as scheduler_perf measures it.
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(create, names))
            create_s = time.monotonic() - started
            with SimulatedAgents(endpoint, db_path), Sampler(endpoint, names) as sampler:
                # Phase 2: the agents connect; the controller places every service's tasks.
                connect_all(db_path)
                connected = time.monotonic()
                # A real agent's connection publishes "instances changed" for its cluster; the store
                # update above does not, so an attribute change on one instance stands in for it.
                arns = ecs.list_container_instances(cluster=CLUSTER, maxResults=1)["containerInstanceArns"]
                ecs.put_attributes(
                    cluster=CLUSTER, attributes=[{"name": "bench", "value": "on", "targetId": arns[0]}]
                )
                wait_for(lambda: placement_window(db_path)[0] == total, "every task placed", 1800, 0.2)
                placed_s = time.monotonic() - connected
                wait_for(lambda: counts(db_path)[1] == args.services, "every service stable", 1800, 0.5)
                stable_s = time.monotonic() - connected
        placed, span = placement_window(db_path)
        # Backlog: wall time from the connection to the last task recorded (noticing included). Connected:
        # the span of the tasks' creation times; a batch's tasks share one timestamp, so this leaves out
        # the last batch's own duration.
        elapsed = span if args.connected else placed_s
        rate = placed / elapsed if elapsed > 0 else float("nan")
        p50 = statistics.median(sampler.latencies_ms)
        p99 = statistics.quantiles(sampler.latencies_ms, n=100)[98]
        result = {
            "services": args.services,
            "tasks_per_service": args.tasks,
            "instances": args.instances,
            "tasks_placed": placed,
            "create_services_per_s": round(args.services / create_s, 1),
            "placement_span_s": round(span, 2),
            "placements_per_s": round(rate, 1),
            "mode": "connected throughout" if args.connected else "backlog, then agents connect",
            "all_placed_after_connect_s": round(placed_s, 2),
            "all_stable_s": round(stable_s, 2),  # after the connection, or after the last CreateService
            "describe_services_samples": len(sampler.latencies_ms),
            "describe_services_p50_ms": round(p50, 2),
            "describe_services_p99_ms": round(p99, 2),
            "ratio_to_goal_1000_per_s": round(rate / PLACEMENT_GOAL, 2),
            "ratio_to_k8s_floor_810_per_s": round(rate / K8S_FLOOR, 2),
            "describe_p99_vs_50ms_goal": round(p99 / DESCRIBE_P99_GOAL_MS, 2),
        }
        print(json.dumps(result, indent=2))
        out = ROOT / "bench" / "out"
        out.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (out / f"service_scale-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
