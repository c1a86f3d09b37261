"""What the benchmarks share: servers run as subprocesses, CPU accounting from /proc, machine facts.

Imported by the scripts beside it (``python bench/<script>.py`` puts this directory on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
STOP_DEADLINE_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------- /proc


def children_of(pid: int) -> list[int]:
    """Direct and indirect children of ``pid`` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    for child in (task / "children").read_text().split():
                        found.append(int(child))
                        queue.append(int(child))
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of the given processes (all their threads), from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------- servers


@dataclass
class ServerProcess:
    """One server under test, run as a subprocess (own session, log file) on a free loopback port.

    Subclasses give ``command()`` and ``probe()``; ``cleared_env`` names the environment prefixes the
    server must not inherit (credentials, its own settings).
    """

    name: str
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    cleared_env: ClassVar[tuple[str, ...]] = ("AWS_", "DOCKYARD_")

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The server and every process it started."""
        return [self.pid, *children_of(self.pid)]

    def command(self) -> list[str]:
        raise NotImplementedError

    def launch_command(self) -> list[str]:
        """What is executed: ``command()``, or a wrapper around it that keeps its pid (``taskset``)."""
        return self.command()

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(self.cleared_env)}

    def probe(self) -> bool:
        """One readiness check."""
        raise NotImplementedError

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.launch_command(),
                env=self.env(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, deadline_s: float) -> float:
        """Poll ``probe()`` until it holds; the seconds that took. Raises if the server exits or the
        deadline passes."""
        started = time.monotonic()
        while time.monotonic() < started + deadline_s:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during startup; log:\n{self.log_tail()}")
            if self.probe():
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {deadline_s:.0f} s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after :data:`STOP_DEADLINE_S`; the exit status (None if never started)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=STOP_DEADLINE_S)


def dockyard_server_command(workdir: Path, port: int) -> list[str]:
    """``dockyard server`` on ``port`` with a fresh data dir in ``workdir`` and no access log."""
    data_dir = workdir / "dockyard-data"
    data_dir.mkdir(exist_ok=True)
    return [
        sys.executable,
        "-m",
        "dockyard.cli.main",
        "server",
        "--data-dir",
        str(data_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def running(servers: Sequence[ServerProcess], expected_exits: Collection[int] = ()) -> Iterator[None]:
    """Start ``servers``; stop them at the end, showing the log of one that exited unexpectedly."""
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            rc = server.stop()
            if rc not in (None, 0, -signal.SIGTERM, *expected_exits):
                print(
                    f"note: {server.name} exited with {rc}; log tail:\n{server.log_tail(10)}", file=sys.stderr
                )


# --------------------------------------------------------------------------------------------- machine


def cpuinfo_line(prefix: str) -> str:
    """The first /proc/cpuinfo line starting with ``prefix`` (``model name``, ``flags``), or ``""``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(prefix):
                return line
    return ""


def cpu_model() -> str:
    line = cpuinfo_line("model name")
    return line.split(":", 1)[1].strip() if line else ""


def package_versions(dists: Iterable[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in dists:
        with contextlib.suppress(Exception):
            versions[dist] = version(dist)
    return versions


def git_state() -> dict[str, Any]:
    """The commit benchmarked and whether ``src`` had uncommitted changes (empty if git cannot say)."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "src_dirty": bool(dirty)}


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip()
