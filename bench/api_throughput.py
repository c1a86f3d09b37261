"""ECS read-path throughput: dockyard against moto, in one run, on this machine.

    .venv/bin/python bench/api_throughput.py [--duration S] [--concurrency N] [--clusters 100]

What it does, bounded in time and talking only to 127.0.0.1:

1. starts a ``dockyard server`` (fresh data dir, fixed root key, ``--log-level warning``) and a moto server
   (``moto.server``, its per-request access log silenced like dockyard's) on free loopback ports, and polls
   each until it answers a signed ListClusters (dockyard: ``GET /health`` first), with a deadline;
2. seeds ``--clusters`` clusters in each with boto3 (CreateCluster);
3. signs a pool of raw HTTP requests per operation with botocore's ``SigV4Auth`` (a signature stays valid
   for 15 minutes; the pool is re-signed before every phase) and replays every one of them once, checking
   the full answer: status 200 and exactly the expected clusters;
4. for each operation (DescribeClusters with ``--describe-batch`` names per call, ListClusters with
   ``maxResults``), and for each round, drives moto and dockyard in alternation (ABBA order over rounds):
   after waiting (at most ``--quiet-wait`` s) for other programs on the machine to go quiet, a warm-up of
   ``--warmup`` seconds, then ``--duration`` seconds measured, with ``--concurrency`` keep-alive
   connections replaying the pre-signed requests;
5. prints a table (requests/s, p50/p99 latency, errors, CPU of server, load generator and other programs),
   the dockyard/moto throughput ratios and whether the goals hold, and writes everything as JSON to
   ``bench/out/``.

The load generator is ``wrk`` (C, epoll, one thread; Debian package ``wrk``) with a generated Lua script
that replays the pre-signed requests and checks every response: status 200 and the expected number of
cluster ARNs of the seeded set (plus an empty ``failures`` list for DescribeClusters). Without ``wrk`` on
PATH it falls back to ``loadgen.py`` (asyncio, raw HTTP/1.1 over keep-alive sockets, in its own process)
doing the same checks; it costs more CPU, which the client CPU column makes visible. Any non-200 answer,
malformed answer, connection error or timeout counts as an error.

Diagnostics: ``--pin`` runs each server on one CPU and the load generator on the other; ``--profile``
samples the dockyard server with py-spy during its measured phases.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from common import (
    BENCH_DIR,
    HOST,
    ServerProcess,
    cpu_model,
    cpu_seconds,
    dockyard_server_command,
    git_state,
    machine_busy_seconds,
    package_versions,
    running,
)
from loadgen import answer_ok, parse_head

OUT_DIR = BENCH_DIR / "out"

REGION = "us-east-1"
KEY_ID = "AKIABENCHROOT0000001"
SECRET = "bench-root-secret-key-00000000000000000"
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
CLUSTER_PREFIX = "bench-"
LIST_PAGE_MAX = 100  # ECS ListClusters maxResults upper bound

STARTUP_DEADLINE_S = 60.0
POOL_SIZE = 100  # distinct pre-signed requests per operation
GOAL_THROUGHPUT_RATIO = 3.0
GOAL_P99_MS = 20.0
QUIET_CPU_PCT = 10.0  # before a phase, wait until other programs use less than this (% of one core)
NOISY_FOREIGN_CPU_PCT = 10.0  # CPU (% of one core) used by other programs during a phase before we warn
SERVER_CPU, CLIENT_CPU = 1, 0  # --pin: where the servers and the load generator run

# A cluster ARN of the seeded set in a JSON answer: "arn:aws:ecs:<region>:<acct>:cluster/bench-NNN".
# The Lua patterns (for wrk) match the same strings as loadgen.py's regexes (Python client, pre-flight).
ARN_LUA_PATTERN = ':cluster/bench%-%d+"'
EMPTY_FAILURES_LUA_PATTERN = '"failures"%s*:%s*%[%s*%]'


# --------------------------------------------------------------------------------------------- helpers


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run on one CPU (``taskset`` execs it, so the pid stays the same), or as is."""
    return command if cpu is None else ["taskset", "--cpu-list", str(cpu), *command]


