"""Server settings: frozen dataclasses with documented defaults.

Precedence, lowest to highest: the defaults below, an optional TOML file, ``DOCKYARD_*`` environment
variables, then command-line flags. Each field's environment variable is its name upper-cased with the
``DOCKYARD_`` prefix (``data_dir`` → ``DOCKYARD_DATA_DIR``).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dockyard.core.agent_protocol import DEFAULT_HEARTBEAT_INTERVAL_S

ENV_PREFIX = "DOCKYARD_"


def default_data_dir() -> Path:
    """Where ``dockyard up`` keeps its state unless told otherwise: ``~/.local/share/dockyard``."""
    return Path.home() / ".local" / "share" / "dockyard"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    """Directory for the SQLite database, registry blobs and generated credentials."""

    host: str = "127.0.0.1"
    """Address to listen on."""

    port: int = 4566
    """TCP port serving the AWS APIs, the registry and the console."""

    database_url: str | None = None
    """SQLAlchemy URL of the store; ``None`` means SQLite at ``<data_dir>/dockyard.db``."""

    registry_host: str | None = None
    """Host (and port) that repository URIs advertise, e.g. ``registry.example.com``; default
    ``localhost:<port>``."""

    default_region: str = "us-east-1"
    """Region used where a request carries none (the SigV4 scope always wins)."""

    allow_privileged: bool = False
    """Whether task definitions may ask for privileged containers (refused by default)."""

    maintenance_interval_s: float = 300.0
    """Seconds between runs of the registry's lifecycle policies and garbage collection."""

    agent_heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    """Seconds between the push channel's heartbeats to each agent; an agent silent for
    ``DEAD_AFTER_HEARTBEATS`` of them counts as disconnected."""

    stopped_task_retention_s: float = 3600.0
    """How long a STOPPED task stays describable (ECS keeps them for at least an hour); the maintenance
    pass removes older ones."""

    service_healthy_after_s: float = 40.0
    """Seconds after RUNNING at which a service task without a container health check counts as healthy
    for minimumHealthyPercent and deployment completion (ECS: 40). Tests shorten it."""

    service_resync_s: float = 30.0
    """How often the service controller looks at every service even without a change."""

    fargate_local_pool: bool = True
    """Run Fargate tasks on this host's Docker Engine: the server starts a ``dockyard agent --fargate`` of
    its own (off: only pool hosts started elsewhere, or by the provisioner, run them)."""

    fargate_docker_socket: str | None = None
    """The Docker Engine socket of the built-in pool host (default: the agent's default socket)."""

    fargate_provisioner_command: str | None = None
    """A command run (through the shell) when Fargate tasks wait for a host that fits none; it should start
    a ``dockyard agent --fargate`` somewhere. Its environment names the region (``DOCKYARD_FARGATE_REGION``),
    the tasks waiting (``DOCKYARD_FARGATE_WAITING``), the endpoint and the pool's credentials
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``). Run at most once per
    ``fargate_provision_interval_s``."""

    fargate_provision_interval_s: float = 60.0
    """The least time between two runs of the provisioner command."""

    fargate_idle_retire_s: float = 600.0
    """How long a pool host the provisioner started (one registered by ``dockyard agent --fargate
    --provisioned``) may stay idle, with no task on it that is not STOPPED, before it is retired:
    deregistered, its agent told to exit, and ``fargate_retire_command`` run. The server's own pool host is
    never retired."""

    fargate_retire_command: str | None = None
    """A command run (through the shell, in the background) for each retired pool host, to destroy what
    the provisioner made (e.g. the VM). Its environment names the host's container instance ARN
    (``DOCKYARD_FARGATE_CONTAINER_INSTANCE_ARN``), its EC2-style instance id
    (``DOCKYARD_FARGATE_EC2_INSTANCE_ID``), the address its agent reached the server from
    (``DOCKYARD_FARGATE_HOST_ADDRESS``, empty if unknown) and the region (``DOCKYARD_FARGATE_REGION``)."""

    fargate_spot_interruption_rate_per_hour: float = 0.0
    """Interruptions per hour of each RUNNING FARGATE_SPOT task, drawn as a Poisson process (0: never; a
    task is then interrupted only by ``dockyard fargate interrupt``). An interruption is what AWS does:
    SIGTERM, two minutes before SIGKILL, stopCode SpotInterruption."""

    max_uploads_per_repository: int = 256
    """Blob upload sessions one repository may hold open; at the cap, sessions older than ten minutes
    make room (oldest first), else new ones are refused (TOOMANYREQUESTS, LimitExceededException)."""

    header_timeout_s: float = 10.0
    """Seconds a client has to send a request's line and headers (from connecting, or from the request's
    first byte on a kept-alive connection) before it is disconnected."""

    idle_timeout_s: float = 5.0
    """Seconds a kept-alive connection may sit idle between requests."""

    max_connections_per_client: int = 256
    """Open HTTP connections one client address may hold; more are closed at once (websockets of the
    push channel are not counted)."""

    log_level: str = "info"
    """Logging level: debug, info, warning or error."""

    access_key_id: str | None = None
    """Root access key; with ``secret_access_key``, overrides the key generated for the data dir."""

    secret_access_key: str | None = None
    """Root secret key, see ``access_key_id``."""

    fargate_x86_vcpu_hour: Decimal = Decimal("0.04048")
    """USD per vCPU-hour of a Linux/x86_64 Fargate task (us-east-1's on-demand price), as metered for Cost
    Explorer."""

    fargate_x86_gb_hour: Decimal = Decimal("0.004445")
    """USD per GB-hour of memory of a Linux/x86_64 Fargate task."""

    fargate_arm_vcpu_hour: Decimal = Decimal("0.03238")
    """USD per vCPU-hour of a Linux/ARM64 Fargate task."""

    fargate_arm_gb_hour: Decimal = Decimal("0.00356")
    """USD per GB-hour of memory of a Linux/ARM64 Fargate task."""

    fargate_spot_discount: Decimal = Decimal("0.70")
    """FARGATE_SPOT's discount off the on-demand rates, between 0 and 1 (0.70: Spot costs 30 % of on
    demand)."""

    eks_api_port_range: tuple[int, int] = (16443, 16542)
    """The TCP ports (first and last, inclusive; ``"16443-16542"`` in TOML or the environment) from which
    each EKS cluster is given its own, for its Kubernetes API endpoint ``https://127.0.0.1:<port>``. A port
    stays with its cluster until the cluster is deleted; with every port taken, CreateCluster answers
    ResourceLimitExceededException."""

    @property
    def resolved_registry_host(self) -> str:
        return self.registry_host or f"localhost:{self.port}"

    @property
    def advertised_endpoint(self) -> str:
        """The base URL clients and agents are told to use (registry proxy endpoint, poll endpoint)."""
        return f"http://{self.resolved_registry_host}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dockyard.db'}"


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def _non_negative(value: object) -> float:
    """A duration or a rate: a finite float, not below zero."""
    number = float(str(value).strip())
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    return number


