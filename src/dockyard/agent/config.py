"""The agent's settings: a frozen dataclass built from flags over ``DOCKYARD_AGENT_*`` env over defaults.

AWS credentials and the region are not settings of ours: botocore's session finds them where every AWS
tool does (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, the
shared config and credentials files); ``AWS_REGION`` is honoured before ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FARGATE_POOL_CLUSTER = "fargate"
"""The cluster of the Fargate pool's account that pool hosts join (the server's ``POOL_CLUSTER``)."""
ENV_PREFIX = "DOCKYARD_AGENT_"
DEFAULT_REGION = "us-east-1"
DEFAULT_DATA_DIR = Path("~/.local/share/dockyard-agent")
DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
DEFAULT_RESERVED_MEMORY_MIB = 256
DEFAULT_HEARTBEAT_INTERVAL_S = 30.0
# The TCP ports the real ECS agent reserves: SSH, the Docker daemon, the agent's introspection/metadata ports.
DEFAULT_RESERVED_PORTS: tuple[int, ...] = (22, 2375, 2376, 51678, 51679)
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_METADATA_PORT = 51679
DEFAULT_TASK_CLEANUP_WAIT_S = 3600.0
DEFAULT_CONTAINER_STOP_TIMEOUT_S = 30.0
METADATA_DISABLED = "none"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")


@dataclass(frozen=True)
class Attribute:
    """A container-instance attribute; ``value`` ``None`` is a name-only attribute (a capability)."""

    name: str
    value: str | None = None

    def to_api(self) -> dict[str, str]:
        return {"name": self.name} if self.value is None else {"name": self.name, "value": self.value}


@dataclass(frozen=True)
class AgentSettings:
    endpoint: str
    cluster: str
    data_dir: Path = DEFAULT_DATA_DIR
    region: str | None = None
    """``None``: the region botocore resolves (env, profile), else ``us-east-1``."""
    availability_zone: str | None = None
    """``None``: ``<region>a``."""
    attributes: tuple[Attribute, ...] = ()
    reserved_memory_mib: int = DEFAULT_RESERVED_MEMORY_MIB
    cpu_units: int | None = None
    """CPU units to register instead of the host's cores times 1024 (``None``: the cores). More than the
    cores overcommits: each task keeps its own limit but may get less than it under contention."""
    memory_mib: int | None = None
    """Memory to register instead of MemTotal minus the reserved memory (``None``: that). More than the
    host has overcommits, at the operator's risk (the kernel's OOM killer decides when all is used)."""
    oci_runtimes: tuple[str, ...] | None = None
    """The engine's OCI runtimes this host offers tasks (``None``: all it has): ``runc`` only makes a
    Fargate pool host isolate its tasks with runc even when gVisor is installed."""
    reserved_ports: tuple[int, ...] = DEFAULT_RESERVED_PORTS
    reserved_udp_ports: tuple[int, ...] = ()
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    docker_socket: str = DEFAULT_DOCKER_SOCKET
    log_level: str = "info"
    metadata_enabled: bool = True
    """``False`` (``--metadata-address none``): no task metadata endpoint and no
    ``ECS_CONTAINER_METADATA_URI_V4`` in containers."""
    metadata_address: str | None = None
    """Where the task metadata endpoint listens; ``None``: Docker's bridge gateway (e.g. 172.17.0.1), resolved
    at start with :func:`dockyard.agent.metadata.bridge_gateway`."""
    metadata_port: int = DEFAULT_METADATA_PORT
    """0: any free port."""
    task_cleanup_wait_s: float = DEFAULT_TASK_CLEANUP_WAIT_S
    """How long a stopped task's containers are kept before removal
    (the ECS agent's ``ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION``)."""
    container_stop_timeout_s: float = DEFAULT_CONTAINER_STOP_TIMEOUT_S
    """SIGTERM → SIGKILL grace for containers without their own ``stopTimeout``
    (the ECS agent's ``ECS_CONTAINER_STOP_TIMEOUT``)."""
    firewall_enabled: bool = True
    """Enforce awsvpc tasks' security-group ingress with iptables (:mod:`dockyard.agent.firewall`);
    ``False`` (``--no-firewall``, ``DOCKYARD_AGENT_FIREWALL=0``) on hosts without iptables."""
    provisioned: bool = False
    """``--provisioned`` (with ``--fargate``; ``DOCKYARD_AGENT_PROVISIONED=1``, which the server's
    provisioner command gets in its environment): a pool host the provisioner started. It registers
    ``dockyard.pool.provisioned=true`` and the address it reaches the server from; the server retires it
    once idle, and the agent then exits 0 instead of registering again."""

    @property
    def state_file(self) -> Path:
        return self.data_dir.expanduser() / "agent-state.json"


def parse_attribute(text: str) -> Attribute:
    """``name=value`` or a bare ``name``; ECS attribute names are 1-128 of ``[A-Za-z0-9_.-/]``."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"invalid attribute {text!r}: expected name=value")
    return Attribute(name, value if sep else None)


def _attributes(text: str) -> tuple[Attribute, ...]:
    return tuple(parse_attribute(part) for part in text.split(",") if part.strip())


def _ports(text: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"invalid port list {text!r}: expected comma-separated numbers") from None
    if any(not 0 < port < 65536 for port in ports):
        raise ValueError(f"invalid port list {text!r}: ports are 1-65535")
    return ports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``dockyard agent`` flags (each also readable from ``DOCKYARD_AGENT_<NAME>``)."""
    parser.add_argument("--endpoint", help="dockyard server URL, e.g. http://127.0.0.1:4566")
    parser.add_argument("--cluster", help="cluster to join")
    parser.add_argument(
        "--fargate",
        action="store_true",
        default=None,
        help=f"join the Fargate pool (cluster {FARGATE_POOL_CLUSTER!r}, with the pool's credentials from "
        "'dockyard keys create --fargate-pool') instead of a cluster of yours",
    )
    parser.add_argument(
        "--provisioned",
        action="store_true",
        default=None,
        help="with --fargate: a pool host the server's provisioner started, retired (and this agent "
        "exits) once idle",
    )
    parser.add_argument("--data-dir", type=Path, help=f"agent state directory (default {DEFAULT_DATA_DIR})")
    parser.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="custom attribute of this container instance (repeatable)",
    )
    parser.add_argument("--availability-zone", help="ecs.availability-zone attribute (default <region>a)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, the profile's, or us-east-1)")
    parser.add_argument(
        "--reserved-memory",
        type=int,
        metavar="MIB",
        help=f"memory kept back from tasks (default {DEFAULT_RESERVED_MEMORY_MIB})",
    )
    parser.add_argument(
        "--cpu-units",
        type=int,
        metavar="UNITS",
        help="CPU units to register instead of cores x 1024 (more overcommits)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        metavar="MIB",
        help="memory to register instead of the host's minus --reserved-memory (more overcommits)",
    )
    parser.add_argument(
        "--oci-runtime",
        action="append",
        default=[],
        metavar="NAME",
        help="an OCI runtime of the engine's to offer tasks (repeatable; default: all, e.g. runc and runsc)",
    )
    parser.add_argument("--heartbeat-interval", type=float, metavar="SECONDS", help="seconds between checks")
    parser.add_argument("--docker-socket", help=f"Docker Engine socket (default {DEFAULT_DOCKER_SOCKET})")
    parser.add_argument("--log-level", choices=LOG_LEVELS)
    parser.add_argument(
        "--metadata-address",
        metavar="ADDRESS",
        help="address of the task metadata endpoint (default: the Docker bridge gateway; 'none' disables it)",
    )
    parser.add_argument(
        "--metadata-port",
        type=int,
        metavar="PORT",
        help=f"port of the task metadata endpoint (default {DEFAULT_METADATA_PORT})",
    )
    parser.add_argument(
        "--task-cleanup-wait",
        metavar="SECONDS",
        help="keep a stopped task's containers this long "
        f"(default {DEFAULT_TASK_CLEANUP_WAIT_S:g}; also 90s, 5m, 1h)",
    )
    parser.add_argument(
        "--container-stop-timeout",
        metavar="SECONDS",
        help="SIGTERM to SIGKILL grace when a container sets no stopTimeout "
        f"(default {DEFAULT_CONTAINER_STOP_TIMEOUT_S:g}; like ECS_CONTAINER_STOP_TIMEOUT)",
    )
    parser.add_argument(
        "--no-firewall",
        dest="firewall",
        action="store_false",
        default=None,
        help="do not enforce awsvpc tasks' security groups with iptables (for hosts without iptables)",
    )


