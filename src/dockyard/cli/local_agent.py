"""The agent ``dockyard up`` runs next to its server: a supervised ``dockyard agent`` child process.

Started once the server answers ``/health``, joined to the cluster ``default`` (which the agent creates if
missing) with the root credentials, its log lines copied to ``up``'s stderr prefixed ``agent | ``. It runs in
its own session (a Ctrl-C in the terminal reaches ``up``, which stops it) and gets SIGTERM from the kernel
should ``up`` die without stopping it. An unexpected exit (non-zero status) is followed by a restart after
a growing delay (1 s doubling to 1 min); :meth:`LocalAgent.stop` sends SIGTERM and waits, then SIGKILLs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from dockyard.agent.config import DEFAULT_DOCKER_SOCKET, ENV_PREFIX
from dockyard.agent.host import docker_engine_version

CLUSTER = "default"
LOG_PREFIX = "agent | "
FARGATE_LOG_PREFIX = "fargate | "
FARGATE_METADATA_PORT = 51680  # beside a local agent's 51679 on the same host
STOP_TIMEOUT_S = 15.0
FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 60.0
_PR_SET_PDEATHSIG = 1


def agent_endpoint(host: str, port: int) -> str:
    """The URL the local agent reaches the server on: loopback when the server listens on every address."""
    if host in {"", "0.0.0.0"}:  # noqa: S104 - recognising the wildcard, not binding to it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def docker_socket(environ: Mapping[str, str]) -> str:
    """The Docker Engine socket the agent will use (``DOCKYARD_AGENT_DOCKER_SOCKET`` or the default)."""
    return environ.get(ENV_PREFIX + "DOCKER_SOCKET") or DEFAULT_DOCKER_SOCKET


def docker_reachable(socket_path: str, timeout_s: float = 3.0) -> bool:
    """Whether the Docker Engine answers ``/version`` on ``socket_path`` right now."""
    if not Path(socket_path).exists():  # httpcore leaks the socket of a failed unix connect
        return False
    try:
        docker_engine_version(socket_path, timeout_s)
    except httpx.HTTPError:
        return False
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when ``up`` dies (Linux), or ``None``.

    libc is looked up here, in the parent: the child only makes the one system call.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


@dataclass
class LocalAgent:
    """``dockyard agent --endpoint <endpoint> --cluster default --data-dir <data_dir>`` under supervision."""

    endpoint: str
    data_dir: Path
    access_key_id: str
    secret_access_key: str
    region: str
    log_level: str = "info"
    output: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_timeout_s: float = STOP_TIMEOUT_S
    fargate: bool = False
    """Join the Fargate pool (``--fargate``, with the pool's key) instead of the cluster ``default``."""
    docker_socket: str | None = None
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _process: subprocess.Popen[str] | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    pids: list[int] = field(default_factory=list, init=False)
    """Every agent process started, in order (for tests and diagnostics)."""

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dockyard.cli.main",
            "agent",
            *("--endpoint", self.endpoint),
            *(
                ("--fargate", "--metadata-port", str(FARGATE_METADATA_PORT))
                if self.fargate
                else ("--cluster", CLUSTER)
            ),
            *(("--docker-socket", self.docker_socket) if self.docker_socket else ()),
            *("--data-dir", str(self.data_dir), "--log-level", self.log_level),
        ]

    @property
    def log_prefix(self) -> str:
        return FARGATE_LOG_PREFIX if self.fargate else LOG_PREFIX

    def child_env(self) -> dict[str, str]:
        drop = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
        env = {k: v for k, v in self.environ.items() if k not in drop}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret_access_key,
            AWS_REGION=self.region,
            AWS_DEFAULT_REGION=self.region,
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        """Start supervising in a daemon thread: wait for the server, then run (and re-run) the agent."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervise, name="local-agent", daemon=True)
        self._thread.start()

    def stop(self) -> int | None:
        """SIGTERM the agent and wait for it (SIGKILL after ``stop_timeout_s``); its exit status, if it ran.

        Safe to call more than once, and before :meth:`start`.
        """
        self._stopping.set()
        with self._lock:
            process = self._process
        status: int | None = None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=self.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    self._say(f"did not stop within {self.stop_timeout_s:g} s: killing it")
                    process.kill()
                    process.wait()
            status = process.returncode
            self._say(f"stopped (status {status})")
        if self._thread is not None:
            self._thread.join(timeout=self.stop_timeout_s)
        return status

    # --- the supervisor thread ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        if not self._wait_for_server():
            return
        delay = FIRST_RESTART_DELAY_S
        while not self._stopping.is_set():
            started = time.monotonic()
            status = self._run_once()
            if status is None or self._stopping.is_set():
                return
            if status == 0:
                self._say("exited (status 0); not restarting it")
                return
            if time.monotonic() - started > MAX_RESTART_DELAY_S:
                delay = FIRST_RESTART_DELAY_S  # it ran a good while: start over from a short delay
            self._say(f"exited with status {status}; restarting it in {delay:g} s")
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    def _wait_for_server(self) -> bool:
        url = f"{self.endpoint}/health"
        while not self._stopping.is_set():
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own http URL
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            self._stopping.wait(0.1)
        return False

    def _run_once(self) -> int | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            try:
                process = subprocess.Popen(
                    self.command(),
                    env=self.child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",
                    start_new_session=True,
                    preexec_fn=_die_with_parent_hook(),  # noqa: PLW1509 - one system call, no locks
                )
            except OSError as exc:
                self._say(f"cannot start: {exc}")
                return None
            self._process = process
            self.pids.append(process.pid)
        where = "the Fargate pool" if self.fargate else f"cluster {CLUSTER}"
        self._say(f"started (pid {process.pid}) in {where}, data in {self.data_dir}")
        assert process.stdout is not None
        for line in process.stdout:
            self._emit(line)
        return process.wait()

    def _say(self, message: str) -> None:
        self._emit(f"{message}\n")

    def _emit(self, line: str) -> None:
        try:
            prefix = self.log_prefix
            self.output.write(prefix + line if line.endswith("\n") else f"{prefix}{line}\n")
            self.output.flush()
        except (OSError, ValueError):
            pass  # our stderr is gone: keep draining the pipe so the agent never blocks on it
