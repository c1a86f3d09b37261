"""The pure Kubernetes pod scheduler (control/kube/scheduling) in one process: pods/s and per-pod latency.

Builds ``--nodes`` simulated Node objects (allocatable 2-16 cpu and 4-64 GiB, 110 pods, three zones,
one node in ten tainted ``dedicated=infra:NoSchedule``, one in twenty with a PreferNoSchedule taint,
one in fifty not Ready) and schedules ``--pods`` pending pods one after another, each bound into the
snapshot incrementally (``snapshot.add_pod``) as a real scheduler does after its Binding: 60% plain
(100-500m, 128-512Mi), 25% with a ``nodeSelector`` on a zone, 15% in groups of 10 replicas with a
required hostname anti-affinity on their app label. No I/O: this is the scheduling algorithm's cost.

Prints pods/s, p50/p99/max per-pod latency, how many were unschedulable, and the ratios to the
SIG-scalability goal of 100 pods/s and to the 90 pods/s seen on real clusters. There is no real
kube-scheduler on this machine to run side by side.

    .venv/bin/python bench/kube_scheduler.py [--nodes 500] [--pods 5000] [--seed 1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from dockyard.control.kube.scheduling import ClusterSnapshot, parse_pod, schedule  # noqa: E402

GOAL_PODS_PER_S = 100.0
REAL_CLUSTER_FLOOR = 90.0
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def make_node(index: int, rng: random.Random) -> dict[str, Any]:
    cpu = rng.choice((2, 4, 8, 16))
    memory = rng.choice((4, 8, 16, 32, 64))
    taints: list[dict[str, str]] = []
    if index % 10 == 3:
        taints.append({"key": "dedicated", "value": "infra", "effect": "NoSchedule"})
    if index % 20 == 7:
        taints.append({"key": "spot", "value": "true", "effect": "PreferNoSchedule"})
    ready = "False" if index % 50 == 11 else "True"
    name = f"node-{index:04d}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/region": "us-east-1",
                "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
                "node.kubernetes.io/instance-type": f"m5.{cpu}x",
            },
        },
        "spec": {"taints": taints} if taints else {},
        "status": {
            "allocatable": {"cpu": f"{cpu * 1000 - 100}m", "memory": f"{memory}Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def make_pod(index: int, rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    cpu, memory = rng.choice((100, 200, 250, 500)), rng.choice((128, 256, 512))
    container = {
        "name": "app",
        "image": "registry.example/app:1",
        "resources": {"requests": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}},
    }
    spec: dict[str, Any] = {"containers": [container]}
    labels = {"app": f"plain-{index % 40}"}
    if 0.60 <= kind < 0.85:
        spec["nodeSelector"] = {"topology.kubernetes.io/zone": rng.choice(ZONES)}
    elif kind >= 0.85:
        labels = {"app": f"spread-{index // 10}"}
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{index:05d}", "namespace": "bench", "labels": labels},
        "spec": spec,
    }


def run(nodes: int, pods: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    node_objects = [make_node(i, rng) for i in range(nodes)]
    pod_objects = [make_pod(i, rng) for i in range(pods)]
    build_started = time.perf_counter()
    snapshot = ClusterSnapshot.build(node_objects)
    build_s = time.perf_counter() - build_started
    choice_rng = random.Random(seed)
    latencies: list[float] = []
    unschedulable = 0
    start = 0
    started = time.perf_counter()
    for pod in pod_objects:
        begin = time.perf_counter()
        info = parse_pod(pod)  # once: the same PodInfo is scheduled and then accounted
        result = schedule(info, snapshot, rng=choice_rng, start=start)
        start = result.next_start
        if result.node_name is not None:
            snapshot.add_pod(info, result.node_name)
        else:
            unschedulable += 1
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    latencies.sort()
    rate = pods / elapsed
    return {
        "nodes": nodes,
        "pods": pods,
        "seed": seed,
        "snapshot_build_ms": round(build_s * 1000, 1),
        "elapsed_s": round(elapsed, 3),
        "pods_per_s": round(rate, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3),
        "unschedulable": unschedulable,
        "goal_ratio": round(rate / GOAL_PODS_PER_S, 2),
        "real_cluster_ratio": round(rate / REAL_CLUSTER_FLOOR, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the run; print the top 25")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        figures = profiler.runcall(run, args.nodes, args.pods, args.seed)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    else:
        figures = run(args.nodes, args.pods, args.seed)
    print(json.dumps(figures, indent=2))
    print(
        f"{figures['pods_per_s']} pods/s, p99 {figures['p99_ms']} ms: "
        f"{figures['goal_ratio']}x the SIG-scalability goal of {GOAL_PODS_PER_S:.0f} pods/s "
        f"({'met' if figures['goal_ratio'] >= 1 else 'missed'}), "
        f"{figures['real_cluster_ratio']}x the {REAL_CLUSTER_FLOOR:.0f} pods/s of real clusters"
    )


if __name__ == "__main__":
    main()
