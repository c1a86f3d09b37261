"""CloudWatch Logs: PutLogEvents ingest and FilterLogEvents over one large group, against SQLite FTS5 and
``grep`` over a file holding the same events, all in the same run.

One run, talking only to 127.0.0.1 and removing its temp dir at the end:

1. Generates ``--events`` numbered 200-byte log lines (deterministic): 70% ``INFO``, 15% ``WARN``, 5%
   ``ERROR`` text lines, 10% JSON lines ``{"level":...,"latency":L,"seq":N,...}`` with L in 0..199, and
   ten lines holding the rare term ``QUOKKA7319``. Expected answers are computed from the lines in Python.
2. Starts ``dockyard server`` (fresh SQLite data dir, ``--log-level warning``, fixed root key), creates
   one group and ``--clients`` streams with boto3.
3. Ingest: the events in PutLogEvents batches of 1,000, batch b to stream b mod C. Every request is built
   and SigV4-signed (botocore's ``SigV4Auth``) before the clock starts; C threads then each replay their
   stream's requests in order over one keep-alive connection and check every answer (200, nothing
   rejected). Reported: events/s, MB/s of messages, server and client CPU.
4. Floors, same lines, same machine: (a) SQLite FTS5 — a plain table (id, stream, timestamp, message,
   indexed by timestamp) plus an external-content FTS5 index of the message, WAL, ``synchronous=FULL`` as
   dockyard runs it, one transaction per 1,000 events; (b) a file, ``write`` + ``fsync`` per 1,000 lines.
5. Search, twice: FilterLogEvents over the whole group with ``"ERROR"``, ``{ $.latency > 100 }`` and
   ``QUOKKA7319``, following ``nextToken`` to the end (raw signed requests, one keep-alive connection);
   every answer checked: the exact set of event numbers, in time order. Floors: FTS5 ``MATCH`` (with a
   case-sensitive ``instr`` check, since CloudWatch terms are case-sensitive and FTS5's tokenizer is not),
   ``json_extract`` over the JSON lines, and ``grep -c`` over the file (``LC_ALL=C``).
6. Prints the tables and dockyard/floor ratios; writes everything to
   ``bench/out/logs_throughput-<time>.json``.

    .venv/bin/python bench/logs_throughput.py [--events 1000000] [--clients 4] [--rounds 2]
                                              [--quiet-wait 120] [--profile] [--json PATH] [--keep-workdir]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from api_throughput import profile_summary
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
from loadgen import parse_head

OUT_DIR = BENCH_DIR / "out"
REGION = "us-east-1"
KEY_ID = "AKIABENCHLOGS0000001"
SECRET = "bench-logs-throughput-secret-0000000000"
TARGET_PREFIX = "Logs_20140328"
GROUP = "/bench/logs-throughput"
STARTUP_DEADLINE_S = 60.0
REQUEST_TIMEOUT_S = 120.0
BATCH = 1_000
MESSAGE_BYTES = 200
RARE_TERM = "QUOKKA7319"
RARE_COUNT = 10
NOISY_PCT = 10.0  # other processes using more than this (% of a core) during a phase: warn
SIGNATURE_LIFETIME_S = 15 * 60  # a SigV4 signature is accepted this long after it was made

PATTERNS = {
    "term": '"ERROR"',
    "json": "{ $.latency > 100 }",
    "rare": RARE_TERM,
}
_SEQ = re.compile(r'(?:n=|"seq":)(\d+)')


# --------------------------------------------------------------------------------------------- the data


def message(i: int, timestamp_ms: int, rare: bool) -> str:
    """Event ``i``'s line, exactly :data:`MESSAGE_BYTES` ASCII bytes; its number is in ``n=`` or ``seq``.
    A ``rare`` line is a text line holding :data:`RARE_TERM`."""
    if i % 10 == 7 and not rare:
        latency = (i * 37) % 200
        level = "error" if latency > 150 else "info"
        head = f'{{"level":"{level}","latency":{latency},"seq":{i},"path":"/api/v1/orders","msg":"'
        return head + "x" * (MESSAGE_BYTES - len(head) - 2) + '"}'
    k = i % 20
    level = "ERROR" if k == 3 else "WARN" if k in (1, 5, 11) else "INFO"
    stamp = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    text = (
        f"{stamp}Z {level:<5} [worker-{i % 8}] n={i:07d} GET /api/v1/items/{i % 9973} "
        f"status={500 if level == 'ERROR' else 200} took={i % 997}ms"
    )
    if rare:
        text += f" {RARE_TERM}"
    text += " user=" + "a" * MESSAGE_BYTES
    return text[:MESSAGE_BYTES]


@dataclass
class Corpus:
    """The events (timestamps 1 ms apart, ending an hour ago) and the answers every search must give."""

    timestamps: list[int]
    messages: list[str]
    expected: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, count: int, now_ms: int) -> Corpus:
        base = now_ms - 3_600_000 - count
        timestamps = [base + i for i in range(count)]
        every = count // RARE_COUNT  # RARE_COUNT rare lines, spread over the run
        messages = [message(i, t, i % every == every // 2) for i, t in enumerate(timestamps)]
        corpus = cls(timestamps, messages)
        corpus.expected = {
            "term": {i for i, m in enumerate(messages) if "ERROR" in m},
            "json": {i for i, m in enumerate(messages) if m[0] == "{" and json.loads(m)["latency"] > 100},
            "rare": {i for i, m in enumerate(messages) if RARE_TERM in m},
        }
        return corpus

    def batches(self) -> Iterator[tuple[int, range]]:
        for number, start in enumerate(range(0, len(self.messages), BATCH)):
            yield number, range(start, min(start + BATCH, len(self.messages)))

    @property
    def megabytes(self) -> float:
        return len(self.messages) * MESSAGE_BYTES / 1e6


def sequence_numbers(messages: list[str]) -> list[int]:
    found = []
    for text in messages:
        match = _SEQ.search(text)
        if match is None:
            raise RuntimeError(f"a line without its number: {text[:80]!r}")
        found.append(int(match.group(1)))
    return found


# --------------------------------------------------------------------------------------------- dockyard


class DockyardServer(ServerProcess):
    def command(self) -> list[str]:
        return dockyard_server_command(self.workdir, self.port)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(DOCKYARD_ACCESS_KEY_ID=KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=SECRET, PYTHONUNBUFFERED="1")
        # No built-in Fargate pool host: its agent (a second Python process) is not what is measured here.
        env.update(DOCKYARD_FARGATE_LOCAL_POOL="false")
        return env

    def logs(self) -> Any:
        return boto3.client(
            "logs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=60),
        )

    def probe(self) -> bool:
        try:
            if httpx.get(f"{self.endpoint}/health", timeout=2).status_code != 200:
                return False
            self.logs().describe_log_groups(limit=1)
        except Exception:
            return False
        return True


def signed_request(port: int, operation: str, body: dict[str, Any]) -> bytes:
    """A complete HTTP/1.1 request, SigV4-signed with botocore exactly as an SDK signs it."""
    host = f"{HOST}:{port}"
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Host": host,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
    }
    request = AWSRequest(method="POST", url=f"http://{host}/", data=payload, headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), "logs", REGION).add_auth(request)
    lines = [
        "POST / HTTP/1.1",
        f"Host: {host}",
        f"Content-Type: {request.headers['Content-Type']}",
        f"X-Amz-Target: {request.headers['X-Amz-Target']}",
        f"X-Amz-Date: {request.headers['X-Amz-Date']}",
        f"Authorization: {request.headers['Authorization']}",
        "User-Agent: dockyard-bench",
        f"Content-Length: {len(payload)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests (Content-Length answers only)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=REQUEST_TIMEOUT_S)
        self.buffer = b""

    def roundtrip(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status, length, _close = parse_head(head)
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _receive(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class Usage:
    """Wall time and CPU over a phase: the server's, this process's (the client) and everyone else's."""

    server_pids: list[int]
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    irq_steal_cpu_s: float = 0.0
    top_other: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def measure(self) -> Iterator[Usage]:
        server0, client0, busy0 = cpu_seconds(self.server_pids), time.process_time(), machine_busy_seconds()
        kernel0, procs0 = irq_and_steal_seconds(), process_cpu()
        start = time.perf_counter()
        try:
            yield self
        finally:
            self.wall_s = time.perf_counter() - start
            self.server_cpu_s = cpu_seconds(self.server_pids) - server0
            self.client_cpu_s = time.process_time() - client0
            busy = machine_busy_seconds() - busy0
            self.irq_steal_cpu_s = irq_and_steal_seconds() - kernel0
            mine = {os.getpid(), *self.server_pids}
            used = process_cpu()
            busiest = sorted(
                (
                    (seconds - procs0.get(pid, ("", 0.0))[1], pid, name)
                    for pid, (name, seconds) in used.items()
                    if pid not in mine
                ),
                reverse=True,
            )
            self.top_other = [(f"{name}[{pid}]", seconds) for seconds, pid, name in busiest[:3]]
            self.other_cpu_s = max(0.0, busy - self.server_cpu_s - self.client_cpu_s)

    def as_dict(self) -> dict[str, float]:
        wall = self.wall_s or 1e-9
        return {
            "wall_s": round(self.wall_s, 4),
            "server_cpu_pct": round(100 * self.server_cpu_s / wall, 1),
            "client_cpu_pct": round(100 * self.client_cpu_s / wall, 1),
            "other_cpu_pct": round(100 * self.other_cpu_s / wall, 1),
            # of "other": interrupts and softirqs (loopback TCP, disk completions) and hypervisor steal
            "irq_steal_cpu_pct": round(100 * self.irq_steal_cpu_s / wall, 1),
            "top_other_pct": {name: round(100 * seconds / wall, 1) for name, seconds in self.top_other},
        }


