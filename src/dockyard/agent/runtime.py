"""The ``ContainerRuntime`` protocol: everything the agent asks of a container engine, and its value types.

Implementations: :class:`dockyard.agent.docker_runtime.DockerRuntime` (the real Docker Engine) and
:class:`dockyard.agent.fake_runtime.FakeRuntime` (in memory). Both pass the same conformance suite, so the
agent's logic can be unit-tested against the fake and trusted against Docker.

Semantics every implementation keeps (Docker's, which ECS's are built on):

- ``stop`` sends SIGTERM, then SIGKILL once the timeout has passed. A process killed by a signal exits with
  ``128 + signal``: 137 after SIGKILL, 143 when SIGTERM's default action kills it. A container's PID 1
  ignores signals it installs no handler for, so ``sleep 300`` — and busybox ``sh -c '…'`` as PID 1, with
  or without an exec — is only ended by SIGKILL → **137** (measured on Docker 20.10); a shell that traps
  TERM exits with the code its trap chooses (``trap 'exit 0' TERM`` → 0).
- A start that fails (executable missing) raises :class:`ContainerStartError`; the container stays
  ``created`` with ``error`` set.
- ``list`` and ``inspect`` see containers in every state (created, running, exited), which is how an agent
  finds its containers again by their labels after it restarts.
- Errors are the :class:`ContainerRuntimeError` subclasses below, never the transport's exceptions.
- ``exec`` runs a command inside a running container and returns its exit code and its output (stdout and
  stderr together, in order); ``open_exec`` is the interactive form (``kubectl exec``): stdin, stdout and
  stderr as streams, optionally a TTY that can be resized. Both raise :class:`ContainerNotRunning` for a
  container that exists but does not run.
- Networks (for awsvpc tasks): ``ensure_network`` makes a bridge network for one subnet, idempotently; a
  container created with ``network`` set is attached to it (a fixed address and MAC), one created with
  ``network_container`` set shares that container's network namespace (Docker's ``container:<id>``: same
  interfaces, same ``localhost``), and cannot start while that container is not running.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from dockyard.agent.awslogs import DockerLine

NetworkMode = Literal["bridge", "host", "none"]
ContainerStatus = Literal["created", "running", "exited", "dead"]
HealthStatus = Literal["healthy", "unhealthy", "starting"]
PortProtocol = Literal["tcp", "udp"]


# --- errors ------------------------------------------------------------------------------------------------


class ContainerRuntimeError(RuntimeError):
    """Base of every error a runtime raises; ``message`` is the engine's own text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContainerNotFound(ContainerRuntimeError):  # noqa: N818 - reads as the condition it reports
    """The container id or name is unknown to the engine."""


class ImagePullError(ContainerRuntimeError):
    """The image could not be pulled (the agent reports ``CannotPullContainerError: <message>``)."""


class ContainerCreateError(ContainerRuntimeError):
    """The container could not be created: image not present locally, name in use, invalid settings."""


class ContainerStartError(ContainerRuntimeError):
    """The container could not be started, e.g. its executable does not exist."""


class RuntimeUnavailable(ContainerRuntimeError):  # noqa: N818
    """The engine cannot be reached (socket missing, daemon down, connection reset)."""


class NetworkError(ContainerRuntimeError):
    """A network could not be made: its name is taken by a network of another subnet, or the subnet
    overlaps one the engine already has."""


class ImageImportError(ContainerRuntimeError):
    """An image could not be imported from a root filesystem tarball."""


class ContainerNotRunning(ContainerRuntimeError):  # noqa: N818
    """The container exists but is not running, so nothing can be executed in it."""


class ExecTimeout(ContainerRuntimeError):  # noqa: N818
    """An ``exec`` did not finish within its timeout (the process may still run in the container)."""


# --- what to run -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortBinding:
    """A container port published on the host; ``host_port`` 0 asks the engine for a free port."""

    container_port: int
    protocol: PortProtocol = "tcp"
    host_port: int = 0
    host_ip: str = ""


