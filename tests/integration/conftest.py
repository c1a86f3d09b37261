"""A real dockyard server on loopback, and real clients (boto3, the aws CLI) pointed at it."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.polling import wait_until

ROOT_KEY_ID = "AKIATESTROOTKEY00001"
ROOT_SECRET = "test-root-secret-key-0000000000000000000"
REGION = "us-east-1"
STARTUP_DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_EKS_PORTS_LOW, _EKS_PORTS_HIGH = 20000, 32000
_eks_blocks_taken = itertools.count()


def eks_port_block(size: int = 100) -> str:
    """A block of ports for one server's EKS clusters' listeners, below the ephemeral range that
    :func:`free_port` draws from. Each cluster binds its port, so servers running at once must not share
    a block: the blocks are dealt round-robin, each pytest-xdist worker taking only its own share (a
    worker's servers reuse a block only after all its others have been dealt)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    per_worker = (_EKS_PORTS_HIGH - _EKS_PORTS_LOW) // size // workers
    block = worker + workers * (next(_eks_blocks_taken) % per_worker)
    start = _EKS_PORTS_LOW + block * size
    return f"{start}-{start + size - 1}"


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    account_id: str = ""


@dataclass
class ServerProcess:
    """A ``dockyard server`` subprocess with its own data dir and port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    open_files_limit: int | None = None
    """A soft RLIMIT_NOFILE to start the server with (what a default shell gives), if not inherited."""
    eks_api_ports: str = field(default_factory=eks_port_block)
    """The server's ``eks_api_port_range`` (``LOW-HIGH``)."""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dockyard.cli.main", *args]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
        env.update(DOCKYARD_ACCESS_KEY_ID=ROOT_KEY_ID, DOCKYARD_SECRET_ACCESS_KEY=ROOT_SECRET)
        env.update(DOCKYARD_FARGATE_LOCAL_POOL="0")  # the Fargate tests turn the built-in pool host on
        env.update(DOCKYARD_EKS_API_PORT_RANGE=self.eks_api_ports)
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        with (self.data_dir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command(
                    "server", "--data-dir", str(self.data_dir), "--host", self.host, "--port", str(self.port)
                ),
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_open_files if self.open_files_limit else None,  # noqa: PLW1509
            )
        wait_until(self._healthy, deadline_s=STARTUP_DEADLINE_S, what=f"dockyard server on {self.endpoint}")

    def _limit_open_files(self) -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files_limit, hard))

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"server exited with {self.process.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.endpoint}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL); safe to call twice or before a start."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def create_key(self, user: str, account: str | None = None) -> Keys:
        """Create a key with ``dockyard keys create`` (a new account unless ``account`` is given)."""
        args = ["keys", "--data-dir", str(self.data_dir), "create", "--user", user]
        if account:
            args += ["--account", account]
        out = subprocess.run(
            self.command(*args), env=self.env(), capture_output=True, text=True, check=True
        ).stdout
        values = dict(re.findall(r"^(account|access key id|secret access key)\s+(\S+)$", out, re.MULTILINE))
        return Keys(values["access key id"], values["secret access key"], values["account"])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server"))
    try:
        proc.start()
        yield proc
    finally:
        if proc.process is not None:
            proc.stop()


@pytest.fixture(scope="session")
def root_keys() -> Keys:
    return Keys(ROOT_KEY_ID, ROOT_SECRET)


@pytest.fixture
def account_keys(server: ServerProcess) -> Keys:
    """A key in a brand-new account, so the test starts from an empty account."""
    return server.create_key(f"user-{uuid.uuid4().hex[:8]}")


def make_client(server: ServerProcess, service: str, keys: Keys, region: str = REGION) -> Any:
    return client_at(server.endpoint, service, keys, region)


def client_at(endpoint: str, service: str, keys: Keys, region: str = REGION) -> Any:
    """A boto3 client for ``service`` at ``endpoint``, signing with ``keys``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
    )


@pytest.fixture
def ecs(server: ServerProcess, account_keys: Keys) -> Any:
    return make_client(server, "ecs", account_keys)


def unique_name(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"


def run_aws(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real aws CLI with exactly ``env`` (plus PATH and an empty HOME)."""
    home = env.get("HOME") or str(Path(os.environ.get("TMPDIR", "/tmp")) / f"aws-home-{uuid.uuid4().hex[:6]}")
    full_env = {"PATH": os.environ["PATH"], "HOME": home, **env}
    result = subprocess.run(
        [AWS_CLI, *args], check=False, env=full_env, capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        pytest.fail(f"aws {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result