def process_cpu() -> dict[int, tuple[str, float]]:
    """Name and CPU seconds of every process on the machine (kernel threads included), by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def irq_and_steal_seconds() -> float:
    """CPU seconds the machine spent in irq, softirq and steal (no process is charged for them)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    irq, softirq, steal = (int(v) for v in fields[5:8])
    return (irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, ignore: list[int]) -> float:
    """Wait (at most ``limit_s``) until processes other than this one and ``ignore`` use under
    :data:`NOISY_PCT` of a core for 2 s; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        usage = Usage(ignore)
        with usage.measure():
            time.sleep(2.0)
        if 100 * usage.other_cpu_s / usage.wall_s < NOISY_PCT:
            break
    return time.monotonic() - started


def prepare_dockyard(server: DockyardServer, clients: int) -> list[str]:
    logs = server.logs()
    logs.create_log_group(logGroupName=GROUP)
    streams = [f"bench/client-{c}" for c in range(clients)]
    for name in streams:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=name)
    return streams


def ingest_requests(corpus: Corpus, port: int, streams: list[str]) -> list[list[bytes]]:
    """Per stream, its PutLogEvents requests in order, pre-signed."""
    per_stream: list[list[bytes]] = [[] for _ in streams]
    for number, indexes in corpus.batches():
        lane = number % len(streams)
        body = {
            "logGroupName": GROUP,
            "logStreamName": streams[lane],
            "logEvents": [
                {"timestamp": corpus.timestamps[i], "message": corpus.messages[i]} for i in indexes
            ],
        }
        per_stream[lane].append(signed_request(port, "PutLogEvents", body))
    return per_stream


def ingest_dockyard(server: DockyardServer, requests: list[list[bytes]]) -> dict[str, Any]:
    """Each stream's requests from its own thread and connection; every answer must accept the batch."""
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def lane(pool: list[bytes]) -> None:
        conn = Connection(server.port)
        mine: list[float] = []
        try:
            for raw in pool:
                started = time.perf_counter()
                status, body = conn.roundtrip(raw)
                mine.append(time.perf_counter() - started)
                answer = json.loads(body)
                if status != 200 or answer.get("rejectedLogEventsInfo"):
                    raise RuntimeError(f"PutLogEvents: HTTP {status}: {body[:300]!r}")
        except Exception as exc:
            with lock:
                errors.append(str(exc))
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=lane, args=(pool,)) for pool in requests]
    usage = Usage(server.pids())
    with usage.measure():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} ingest error(s), first: {errors[0]}")
    latencies.sort()
    return {
        **usage.as_dict(),
        "batches": len(latencies),
        "batch_p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "batch_p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
    }