def cluster_names(count: int) -> list[str]:
    width = max(3, len(str(count - 1)))
    return [f"{CLUSTER_PREFIX}{i:0{width}d}" for i in range(count)]


def percentile(hist: dict[int, float], fraction: float) -> float:
    """The smallest value (µs) with at least ``fraction`` of the weight at or below it.

    ``hist`` maps a latency in µs to a number of requests: exact counts from the Python client, or from
    wrk a quantile grid turned into weights (each grid point stands for the requests between it and the
    previous point), so that rounds merge.
    """
    total = sum(hist.values())
    if total == 0:
        return float("nan")
    rank = fraction * total * (1 - 1e-9)
    seen = 0.0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return float(value)
    return float(max(hist))


def merge_hists(hists: Iterable[dict[int, float]]) -> dict[int, float]:
    merged: dict[int, float] = {}
    for hist in hists:
        for value, count in hist.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------- servers


@dataclass
class Server(ServerProcess):
    """One server under test; ``cpu`` (--pin) runs it on that CPU only (all threads)."""

    cpu: int | None = None

    cleared_env = ("AWS_", "DOCKYARD_", "MOTO_")

    def launch_command(self) -> list[str]:
        return pinned(self.command(), self.cpu)

    def env(self) -> dict[str, str]:
        return {**super().env(), "PYTHONUNBUFFERED": "1"}

    def ecs(self) -> Any:
        return boto3.client(
            "ecs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30),
        )

    def probe(self) -> bool:
        """One readiness check: a signed ListClusters answered."""
        try:
            self.ecs().list_clusters(maxResults=1)
        except Exception:
            return False
        return True


class DockyardServer(Server):
    def command(self) -> list[str]:
        return dockyard_server_command(self.workdir, self.port)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(DOCKYARD_ACCESS_KEY_ID=KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=SECRET)
        return env

    def probe(self) -> bool:
        try:
            if httpx.get(f"{self.endpoint}/health", timeout=2).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
        return super().probe()


# moto's server is werkzeug's threaded dev server, which logs one INFO line per request to stderr. dockyard
# runs with its access log off (--log-level warning); silence werkzeug's the same way so that neither pays
# for logging. Otherwise this is exactly `python -m moto.server -H 127.0.0.1 -p PORT`.
_MOTO_LAUNCHER = (
    "import logging, sys\n"
    "logging.getLogger('werkzeug').setLevel(logging.WARNING)\n"
    "from moto.server import main\n"
    "main(sys.argv[1:])\n"
)


class MotoServer(Server):
    def command(self) -> list[str]:
        return [sys.executable, "-c", _MOTO_LAUNCHER, "-H", HOST, "-p", str(self.port)]


def seed(server: Server, names: list[str]) -> float:
    client = server.ecs()
    started = time.perf_counter()
    for name in names:
        client.create_cluster(clusterName=name)
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Operation:
    """One ECS read operation under load, with what every answer must contain."""

    name: str
    bodies: list[dict[str, Any]]  # one per pooled request
    expected: list[set[str] | None]  # exact cluster names per pooled request (None: any of the seeded set)
    arn_count: int  # cluster ARNs of the seeded set in every answer
    empty_failures: bool  # DescribeClusters: "failures": [] required


def describe_operation(names: list[str], batch: int) -> Operation:
    batch = min(batch, len(names))
    bodies: list[dict[str, Any]] = []
    expected: list[set[str] | None] = []
    for i in range(POOL_SIZE):
        start = (i * batch) % len(names)
        chosen = [names[(start + j) % len(names)] for j in range(batch)]
        bodies.append({"clusters": chosen})
        expected.append(set(chosen))
    return Operation("DescribeClusters", bodies, expected, batch, True)


def list_operation(names: list[str]) -> Operation:
    page = min(len(names), LIST_PAGE_MAX)
    exact: set[str] | None = set(names) if len(names) <= LIST_PAGE_MAX else None
    return Operation("ListClusters", [{"maxResults": page}], [exact], page, False)


