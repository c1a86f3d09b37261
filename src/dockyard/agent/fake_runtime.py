"""``FakeRuntime``: the :class:`ContainerRuntime` protocol in memory, deterministic, for unit tests.

Nothing runs. What a container's process does is a :class:`FakeProgram` chosen per spec by
``program_for``: fail to start, exit at once with a code, or run until stopped; on SIGTERM exit with a code
or ignore it (then the stop's SIGKILL makes it 137, as under Docker); pass or fail its health check.
Time never passes by itself: ``stop`` returns at once, ``wait_exit`` on a running container times out at
once, and health checks run only when a test calls :meth:`FakeRuntime.run_health_checks`.
``exec`` and ``open_exec`` answer with ``exec_handler(spec, command, stdin)`` (an :class:`ExecResult`; by
default exit 0, no output); an interactive session's output is produced once its stdin is closed (at once
when it has no stdin). Every exec is recorded in :attr:`FakeRuntime.execs`.
Tests can also force an exit (:meth:`FakeRuntime.exit`) or a health status (:meth:`FakeRuntime.set_health`).
Every method holds one lock, so the task engine's threads and a test can use the fake at the same time.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import ipaddress
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from dockyard.agent.awslogs import DockerLine
from dockyard.agent.runtime import (
    ContainerCreateError,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    ExecResult,
    ExecStream,
    ExecTimeout,
    HealthStatus,
    ImagePullError,
    NetworkBinding,
    NetworkError,
    PullAuth,
)
from dockyard.core.clock import Clock, system_clock

P = ParamSpec("P")
R = TypeVar("R")

SIGKILL_EXIT_CODE = 137
FIRST_DYNAMIC_PORT = 32768


@dataclass(frozen=True)
class FakeProgram:
    """How a fake container's process behaves."""

    exit_code: int | None = None
    """Exit with this code right after start; ``None``: run until stopped."""
    sigterm_exit_code: int | None = None
    """Exit code on SIGTERM; ``None``: ignore it (PID 1 without a handler) and die of SIGKILL (137)."""
    healthy: bool = True
    """Whether each health check passes."""
    start_error: str | None = None
    """Starting fails with this message (e.g. the executable does not exist); the container stays created."""


def default_program(spec: ContainerSpec) -> FakeProgram:
    """A long-running process that ignores SIGTERM and passes its health checks."""
    return FakeProgram()


ExecHandler = Callable[[ContainerSpec, tuple[str, ...], bytes], ExecResult]


def default_exec(spec: ContainerSpec, command: tuple[str, ...], stdin: bytes) -> ExecResult:
    """Every command succeeds silently."""
    return ExecResult(0, "")


def _locked(method: Callable[Concatenate[FakeRuntime, P], R]) -> Callable[Concatenate[FakeRuntime, P], R]:
    def locked(self: FakeRuntime, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)
    return locked


@dataclass
class _Container:
    id: str
    spec: ContainerSpec
    program: FakeProgram
    created_at: datetime
    status: str = "created"
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    health: HealthStatus | None = None
    failed_checks: int = 0
    oom_killed: bool = False
    error: str | None = None
    bindings: tuple[NetworkBinding, ...] = ()
    ip_addresses: dict[str, str] = field(default_factory=dict)


@dataclass
class _Network:
    id: str
    cidr: str
    gateway: str
    labels: dict[str, str]