def search_dockyard(server: DockyardServer, pattern: str) -> tuple[dict[str, Any], list[str], list[int]]:
    """FilterLogEvents over the whole group, ``nextToken`` followed to the end: usage, messages,
    timestamps. Requests are signed as they go (each needs the previous page's token)."""
    conn = Connection(server.port)
    messages: list[str] = []
    timestamps: list[int] = []
    calls = empty_pages = 0
    usage = Usage(server.pids())
    try:
        with usage.measure():
            token: str | None = None
            while True:
                body: dict[str, Any] = {"logGroupName": GROUP, "filterPattern": pattern}
                if token:
                    body["nextToken"] = token
                status, raw = conn.roundtrip(signed_request(server.port, "FilterLogEvents", body))
                calls += 1
                if status != 200:
                    raise RuntimeError(f"FilterLogEvents {pattern}: HTTP {status}: {raw[:300]!r}")
                page = json.loads(raw)
                events = page.get("events", [])
                empty_pages += not events
                messages.extend(e["message"] for e in events)
                timestamps.extend(e["timestamp"] for e in events)
                token = page.get("nextToken")
                if not token:
                    break
    finally:
        conn.close()
    return {**usage.as_dict(), "calls": calls, "empty_pages": empty_pages}, messages, timestamps


# --------------------------------------------------------------------------------------------- floors