def signed_request(endpoint_host: str, operation: str, body: dict[str, Any]) -> bytes:
    """A complete HTTP/1.1 request, SigV4-signed with botocore exactly as an SDK would sign it."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Host": endpoint_host,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{ECS_TARGET_PREFIX}.{operation}",
    }
    request = AWSRequest(method="POST", url=f"http://{endpoint_host}/", data=payload, headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), "ecs", REGION).add_auth(request)
    lines = [
        "POST / HTTP/1.1",
        f"Host: {endpoint_host}",
        f"Content-Type: {request.headers['Content-Type']}",
        f"X-Amz-Target: {request.headers['X-Amz-Target']}",
        f"X-Amz-Date: {request.headers['X-Amz-Date']}",
        f"Authorization: {request.headers['Authorization']}",
        "User-Agent: dockyard-bench",
        f"Content-Length: {len(payload)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def sign_pool(server: Server, op: Operation) -> list[bytes]:
    host = f"{HOST}:{server.port}"
    return [signed_request(host, op.name, body) for body in op.bodies]


def raw_roundtrip(port: int, raw: bytes, timeout_s: float = 10.0) -> tuple[int, bytes]:
    """Send one pre-built request on a fresh connection; return (status, body). Content-Length bodies only."""
    with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
        sock.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed before the response head")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status, length, _close = parse_head(head)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed mid-body")
            rest += chunk
        return status, rest[:length]


def preflight(server: Server, op: Operation, pool: list[bytes], names: list[str]) -> None:
    """Replay every pooled request once and check the whole answer, not just the status."""
    seeded = set(names)
    for raw, exact in zip(pool, op.expected, strict=True):
        status, body = raw_roundtrip(server.port, raw)
        if status != 200:
            raise RuntimeError(f"{server.name} {op.name}: HTTP {status}: {body[:300]!r}")
        doc = json.loads(body)
        if op.name == "DescribeClusters":
            got = {c["clusterName"] for c in doc.get("clusters", [])}
            if doc.get("failures") or not all(c.get("status") == "ACTIVE" for c in doc["clusters"]):
                raise RuntimeError(f"{server.name} DescribeClusters: failures or inactive: {body[:300]!r}")
        else:
            got = {arn.rsplit("/", 1)[1] for arn in doc.get("clusterArns", [])}
            if len(doc.get("clusterArns", [])) != op.arn_count:
                raise RuntimeError(f"{server.name} ListClusters: {len(doc.get('clusterArns', []))} ARNs")
        if (exact is not None and got != exact) or not got <= seeded:
            raise RuntimeError(f"{server.name} {op.name}: unexpected clusters {sorted(got)[:5]}...")
        if not answer_ok(body, op.arn_count, op.empty_failures):
            raise RuntimeError(f"{server.name} {op.name}: the under-load check rejects a good answer")


# --------------------------------------------------------------------------------------------- load: wrk


def lua_string(data: bytes) -> str:
    out = ['"']
    for byte in data:
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


_WRK_SCRIPT = r"""-- generated by bench/api_throughput.py: replay pre-signed requests, check every answer
local reqs = { @REQS@ }
local arn_pattern = @ARN_PATTERN@
local arn_count = @ARN_COUNT@
local empty_failures = @EMPTY_FAILURES@
local failures_pattern = @FAILURES_PATTERN@
local out_path = @OUT_PATH@

local threads = {}
idx = 0
bad_status = 0
bad_body = 0

