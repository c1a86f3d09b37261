"""A rolling update of 5 tasks on a real agent, against the same replacement done by hand with docker.

One run starts a dockyard server and one agent on this machine's Docker Engine, pushes a busybox image
into dockyard's registry, creates a service of 5 tasks (minimumHealthyPercent 100, maximumPercent 200)
and waits for it to be steady. Then, ``--rounds`` times, alternating:

- docker:   5 ``docker run -d`` of the new containers, then 5 ``docker stop`` of the old ones — what
            an operator replacing 5 containers without downtime does;
- dockyard: UpdateService with a new revision, then DescribeServices every ``--poll-ms`` until the new
            deployment is COMPLETED (every old task STOPPED, 5 new ones RUNNING).

The server's ``service_healthy_after_s`` is 0 here: ECS's 40 s wait for a task without a health check
would otherwise be most of the figure, and it is a fixed wait, not work. Prints the median of each and
the ratio.

    .venv/bin/python bench/service_rollout.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from task_latency import BENCH_LABEL, COMMAND, client, dockyard, push_image, wait_for  # noqa: E402

TASKS = 5


def docker_round(image: str, old: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    new = [
        subprocess.run(
            ["docker", "run", "-d", "--label", f"{BENCH_LABEL}=1", image, *COMMAND],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for _ in range(TASKS)
    ]
    for container in old:
        subprocess.run(["docker", "stop", "-t", "5", container], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    if old:
        subprocess.run(["docker", "rm", *old], check=True, capture_output=True)
    return elapsed, new


def dockyard_round(ecs: Any, cluster: str, family: str, image: str, poll_s: float) -> float:
    revision = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": "main", "image": image, "memory": 16, "command": COMMAND, "stopTimeout": 5}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    start = time.perf_counter()
    ecs.update_service(cluster=cluster, service="web", taskDefinition=revision)
    wait_for(
        lambda: _completed(ecs, cluster, revision),
        "the deployment to complete",
        deadline_s=120,
        interval_s=poll_s,
    )
    return time.perf_counter() - start


def _completed(ecs: Any, cluster: str, revision: str) -> bool:
    service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    deployments = service["deployments"]
    return (
        len(deployments) == 1
        and deployments[0]["taskDefinition"] == revision
        and deployments[0]["rolloutState"] == "COMPLETED"
        and service["runningCount"] == TASKS
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-rollout-") as tmp:
        work = Path(tmp)
        cluster = "bench"
        with dockyard(work, cluster, {"DOCKYARD_SERVICE_HEALTHY_AFTER_S": "0"}) as endpoint:
            image = push_image(endpoint, work)
            ecs = client("ecs", endpoint)
            family = "bench-rollout"
            first = ecs.register_task_definition(
                family=family,
                containerDefinitions=[
                    {"name": "main", "image": image, "memory": 16, "command": COMMAND, "stopTimeout": 5}
                ],
            )["taskDefinition"]["taskDefinitionArn"]
            ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=first, desiredCount=TASKS)
            wait_for(lambda: _completed(ecs, cluster, first), "the service to be steady", deadline_s=120)
            _, old = docker_round(image, [])  # warm-up, and the "old" containers of the first docker round
            docker_s, ours_s = [], []
            for _ in range(args.rounds):
                elapsed, old = docker_round(image, old)
                docker_s.append(elapsed)
                ours_s.append(dockyard_round(ecs, cluster, family, image, args.poll_ms / 1000))
            subprocess.run(["docker", "rm", "-f", *old], check=False, capture_output=True)
            ecs.delete_service(cluster=cluster, service="web", force=True)
            arn = ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"]
            wait_for(
                lambda: not _leftovers(arn), "the service's containers to stop", deadline_s=60, interval_s=0.2
            )
    result = {
        "tasks": TASKS,
        "rounds": args.rounds,
        "docker_s": docker_s,
        "dockyard_s": ours_s,
        "docker_median_s": statistics.median(docker_s),
        "dockyard_median_s": statistics.median(ours_s),
    }
    result["ratio"] = result["dockyard_median_s"] / result["docker_median_s"]
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _leftovers(cluster_arn: str) -> list[str]:
    found = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.cluster={cluster_arn}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return found


if __name__ == "__main__":
    raise SystemExit(main())
