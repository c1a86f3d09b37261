"""A task writing 10,000 lines a second through the awslogs driver: does every line arrive, and how late?

One run starts a dockyard server and an agent on this machine's Docker Engine, pushes a busybox image,
and runs a task whose container prints ``--rate`` numbered lines each second (one ``seq`` burst, then a
sleep to the next second) for ``--seconds``, with ``logConfiguration`` awslogs. It then reads the stream
back with GetLogEvents until every line is there (or a deadline passes) and checks it is exactly
``1..N`` in order: no line lost, none twice. Prints the lines shipped per second over the run and the lag
of the last line (its Docker timestamp to its arrival in CloudWatch). Anchor in the same run: the same
container with Docker's json-file driver only, read back with ``docker logs`` (the floor for "no loss").

    .venv/bin/python bench/awslogs_rate.py --rate 10000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from task_latency import client, dockyard, push_image, wait_for  # noqa: E402


def command(rate: int, seconds: int) -> list[str]:
    script = (
        f"i=0; while [ $i -lt {seconds} ]; do seq $((i * {rate} + 1)) $(((i + 1) * {rate})); "
        "i=$((i + 1)); sleep 1; done; sleep 3600"
    )
    return ["sh", "-c", script]


def read_stream(logs: Any, group: str, stream: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        try:
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, **kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return []
        events += page["events"]
        if page["nextForwardToken"] == token:
            return events
        token = page["nextForwardToken"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    total = args.rate * args.seconds
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-awslogs-") as tmp:
        work = Path(tmp)
        with dockyard(work, "bench-logs") as endpoint:
            image = push_image(endpoint, work)
            ecs, logs = client("ecs", endpoint), client("logs", endpoint)
            group = f"/bench/{uuid.uuid4().hex[:6]}"
            definition = {
                "name": "writer",
                "image": image,
                "memory": 64,
                "command": command(args.rate, args.seconds),
                "stopTimeout": 1,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": group,
                        "awslogs-stream-prefix": "bench",
                        "awslogs-create-group": "true",
                        "mode": "blocking",
                    },
                },
            }
            ecs.register_task_definition(family="bench-awslogs", containerDefinitions=[definition])
            started = time.time()
            (task,) = ecs.run_task(cluster="bench-logs", taskDefinition="bench-awslogs")["tasks"]
            stream = f"bench/writer/{task['taskArn'].rsplit('/', 1)[-1]}"
            wait_for(
                lambda: len(read_stream(logs, group, stream)) >= total,
                f"{total} lines in CloudWatch Logs",
                deadline_s=args.seconds + 120,
                interval_s=1.0,
            )
            arrived = time.time()
            events = read_stream(logs, group, stream)
            messages = [e["message"] for e in events]
            exact = messages == [str(n) for n in range(1, total + 1)]
            last = events[-1]
            lag_s = (last["ingestionTime"] - last["timestamp"]) / 1000
            span_s = (events[-1]["timestamp"] - events[0]["timestamp"]) / 1000
            arn = ecs.describe_clusters(clusters=["bench-logs"])["clusters"][0]["clusterArn"]
            docker_ids = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.cluster={arn}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            docker_lines = 0
            if docker_ids:
                docker_lines = subprocess.run(
                    ["docker", "logs", docker_ids[0]], capture_output=True, text=True, check=False
                ).stdout.count("\n")
                subprocess.run(["docker", "rm", "-f", *docker_ids], capture_output=True, check=False)
    result = {
        "rate": args.rate,
        "seconds": args.seconds,
        "lines": total,
        "in_cloudwatch": len(messages),
        "exactly_once_in_order": exact,
        "docker_json_file_lines": docker_lines,
        "written_over_s": span_s,
        "all_arrived_after_s": arrived - started,
        "last_line_lag_s": lag_s,
    }
    print(
        f"{total:,} lines at {args.rate:,}/s: {len(messages):,} in CloudWatch Logs, exactly once in order:"
        f" {exact}; json-file has {docker_lines:,}; last line's lag {lag_s:.2f} s;"
        f" all there {arrived - started:.1f} s after RunTask (written over {span_s:.1f} s)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
