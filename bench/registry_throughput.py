"""Registry data path: dockyard against CNCF Distribution (Debian's ``docker-registry``), in one run.

    .venv/bin/python bench/registry_throughput.py [--blob-mib 1024] [--rss-blob-mib 2048] [--duration 10]

What it does, bounded in time and talking only to 127.0.0.1:

1. checks its prerequisites (``/usr/bin/docker-registry`` and ``wrk``, both Debian packages) and says
   what is missing; installs nothing;
2. hashes the test blobs up front (a run's blob is ``--blob-mib`` MiB: a fixed random 1 MiB buffer
   repeated, then one final MiB unique to the run, so every push is new content with a digest known
   before the clock starts, and neither server can skip work by deduplication);
3. starts Distribution (``docker-registry`` with a generated config: filesystem storage in a temp dir,
   no auth, log level error, access log off) and ``dockyard server`` (fresh data dir, fixed root key,
   ``--log-level warning``) on free loopback ports; creates dockyard's repositories with boto3 and takes
   its registry password from ``GetAuthorizationToken`` (HTTP Basic ``AWS:<password>``);
4. blob transfer, ``--runs`` rounds alternating which server goes first: push = ``POST uploads/``, one
   streamed ``PATCH`` with the whole body, ``PUT ?digest=`` (what ``docker push`` does); pull = streamed
   ``GET blobs/<digest>``, compared with the pushed bytes (memcmp) and discarded. The client is a small
   raw-socket HTTP/1.1 client (no hashing, no copies on the way out), the same for both servers;
5. manifest GET: pushes a small image (config, one layer, Docker schema 2 manifest) to each server and
   drives ``GET /v2/<name>/manifests/<tag>`` with ``wrk`` (one thread, ``--connections`` keep-alive
   connections) for ``--duration`` seconds per round after a warm-up, ABBA order; any answer that is not
   200 with the exact manifest length, and any socket error or timeout, is an error;
6. RSS: pushes and pulls a ``--rss-blob-mib`` MiB blob to dockyard while sampling VmRSS of the server and
   its children every 100 ms (VmHWM is reset first through ``/proc/<pid>/clear_refs`` and read after);
7. prints the table, the ratios and whether each goal holds, and writes everything as JSON to
   ``bench/out/``. Both servers are stopped at the end, whatever happened.

Before each timed phase it waits (bounded by ``--quiet-wait``) until no ``api_throughput.py`` benchmark
runs, and it reports the CPU that other programs used during every phase.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from common import (
    BENCH_DIR,
    HOST,
    ServerProcess,
    children_of,
    cpu_model,
    cpu_seconds,
    cpuinfo_line,
    dockyard_server_command,
    git_state,
    machine_busy_seconds,
    package_versions,
    running,
)

OUT_DIR = BENCH_DIR / "out"

REGION = "us-east-1"
KEY_ID = "AKIABENCHREGISTRY001"
SECRET = "bench-registry-secret-key-000000000000"
DISTRIBUTION_BIN = "/usr/bin/docker-registry"

BLOB_REPO = "bench/blob"
IMAGE_REPO = "bench/image"
IMAGE_TAG = "v1"
MANIFEST_ACCEPT = (
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
)
SCHEMA2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA2_CONFIG = "application/vnd.docker.container.image.v1+json"
SCHEMA2_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MIB = 1 << 20
CHUNK = MIB  # the client's send and receive unit
STARTUP_DEADLINE_S = 60.0
IO_TIMEOUT_S = 120.0  # per socket operation; a transfer that stalls this long fails the benchmark
SMALL_TIMEOUT_S = 30.0
RSS_INTERVAL_S = 0.1
WARMUP_S = 2.0
NOISY_FOREIGN_CPU_PCT = 10.0
QUIET_CPU_PCT = 10.0  # before a timed phase, wait until other programs use less than this ...
QUIET_WINDOWS = 3  # ... over this many consecutive 1 s windows

GOAL_BLOB_RATIO = 1.0  # dockyard push and pull MiB/s at least Distribution's
GOAL_MANIFEST_RATIO = 0.5  # dockyard manifest GETs/s at least half of Distribution's
GOAL_RSS_MB = 200.0  # dockyard's server RSS during a 2 GiB push + pull


# --------------------------------------------------------------------------------------------- /proc


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/<pid>/status; 0 if the process is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def own_cpu_seconds() -> float:
    """CPU of this process plus its waited-for children (wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class CpuMeter:
    """CPU used by a server, by this client (and its wrk children) and by everything else, over a phase."""

    def __init__(self, server_pids: Callable[[], list[int]]) -> None:
        self._pids = server_pids
        self._start = (
            time.perf_counter(),
            cpu_seconds(server_pids()),
            own_cpu_seconds(),
            machine_busy_seconds(),
        )

    def stop(self) -> dict[str, float]:
        wall0, srv0, cli0, busy0 = self._start
        wall = max(time.perf_counter() - wall0, 1e-9)
        srv = cpu_seconds(self._pids()) - srv0
        cli = own_cpu_seconds() - cli0
        busy = machine_busy_seconds() - busy0
        return {
            "server_cpu_pct": 100 * srv / wall,
            "client_cpu_pct": 100 * cli / wall,
            "foreign_cpu_pct": max(0.0, 100 * (busy - srv - cli) / wall),
        }


class RssSampler:
    """Samples VmRSS of a process tree every ``interval`` seconds in a thread; keeps the maximum."""

    def __init__(self, pid: int, interval: float = RSS_INTERVAL_S) -> None:
        self.pid = pid
        self.interval = interval
        self.max_kib = 0
        self.samples = 0
        self.series: list[tuple[float, int]] = []  # (seconds since start, KiB), for the JSON
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._t0 = 0.0

    def reset_hwm(self) -> bool:
        """Reset the peak RSS (VmHWM) of the tree: ``echo 5 > /proc/<pid>/clear_refs`` (Linux >= 4.0)."""
        ok = True
        for pid in [self.pid, *children_of(self.pid)]:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                ok = False
        self.hwm_reset = ok
        return ok

    def hwm_kib(self) -> int:
        return sum(status_kib(pid, "VmHWM") for pid in [self.pid, *children_of(self.pid)])

    def _sample(self) -> None:
        total = sum(status_kib(pid, "VmRSS") for pid in [self.pid, *children_of(self.pid)])
        self.max_kib = max(self.max_kib, total)
        self.samples += 1
        self.series.append((round(time.perf_counter() - self._t0, 2), total))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()


# --------------------------------------------------------------------------------------------- HTTP client


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    body_bytes: int


class HttpError(RuntimeError):
    pass


class Connection:
    """A minimal HTTP/1.1 client over one keep-alive socket: no hashing, no copies of outgoing bodies.

    Outgoing bodies are sequences of buffers sent with ``sendall``; incoming bodies are either read whole
    (small answers) or handed to a ``sink(reader, length)`` (blob pulls, read into a reused buffer).
    """

    def __init__(self, port: int, timeout: float = IO_TIMEOUT_S) -> None:
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = io.BufferedReader(socket.SocketIO(self.sock, "rb"), 256 * 1024)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Sequence[bytes | memoryview] = (),
        sink: Callable[[Readable, int], int] | None = None,
    ) -> Reply:
        length = sum(len(part) for part in body)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}", "User-Agent: dockyard-bench"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if length or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if length <= 64 * 1024:
                self.sock.sendall(head + b"".join(bytes(p) for p in body))
            else:
                self.sock.sendall(head)
                for part in body:
                    self.sock.sendall(part)
        except OSError as exc:
            # The server may have answered (and closed) early, e.g. with an error: read what it said.
            try:
                reply = self._read_reply(method, None)
            except (OSError, HttpError):
                raise HttpError(f"{method} {path}: send failed: {exc}") from exc
            raise HttpError(
                f"{method} {path}: answered {reply.status} mid-upload: {reply.body[:300]!r}"
            ) from exc
        try:
            return self._read_reply(method, sink)
        except (HttpError, OSError) as exc:
            raise HttpError(f"{method} {path}: {exc}") from exc

    def _read_reply(self, method: str, sink: Callable[[Readable, int], int] | None) -> Reply:
        status_line = self.reader.readline(65536)
        if not status_line:
            raise HttpError("connection closed before the answer")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {status_line[:100]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = self.reader.readline(65536)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return Reply(status, headers, b"", 0)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
            return Reply(status, headers, body, len(body))
        if "content-length" in headers:
            length = int(headers["content-length"])
            if sink is not None and status == 200:
                return Reply(status, headers, b"", sink(self.reader, length))
            body = self._read_exact(length)
            return Reply(status, headers, body, len(body))
        body = self.reader.read()  # until the server closes
        return Reply(status, headers, body, len(body))

    def _read_exact(self, length: int) -> bytes:
        data = self.reader.read(length)
        if len(data) != length:
            raise HttpError(f"connection closed after {len(data)} of {length} body bytes")
        return data

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.reader.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.reader.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self._read_exact(size)
            self.reader.readline(16)


def one_request(port: int, method: str, path: str, **kwargs: Any) -> Reply:
    with Connection(port, SMALL_TIMEOUT_S) as conn:
        return conn.request(method, path, **kwargs)


# --------------------------------------------------------------------------------------------- test data


@dataclass
class Blob:
    """``size_mib`` MiB: the shared 1 MiB buffer repeated, then one unique MiB; the digest known up front."""

    base: bytes
    last: bytes
    size_mib: int
    digest: str

    @property
    def size(self) -> int:
        return self.size_mib * MIB

    def parts(self) -> list[memoryview]:
        base = memoryview(self.base)
        return [base] * (self.size_mib - 1) + [memoryview(self.last)]

    def expected_chunk(self, index: int) -> bytes:
        return self.last if index == self.size_mib - 1 else self.base


class BlobFactory:
    """Makes blobs of a few sizes with a new digest per call, hashing the shared prefix only once."""

    def __init__(self, sizes_mib: Sequence[int]) -> None:
        self.base = os.urandom(CHUNK)
        self._prefix: dict[int, Any] = {}
        hasher = hashlib.sha256()
        done = 0
        for size in sorted(set(sizes_mib)):
            for _ in range(size - 1 - done):
                hasher.update(self.base)
            done = size - 1
            self._prefix[size] = hasher.copy()

    def make(self, size_mib: int, label: str) -> Blob:
        token = f"dockyard-bench {label} {uuid.uuid4()}".encode()
        last = token + self.base[len(token) :]
        hasher = self._prefix[size_mib].copy()
        hasher.update(last)
        return Blob(self.base, last, size_mib, f"sha256:{hasher.hexdigest()}")


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


# --------------------------------------------------------------------------------------------- servers


@dataclass
class Server(ServerProcess):
    auth: dict[str, str] = field(default_factory=dict)  # headers every /v2/ request carries

    cleared_env = ("AWS_", "DOCKYARD_", "REGISTRY_")

    def probe(self) -> bool:
        try:
            return one_request(self.port, "GET", "/v2/").status == 200
        except (OSError, HttpError):
            return False

    def prepare(self, repos: Sequence[str]) -> None:
        """Make the repositories pushable and set up authentication."""


class DistributionServer(Server):
    """CNCF Distribution 2.8 from Debian, run directly (not through its systemd unit)."""

    def config(self) -> str:
        data = self.workdir / "distribution-data"
        data.mkdir(exist_ok=True)
        # Debian's own config keeps the in-memory blob descriptor cache; so does this one. No auth, no
        # access log, errors only: the same logging regime as dockyard's --log-level warning.
        return (
            "version: 0.1\n"
            "log:\n"
            "  level: error\n"
            "  accesslog:\n"
            "    disabled: true\n"
            "storage:\n"
            "  filesystem:\n"
            f"    rootdirectory: {data}\n"
            "  cache:\n"
            "    blobdescriptor: inmemory\n"
            "  delete:\n"
            "    enabled: true\n"
            "  maintenance:\n"
            "    uploadpurging:\n"
            "      enabled: false\n"
            "http:\n"
            f"  addr: {HOST}:{self.port}\n"
            f"  secret: {uuid.uuid4().hex}\n"
        )

    def command(self) -> list[str]:
        path = self.workdir / "distribution.yml"
        path.write_text(self.config())
        return [DISTRIBUTION_BIN, "serve", str(path)]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["OTEL_TRACES_EXPORTER"] = "none"
        return env


class DockyardServer(Server):
    def command(self) -> list[str]:
        return dockyard_server_command(self.workdir, self.port)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(DOCKYARD_ACCESS_KEY_ID=KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=SECRET, PYTHONUNBUFFERED="1")
        return env

    def probe(self) -> bool:
        try:
            return one_request(self.port, "GET", "/health").status == 200
        except (OSError, HttpError):
            return False

    def prepare(self, repos: Sequence[str]) -> None:
        import boto3  # noqa: PLC0415  (only needed here; the prerequisite check reports it)
        from botocore.config import Config  # noqa: PLC0415

        ecr = boto3.client(
            "ecr",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )
        for repo in repos:
            ecr.create_repository(repositoryName=repo)
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, _, password = base64.b64decode(token).decode().partition(":")
        if user != "AWS" or not password:
            raise RuntimeError(f"unexpected authorization token form: user {user!r}")
        self.auth = {"Authorization": f"Basic {token}"}
        reply = one_request(self.port, "GET", "/v2/", headers=self.auth)
        if reply.status != 200:
            raise RuntimeError(f"dockyard GET /v2/ with the registry password: HTTP {reply.status}")


# --------------------------------------------------------------------------------------------- blobs


def push_blob(
    server: Server, repo: str, parts: Sequence[bytes | memoryview], digest: str
) -> dict[str, float]:
    """POST uploads/, one streamed PATCH with the whole body, PUT ?digest=; returns the step times."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with Connection(server.port) as conn:
        reply = conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers=server.auth)
        if reply.status != 202 or "location" not in reply.headers:
            raise HttpError(f"{server.name} POST uploads/: HTTP {reply.status} {reply.body[:300]!r}")
        location = reply.headers["location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        t1 = time.perf_counter()
        headers = {**server.auth, "Content-Type": "application/octet-stream"}
        reply = conn.request("PATCH", location, headers=headers, body=parts)
        if reply.status != 202 or "location" not in reply.headers:
            raise HttpError(f"{server.name} PATCH: HTTP {reply.status} {reply.body[:300]!r}")
        location = reply.headers["location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        t2 = time.perf_counter()
        sep = "&" if "?" in location else "?"
        reply = conn.request("PUT", f"{location}{sep}digest={digest}", headers=server.auth)
        if reply.status != 201:
            raise HttpError(f"{server.name} PUT ?digest=: HTTP {reply.status} {reply.body[:300]!r}")
        if reply.headers.get("docker-content-digest", digest) != digest:
            raise HttpError(f"{server.name} PUT: digest {reply.headers['docker-content-digest']} != {digest}")
        t3 = time.perf_counter()
    times.update(start_s=t1 - t0, patch_s=t2 - t1, commit_s=t3 - t2, total_s=t3 - t0)
    return times


def pull_sink(blob: Blob, verify: bool) -> Callable[[Readable, int], int]:
    """Reads the body in 1 MiB pieces into one reused buffer; compares each with what was pushed."""

    def sink(reader: Readable, length: int) -> int:
        if length != blob.size:
            raise HttpError(f"pull: Content-Length {length}, expected {blob.size}")
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        received = 0
        index = 0
        while received < length:
            want = min(CHUNK, length - received)
            got = 0
            while got < want:
                n = reader.readinto(view[got:want])
                if not n:
                    raise HttpError(f"pull: connection closed after {received + got} of {length} bytes")
                got += n
            if verify and buf != blob.expected_chunk(index):  # bytearray == bytes is one memcmp
                raise HttpError(f"pull: MiB {index} differs from what was pushed")
            received += got
            index += 1
        return received

    return sink


def pull_blob(server: Server, repo: str, blob: Blob, verify: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    with Connection(server.port) as conn:
        reply = conn.request(
            "GET", f"/v2/{repo}/blobs/{blob.digest}", headers=server.auth, sink=pull_sink(blob, verify)
        )
    elapsed = time.perf_counter() - t0
    if reply.status != 200 or reply.body_bytes != blob.size:
        raise HttpError(f"{server.name} GET blob: HTTP {reply.status}, {reply.body_bytes} bytes")
    return {"total_s": elapsed}


def transfer(
    server: Server,
    blob: Blob,
    verify: bool,
    *,
    rss: bool = False,
    reset_hwm: bool = False,
    profiler: Profiler | None = None,
    label: str = "",
) -> dict[str, Any]:
    """One push then one pull of ``blob``, each measured (time, CPU, server RSS)."""
    result: dict[str, Any] = {"server": server.name, "size_mib": blob.size_mib, "digest": blob.digest}
    sampler = RssSampler(server.pid)
    if reset_hwm:
        result["hwm_reset"] = sampler.reset_hwm()
    with sampler:
        for step in ("push", "pull"):
            with profiled(profiler, server, f"{label}-{step}"):
                meter = CpuMeter(server.pids)
                if step == "push":
                    times = push_blob(server, BLOB_REPO, blob.parts(), blob.digest)
                else:
                    times = pull_blob(server, BLOB_REPO, blob, verify)
                cpu = meter.stop()
            result[step] = {**times, **cpu, "mib_s": blob.size_mib / times["total_s"]}
    result["rss_max_mb"] = sampler.max_kib / 1024
    result["rss_samples"] = sampler.samples
    result["hwm_mb"] = sampler.hwm_kib() / 1024
    if rss:
        result["rss_series_kib"] = sampler.series
    return result


# --------------------------------------------------------------------------------------------- profiling


class Profiler:
    """Samples the dockyard server with py-spy (raw format) during chosen phases; summarises the samples."""

    def __init__(self, directory: Path, py_spy: str) -> None:
        self.directory = directory
        self.py_spy = py_spy
        self.files: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def record(self, pid: int, label: str) -> Iterator[None]:
        path = self.directory / f"{label}.txt"
        command = [self.py_spy, "record", "--format", "raw", "-r", "200", "--pid", str(pid), "-o", str(path)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # let it attach
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if path.exists():
                self.files.append(path)

    def summary(self, top: int = 12) -> str:
        lines = []
        for path in self.files:
            lines.append(f"{path.name}:")
            lines.append(summarize_raw(path, top))
        return "\n".join(lines)


def summarize_raw(path: Path, top: int) -> str:
    """Top functions by self samples (leaf frame) and by inclusive samples, from py-spy raw output."""
    total = 0
    leaf: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if frames:
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count
    if not total:
        return "    (no samples)"
    out = [f"  {total} samples (all active threads); self:"]
    out += [
        f"    {100 * n / total:5.1f}%  {name}"
        for name, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]
    ]
    out.append("  inclusive (dockyard, starlette, uvicorn, anyio frames):")
    own = [
        (k, v)
        for k, v in inclusive.items()
        if any(p in k for p in ("dockyard/", "starlette/", "uvicorn/", "anyio/"))
    ]
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in sorted(own, key=lambda kv: -kv[1])[:top]]
    return "\n".join(out)


def _short_frame(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:123)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file_part = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in file_part:
            file_part = file_part.split(marker, 1)[1]
            break
    return f"{name} ({file_part})" if file_part else name


@contextlib.contextmanager
def profiled(profiler: Profiler | None, server: Server, label: str) -> Iterator[None]:
    if profiler is None or server.name != "dockyard":
        yield
        return
    with profiler.record(server.pid, label):
        yield


# --------------------------------------------------------------------------------------------- manifests


@dataclass
class Image:
    config: bytes
    layer: bytes
    manifest: bytes


def make_image() -> Image:
    layer = os.urandom(4096)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
            "history": [{"created_by": "dockyard bench"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": SCHEMA2_MANIFEST,
            "config": {"mediaType": SCHEMA2_CONFIG, "size": len(config), "digest": sha256(config)},
            "layers": [{"mediaType": SCHEMA2_LAYER, "size": len(layer), "digest": sha256(layer)}],
        },
        indent=3,  # as docker writes it
    ).encode()
    return Image(config, layer, manifest)


def push_image(server: Server, image: Image) -> None:
    for data in (image.config, image.layer):
        push_blob(server, IMAGE_REPO, [data], sha256(data))
    reply = one_request(
        server.port,
        "PUT",
        f"/v2/{IMAGE_REPO}/manifests/{IMAGE_TAG}",
        headers={**server.auth, "Content-Type": SCHEMA2_MANIFEST},
        body=[image.manifest],
    )
    if reply.status != 201:
        raise RuntimeError(f"{server.name} PUT manifest: HTTP {reply.status} {reply.body[:300]!r}")
    reply = one_request(
        server.port,
        "GET",
        f"/v2/{IMAGE_REPO}/manifests/{IMAGE_TAG}",
        headers={**server.auth, "Accept": MANIFEST_ACCEPT},
    )
    if reply.status != 200 or reply.body != image.manifest:
        raise RuntimeError(f"{server.name} GET manifest: HTTP {reply.status}, body differs from the push")
    if reply.headers.get("docker-content-digest") != sha256(image.manifest):
        raise RuntimeError(f"{server.name} GET manifest: wrong Docker-Content-Digest")


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable ASCII is a valid Lua string literal


_WRK_SCRIPT = r"""-- generated by bench/registry_throughput.py: GET one manifest, check every answer
wrk.method = "GET"
wrk.path = @PATH@
@HEADERS@
local expected_length = @LENGTH@
local out_path = @OUT_PATH@
local threads = {}
bad_status = 0
bad_body = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif #body ~= expected_length then
    bad_body = bad_body + 1
  end
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
    '{"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"bad_status":%d,"bad_body":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,' ..
    '"mean":%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, nstatus, nbody,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
  f:close()
end
"""


def run_wrk(
    wrk: str,
    server: Server,
    image: Image,
    seconds: float,
    connections: int,
    workdir: Path,
    profiler: Profiler | None = None,
    label: str = "",
) -> dict[str, Any]:
    out_path = workdir / f"wrk-{server.name}.json"
    out_path.unlink(missing_ok=True)
    headers = {**server.auth, "Accept": MANIFEST_ACCEPT}
    script = _WRK_SCRIPT
    for key, value in {
        "@PATH@": lua_string(f"/v2/{IMAGE_REPO}/manifests/{IMAGE_TAG}"),
        "@HEADERS@": "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()),
        "@LENGTH@": str(len(image.manifest)),
        "@OUT_PATH@": lua_string(str(out_path)),
    }.items():
        script = script.replace(key, value)
    script_path = workdir / f"wrk-{server.name}.lua"
    script_path.write_text(script)
    command = [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "2s",
        "--script",
        str(script_path),
        server.endpoint + "/",
    ]
    with profiled(profiler, server, label):
        meter = CpuMeter(server.pids)
        proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
        cpu = meter.stop()
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    raw = json.loads(out_path.read_text())
    duration = raw["duration_us"] / 1e6
    return {
        "server": server.name,
        "requests": raw["requests"],
        "duration_s": duration,
        "rps": raw["requests"] / duration if duration else 0.0,
        "errors": sum(raw["errors"].values()),
        "error_detail": raw["errors"],
        "latency_ms": {k: v / 1000 for k, v in raw["latency_us"].items()},
        **cpu,
    }


# --------------------------------------------------------------------------------------------- orchestration


def ancestors() -> set[int]:
    """This process and its parents, up to init."""
    found = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return found


def other_benchmark_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "api_throughput.py"], capture_output=True, text=True, check=False)
    mine = ancestors()  # a shell that started both benchmarks in one command line matches too
    return [int(p) for p in found.stdout.split() if p.strip().isdigit() and int(p) not in mine]


def foreign_cpu_pct(own_pids: Callable[[], list[int]], seconds: float = 1.0) -> float:
    """CPU (% of one core) used by programs other than ours (this process, its children, the servers)."""
    ours0, busy0 = cpu_seconds(own_pids()) + own_cpu_seconds(), machine_busy_seconds()
    time.sleep(seconds)
    ours1, busy1 = cpu_seconds(own_pids()) + own_cpu_seconds(), machine_busy_seconds()
    return max(0.0, 100 * ((busy1 - busy0) - (ours1 - ours0)) / seconds)


def wait_quiet(
    max_wait_s: float, own_pids: Callable[[], list[int]], log: list[dict[str, Any]], phase: str
) -> None:
    """Wait (at most ``max_wait_s``) until no api_throughput.py benchmark runs, then until other programs
    use under QUIET_CPU_PCT of a core over QUIET_WINDOWS consecutive 1 s windows (a test suite, another
    session's work)."""
    started = time.monotonic()
    reason = ""
    calm = 0
    while True:
        waited = time.monotonic() - started
        others = other_benchmark_pids()
        if others:
            calm = 0
            why = f"api_throughput.py running (pids {others})"
        else:
            load = foreign_cpu_pct(own_pids)
            calm = calm + 1 if load < QUIET_CPU_PCT else 0
            why = f"other programs using {load:.0f}% CPU"
            if calm >= QUIET_WINDOWS:
                if reason:
                    print(f"  ... quiet after {waited:.0f} s", flush=True)
                log.append({"phase": phase, "waited_s": round(waited, 1), "gave_up": False, "why": reason})
                return
        if waited >= max_wait_s:
            print(f"  WARNING: still not quiet after {waited:.0f} s ({why}); going on", flush=True)
            log.append({"phase": phase, "waited_s": round(waited, 1), "gave_up": True, "why": why})
            return
        if (others or calm == 0) and (not reason or (others and not reason.startswith("api"))):
            print(f"  {phase}: waiting (at most {max_wait_s:.0f} s): {why}", flush=True)
            reason = why
        if others:
            time.sleep(5)


def prerequisites() -> tuple[list[str], str | None]:
    missing = []
    if not os.access(DISTRIBUTION_BIN, os.X_OK):
        missing.append(f"{DISTRIBUTION_BIN} (CNCF Distribution): apt-get install -y docker-registry")
    wrk = shutil.which("wrk")
    if wrk is None:
        missing.append("wrk (HTTP load generator): apt-get install -y wrk")
    for module in ("boto3", "dockyard"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python module {module}: run with the project's venv (.venv/bin/python)")
    if shutil.which("pgrep") is None:
        missing.append("pgrep: apt-get install -y procps")
    return missing, wrk


def version_of(command: list[str]) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        proc = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        return (proc.stdout + proc.stderr).strip().splitlines()[0]
    return None


def machine_info(wrk: str | None) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "nproc": len(os.sched_getaffinity(0)),
        "sha_ni": " sha_ni" in cpuinfo_line("flags"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "distribution": version_of([DISTRIBUTION_BIN, "--version"]),
        "wrk": version_of([wrk, "-v"]) if wrk else None,
        "versions": package_versions(("dockyard", "uvicorn", "starlette", "anyio", "sqlalchemy", "boto3")),
        "git": git_state(),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(
    blob_runs: list[dict[str, Any]],
    manifest_runs: list[dict[str, Any]],
    rss: dict[str, Any] | None,
    failures: list[dict[str, Any]],
) -> dict[str, Any]:
    summary: dict[str, Any] = {"blob": {}, "manifest": {}}
    for name in ("distribution", "dockyard"):
        runs = [r for r in blob_runs if r["server"] == name]
        if runs:
            entry: dict[str, Any] = {"runs": len(runs)}
            for step in ("push", "pull"):
                speeds = [r[step]["mib_s"] for r in runs]
                entry[step] = {
                    "median_mib_s": median(speeds),
                    "min_mib_s": min(speeds),
                    "max_mib_s": max(speeds),
                    "server_cpu_pct": median([r[step]["server_cpu_pct"] for r in runs]),
                    "client_cpu_pct": median([r[step]["client_cpu_pct"] for r in runs]),
                    "foreign_cpu_pct": max(r[step]["foreign_cpu_pct"] for r in runs),
                }
                if step == "push":
                    entry[step]["median_commit_s"] = median([r[step]["commit_s"] for r in runs])
            entry["rss_max_mb"] = max(r["rss_max_mb"] for r in runs)
            summary["blob"][name] = entry
        rounds = [r for r in manifest_runs if r["server"] == name]
        if rounds:
            requests = sum(r["requests"] for r in rounds)
            duration = sum(r["duration_s"] for r in rounds)
            summary["manifest"][name] = {
                "rounds": len(rounds),
                "rps": requests / duration if duration else 0.0,
                "rps_min": min(r["rps"] for r in rounds),
                "rps_max": max(r["rps"] for r in rounds),
                "p50_ms": median([r["latency_ms"]["p50"] for r in rounds]),
                "p99_ms": max(r["latency_ms"]["p99"] for r in rounds),
                "errors": sum(r["errors"] for r in rounds),
                "requests": requests,
                "server_cpu_pct": median([r["server_cpu_pct"] for r in rounds]),
                "client_cpu_pct": median([r["client_cpu_pct"] for r in rounds]),
                "foreign_cpu_pct": max(r["foreign_cpu_pct"] for r in rounds),
            }
    goals: dict[str, Any] = {}
    blob = summary["blob"]
    if "dockyard" in blob and "distribution" in blob:
        for step in ("push", "pull"):
            ratio = blob["dockyard"][step]["median_mib_s"] / blob["distribution"][step]["median_mib_s"]
            goals[f"blob_{step}"] = {
                "ratio": ratio,
                "goal": GOAL_BLOB_RATIO,
                "met": ratio >= GOAL_BLOB_RATIO and not failures,
            }
    man = summary["manifest"]
    if "dockyard" in man and "distribution" in man and man["distribution"]["rps"] > 0:
        ratio = man["dockyard"]["rps"] / man["distribution"]["rps"]
        errors = man["dockyard"]["errors"] + man["distribution"]["errors"]
        goals["manifest_get"] = {
            "ratio": ratio,
            "goal": GOAL_MANIFEST_RATIO,
            "met": ratio >= GOAL_MANIFEST_RATIO and errors == 0,
        }
    if rss is not None:
        peak = max(rss["rss_max_mb"], rss["hwm_mb"] if rss.get("hwm_reset") else 0.0)
        goals["dockyard_rss"] = {"max_mb": peak, "goal_mb": GOAL_RSS_MB, "met": peak < GOAL_RSS_MB}
    summary["goals"] = goals
    summary["failed_transfers"] = failures
    return summary


def format_report(summary: dict[str, Any], rss: dict[str, Any] | None, args: argparse.Namespace) -> str:
    lines: list[str] = []
    blob = summary["blob"]
    if blob:
        runs = ", ".join(f"{name} {entry['runs']}" for name, entry in blob.items())
        lines.append(f"Blob transfer, {args.blob_mib} MiB, runs: {runs} (MiB/s: median, min-max):")
        header = (
            f"{'server':<14}{'push MiB/s':>11}{'(min-max)':>13}{'srv cpu':>9}{'cli cpu':>9}{'commit s':>10}"
            f"{'pull MiB/s':>12}{'(min-max)':>13}{'srv cpu':>9}{'cli cpu':>9}{'RSS MB':>8}{'other':>7}"
        )
        lines += [header, "-" * len(header)]
        for name, e in blob.items():
            push, pull = e["push"], e["pull"]
            push_spread = f"({push['min_mib_s']:.0f}-{push['max_mib_s']:.0f})"
            pull_spread = f"({pull['min_mib_s']:.0f}-{pull['max_mib_s']:.0f})"
            lines.append(
                f"{name:<14}{push['median_mib_s']:>11.1f}{push_spread:>13}"
                f"{push['server_cpu_pct']:>8.0f}%{push['client_cpu_pct']:>8.0f}%{push['median_commit_s']:>10.2f}"
                f"{pull['median_mib_s']:>12.1f}{pull_spread:>13}"
                f"{pull['server_cpu_pct']:>8.0f}%{pull['client_cpu_pct']:>8.0f}%{e['rss_max_mb']:>8.0f}"
                f"{max(push['foreign_cpu_pct'], pull['foreign_cpu_pct']):>6.0f}%"
            )
        lines.append("")
    man = summary["manifest"]
    if man:
        rounds = next(iter(man.values()))["rounds"]
        lines.append(
            f"Manifest GET by tag, wrk 1 thread, {args.connections} connections, "
            f"{rounds} x {args.duration:g} s:"
        )
        header = (
            f"{'server':<14}{'req/s':>9}{'(min-max)':>17}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
            f"{'requests':>10}"
            f"{'srv cpu':>9}{'wrk cpu':>9}{'other':>7}"
        )
        lines += [header, "-" * len(header)]
        for name, e in man.items():
            spread = f"({e['rps_min']:.0f}-{e['rps_max']:.0f})"
            lines.append(
                f"{name:<14}{e['rps']:>9.0f}{spread:>17}{e['p50_ms']:>9.2f}{e['p99_ms']:>9.2f}{e['errors']:>8}"
                f"{e['requests']:>10}{e['server_cpu_pct']:>8.0f}%{e['client_cpu_pct']:>8.0f}%"
                f"{e['foreign_cpu_pct']:>6.0f}%"
            )
        lines.append("")
    if rss is not None:
        lines.append(
            f"dockyard RSS during a {rss['size_mib']} MiB push ({rss['push']['mib_s']:.0f} MiB/s) + pull "
            f"({rss['pull']['mib_s']:.0f} MiB/s): max VmRSS {rss['rss_max_mb']:.1f} MB over "
            f"{rss['rss_samples']} samples, VmHWM {rss['hwm_mb']:.1f} MB"
            + (" (reset before the transfer)" if rss.get("hwm_reset") else " (since server start: not reset)")
        )
        lines.append("")
    for failure in summary["failed_transfers"]:
        lines.append(f"FAILED transfer, {failure['phase']}: {failure['error']}")
    lines.append("Goals:")
    names = {
        "blob_push": "blob push, dockyard/Distribution",
        "blob_pull": "blob pull, dockyard/Distribution",
        "manifest_get": "manifest GET/s, dockyard/Distribution",
    }
    for key, goal in summary["goals"].items():
        mark = "PASS" if goal["met"] else "FAIL"
        if key == "dockyard_rss":
            lines.append(
                f"  {'dockyard server RSS, big push+pull':<40}{goal['max_mb']:>8.1f} MB "
                f"(goal < {GOAL_RSS_MB:.0f} MB): {mark}"
            )
        else:
            lines.append(f"  {names[key]:<40}{goal['ratio']:>8.2f}x    (goal >= {goal['goal']:.1f}x): {mark}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--blob-mib", type=int, default=1024, help="blob size for push/pull, MiB (default 1024)"
    )
    parser.add_argument(
        "--rss-blob-mib",
        type=int,
        default=2048,
        help="blob size for the RSS run, MiB (default 2048; 0 skips)",
    )
    parser.add_argument("--runs", type=int, default=3, help="push+pull runs per server (default 3)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per manifest round (default 10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="manifest rounds per server, ABBA order (default 2)"
    )
    parser.add_argument("--connections", type=int, default=32, help="manifest GET connections (default 32)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=900.0,
        help="max seconds to wait for api_throughput.py and a quiet machine (default 900)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="repeat a run or round that other programs disturbed (> 10%% CPU), at most N times (default 2)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="don't compare pulled bytes with the pushed ones"
    )
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: blob,manifest,rss")
    parser.add_argument(
        "--json", type=Path, help="result file (default bench/out/registry_throughput-<time>.json)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample dockyard with py-spy in its timed phases, raw stacks to DIR (slows it a little)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (server logs, data)")
    args = parser.parse_args(argv)
    if not 2 <= args.blob_mib <= 16384 or not (args.rss_blob_mib == 0 or 2 <= args.rss_blob_mib <= 16384):
        parser.error("--blob-mib and --rss-blob-mib must be within 2..16384 MiB")
    if not 1 <= args.runs <= 20 or not 1 <= args.rounds <= 20 or not 0 <= args.retries <= 10:
        parser.error("--runs and --rounds must be within 1..20, --retries within 0..10")
    if not 1 <= args.duration <= 600 or not 1 <= args.connections <= 1024:
        parser.error("--duration must be within 1..600 s and --connections within 1..1024")
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - {"blob", "manifest", "rss"}:
        parser.error("--skip takes blob, manifest and/or rss")
    return args


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so that the servers are stopped on the way out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    missing, wrk = prerequisites()
    if missing:
        print("missing prerequisites:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    assert wrk is not None
    info = machine_info(wrk)
    started_at = dt.datetime.now(dt.UTC)
    print(
        f"machine: {info['cpu_model']}, {info['nproc']} cpus (sha_ni: {'yes' if info['sha_ni'] else 'no'}); "
        f"Python {info['python']}; {info['distribution']}; {info['wrk']}"
    )
    out_path = args.json or OUT_DIR / f"registry_throughput-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"

    profiler = None
    if args.profile is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not os.access(py_spy, os.X_OK):
            print("--profile needs py-spy: .venv/bin/pip install py-spy", file=sys.stderr)
            return 2
        profiler = Profiler(args.profile, py_spy)

    sizes = [args.blob_mib] + ([args.rss_blob_mib] if args.rss_blob_mib and "rss" not in args.skip else [])
    t0 = time.perf_counter()
    factory = BlobFactory(sizes)
    print(f"hashed the shared blob prefix ({max(sizes) - 1} MiB) in {time.perf_counter() - t0:.1f} s")

    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    distribution = DistributionServer("distribution", workdir)
    dockyard = DockyardServer("dockyard", workdir)
    servers: list[Server] = [distribution, dockyard]
    image = make_image()
    waits: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []

    def own_pids() -> list[int]:
        return [pid for server in servers if server.process is not None for pid in server.pids()]

    blob_runs: list[dict[str, Any]] = []
    manifest_runs: list[dict[str, Any]] = []
    rss: dict[str, Any] | None = None
    setup: dict[str, Any] = {}
    finished = False
    try:
        with running(servers, expected_exits=(2,)):
            for server in servers:
                ready = server.wait_ready(STARTUP_DEADLINE_S)
                server.prepare([BLOB_REPO, IMAGE_REPO])
                push_image(server, image)
                setup[server.name] = {"port": server.port, "pid": server.pid, "ready_s": round(ready, 2)}
                print(
                    f"{server.name}: ready in {ready:.1f} s, port {server.port}, pid {server.pid}, image in"
                )

            if "blob" not in args.skip:
                # Warm-up: one small push+pull each, so first-use costs (imports, threads) are not timed.
                for server in servers:
                    transfer(server, _small(factory), not args.no_verify)
                for run in range(args.runs):
                    order = servers if run % 2 == 0 else servers[::-1]
                    for server in order:
                        phase = f"blob run {run + 1} {server.name}"

                        def blob_once(
                            server: Server = server, run: int = run, phase: str = phase
                        ) -> dict[str, Any]:
                            wait_quiet(args.quiet_wait, own_pids, waits, phase)
                            return transfer(
                                server,
                                factory.make(args.blob_mib, f"{server.name}-{run}-{uuid.uuid4().hex[:8]}"),
                                not args.no_verify,
                                profiler=profiler,
                                label=f"blob-{run + 1}",
                            )

                        try:
                            result = undisturbed(blob_once, args.retries, discarded, phase)
                        except HttpError as exc:  # a failed transfer is a finding: record it, go on
                            failures.append({"phase": phase, "server": server.name, "error": str(exc)})
                            print(f"  run {run + 1} {server.name:<13} FAILED: {exc}", flush=True)
                            continue
                        result["run"] = run + 1
                        blob_runs.append(result)
                        print(f"  run {run + 1} {server.name:<13} {transfer_line(result)}", flush=True)

            if "manifest" not in args.skip:
                for rnd in range(args.rounds):
                    order = servers if rnd % 2 == 0 else servers[::-1]
                    for server in order:
                        phase = f"manifest round {rnd + 1} {server.name}"

                        def manifest_once(
                            server: Server = server, rnd: int = rnd, phase: str = phase
                        ) -> dict[str, Any]:
                            wait_quiet(args.quiet_wait, own_pids, waits, phase)
                            run_wrk(wrk, server, image, WARMUP_S, args.connections, workdir)  # warm-up
                            return run_wrk(
                                wrk,
                                server,
                                image,
                                args.duration,
                                args.connections,
                                workdir,
                                profiler,
                                f"manifest-{rnd + 1}",
                            )

                        result = undisturbed(manifest_once, args.retries, discarded, phase)
                        result["round"] = rnd + 1
                        manifest_runs.append(result)
                        print(f"  round {rnd + 1} {server.name:<13} {wrk_line(result)}", flush=True)

            if args.rss_blob_mib and "rss" not in args.skip:
                wait_quiet(args.quiet_wait, own_pids, waits, "rss")
                rss = transfer(
                    dockyard,
                    factory.make(args.rss_blob_mib, "rss"),
                    not args.no_verify,
                    rss=True,
                    reset_hwm=True,
                )
                print(
                    f"  rss  dockyard      {rss['size_mib']} MiB push {rss['push']['mib_s']:.1f} MiB/s, "
                    f"pull {rss['pull']['mib_s']:.1f} MiB/s, max VmRSS {rss['rss_max_mb']:.1f} MB, "
                    f"VmHWM {rss['hwm_mb']:.1f} MB",
                    flush=True,
                )
            finished = True
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
    finally:
        if args.keep_workdir:
            print(f"work dir kept in {workdir}", file=sys.stderr)
        elif finished:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # keep the logs, not gigabytes of blobs
            for data in workdir.glob("*-data"):
                shutil.rmtree(data, ignore_errors=True)
            print(f"server logs kept in {workdir}", file=sys.stderr)
    if not finished:
        return 1

    summary = summarize(blob_runs, manifest_runs, rss, failures)
    print()
    print(format_report(summary, rss, args))
    print(
        "columns: srv/cli/wrk cpu = server / this client / wrk CPU (100% = one core), median over runs; "
        "other = max CPU used by anything else on the machine; commit s = the PUT ?digest= step"
    )
    phases = [(r["push"], r["pull"]) for r in blob_runs] + [(r, r) for r in manifest_runs]
    noisy = sum(
        1 for a, b in phases if max(a["foreign_cpu_pct"], b["foreign_cpu_pct"]) > NOISY_FOREIGN_CPU_PCT
    )
    if noisy:
        print(
            f"WARNING: other programs used > {NOISY_FOREIGN_CPU_PCT:.0f}% CPU during {noisy} phases: "
            "these numbers are noisy"
        )

    if profiler is not None:
        print("\nprofile of dockyard (py-spy, raw stacks in " + str(args.profile) + "):")
        print(profiler.summary())

    out_path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "registry_throughput",
        "started_at": started_at.isoformat(),
        "machine": info,
        "settings": {
            "blob_mib": args.blob_mib,
            "rss_blob_mib": args.rss_blob_mib,
            "runs": args.runs,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "verify_pulls": not args.no_verify,
            "skip": sorted(args.skip),
            "profiled": args.profile is not None,
        },
        "setup": setup,
        "quiet_waits": waits,
        "discarded_disturbed_runs": discarded,
        "failures": failures,
        "summary": summary,
        "noisy_phases": noisy,
        "blob_runs": blob_runs,
        "manifest_runs": manifest_runs,
        "rss": rss,
    }
    out_path.write_text(json.dumps(document, indent=1))
    print(f"\nresults: {out_path}")
    return 0


def disturbance(result: dict[str, Any]) -> float:
    """The most CPU other programs used during any measured step of a result."""
    steps = [result[k] for k in ("push", "pull") if k in result] or [result]
    return float(max(step["foreign_cpu_pct"] for step in steps))


def undisturbed(
    measure: Callable[[], dict[str, Any]], retries: int, discarded: list[dict[str, Any]], phase: str
) -> dict[str, Any]:
    """Run ``measure``; repeat it (at most ``retries`` times) while other programs disturbed it."""
    for attempt in range(retries + 1):
        result = measure()
        result["attempt"] = attempt + 1
        noise = disturbance(result)
        if noise <= NOISY_FOREIGN_CPU_PCT or attempt == retries:
            return result
        print(f"  {phase}: other programs used {noise:.0f}% CPU meanwhile: discarded, repeating", flush=True)
        discarded.append({"phase": phase, **result})
    raise AssertionError("unreachable")


def transfer_line(result: dict[str, Any]) -> str:
    push, pull = result["push"], result["pull"]
    return (
        f"push {push['mib_s']:7.1f} MiB/s (commit {push['commit_s']:.2f} s, srv cpu "
        f"{push['server_cpu_pct']:.0f}%)  pull {pull['mib_s']:7.1f} MiB/s (srv cpu "
        f"{pull['server_cpu_pct']:.0f}%, cli cpu {pull['client_cpu_pct']:.0f}%)  "
        f"RSS max {result['rss_max_mb']:.0f} MB  other cpu "
        f"{max(push['foreign_cpu_pct'], pull['foreign_cpu_pct']):.0f}%"
    )


def wrk_line(result: dict[str, Any]) -> str:
    latency = result["latency_ms"]
    return (
        f"{result['rps']:8.0f} req/s  p50 {latency['p50']:.2f} ms  p99 {latency['p99']:.2f} ms  "
        f"errors {result['errors']}  srv cpu {result['server_cpu_pct']:.0f}%  "
        f"wrk cpu {result['client_cpu_pct']:.0f}%  other {result['foreign_cpu_pct']:.0f}%"
    )


def _small(factory: BlobFactory) -> Blob:
    """A 2 MiB warm-up blob (its digest computed here; the factory's prefixes are for the timed sizes)."""
    last = f"dockyard-bench warmup {uuid.uuid4()}".encode()
    last += factory.base[len(last) :]
    return Blob(factory.base, last, 2, sha256(factory.base + last))


if __name__ == "__main__":
    sys.exit(main())