class FakeRuntime:
    """An in-memory container engine holding ``images`` locally and able to pull ``pullable`` ones."""

    def __init__(
        self,
        *,
        images: Iterable[str] = (),
        pullable: Iterable[str] = (),
        program_for: Callable[[ContainerSpec], FakeProgram] = default_program,
        clock: Clock = system_clock,
        runtimes: Iterable[str] = ("runc",),
        nests_cgroups: bool = False,
        quota_storage: bool = False,
        exec_handler: ExecHandler = default_exec,
    ) -> None:
        self._lock = threading.RLock()
        self._images = set(images)
        self._pullable = set(pullable)
        self._program_for = program_for
        self._clock = clock
        self._containers: dict[str, _Container] = {}
        self._created = 0
        self._next_port = FIRST_DYNAMIC_PORT
        self._runtimes = frozenset(runtimes)
        self.nests_cgroups = nests_cgroups
        """Whether :meth:`nested_cgroup` answers a cgroup (a cgroup v1 / cgroupfs engine)."""
        self.logs: dict[str, builtins.list[DockerLine]] = {}
        """Each container's output, as :meth:`follow_logs` returns it (tests fill it)."""
        self.quota_storage = quota_storage
        """Whether :meth:`limits_storage` (a storage driver with quotas)."""
        self._networks: dict[str, _Network] = {}
        self.pulls: builtins.list[tuple[str, PullAuth | None]] = []
        """Every pull asked for, in order (for assertions)."""
        self.imports: builtins.list[tuple[str, bytes, tuple[str, ...]]] = []
        """Every image import, in order: (image, tarball, changes)."""
        self.created_specs: builtins.list[ContainerSpec] = []
        """Every spec a container was created from, in order (removed containers included)."""
        self.exec_handler = exec_handler
        """What an exec does: ``(spec, command, stdin) -> ExecResult`` (tests may replace it)."""
        self.execs: builtins.list[tuple[str, tuple[str, ...]]] = []
        """Every exec asked for, in order: (container id, command)."""

    # --- the protocol -----------------------------------------------------------------------------------

    @_locked
    def pull(self, image: str, auth: PullAuth | None = None) -> str | None:
        self.pulls.append((image, auth))
        if image not in self._pullable and image not in self._images:
            raise ImagePullError(f"pull access denied for {image}, repository does not exist")
        self._images.add(image)
        return "sha256:" + hashlib.sha256(f"fake-manifest-{image}".encode()).hexdigest()

    @_locked
    def create(self, spec: ContainerSpec) -> str:
        if spec.image not in self._images:
            raise ContainerCreateError(f"No such image: {spec.image}")
        if any(c.spec.name == spec.name for c in self._containers.values()):
            raise ContainerCreateError(f'Conflict. The container name "/{spec.name}" is already in use')
        if spec.runtime is not None and spec.runtime not in self._runtimes:
            raise ContainerCreateError(f"Unknown runtime specified {spec.runtime}")
        if spec.network_container is not None and self._find(spec.network_container) is None:
            raise ContainerCreateError(f"No such container: {spec.network_container}")
        attached = spec.network is not None and spec.network_container is None
        if attached and spec.network is not None and spec.network.network not in self._networks:
            raise ContainerCreateError(f"network {spec.network.network} not found")
        self._created += 1
        self.created_specs.append(spec)
        container_id = hashlib.sha256(f"fake-container-{self._created}".encode()).hexdigest()
        self._containers[container_id] = _Container(
            container_id, spec, self._program_for(spec), self._clock()
        )
        return container_id

    @_locked
    def start(self, container_id: str) -> None:
        container = self._get(container_id)
        if container.status == "running":
            return
        if container.program.start_error is not None:
            container.error = container.program.start_error
            raise ContainerStartError(container.program.start_error)
        spec = container.spec
        if spec.network_container is not None:
            owner = self._find(spec.network_container)
            if owner is None or owner.status != "running":
                container.error = "cannot join network of a non running container"
                raise ContainerStartError(f"{container.error}: {spec.network_container}")
        container.status, container.exit_code, container.finished_at = "running", None, None
        container.started_at = self._clock()
        container.oom_killed, container.failed_checks = False, 0
        container.health = "starting" if container.spec.health_check else None
        if not container.bindings:
            container.bindings = self._bind_ports(container.spec)
        if spec.network_container is not None:
            container.ip_addresses = {}
        elif spec.network is not None:
            network = self._networks[spec.network.network]
            hosts = ipaddress.ip_network(network.cidr).hosts()
            address = spec.network.ipv4_address or str(next(h for h in hosts if str(h) != network.gateway))
            container.ip_addresses = {spec.network.network: address}
        elif spec.network_mode == "bridge":
            container.ip_addresses = {"bridge": f"172.17.0.{1 + self._created % 250}"}
        if container.program.exit_code is not None:
            self._exit(container, container.program.exit_code)

    @_locked
    def stop(self, container_id: str, timeout_s: int | None = None) -> None:
        container = self._get(container_id)
        if container.status != "running":
            return
        code = container.program.sigterm_exit_code
        self._exit(container, SIGKILL_EXIT_CODE if code is None else code)

    @_locked
    def remove(self, container_id: str) -> None:
        container = self._find(container_id)
        if container is not None:
            del self._containers[container.id]

    @_locked
    def inspect(self, container_id: str) -> ContainerState | None:
        container = self._find(container_id)
        return None if container is None else self._state(container)

    @_locked
    def list(self, labels: Mapping[str, str]) -> builtins.list[ContainerState]:
        matching = [
            c
            for c in self._containers.values()
            if all(c.spec.labels.get(key) == value for key, value in labels.items())
        ]
        return [self._state(c) for c in reversed(matching)]  # dicts keep creation order; newest first

    @_locked
    def wait_exit(self, container_id: str, timeout_s: float) -> int | None:
        container = self._get(container_id)
        if container.status == "running":
            return None
        return container.exit_code or 0

    @_locked
    def image_exists(self, image: str) -> bool:
        return image in self._images

    @_locked
    def import_image(self, image: str, rootfs_tar: bytes, changes: tuple[str, ...] = ()) -> None:
        self.imports.append((image, rootfs_tar, tuple(changes)))
        self._images.add(image)

    @_locked
    def runtimes(self) -> frozenset[str]:
        return self._runtimes

    def follow_logs(self, container_id: str, since_s: int, stop: threading.Event) -> Iterator[DockerLine]:
        """The lines in :attr:`logs` for the container from ``since_s`` (no following: they are all there)."""
        with self._lock:
            lines = list(self.logs.get(container_id, ()))
        yield from (line for line in lines if line.timestamp_ns >= since_s * 1_000_000_000)

    def read_logs(
        self, container_id: str, *, since_s: int = 0, tail: int | None = None
    ) -> builtins.list[DockerLine]:
        with self._lock:
            self._get(container_id)
            start_ns = since_s * 1_000_000_000
            lines = [line for line in self.logs.get(container_id, ()) if line.timestamp_ns >= start_ns]
        return lines if tail is None else lines[len(lines) - tail :] if tail > 0 else []

    def exec(self, container_id: str, command: tuple[str, ...], *, timeout_s: float = 10.0) -> ExecResult:
        spec = self._exec_target(container_id, command)
        return self.exec_handler(spec, command, b"")

    def open_exec(
        self, container_id: str, command: tuple[str, ...], *, stdin: bool = False, tty: bool = False
    ) -> FakeExecSession:
        spec = self._exec_target(container_id, command)
        return FakeExecSession(lambda data: self.exec_handler(spec, command, data), stdin=stdin)

    @_locked
    def _exec_target(self, container_id: str, command: tuple[str, ...]) -> ContainerSpec:
        container = self._get(container_id)
        if container.status != "running":
            raise ContainerNotRunning(f"Container {container.id} is not running")
        self.execs.append((container.id, tuple(command)))
        return container.spec

    @_locked
    def limits_storage(self) -> bool:
        return self.quota_storage

    @_locked
    def nested_cgroup(self, container_id: str) -> str | None:
        return f"/docker/{container_id}" if self.nests_cgroups else None

    @_locked
    def ensure_network(self, name: str, cidr: str, gateway: str, labels: Mapping[str, str]) -> str:
        existing = self._networks.get(name)
        if existing is not None:
            if existing.cidr != cidr:
                raise NetworkError(f"network {name} exists with subnet {existing.cidr}")
            return existing.id
        subnet = ipaddress.ip_network(cidr, strict=False)
        for other in self._networks.values():
            if subnet.overlaps(ipaddress.ip_network(other.cidr, strict=False)):
                raise NetworkError("Pool overlaps with other one on this address space")
        network_id = hashlib.sha256(f"fake-network-{name}".encode()).hexdigest()
        self._networks[name] = _Network(network_id, cidr, gateway, dict(labels))
        return network_id

    @_locked
    def remove_network(self, name: str) -> None:
        if name not in self._networks:
            return
        in_use = any(
            c.status == "running" and c.spec.network is not None and c.spec.network.network == name
            for c in self._containers.values()
        )
        if in_use:
            raise NetworkError(f"error while removing network: network {name} has active endpoints")
        del self._networks[name]

    @_locked
    def networks(self) -> dict[str, tuple[str, str, dict[str, str]]]:
        """Network name → (cidr, gateway, labels), for assertions."""
        return {name: (n.cidr, n.gateway, dict(n.labels)) for name, n in self._networks.items()}

    @_locked
    def stats(self, container_id: str) -> Mapping[str, Any] | None:
        container = self._find(container_id)
        if container is None:
            return None
        running = container.status == "running"
        usage = 1_000_000 * self._created if running else 0
        return {
            "id": container.id,
            "name": "/" + container.spec.name,
            "read": self._clock().isoformat(),
            "cpu_stats": {"cpu_usage": {"total_usage": usage}, "system_cpu_usage": 10 * usage},
            "precpu_stats": {"cpu_usage": {"total_usage": 0}},
            "memory_stats": {"usage": 4 * 2**20 if running else 0, "limit": container.spec.memory_bytes},
            "networks": {"eth0": {"rx_bytes": 0, "tx_bytes": 0}} if running else {},
        }

    # --- test controls ----------------------------------------------------------------------------------

    @_locked
    def add_image(self, image: str) -> None:
        self._images.add(image)

    @_locked
    def exit(self, container_id: str, exit_code: int, *, oom_killed: bool = False) -> None:
        """Make a running container's process exit now with ``exit_code``."""
        container = self._get(container_id)
        if container.status == "running":
            self._exit(container, exit_code)
            container.oom_killed = oom_killed

    @_locked
    def set_health(self, container_id: str, health: HealthStatus) -> None:
        self._get(container_id).health = health

    @_locked
    def run_health_checks(self) -> None:
        """One health-check round for every running container that has a check (Docker's interval)."""
        for container in self._containers.values():
            check = container.spec.health_check
            if container.status != "running" or check is None:
                continue
            if container.program.healthy:
                container.health, container.failed_checks = "healthy", 0
                continue
            container.failed_checks += 1
            if container.failed_checks >= check.retries:
                container.health = "unhealthy"

    # --- internals --------------------------------------------------------------------------------------

    def _find(self, container_id: str) -> _Container | None:
        """By full id, unique id prefix or name, as Docker resolves them."""
        if container_id in self._containers:
            return self._containers[container_id]
        for container in self._containers.values():
            if container.spec.name == container_id:
                return container
        prefixed = [c for cid, c in self._containers.items() if container_id and cid.startswith(container_id)]
        return prefixed[0] if len(prefixed) == 1 else None

    def _get(self, container_id: str) -> _Container:
        container = self._find(container_id)
        if container is None:
            raise ContainerNotFound(f"No such container: {container_id}")
        return container

    def _exit(self, container: _Container, exit_code: int) -> None:
        container.status, container.exit_code = "exited", exit_code
        container.finished_at = self._clock()
        if container.spec.health_check is not None:
            container.health = "unhealthy"  # as Docker marks a container that stopped
        container.ip_addresses = {}

    def _bind_ports(self, spec: ContainerSpec) -> tuple[NetworkBinding, ...]:
        if spec.network_mode != "bridge" or spec.network_container is not None:
            return ()
        bindings = []
        for binding in spec.port_bindings:
            host_port = binding.host_port
            if host_port == 0:
                host_port, self._next_port = self._next_port, self._next_port + 1
            host_ip = binding.host_ip or "0.0.0.0"  # noqa: S104 - what Docker reports, not a bind
            bindings.append(NetworkBinding(binding.container_port, binding.protocol, host_ip, host_port))
        return tuple(bindings)

    def _state(self, container: _Container) -> ContainerState:
        spec = container.spec
        exited = container.status == "exited"
        return ContainerState(
            id=container.id,
            name=spec.name,
            image=spec.image,
            image_id="sha256:" + hashlib.sha256(spec.image.encode()).hexdigest(),
            labels=dict(spec.labels),
            status="exited" if exited else ("running" if container.status == "running" else "created"),
            exit_code=container.exit_code if exited else None,
            created_at=container.created_at,
            started_at=container.started_at,
            finished_at=container.finished_at,
            health=container.health,
            oom_killed=container.oom_killed,
            error=container.error,
            network_bindings=container.bindings if container.status == "running" else (),
            ip_addresses=dict(container.ip_addresses),
            memory_bytes=spec.memory_bytes,
            cpu_shares=spec.cpu_shares,
            runtime=spec.runtime or "runc",
            network_mode=_network_mode(spec),
        )

    @_locked
    def replace_program(self, container_id: str, program: FakeProgram) -> None:
        """Change what a container's process does from now on (e.g. start failing health checks)."""
        container = self._get(container_id)
        container.program = replace(program)