def _rate(value: object) -> Decimal:
    """A price or a discount: a finite, non-negative decimal (TOML floats read through their text)."""
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not rate.is_finite() or rate < 0:
        raise ValueError(value)
    return rate


def _port_range(value: object) -> tuple[int, int]:
    """``"LOW-HIGH"`` (or a pair): two TCP ports, the first not above the second."""
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = int(value[0]), int(value[1])
    else:
        first, sep, last = str(value).strip().partition("-")
        if not sep:
            raise ValueError(value)
        low, high = int(first), int(last)
    if not 1 <= low <= high <= 65535:
        raise ValueError(value)
    return (low, high)


_CONVERTERS: dict[str, Any] = {
    "data_dir": Path,
    "port": int,
    "header_timeout_s": float,
    "idle_timeout_s": float,
    "max_connections_per_client": int,
    "service_healthy_after_s": float,
    "service_resync_s": float,
    "max_uploads_per_repository": int,
    "maintenance_interval_s": float,
    "agent_heartbeat_interval_s": float,
    "stopped_task_retention_s": float,
    "allow_privileged": _boolean,
    "fargate_local_pool": _boolean,
    "fargate_provision_interval_s": float,
    "fargate_idle_retire_s": _non_negative,
    "fargate_spot_interruption_rate_per_hour": _non_negative,
    "fargate_x86_vcpu_hour": _rate,
    "fargate_x86_gb_hour": _rate,
    "fargate_arm_vcpu_hour": _rate,
    "fargate_arm_gb_hour": _rate,
    "fargate_spot_discount": _rate,
    "eks_api_port_range": _port_range,
}


def _coerce(name: str, value: object) -> object:
    converter = _CONVERTERS.get(name)
    if converter is None or value is None:
        return value
    try:
        return converter(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting {name!r}: cannot read {value!r}") from exc


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object | None] | None = None,
) -> ServerSettings:
    """Build settings from the defaults, then the TOML file, then the environment, then ``overrides``.

    ``None`` values in ``overrides`` mean "not given" and do not override anything.
    """
    names = {f.name for f in fields(ServerSettings)}
    values: dict[str, object] = {}
    if config_file is not None:
        with config_file.open("rb") as fh:
            data = tomllib.load(fh)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
        values.update(data)
    for name in names:
        env_value = (environ or {}).get(ENV_PREFIX + name.upper())
        if env_value:
            values[name] = env_value
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return ServerSettings(**{name: _coerce(name, value) for name, value in values.items()})  # type: ignore[arg-type]