function setup(thread)
  thread:set("idx", #threads * 13)
  table.insert(threads, thread)
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

local function count(body)
  local n, pos = 0, 1
  while true do
    local s, e = string.find(body, arn_pattern, pos)
    if not s then return n end
    n = n + 1
    pos = e + 1
  end
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif count(body) ~= arn_count then
    bad_body = bad_body + 1
  elseif empty_failures and not string.find(body, failures_pattern) then
    bad_body = bad_body + 1
  end
end

local function quantiles()
  local qs = {}
  for i = 1, 98 do qs[#qs + 1] = i end
  for i = 981, 999 do qs[#qs + 1] = i / 10 end
  for i = 9991, 10000 do qs[#qs + 1] = i / 100 end
  return qs
end

function done(summary, latency, requests)
  local nstatus, nbody = 0, 0
  for _, t in ipairs(threads) do
    nstatus = nstatus + t:get("bad_status")
    nbody = nbody + t:get("bad_body")
  end
  local e = summary.errors
  local f = assert(io.open(out_path, "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d},"bad_status":%d,"bad_body":%d,"quantiles":[',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    nstatus, nbody))
  -- The latency histogram itself is not reachable from Lua in wrk 4.1: export a quantile grid instead
  -- (1 % steps, then 0.1 % from 98 %, 0.01 % from 99.9 %), enough to merge rounds and read p50/p99.
  if summary.requests > 0 then
    local first = true
    for _, q in ipairs(quantiles()) do
      f:write(string.format(first and "[%.3f,%d]" or ",[%.3f,%d]", q, latency:percentile(q)))
      first = false
    end
  end
  f:write("]}\n")
  f:close()
end
"""


def wrk_script(pool: list[bytes], op: Operation, out_path: Path) -> str:
    replacements = {
        "@REQS@": ",\n  ".join(lua_string(raw) for raw in pool),
        "@ARN_PATTERN@": lua_string(ARN_LUA_PATTERN.encode()),
        "@ARN_COUNT@": str(op.arn_count),
        "@EMPTY_FAILURES@": "true" if op.empty_failures else "false",
        "@FAILURES_PATTERN@": lua_string(EMPTY_FAILURES_LUA_PATTERN.encode()),
        "@OUT_PATH@": lua_string(str(out_path).encode()),
    }
    script = _WRK_SCRIPT
    for key, value in replacements.items():
        script = script.replace(key, value)
    return script


def run_wrk(
    wrk: str,
    server: Server,
    op: Operation,
    pool: list[bytes],
    seconds: float,
    concurrency: int,
    workdir: Path,
    cpu: int | None = None,
) -> dict[str, Any]:
    out_path = workdir / "wrk-result.json"
    out_path.unlink(missing_ok=True)
    script_path = workdir / "wrk-script.lua"
    script_path.write_text(wrk_script(pool, op, out_path))
    command = [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(concurrency),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "2s",
        "--script",
        str(script_path),
        server.endpoint + "/",
    ]
    proc = subprocess.run(
        pinned(command, cpu), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    raw = json.loads(out_path.read_text())
    errors = dict(raw["errors"])
    errors["bad_status"] = raw["bad_status"]
    errors["bad_body"] = raw["bad_body"]
    # errors.status (HTTP >= 400) is already inside bad_status (!= 200): don't count it twice.
    total_errors = sum(v for k, v in errors.items() if k != "status")
    return {
        "requests": raw["requests"],
        "duration_s": raw["duration_us"] / 1e6,
        "errors": total_errors,
        "error_detail": errors,
        "hist": quantiles_to_weights(raw["quantiles"], raw["requests"]),
    }


def quantiles_to_weights(grid: list[list[float]], requests: int) -> dict[int, float]:
    """wrk's [(percent, µs)] grid as a histogram: each point weighs the requests since the previous one."""
    hist: dict[int, float] = {}
    previous = 0.0
    for percent, micros in grid:
        weight = requests * (percent - previous) / 100
        previous = percent
        hist[int(micros)] = hist.get(int(micros), 0.0) + weight
    return hist


# --------------------------------------------------------------------------------------------- load: Python


def run_python_client(
    server: Server,
    op: Operation,
    pool: list[bytes],
    warmup_s: float,
    seconds: float,
    concurrency: int,
    workdir: Path,
    cpu: int | None = None,
) -> dict[str, Any]:
    spec_path = workdir / "py-spec.json"
    out_path = workdir / "py-result.json"
    out_path.unlink(missing_ok=True)
    spec = {
        "port": server.port,
        "pool": [raw.decode("latin-1") for raw in pool],
        "arn_count": op.arn_count,
        "empty_failures": op.empty_failures,
        "concurrency": concurrency,
        "warmup_s": warmup_s,
        "duration_s": seconds,
    }
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, str(BENCH_DIR / "loadgen.py"), str(spec_path), str(out_path)]
    proc = subprocess.run(
        pinned(command, cpu), capture_output=True, text=True, timeout=warmup_s + seconds + 60, check=False
    )
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    raw = json.loads(out_path.read_text())
    raw["hist"] = {int(v): float(c) for v, c in raw["hist"]}
    return raw


# --------------------------------------------------------------------------------------------- phases


@dataclass
class Bench:
    args: argparse.Namespace
    servers: dict[str, Server]
    names: list[str]
    workdir: Path
    wrk: str | None
    out_stem: Path
    phases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def load_args(self) -> tuple[int, Path, int | None]:
        """concurrency, work dir and CPU (with --pin) of the load generator."""
        return self.args.concurrency, self.workdir, CLIENT_CPU if self.args.pin else None

    def wait_quiet(self) -> float:
        """Wait (at most --quiet-wait s) until other programs use < QUIET_CPU_PCT over two 1 s windows."""
        started = time.monotonic()
        deadline = started + self.args.quiet_wait
        calm = 0
        while time.monotonic() < deadline:
            ours0 = sum(cpu_seconds(s.pids()) for s in self.servers.values())
            machine0 = machine_busy_seconds()
            time.sleep(1.0)
            ours = sum(cpu_seconds(s.pids()) for s in self.servers.values()) - ours0
            foreign_pct = 100 * (machine_busy_seconds() - machine0 - ours)
            calm = calm + 1 if foreign_pct < QUIET_CPU_PCT else 0
            if calm >= 2:
                break
        waited = time.monotonic() - started
        if waited > 3:
            outcome = "" if calm >= 2 else ": gave up"
            print(f"  (waited {waited:.0f} s for other programs to quiet down{outcome})")
        return waited

    def run_phase(self, server: Server, op: Operation, round_no: int) -> dict[str, Any]:
        waited = self.wait_quiet() if self.args.quiet_wait > 0 else 0.0
        pool = sign_pool(server, op)
        others = [s for s in self.servers.values() if s is not server]
        if self.wrk and self.args.warmup > 0:
            run_wrk(self.wrk, server, op, pool, self.args.warmup, *self.load_args)
        profiler = self.start_profiler(server, op, round_no)
        cpu0 = cpu_seconds(server.pids())
        others0 = sum(cpu_seconds(s.pids()) for s in others)
        client0 = children_cpu_seconds()
        machine0 = machine_busy_seconds()
        wall0 = time.monotonic()
        if self.wrk:
            result = run_wrk(self.wrk, server, op, pool, self.args.duration, *self.load_args)
            measured_wall = time.monotonic() - wall0
        else:
            # One process does warm-up then measurement on the same connections; CPU covers both.
            result = run_python_client(
                server, op, pool, self.args.warmup, self.args.duration, *self.load_args
            )
            measured_wall = time.monotonic() - wall0
        cpu = cpu_seconds(server.pids()) - cpu0
        other_cpu = sum(cpu_seconds(s.pids()) for s in others) - others0
        client_cpu = children_cpu_seconds() - client0
        # Whatever else kept the cores busy meanwhile (other programs on a shared machine): a noisy phase.
        foreign_cpu = max(0.0, machine_busy_seconds() - machine0 - cpu - other_cpu - client_cpu)
        if profiler is not None:
            self.finish_profiler(*profiler)
        hist = result["hist"]
        phase = {
            "round": round_no,
            "target": server.name,
            "operation": op.name,
            "requests": result["requests"],
            "duration_s": result["duration_s"],
            "rps": result["requests"] / result["duration_s"] if result["duration_s"] else 0.0,
            "p50_ms": percentile(hist, 0.50) / 1000,
            "p99_ms": percentile(hist, 0.99) / 1000,
            "max_ms": (max(hist) / 1000) if hist else float("nan"),
            "errors": result["errors"],
            "error_detail": result["error_detail"],
            "server_cpu_pct": 100 * cpu / measured_wall,
            "client_cpu_pct": 100 * client_cpu / measured_wall,
            "idle_server_cpu_pct": 100 * other_cpu / measured_wall,
            "foreign_cpu_pct": 100 * foreign_cpu / measured_wall,
            "profiled": profiler is not None,
            "quiet_wait_s": waited,
            "hist": hist,
        }
        self.phases.append(phase)
        print(
            f"  round {round_no} {server.name:<8} {op.name:<16} {phase['rps']:>8.0f} req/s  "
            f"p50 {phase['p50_ms']:6.2f} ms  p99 {phase['p99_ms']:6.2f} ms  errors {phase['errors']}  "
            f"cpu server {phase['server_cpu_pct']:.0f}% client {phase['client_cpu_pct']:.0f}% "
            f"other {phase['foreign_cpu_pct']:.0f}%",
            flush=True,
        )
        return phase

    def start_profiler(
        self, server: Server, op: Operation, round_no: int
    ) -> tuple[subprocess.Popen[bytes], Path] | None:
        """With --profile: py-spy samples the dockyard server (GIL holders only) for the measured phase."""
        if not self.args.profile or server.name != "dockyard":
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        seconds = self.args.duration + (0 if self.wrk else self.args.warmup)
        out = self.out_stem.with_name(f"{self.out_stem.name}-profile-{op.name}-r{round_no}.txt")
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [spy, "record", "--gil", "--format", "raw", "--rate", "250", "--duration"]
        command += [str(max(1, round(seconds))), "--output", str(out), "--pid", str(server.pid)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return process, out

    def finish_profiler(self, process: subprocess.Popen[bytes], out: Path) -> None:
        try:
            process.wait(timeout=self.args.duration + self.args.warmup + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if out.exists():
            print(f"    profile: {out}")
            print(profile_summary(out))

    def run(self, operations: list[Operation]) -> None:
        order = list(self.servers.values())
        for round_no in range(1, self.args.rounds + 1):
            targets = order if round_no % 2 == 1 else list(reversed(order))  # ABBA across rounds
            for op in operations:
                for server in targets:
                    self.run_phase(server, op, round_no)


_OWN_FRAME = re.compile(r"\((?:[^)]*/)?(dockyard/(?!cli/)[^):]*)(?::\d+)?\)$")


def profile_summary(path: Path, top: int = 15) -> str:
    """dockyard's own functions (not its CLI) holding the GIL the most, inclusive, from py-spy raw output."""
    total = 0
    inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        # "func (path/to/dockyard/x.py:LINE)" -> "func (dockyard/x.py)", each function once per stack
        names = {_OWN_FRAME.sub(r"(\1)", f) for f in stack.split(";") if _OWN_FRAME.search(f)}
        for name in names:
            inclusive[name] = inclusive.get(name, 0) + int(count)
    if not total:
        return "    (no samples)"
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    return "\n".join(f"    {100 * n / total:5.1f}%  {name}" for name, n in ranked)


def summarize(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    keys: list[tuple[str, str]] = []
    for phase in phases:
        key = (phase["operation"], phase["target"])
        if key not in keys:
            keys.append(key)
    for op_name, target in keys:
        group = [p for p in phases if (p["operation"], p["target"]) == (op_name, target)]
        hist = merge_hists(p["hist"] for p in group)
        requests = sum(p["requests"] for p in group)
        duration = sum(p["duration_s"] for p in group)
        rows.append(
            {
                "operation": op_name,
                "target": target,
                "rounds": len(group),
                "requests": requests,
                "duration_s": duration,
                "rps": requests / duration if duration else 0.0,
                "rps_min": min(p["rps"] for p in group),
                "rps_max": max(p["rps"] for p in group),
                "p50_ms": percentile(hist, 0.50) / 1000,
                "p99_ms": percentile(hist, 0.99) / 1000,
                "max_ms": (max(hist) / 1000) if hist else float("nan"),
                "errors": sum(p["errors"] for p in group),
                "server_cpu_pct": sum(p["server_cpu_pct"] for p in group) / len(group),
                "client_cpu_pct": sum(p["client_cpu_pct"] for p in group) / len(group),
                "foreign_cpu_pct": max(p["foreign_cpu_pct"] for p in group),
            }
        )
    return rows


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["operation"], r["target"]): r for r in rows}
    out: dict[str, Any] = {"operations": {}}
    all_ok = True
    for op_name in dict.fromkeys(r["operation"] for r in rows):
        dy, mo = by.get((op_name, "dockyard")), by.get((op_name, "moto"))
        entry: dict[str, Any] = {}
        if dy and mo and mo["rps"] > 0:
            entry["throughput_ratio"] = dy["rps"] / mo["rps"]
            entry["throughput_goal_met"] = entry["throughput_ratio"] >= GOAL_THROUGHPUT_RATIO
        if dy:
            entry["dockyard_p99_ms"] = dy["p99_ms"]
            entry["p99_goal_met"] = dy["p99_ms"] < GOAL_P99_MS
            entry["no_errors"] = dy["errors"] == 0 and (mo is None or mo["errors"] == 0)
        for key in ("throughput_goal_met", "p99_goal_met", "no_errors"):
            all_ok = all_ok and bool(entry.get(key, False))
        out["operations"][op_name] = entry
    out["all_goals_met"] = all_ok
    return out


# --------------------------------------------------------------------------------------------- report


def machine_info(wrk: str | None) -> dict[str, Any]:
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    dists = (
        "dockyard",
        "moto",
        "botocore",
        "uvicorn",
        "uvloop",
        "httptools",
        "starlette",
        "sqlalchemy",
        "werkzeug",
    )
    wrk_version = None
    if wrk:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
            wrk_version = (probe.stdout + probe.stderr).splitlines()[0].strip()
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": package_versions(dists),
        "wrk": wrk_version,
        "git": git_state(),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'operation':<17}{'target':<10}{'req/s':>9}{'(min-max)':>15}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}{'requests':>10}{'srv cpu':>9}{'cli cpu':>9}{'other':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        spread = f"({r['rps_min']:.0f}-{r['rps_max']:.0f})"
        lines.append(
            f"{r['operation']:<17}{r['target']:<10}{r['rps']:>9.0f}{spread:>15}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}{r['errors']:>8}{r['requests']:>10}"
            f"{r['server_cpu_pct']:>8.0f}%{r['client_cpu_pct']:>8.0f}%{r['foreign_cpu_pct']:>6.0f}%"
        )
    return "\n".join(lines)


def format_verdicts(verdict: dict[str, Any]) -> str:
    lines = []
    for op_name, entry in verdict["operations"].items():
        parts = [f"{op_name:<17}"]
        if "throughput_ratio" in entry:
            mark = "PASS" if entry["throughput_goal_met"] else "FAIL"
            parts.append(
                f"dockyard/moto throughput {entry['throughput_ratio']:5.2f}x "
                f"(goal >= {GOAL_THROUGHPUT_RATIO:.0f}x: {mark})"
            )
        if "dockyard_p99_ms" in entry:
            mark = "PASS" if entry["p99_goal_met"] else "FAIL"
            parts.append(
                f"dockyard p99 {entry['dockyard_p99_ms']:.2f} ms (goal < {GOAL_P99_MS:.0f} ms: {mark})"
            )
            parts.append("errors: none" if entry["no_errors"] else "errors: SOME")
        lines.append("  ".join(parts))
    lines.append(f"all goals met: {'yes' if verdict['all_goals_met'] else 'NO'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per phase (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="warm-up seconds before each phase (default 2)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument(
        "--clusters", type=int, default=100, help="clusters seeded in each server (default 100)"
    )
    parser.add_argument("--describe-batch", type=int, default=10, help="cluster names per DescribeClusters")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds, ABBA order (default 2)")
    parser.add_argument(
        "--targets", default="moto,dockyard", help="comma-separated subset of moto,dockyard (default both)"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (default: wrk if found)",
    )
    parser.add_argument(
        "--json", type=Path, help="result file (default bench/out/api_throughput-<time>.json)"
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (server logs)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each phase, wait up to S seconds for other programs to go quiet (default 120, 0: never)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"diagnostic: each server on CPU {SERVER_CPU} only, the load generator on CPU {CLIENT_CPU}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the dockyard server with py-spy during its measured phases (slows it down)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 1024:
        parser.error("--concurrency must be within 1..1024")
    if not 1 <= args.clusters <= 10_000:
        parser.error("--clusters must be within 1..10000")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be within 1..600 s and --warmup within 0..60 s")
    if not 0 <= args.quiet_wait <= 3600:
        parser.error("--quiet-wait must be within 0..3600 s")
    if not 1 <= args.rounds <= 20 or not 1 <= args.describe_batch <= 100:
        parser.error("--rounds must be within 1..20 and --describe-batch within 1..100")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets or any(t not in ("moto", "dockyard") for t in targets):
        parser.error("--targets takes moto and/or dockyard")
    args.targets = targets
    if args.pin and (
        shutil.which("taskset") is None or not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    ):
        parser.error(f"--pin needs taskset and CPUs {CLIENT_CPU} and {SERVER_CPU}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and not wrk:
        print("wrk not found on PATH (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    client = "wrk" if wrk else "python"
    info = machine_info(wrk)
    started_at = dt.datetime.now(dt.UTC)
    print(
        f"machine: {info['cpu_model'] or '?'}, {info['usable_cpus']} usable of {info['logical_cpus']} cpus, "
        f"{info['memory_gib']} GiB; Python {info['python']}; kernel {info['kernel']}"
    )
    print(
        f"load: {client}{' (' + info['wrk'] + ')' if wrk else ''}, "
        f"{args.concurrency} keep-alive connections, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s per phase, {args.rounds} round(s), "
        f"{args.clusters} clusters, DescribeClusters x{min(args.describe_batch, args.clusters)} names"
    )
    out_path = args.json or OUT_DIR / f"api_throughput-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    out_stem = out_path.with_suffix("")
    names = cluster_names(args.clusters)
    operations = [describe_operation(names, args.describe_batch), list_operation(names)]

    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    makers: dict[str, Callable[[Path], Server]] = {
        "moto": lambda d: MotoServer("moto", d),
        "dockyard": lambda d: DockyardServer("dockyard", d),
    }
    servers = {name: makers[name](workdir) for name in args.targets}
    if args.pin:
        for server in servers.values():
            server.cpu = SERVER_CPU
    setup: dict[str, Any] = {}
    finished = False
    try:
        with running(list(servers.values())):
            for server in servers.values():
                ready_s = server.wait_ready(STARTUP_DEADLINE_S)
                seed_s = seed(server, names)
                for op in operations:
                    preflight(server, op, sign_pool(server, op), names)
                setup[server.name] = {"port": server.port, "ready_s": ready_s, "seed_s": seed_s}
                print(
                    f"{server.name}: ready in {ready_s:.1f} s on port {server.port}, "
                    f"seeded {len(names)} clusters in {seed_s:.1f} s, answers checked"
                )
            bench = Bench(args, servers, names, workdir, wrk, out_stem)
            bench.run(operations)
            finished = True
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
    finally:
        if finished and not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work dir (server logs) kept in {workdir}", file=sys.stderr)
    if not finished:
        return 1

    rows = summarize(bench.phases)
    verdict = verdicts(rows)
    print()
    print(format_table(rows))
    print()
    print(format_verdicts(verdict))
    print(
        "columns: req/s over all rounds (per-round min-max); latency percentiles over all rounds; srv/cli cpu"
        " = server / load generator CPU (100% = one core); other = CPU used by anything else on the machine"
    )
    noisy = [p for p in bench.phases if p["foreign_cpu_pct"] > NOISY_FOREIGN_CPU_PCT]
    if noisy:
        print(
            f"WARNING: other programs used > {NOISY_FOREIGN_CPU_PCT:.0f}% CPU during {len(noisy)} of "
            f"{len(bench.phases)} phases: the machine was not quiet, these numbers are unreliable"
        )

    out_path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "api_throughput",
        "started_at": started_at.isoformat(),
        "machine": info,
        "settings": {
            "client": client,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "clusters": args.clusters,
            "describe_batch": min(args.describe_batch, args.clusters),
            "targets": args.targets,
            "profiled": args.profile,
            "pinned": args.pin,
            "quiet_wait_s": args.quiet_wait,
        },
        "setup": setup,
        "summary": rows,
        "verdict": verdict,
        "noisy_phases": len(noisy),
        "phases": [{k: v for k, v in p.items() if k != "hist"} for p in bench.phases],
        # latency (µs) -> requests; from wrk, weights derived from its quantile grid
        "latency_hist_us": [
            {
                "round": p["round"],
                "target": p["target"],
                "operation": p["operation"],
                "hist": sorted(p["hist"].items()),
            }
            for p in bench.phases
        ],
    }
    out_path.write_text(json.dumps(document, indent=1))
    print(f"\nresults: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