def _network_mode(spec: ContainerSpec) -> str:
    """``HostConfig.NetworkMode`` as Docker reports it for ``spec``."""
    if spec.network_container is not None:
        return f"container:{spec.network_container}"
    return spec.network.network if spec.network is not None else spec.network_mode


class FakeExecSession:
    """A scripted interactive exec: collects stdin; once it is closed (at once without stdin) the
    handler's result is the output (all on stdout) and the exit code."""

    def __init__(self, run: Callable[[bytes], ExecResult], *, stdin: bool) -> None:
        self._run = run
        self._stdin = bytearray()
        self._result: ExecResult | None = None if stdin else run(b"")
        self._output: builtins.list[tuple[ExecStream, bytes]] = []
        if self._result is not None and self._result.output:
            self._output.append(("stdout", self._result.output.encode()))
        self.sizes: builtins.list[tuple[int, int]] = []
        """Every resize asked for: (height, width)."""

    def write(self, data: bytes) -> None:
        self._stdin += data

    def close_stdin(self) -> None:
        if self._result is None:
            self._result = self._run(bytes(self._stdin))
            if self._result.output:
                self._output.append(("stdout", self._result.output.encode()))

    def read(self, timeout_s: float | None = None) -> tuple[ExecStream, bytes] | None:
        if self._output:
            return self._output.pop(0)
        if self._result is None:
            raise ExecTimeout("the fake exec waits for its stdin to be closed")
        return None

    def resize(self, height: int, width: int) -> None:
        self.sizes.append((height, width))

    def exit_code(self, timeout_s: float = 5.0) -> int | None:
        return None if self._result is None else self._result.exit_code

    def close(self) -> None:
        self.close_stdin()