@dataclass(frozen=True)
class Bind:
    """A host path (or named volume) mounted into the container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class HealthCheck:
    """Docker's health check: ``test`` is ``["CMD", ...]`` or ``["CMD-SHELL", "<command>"]``."""

    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 5.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class NetworkAttachment:
    """A user-defined network to attach a container to, with a fixed address (and MAC) on it."""

    network: str
    ipv4_address: str | None = None
    mac_address: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container. ``None`` means "the image's default"."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu_shares: int | None = None
    nano_cpus: int | None = None
    """A hard CPU limit (10⁻⁹ CPUs): a Fargate task's containers may use the task's vCPUs, no more."""
    memory_bytes: int | None = None
    """Hard limit: the kernel OOM-kills the container beyond it."""
    memory_reservation_bytes: int | None = None
    """Soft limit, enforced only under host memory pressure."""
    port_bindings: tuple[PortBinding, ...] = ()
    network_mode: NetworkMode = "bridge"
    binds: tuple[Bind, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    readonly_rootfs: bool = False
    privileged: bool = False
    health_check: HealthCheck | None = None
    stop_timeout_s: int | None = None
    """Seconds between SIGTERM and SIGKILL when ``stop`` is called without a timeout (engine default 10)."""
    extra_hosts: tuple[tuple[str, str], ...] = ()
    """(hostname, ip) pairs added to /etc/hosts."""
    network: NetworkAttachment | None = None
    """Attach to this user-defined network instead of ``network_mode``."""
    network_container: str | None = None
    """Share this container's network namespace (Docker's ``container:<id>``) instead of ``network_mode``;
    no ports are published then."""
    runtime: str | None = None
    """The OCI runtime (Docker's ``HostConfig.Runtime``: ``runc``, ``runsc``); ``None``: the engine's
    default."""
    storage_size_gib: int | None = None
    """Cap the container's writable layer (Docker's ``StorageOpt size``): a Fargate task's ephemeral
    storage, where the storage driver can (see :meth:`ContainerRuntime.limits_storage`)."""
    cgroup_parent: str | None = None
    """Create the container's cgroup inside this one (Docker's ``HostConfig.CgroupParent``): a Fargate
    task's containers go inside their pause container's, whose limits are the task's."""
    hostname: str | None = None
    """The container's host name (Docker's ``Config.Hostname``); not allowed with ``network_container``,
    whose containers take the owner's host name."""
    ipc_mode: str | None = None
    """Docker's ``HostConfig.IpcMode``: ``shareable`` (others may join), ``container:<id>`` (join that
    container's IPC namespace); ``None``: the engine's default."""


# --- what is running ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBinding:
    """A published port as the engine actually bound it (the real host port when 0 was asked for)."""

    container_port: int
    protocol: PortProtocol
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class ContainerState:
    """A container as the engine reports it right now."""

    id: str
    name: str
    image: str
    """The image reference the container was created from."""
    image_id: str
    """The local image id, ``sha256:<hex>`` (ECS's ``ImageID``)."""
    labels: Mapping[str, str]
    status: ContainerStatus
    exit_code: int | None
    """Set once the container has exited (``None`` while created or running)."""
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    health: HealthStatus | None
    """``None`` when the container has no health check."""
    oom_killed: bool
    error: str | None
    """The engine's error, e.g. why the container failed to start."""
    network_bindings: tuple[NetworkBinding, ...]
    ip_addresses: Mapping[str, str]
    """Network name → the container's IPv4 address on it."""
    memory_bytes: int | None
    cpu_shares: int | None
    runtime: str = "runc"
    """The OCI runtime it runs under (``HostConfig.Runtime``)."""
    network_mode: str = "bridge"
    """Docker's ``HostConfig.NetworkMode``: ``bridge``, ``host``, ``none``, a network's name, or
    ``container:<id>`` for a container sharing another's network namespace."""


class ExecResult(NamedTuple):
    """What a finished ``exec`` left: its exit code and its output (stdout and stderr interleaved)."""

    exit_code: int
    output: str


ExecStream = Literal["stdout", "stderr"]


class ExecSession(Protocol):
    """An interactive process inside a container (``kubectl exec -it``). One reader and one writer thread
    may use it at once. With a TTY the engine merges stderr into stdout."""

    def write(self, data: bytes) -> None:
        """Send ``data`` to the process's stdin (when it was opened with ``stdin``)."""

    def close_stdin(self) -> None:
        """End the process's stdin (it reads end-of-file); the output can still be read."""

    def read(self, timeout_s: float | None = None) -> tuple[ExecStream, bytes] | None:
        """The next piece of output, or ``None`` at its end. Raises :class:`ExecTimeout` if nothing came
        within ``timeout_s`` (``None``: wait as long as it takes)."""

    def resize(self, height: int, width: int) -> None:
        """Set the TTY's size (rows and columns); without a TTY a no-op."""

    def exit_code(self, timeout_s: float = 5.0) -> int | None:
        """The process's exit code once it has ended (waiting up to ``timeout_s``), else ``None``."""

    def close(self) -> None:
        """Let go of the streams; safe to call twice."""


@dataclass(frozen=True)
class PullAuth:
    """Registry credentials for one pull (for ECR: ``AWS`` and the decoded token's password)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"PullAuth(username={self.username!r}, password='***')"


class ContainerRuntime(Protocol):
    """A container engine. Ids are the engine's full container ids; names work wherever an id does."""

    def pull(self, image: str, auth: PullAuth | None = None) -> str | None:
        """Make ``image`` present locally; the manifest digest the registry served (``sha256:…``), or
        ``None`` if the engine did not say. Raises :class:`ImagePullError` with the registry's message."""

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container; returns its id. Raises :class:`ContainerCreateError`."""

    def start(self, container_id: str) -> None:
        """Start a created or exited container; a no-op when it is running.

        Raises :class:`ContainerNotFound` or :class:`ContainerStartError`.
        """

    def stop(self, container_id: str, timeout_s: int | None = None) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s`` (default: the spec's ``stop_timeout_s``).

        Returns once the container has exited; a no-op when it is not running. Raises
        :class:`ContainerNotFound`.
        """

    def remove(self, container_id: str) -> None:
        """Remove the container, killing it first if it runs. Removing an unknown container is a no-op."""

    def inspect(self, container_id: str) -> ContainerState | None:
        """The container's current state, or ``None`` if the engine does not know it."""

    def list(self, labels: Mapping[str, str]) -> list[ContainerState]:
        """Every container (any state) carrying all of ``labels``; newest first."""

    def wait_exit(self, container_id: str, timeout_s: float) -> int | None:
        """Block until the container is not running; its exit code, or ``None`` if ``timeout_s`` passed.

        Raises :class:`ContainerNotFound`.
        """

    def image_exists(self, image: str) -> bool:
        """Whether ``image`` is present locally."""

    def import_image(self, image: str, rootfs_tar: bytes, changes: tuple[str, ...] = ()) -> None:
        """Create the local image ``image`` (``repo:tag``) from a root filesystem tarball, with Dockerfile
        ``changes`` such as ``ENTRYPOINT ["/pause"]`` (Docker's image import).

        Raises :class:`ImageImportError`.
        """

    def runtimes(self) -> frozenset[str]:
        """The OCI runtimes the engine offers (``runc``, and ``runsc`` where gVisor is registered)."""

    def follow_logs(self, container_id: str, since_s: int, stop: threading.Event) -> Iterator[DockerLine]:
        """The container's output, stdout and stderr, one line at a time in order, from ``since_s`` (epoch
        seconds; 0: the start), following it until the container stops (or ``stop`` is set). Raises
        :class:`ContainerNotFound`."""

    def limits_storage(self) -> bool:
        """Whether the storage driver caps a container's writable layer (``StorageOpt size``): btrfs,
        zfs, devicemapper, and overlay2 on xfs (mounted with ``pquota``); not overlay2 on ext4."""

    def nested_cgroup(self, container_id: str) -> str | None:
        """The cgroup other containers can be created inside of (their ``cgroup_parent``) so that
        ``container_id``'s limits bound them all, or ``None`` where the engine cannot nest containers
        (only cgroup v1 with the cgroupfs driver can: under cgroup v2 a cgroup holding a process has no
        child cgroups with controllers)."""

    def ensure_network(self, name: str, cidr: str, gateway: str, labels: Mapping[str, str]) -> str:
        """The id of the bridge network ``name`` for subnet ``cidr`` (gateway ``gateway``), created unless it
        exists with that subnet; a concurrent create of the same network is harmless. Raises
        :class:`NetworkError` if ``name`` has another subnet or the subnet overlaps another network's.
        """

    def remove_network(self, name: str) -> None:
        """Remove the network; an unknown network is a no-op. Raises :class:`NetworkError` while in use."""

    def stats(self, container_id: str) -> Mapping[str, Any] | None:
        """Docker's one-shot stats JSON (``GET /containers/{id}/stats?stream=false``): ``read``,
        ``cpu_stats``, ``precpu_stats``, ``memory_stats``, ``networks``…; ``None`` for an unknown container.
        """

    def exec(self, container_id: str, command: tuple[str, ...], *, timeout_s: float = 10.0) -> ExecResult:
        """Run ``command`` in the running container and wait for it: its exit code and output.

        Raises :class:`ContainerNotFound`, :class:`ContainerNotRunning`, or :class:`ExecTimeout` after
        ``timeout_s``. A command that cannot be executed (missing) reads as exit code 126 or 127 with the
        runtime's message as output, as a shell would report it.
        """

    def open_exec(
        self, container_id: str, command: tuple[str, ...], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        """Start ``command`` in the running container with its streams attached (``kubectl exec``).

        Raises :class:`ContainerNotFound` or :class:`ContainerNotRunning`.
        """

    def read_logs(
        self, container_id: str, *, since_s: int = 0, tail: int | None = None
    ) -> builtins.list[DockerLine]:
        """The container's output so far (not following), stdout and stderr in order: the lines from
        ``since_s`` (epoch seconds; 0: the start), only the last ``tail`` of them if given. Raises
        :class:`ContainerNotFound`."""