def load_agent_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> AgentSettings:
    """Flags over ``DOCKYARD_AGENT_*`` over defaults. Raises ``ValueError`` on a missing or invalid value."""

    def pick(flag: Any, env_name: str) -> str | None:
        if flag is not None:
            return str(flag)
        value = environ.get(ENV_PREFIX + env_name)
        return value if value else None

    endpoint = pick(args.endpoint, "ENDPOINT")
    fargate = pick(getattr(args, "fargate", None), "FARGATE") in {"True", "1", "true"}
    cluster = FARGATE_POOL_CLUSTER if fargate else pick(args.cluster, "CLUSTER")
    if fargate and args.cluster not in (None, FARGATE_POOL_CLUSTER):
        raise ValueError("--fargate joins the pool's cluster: leave out --cluster")
    provisioned = _switch(pick(getattr(args, "provisioned", None), "PROVISIONED") or "0", "provisioned")
    if provisioned and not fargate:
        raise ValueError("--provisioned is for a Fargate pool host: add --fargate")
    if not endpoint:
        raise ValueError("--endpoint (or DOCKYARD_AGENT_ENDPOINT) is required")
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"--endpoint must be an http(s) URL, got {endpoint!r}")
    if not cluster:
        raise ValueError("--cluster (or DOCKYARD_AGENT_CLUSTER) is required")

    values: dict[str, Any] = {}
    if (data_dir := pick(args.data_dir, "DATA_DIR")) is not None:
        values["data_dir"] = Path(data_dir)
    if (region := pick(args.region, "REGION")) is not None:
        values["region"] = region
    if (zone := pick(args.availability_zone, "AVAILABILITY_ZONE")) is not None:
        values["availability_zone"] = zone
    if (memory := pick(args.reserved_memory, "RESERVED_MEMORY")) is not None:
        values["reserved_memory_mib"] = _non_negative_int(memory, "reserved memory")
    values.update(_offered_capacity(args, environ))
    if (interval := pick(args.heartbeat_interval, "HEARTBEAT_INTERVAL")) is not None:
        values["heartbeat_interval_s"] = _positive_float(interval, "heartbeat interval")
    if (socket_path := pick(args.docker_socket, "DOCKER_SOCKET")) is not None:
        values["docker_socket"] = socket_path
    if (level := pick(args.log_level, "LOG_LEVEL")) is not None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        values["log_level"] = level
    if (address := pick(args.metadata_address, "METADATA_ADDRESS")) is not None:
        if address.strip().lower() == METADATA_DISABLED:
            values["metadata_enabled"] = False
        else:
            values["metadata_address"] = _address(address.strip())
    if (metadata_port := pick(args.metadata_port, "METADATA_PORT")) is not None:
        values["metadata_port"] = _port(metadata_port, "metadata port")
    if (cleanup := pick(args.task_cleanup_wait, "TASK_CLEANUP_WAIT")) is not None:
        values["task_cleanup_wait_s"] = parse_duration(cleanup, "task cleanup wait")
    if (stop_timeout := pick(args.container_stop_timeout, "CONTAINER_STOP_TIMEOUT")) is not None:
        values["container_stop_timeout_s"] = parse_duration(stop_timeout, "container stop timeout")
    flags: Sequence[str] = args.attribute or []
    attributes = (
        tuple(parse_attribute(a) for a in flags)
        if flags
        else _attributes(environ.get(ENV_PREFIX + "ATTRIBUTES", ""))
    )
    settings = AgentSettings(
        endpoint=endpoint,
        cluster=cluster,
        attributes=attributes,
        firewall_enabled=_switch(pick(getattr(args, "firewall", None), "FIREWALL") or "1", "firewall"),
        provisioned=provisioned,
        **values,
    )
    return settings