class Fts5Floor:
    """The same events in SQLite: a plain table with the timestamp plus an FTS5 index of the message."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # as dockyard's store: a commit survives a power cut
        self.db.executescript(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, ts INTEGER NOT NULL,"
            " message TEXT NOT NULL);"
            "CREATE INDEX events_ts ON events (ts, id);"
            "CREATE VIRTUAL TABLE events_fts USING fts5(message, content='events', content_rowid='id');"
        )

    def ingest(self, corpus: Corpus, streams: int) -> dict[str, Any]:
        usage = Usage([])
        with usage.measure():
            for number, indexes in corpus.batches():
                rows = [(i + 1, number % streams, corpus.timestamps[i], corpus.messages[i]) for i in indexes]
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
                self.db.executemany(
                    "INSERT INTO events_fts (rowid, message) VALUES (?, ?)", [(r[0], r[3]) for r in rows]
                )
                self.db.execute("COMMIT")
        return usage.as_dict()

    def search(self, kind: str) -> tuple[dict[str, Any], list[str]]:
        """Matching messages in time order, as FilterLogEvents gives them."""
        if kind == "json":
            query = (
                "SELECT message FROM events WHERE message LIKE '{%' AND json_valid(message)"
                " AND json_extract(message, '$.latency') > 100 ORDER BY ts, id"
            )
            args: tuple[str, ...] = ()
        else:
            term = "ERROR" if kind == "term" else RARE_TERM
            query = (
                "SELECT e.message FROM events_fts JOIN events e ON e.id = events_fts.rowid"
                " WHERE events_fts MATCH ? AND instr(e.message, ?) > 0 ORDER BY e.ts, e.id"
            )
            args = (f'"{term}"', term)
        usage = Usage([])
        with usage.measure():
            found = [row[0] for row in self.db.execute(query, args)]
        return usage.as_dict(), found

    def close(self) -> None:
        self.db.close()


def file_ingest(corpus: Corpus, path: Path) -> dict[str, Any]:
    usage = Usage([])
    with usage.measure(), path.open("w", encoding="ascii") as out:
        for _number, indexes in corpus.batches():
            out.write("".join(corpus.messages[i] + "\n" for i in indexes))
            out.flush()
            os.fsync(out.fileno())
    return usage.as_dict()


GREP_ARGS = {
    "term": ["-F", "ERROR"],
    "json": ["-E", '"latency":(10[1-9]|1[1-9][0-9])[,}]'],  # latencies are 0..199
    "rare": ["-F", RARE_TERM],
}


def grep_count(kind: str, path: Path) -> tuple[dict[str, Any], int]:
    grep = shutil.which("grep") or "grep"
    usage = Usage([])
    env = {**os.environ, "LC_ALL": "C"}
    with usage.measure():
        done = subprocess.run(
            [grep, "-c", *GREP_ARGS[kind], str(path)], capture_output=True, text=True, env=env, check=False
        )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"grep failed: {done.stderr.strip()}")
    result = usage.as_dict()
    result["grep_cpu_s"] = round(_children_cpu_delta(), 4)
    return result, int(done.stdout.strip() or 0)


_children_seen = [0.0]


def _children_cpu_delta() -> float:
    times = os.times()
    total = times.children_user + times.children_system
    delta, _children_seen[0] = total - _children_seen[0], total
    return delta


# --------------------------------------------------------------------------------------------- checks


def check_answer(what: str, messages: list[str], expected: set[int], timestamps: list[int] | None) -> None:
    """The exact matching events, each once, in time order."""
    numbers = sequence_numbers(messages)
    if len(numbers) != len(expected) or set(numbers) != expected:
        missing, extra = len(expected - set(numbers)), len(set(numbers) - expected)
        raise RuntimeError(
            f"{what}: {len(numbers)} events, expected {len(expected)} ({missing} missing, {extra} extra,"
            f" {len(numbers) - len(set(numbers))} duplicated)"
        )
    order = timestamps if timestamps is not None else numbers  # the floors: numbers follow time
    if any(b < a for a, b in itertools.pairwise(order)):
        raise RuntimeError(f"{what}: events not in time order")


# --------------------------------------------------------------------------------------------- profiling


def start_profiler(server: DockyardServer, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    command = [spy, "record", "--gil", "--format", "raw", "--rate", "200", "--output", str(out)]
    process = subprocess.Popen(
        [*command, "--pid", str(server.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)  # py-spy attaches
    return process


def stop_profiler(process: subprocess.Popen[bytes], out: Path) -> str:
    process.send_signal(2)  # SIGINT: py-spy writes what it has
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    return profile_summary(out) if out.exists() else "    (no profile written)"


# --------------------------------------------------------------------------------------------- report


def rate_row(name: str, phase: dict[str, Any], count: int, megabytes: float) -> dict[str, Any]:
    wall = phase["wall_s"]
    return {
        "target": name,
        "events_per_s": round(count / wall),
        "mb_per_s": round(megabytes / wall, 2),
        **phase,
    }


def _foreign_pct(phase: dict[str, Any]) -> float:
    """CPU of other processes (kernel threads included), not interrupts or steal, in % of a core."""
    return float(phase["other_cpu_pct"] - phase["irq_steal_cpu_pct"])


def format_ingest(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'ingest':<26}{'events/s':>10}{'MB/s':>8}{'wall s':>9}{'srv cpu':>9}{'cli cpu':>9}{'other':>7}"
        f"{'irq+st':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['target']:<26}{r['events_per_s']:>10}{r['mb_per_s']:>8.2f}{r['wall_s']:>9.2f}"
            f"{r.get('server_cpu_pct', 0):>8.0f}%{r['client_cpu_pct']:>8.0f}%{r['other_cpu_pct']:>6.0f}%"
            f"{r['irq_steal_cpu_pct']:>7.0f}%"
        )
    return "\n".join(lines)


def format_search(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'search':<8}{'pattern':<22}{'round':>6}{'matches':>9}{'dockyard s':>12}{'calls':>7}{'empty':>7}"
        f"{'srv cpu':>9}{'fts5 s':>9}{'grep s':>9}{'/fts5':>9}{'/grep':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        d = r["dockyard"]
        lines.append(
            f"{r['kind']:<8}{r['pattern']:<22}{r['round']:>6}{r['matches']:>9}{d['wall_s']:>12.3f}"
            f"{d['calls']:>7}{d['empty_pages']:>7}{d['server_cpu_pct']:>8.0f}%{r['fts5']['wall_s']:>9.3f}"
            f"{r['grep']['wall_s']:>9.3f}{_ratio(r['ratio_fts5']):>9}{_ratio(r['ratio_grep']):>8}"
        )
    return "\n".join(lines)


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.1f}x"


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": package_versions(("dockyard", "botocore", "uvicorn", "starlette", "sqlalchemy")),
        "git": git_state(),
    }


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events ingested (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads, one stream each (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="times the search phase runs (default 2)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each timed phase wait up to S s for other programs to go quiet (default 120, 0: never)",
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy (slows it)")
    parser.add_argument(
        "--json", type=Path, help="result file (default bench/out/logs_throughput-<time>.json)"
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (data, server log)")
    args = parser.parse_args(argv)
    if not 10_000 <= args.events <= 10_000_000 or args.events % BATCH:
        parser.error("--events must be a multiple of 1,000 within 10,000..10,000,000")
    if not 1 <= args.clients <= 64 or not 1 <= args.rounds <= 5:
        parser.error("--clients must be within 1..64 and --rounds within 1..5")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine_info()
    started_at = dt.datetime.now(dt.UTC)
    out_path = args.json or OUT_DIR / f"logs_throughput-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    print(
        f"machine: {info['cpu_model'] or '?'}, {info['usable_cpus']} cpus; Python {info['python']};"
        f" SQLite {info['sqlite']}; commit {info['git'].get('commit')}"
        f"{' (src dirty)' if info['git'].get('src_dirty') else ''}"
    )
    built = time.perf_counter()
    corpus = Corpus.build(args.events, int(time.time() * 1000))
    expected = {kind: len(found) for kind, found in corpus.expected.items()}
    print(
        f"data: {args.events:,} events of {MESSAGE_BYTES} B in {time.perf_counter() - built:.1f} s;"
        f" matches expected: {expected}"
    )

    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-logs-"))
    server = DockyardServer("dockyard", workdir)
    document: dict[str, Any] = {"benchmark": "logs_throughput", "started_at": started_at.isoformat()}
    profiles: dict[str, str] = {}
    finished = False
    try:
        with running([server]):
            ready_s = server.wait_ready(STARTUP_DEADLINE_S)
            streams = prepare_dockyard(server, args.clients)
            built = time.perf_counter()
            requests = ingest_requests(corpus, server.port, streams)
            sign_s = time.perf_counter() - built
            print(
                f"dockyard: ready in {ready_s:.1f} s; {sum(map(len, requests))} requests built and signed"
                f" in {sign_s:.1f} s (before the clock starts)"
            )
            waited = wait_quiet(args.quiet_wait, server.pids())
            _profiled(args, server, workdir, "ingest", profiles)
            dockyard_ingest = ingest_dockyard(server, requests)
            _profiled(args, server, workdir, "ingest", profiles)
            if dockyard_ingest["wall_s"] + sign_s > SIGNATURE_LIFETIME_S:
                print("note: ingest outlasted a signature's lifetime yet every request was accepted")
            del requests
            stored = server.logs().describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0][
                "storedBytes"
            ]
            if stored != args.events * MESSAGE_BYTES:
                raise RuntimeError(f"storedBytes {stored}, expected {args.events * MESSAGE_BYTES}")

            fts = Fts5Floor(workdir / "floor.sqlite")
            waited += wait_quiet(args.quiet_wait, server.pids())
            fts_ingest = fts.ingest(corpus, args.clients)
            log_file = workdir / "events.log"
            waited += wait_quiet(args.quiet_wait, server.pids())
            file_phase = file_ingest(corpus, log_file)
            ingest_rows = [
                rate_row(
                    f"dockyard PutLogEvents x{args.clients}", dockyard_ingest, args.events, corpus.megabytes
                ),
                rate_row("SQLite FTS5 (txn/1000)", fts_ingest, args.events, corpus.megabytes),
                rate_row("file write+fsync/1000", file_phase, args.events, corpus.megabytes),
            ]
            print()
            print(format_ingest(ingest_rows))
            print(
                f"dockyard PutLogEvents per batch: p50 {dockyard_ingest['batch_p50_ms']} ms,"
                f" p99 {dockyard_ingest['batch_p99_ms']} ms"
            )

            search_rows = []
            _children_cpu_delta()
            for round_no in range(1, args.rounds + 1):
                for kind, pattern in PATTERNS.items():
                    search_rows.append(
                        search_round(
                            args, server, fts, log_file, corpus, kind, pattern, round_no, workdir, profiles
                        )
                    )
            fts.close()
            print()
            print(format_search(search_rows))
            finished = True
    except (RuntimeError, OSError, subprocess.SubprocessError, sqlite3.Error) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        print(f"server log tail:\n{server.log_tail(10)}", file=sys.stderr)
    finally:
        if args.keep_workdir:
            print(f"work dir kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not finished:
        return 1

    ingest_ratios = {
        "dockyard_over_fts5": round(ingest_rows[0]["events_per_s"] / ingest_rows[1]["events_per_s"], 3),
        "dockyard_over_file": round(ingest_rows[0]["events_per_s"] / ingest_rows[2]["events_per_s"], 3),
    }
    print(
        f"\ningest ratio (events/s, dockyard / floor): FTS5 {ingest_ratios['dockyard_over_fts5']:.2f}x,"
        f" file {ingest_ratios['dockyard_over_file']:.3f}x;  search ratio = time dockyard / time floor"
    )
    print(
        "columns: srv cpu = dockyard server CPU (100% = one core); cli cpu = this process (the client"
        " threads, or the in-process floor); other = everything else on the machine, of which irq+st ="
        " interrupts, softirqs (loopback TCP, disk) and hypervisor steal"
    )
    noisy = [r for r in ingest_rows if _foreign_pct(r) > NOISY_PCT]
    noisy += [r for r in search_rows if _foreign_pct(r["dockyard"]) > NOISY_PCT]
    if noisy:
        print(
            f"WARNING: other processes used > {NOISY_PCT:.0f}% of a core in {len(noisy)} phase(s):"
            " these numbers are unreliable"
        )
        for r in noisy:
            phase = r.get("dockyard", r)
            what = r.get("target") or f"search {r['kind']} round {r['round']}"
            print(f"  {what}: {phase['top_other_pct']}")
    for name, summary in profiles.items():
        print(f"\nprofile {name} (dockyard functions, inclusive share of GIL-holding samples):\n{summary}")
    document.update(
        machine=info,
        settings={
            "events": args.events,
            "clients": args.clients,
            "batch": BATCH,
            "message_bytes": MESSAGE_BYTES,
            "rounds": args.rounds,
            "profiled": args.profile,
            "patterns": PATTERNS,
        },
        expected_matches=expected,
        sign_s=round(sign_s, 2),
        ingest_quiet_wait_s=round(waited, 1),
        ingest=ingest_rows,
        ingest_ratios=ingest_ratios,
        search=search_rows,
        profiles=profiles,
        noisy_phases=len(noisy),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=1))
    print(f"\nresults: {out_path}")
    return 0


_running_profiler: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def _profiled(
    args: argparse.Namespace, server: DockyardServer, workdir: Path, name: str, profiles: dict[str, str]
) -> None:
    """With --profile: the first call for ``name`` starts py-spy, the second stops it and keeps a summary
    (the raw stacks are copied next to the JSON output)."""
    if not args.profile:
        return
    if name not in _running_profiler:
        out = workdir / f"profile-{name}.txt"
        _running_profiler[name] = (start_profiler(server, out), out)
        return
    process, out = _running_profiler.pop(name)
    profiles[name] = stop_profiler(process, out)
    if out.exists():
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, OUT_DIR / f"logs_throughput-profile-{name}.txt")


def search_round(
    args: argparse.Namespace,
    server: DockyardServer,
    fts: Fts5Floor,
    log_file: Path,
    corpus: Corpus,
    kind: str,
    pattern: str,
    round_no: int,
    workdir: Path,
    profiles: dict[str, str],
) -> dict[str, Any]:
    expected = corpus.expected[kind]
    profile_name = f"search-{kind}"
    profile = round_no == 1
    if profile:
        _profiled(args, server, workdir, profile_name, profiles)
    waited = wait_quiet(args.quiet_wait, server.pids())
    dockyard, messages, timestamps = search_dockyard(server, pattern)
    if profile:
        _profiled(args, server, workdir, profile_name, profiles)
    check_answer(f"FilterLogEvents {pattern}", messages, expected, timestamps)
    waited += wait_quiet(args.quiet_wait, server.pids())
    fts_phase, found = fts.search(kind)
    check_answer(f"FTS5 {kind}", found, expected, None)
    grep_phase, count = grep_count(kind, log_file)
    if count != len(expected):
        raise RuntimeError(f"grep {kind}: {count} lines, expected {len(expected)}")
    return {
        "kind": kind,
        "pattern": pattern,
        "round": round_no,
        "matches": len(expected),
        "dockyard": dockyard,
        "fts5": fts_phase,
        "grep": grep_phase,
        "ratio_fts5": round(dockyard["wall_s"] / fts_phase["wall_s"], 2),
        "ratio_grep": round(dockyard["wall_s"] / grep_phase["wall_s"], 2),
        "quiet_wait_s": round(waited, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
