"""The agent's settings: a frozen dataclass built from flags over ``DOCKYARD_AGENT_*`` env over defaults.

AWS credentials and the region are not settings of ours: botocore's session finds them where every AWS
tool does (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, the
shared config and credentials files); ``AWS_REGION`` is honoured before ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "DOCKYARD_AGENT_"
DEFAULT_REGION = "us-east-1"
DEFAULT_DATA_DIR = Path("~/.local/share/dockyard-agent")
DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
DEFAULT_RESERVED_MEMORY_MIB = 256
DEFAULT_HEARTBEAT_INTERVAL_S = 30.0
# The TCP ports the real ECS agent reserves: SSH, the Docker daemon, the agent's introspection/metadata ports.
DEFAULT_RESERVED_PORTS: tuple[int, ...] = (22, 2375, 2376, 51678, 51679)
LOG_LEVELS = ("debug", "info", "warning", "error")


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
    reserved_ports: tuple[int, ...] = DEFAULT_RESERVED_PORTS
    reserved_udp_ports: tuple[int, ...] = ()
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    docker_socket: str = DEFAULT_DOCKER_SOCKET
    log_level: str = "info"

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
    parser.add_argument("--heartbeat-interval", type=float, metavar="SECONDS", help="seconds between checks")
    parser.add_argument("--docker-socket", help=f"Docker Engine socket (default {DEFAULT_DOCKER_SOCKET})")
    parser.add_argument("--log-level", choices=LOG_LEVELS)


def load_agent_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> AgentSettings:
    """Flags over ``DOCKYARD_AGENT_*`` over defaults. Raises ``ValueError`` on a missing or invalid value."""

    def pick(flag: Any, env_name: str) -> str | None:
        if flag is not None:
            return str(flag)
        value = environ.get(ENV_PREFIX + env_name)
        return value if value else None

    endpoint = pick(args.endpoint, "ENDPOINT")
    cluster = pick(args.cluster, "CLUSTER")
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
    if (interval := pick(args.heartbeat_interval, "HEARTBEAT_INTERVAL")) is not None:
        values["heartbeat_interval_s"] = _positive_float(interval, "heartbeat interval")
    if (socket_path := pick(args.docker_socket, "DOCKER_SOCKET")) is not None:
        values["docker_socket"] = socket_path
    if (level := pick(args.log_level, "LOG_LEVEL")) is not None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        values["log_level"] = level
    if (ports := environ.get(ENV_PREFIX + "RESERVED_PORTS")) is not None:
        values["reserved_ports"] = _ports(ports)
    if (udp_ports := environ.get(ENV_PREFIX + "RESERVED_PORTS_UDP")) is not None:
        values["reserved_udp_ports"] = _ports(udp_ports)
    flags: Sequence[str] = args.attribute or []
    attributes = (
        tuple(parse_attribute(a) for a in flags)
        if flags
        else _attributes(environ.get(ENV_PREFIX + "ATTRIBUTES", ""))
    )
    settings = AgentSettings(endpoint=endpoint, cluster=cluster, attributes=attributes, **values)
    return settings


def _non_negative_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


def _positive_float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{what} must be positive")
    return value