def _non_negative_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


def _offered_capacity(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """What the host offers tasks, where the flags or env say: ``cpu_units``, ``memory_mib``,
    ``oci_runtimes`` (flags over env) and the reserved ports (env only)."""
    values: dict[str, Any] = {}
    if (ports := environ.get(ENV_PREFIX + "RESERVED_PORTS")) is not None:
        values["reserved_ports"] = _ports(ports)
    if (udp_ports := environ.get(ENV_PREFIX + "RESERVED_PORTS_UDP")) is not None:
        values["reserved_udp_ports"] = _ports(udp_ports)
    for key, flag, env_name, what in (
        ("cpu_units", "cpu_units", "CPU_UNITS", "CPU units"),
        ("memory_mib", "memory", "MEMORY", "memory"),
    ):
        given = getattr(args, flag, None)
        text = str(given) if given is not None else environ.get(ENV_PREFIX + env_name)
        if text:
            values[key] = _positive_int(text, what)
    runtimes = getattr(args, "oci_runtime", None) or environ.get(ENV_PREFIX + "OCI_RUNTIMES", "").split(",")
    if names := tuple(name.strip() for name in runtimes if name.strip()):
        values["oci_runtimes"] = names
    return values


def _positive_int(text: str, what: str) -> int:
    value = _non_negative_int(text, what)
    if value == 0:
        raise ValueError(f"{what} must be positive")
    return value


def _switch(text: str, what: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{what} must be 1 or 0 (true or false), got {text!r}")


def _positive_float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{what} must be positive")
    return value


def parse_duration(text: str, what: str) -> float:
    """Seconds from ``"30"``, ``"2.5"`` or a Go-style duration as the ECS agent takes: ``"30s"``, ``"1m30s"``,
    ``"500ms"``, ``"1h"``. Never negative."""
    cleaned = text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        parts = _DURATION_PART.findall(cleaned)
        if not parts or "".join(n + unit for n, unit in parts) != cleaned:
            raise ValueError(f"{what} must be seconds or a duration like 30s, 5m, 1h; got {text!r}") from None
        value = sum(float(n) * _DURATION_UNITS[unit] for n, unit in parts)
    if not 0 <= value < float("inf"):  # nor NaN
        raise ValueError(f"{what} must be a finite, non-negative duration, got {text!r}")
    return value


def _port(text: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not 0 <= port < 65536:
        raise ValueError(f"{what} must be 0-65535 (0: any free port), got {port}")
    return port


def _address(text: str) -> str:
    """An IP address (brackets around IPv6 allowed) or a host name."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if _HOSTNAME.match(bare) is None:
        raise ValueError(f"metadata address must be an IP address, a host name or 'none', got {text!r}")
    return bare
