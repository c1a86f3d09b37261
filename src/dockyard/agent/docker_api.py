"""Pure translation between dockyard's runtime types and the Docker Engine API's JSON (v1.41). No I/O.

Durations in Docker's ``Healthcheck`` are nanoseconds; ports are keyed ``"<port>/<proto>"``; timestamps are
RFC 3339 with nanoseconds, and ``0001-01-01T00:00:00Z`` means "never".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, cast

from dockyard.agent.awslogs import DockerLine
from dockyard.agent.runtime import (
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    HealthStatus,
    NetworkBinding,
    PortProtocol,
    PullAuth,
)

_NS_PER_S = 1_000_000_000
DOCKER_HUB_AUTH_ADDRESS = "https://index.docker.io/v1/"
_STATUS: dict[str, ContainerStatus] = {
    "created": "created",
    "running": "running",
    "paused": "running",  # still alive, holding its resources
    "restarting": "running",
    "removing": "exited",
    "exited": "exited",
    "dead": "dead",
}
_HEALTH: dict[str, HealthStatus] = {"healthy": "healthy", "unhealthy": "unhealthy", "starting": "starting"}
_TIMESTAMP = re.compile(r"^(?P<base>[^.Z+]+)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$")


def split_reference(image: str) -> tuple[str, str]:
    """``repo[:tag|@digest]`` → (repo, tag or digest); the tag defaults to ``latest``."""
    if "@" in image:
        repo, digest = image.rsplit("@", 1)
        return repo, digest
    last_component = image.rsplit("/", 1)[-1]
    if ":" in last_component:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


def registry_host(repo: str) -> str | None:
    """The registry a repository lives on, or ``None`` for Docker Hub (``library/x``, ``user/x``)."""
    first, sep, _ = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def registry_auth_header(repo: str, auth: PullAuth) -> str:
    """The ``X-Registry-Auth`` value: URL-safe base64 of ``{username, password, serveraddress}``."""
    payload = {
        "username": auth.username,
        "password": auth.password,
        "serveraddress": registry_host(repo) or DOCKER_HUB_AUTH_ADDRESS,
    }
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def pull_error(progress_lines: list[str]) -> str | None:
    """The error in a pull's progress stream, if any (a failed pull may still answer 200)."""
    for line in progress_lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and (event.get("error") or event.get("errorDetail")):
            detail = event.get("errorDetail") or {}
            return str(event.get("error") or detail.get("message") or "image pull failed")
    return None


def pull_digest(progress_lines: list[str]) -> str | None:
    """The manifest digest a pull's progress stream reports (``Digest: sha256:…``), if any."""
    for line in progress_lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        status = event.get("status") if isinstance(event, dict) else None
        if isinstance(status, str) and status.startswith("Digest: "):
            return status.removeprefix("Digest: ").strip()
    return None


class LogDemuxer:
    r"""Docker's multiplexed log stream (no TTY: frames of an 8-byte header, stream 1 stdout or 2 stderr
    and a big-endian length, then the payload) with ``timestamps=true``, in chunks of any size, out as
    :class:`DockerLine`\ s. The json-file driver cuts lines over 16 KiB into pieces, each with its own
    timestamp: a piece without its newline is joined to the next, under the first piece's timestamp."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._partial: dict[int, tuple[int, str]] = {}

    def feed(self, chunk: bytes) -> list[DockerLine]:
        self._buffer += chunk
        lines: list[DockerLine] = []
        while len(self._buffer) >= 8:
            size = int.from_bytes(self._buffer[4:8], "big")
            if len(self._buffer) < 8 + size:
                break
            kind = self._buffer[0]
            payload = bytes(self._buffer[8 : 8 + size])
            del self._buffer[: 8 + size]
            lines.extend(self._payload(kind, payload))
        return lines

    def _payload(self, kind: int, payload: bytes) -> list[DockerLine]:
        found: list[DockerLine] = []
        for piece in payload.splitlines(keepends=True):
            stamp, _, rest = piece.partition(b" ")
            timestamp = parse_timestamp_ns(stamp.decode("ascii", "replace"))
            text = rest.decode("utf-8", "replace")
            started, before = self._partial.pop(kind, (timestamp, ""))
            if not text.endswith("\n"):
                self._partial[kind] = (started, before + text)
                continue
            stream: Literal["stdout", "stderr"] = "stderr" if kind == STDERR_FRAME else "stdout"
            found.append(DockerLine(started, (before + text)[:-1], stream))
        return found


STDERR_FRAME = 2


def parse_timestamp_ns(text: str) -> int:
    """RFC 3339 with nanoseconds (``2026-12-07T11:56:39.123456789Z``) as ns since the epoch."""
    main, _, fraction = text.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(main).replace(tzinfo=UTC).timestamp())
    digits = (fraction + "000000000")[:9] if fraction else "0"
    return seconds * 1_000_000_000 + int(digits)


QUOTA_DRIVERS = frozenset({"btrfs", "zfs", "devicemapper"})


def limits_storage(info: Mapping[str, Any]) -> bool:
    """From ``GET /info``: whether the storage driver honours ``StorageOpt size`` (overlay2 only on xfs,
    and there only with project quotas, which the engine checks when the container is created)."""
    driver = str(info.get("Driver") or "")
    status = {str(pair[0]): str(pair[1]) for pair in info.get("DriverStatus") or () if len(pair) == 2}
    return driver in QUOTA_DRIVERS or (driver == "overlay2" and status.get("Backing Filesystem") == "xfs")


def create_body(spec: ContainerSpec) -> dict[str, Any]:
    """The ``POST /containers/create`` body for ``spec`` (the name goes in the query string)."""
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for binding in () if spec.network_container else spec.port_bindings:
        host_port = str(binding.host_port) if binding.host_port else ""
        key = f"{binding.container_port}/{binding.protocol}"
        port_bindings.setdefault(key, []).append({"HostIp": binding.host_ip, "HostPort": host_port})
    network_mode: str = spec.network_mode
    if spec.network_container is not None:
        network_mode = f"container:{spec.network_container}"
    elif spec.network is not None:
        network_mode = spec.network.network
    host_config: dict[str, Any] = {
        "NetworkMode": network_mode,
        "PortBindings": port_bindings,
        "PublishAllPorts": False,
        "Binds": [f"{b.source}:{b.target}{':ro' if b.read_only else ''}" for b in spec.binds],
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in spec.ulimits],
        "ReadonlyRootfs": spec.readonly_rootfs,
        "Privileged": spec.privileged,
        "ExtraHosts": [f"{host}:{ip}" for host, ip in spec.extra_hosts],
    }
    if spec.memory_bytes is not None:
        host_config["Memory"] = spec.memory_bytes
    if spec.memory_reservation_bytes is not None:
        host_config["MemoryReservation"] = spec.memory_reservation_bytes
    if spec.cpu_shares is not None:
        host_config["CpuShares"] = spec.cpu_shares
    if spec.nano_cpus is not None:
        host_config["NanoCpus"] = spec.nano_cpus
    if spec.runtime is not None:
        host_config["Runtime"] = spec.runtime
    if spec.storage_size_gib is not None:
        host_config["StorageOpt"] = {"size": f"{spec.storage_size_gib}G"}
    if spec.cgroup_parent is not None:
        host_config["CgroupParent"] = spec.cgroup_parent
    if spec.ipc_mode is not None:
        host_config["IpcMode"] = spec.ipc_mode
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{key}={value}" for key, value in spec.env.items()],
        "Labels": dict(spec.labels),
        "ExposedPorts": {key: {} for key in port_bindings},
        "HostConfig": host_config,
    }
    if spec.network is not None and spec.network_container is None:
        endpoint: dict[str, Any] = {}
        if spec.network.ipv4_address:
            endpoint["IPAMConfig"] = {"IPv4Address": spec.network.ipv4_address}
        if spec.network.mac_address:
            endpoint["MacAddress"] = spec.network.mac_address
        body["NetworkingConfig"] = {"EndpointsConfig": {spec.network.network: endpoint}}
    if spec.command is not None:
        body["Cmd"] = list(spec.command)
    if spec.entrypoint is not None:
        body["Entrypoint"] = list(spec.entrypoint)
    if spec.working_dir is not None:
        body["WorkingDir"] = spec.working_dir
    if spec.hostname is not None:
        body["Hostname"] = spec.hostname
    if spec.user is not None:
        body["User"] = spec.user
    if spec.stop_timeout_s is not None:
        body["StopTimeout"] = spec.stop_timeout_s
    if spec.health_check is not None:
        check = spec.health_check
        body["Healthcheck"] = {
            "Test": list(check.test),
            "Interval": int(check.interval_s * _NS_PER_S),
            "Timeout": int(check.timeout_s * _NS_PER_S),
            "Retries": check.retries,
            "StartPeriod": int(check.start_period_s * _NS_PER_S),
        }
    return body


def parse_timestamp(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp (nanoseconds allowed), or ``None`` for Docker's zero time or nothing."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    fraction = (match["frac"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    return datetime.fromisoformat(f"{match['base']}.{fraction}{zone}")


def _network_bindings(ports: dict[str, Any] | None) -> tuple[NetworkBinding, ...]:
    bindings: list[NetworkBinding] = []
    for key, hosts in sorted((ports or {}).items()):
        port, _, proto = key.partition("/")
        for host in hosts or ():
            protocol = cast(PortProtocol, proto or "tcp")
            bindings.append(NetworkBinding(int(port), protocol, host["HostIp"], int(host["HostPort"])))
    return tuple(bindings)


def state_from_inspect(data: dict[str, Any]) -> ContainerState:
    """A :class:`ContainerState` from ``GET /containers/{id}/json``."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    host_config = data.get("HostConfig") or {}
    network_settings = data.get("NetworkSettings") or {}
    status = _STATUS.get(str(state.get("Status")), "dead")
    health = state.get("Health")
    networks = network_settings.get("Networks") or {}
    return ContainerState(
        id=data["Id"],
        name=str(data.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        image_id=str(data.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
        status=status,
        exit_code=int(state.get("ExitCode", 0)) if status in ("exited", "dead") else None,
        created_at=parse_timestamp(data.get("Created")),
        started_at=parse_timestamp(state.get("StartedAt")),
        finished_at=parse_timestamp(state.get("FinishedAt")),
        health=_HEALTH.get(str(health.get("Status"))) if health else None,
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error") or None,
        network_bindings=_network_bindings(network_settings.get("Ports")),
        ip_addresses={name: net["IPAddress"] for name, net in networks.items() if net.get("IPAddress")},
        memory_bytes=host_config.get("Memory") or None,
        cpu_shares=host_config.get("CpuShares") or None,
        runtime=str(host_config.get("Runtime") or "runc"),
        network_mode=str(host_config.get("NetworkMode") or "default"),
    )


def network_create_body(name: str, cidr: str, gateway: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The ``POST /networks/create`` body of a bridge network for one subnet."""
    return {
        "Name": name,
        "CheckDuplicate": True,
        "Driver": "bridge",
        "IPAM": {"Driver": "default", "Config": [{"Subnet": cidr, "Gateway": gateway}]},
        "Labels": dict(labels),
    }


def network_subnets(network: Mapping[str, Any]) -> set[str]:
    """The subnets of a ``GET /networks/{name}`` answer (``IPAM.Config[].Subnet``)."""
    configs = (network.get("IPAM") or {}).get("Config") or []
    return {str(c["Subnet"]) for c in configs if isinstance(c, dict) and c.get("Subnet")}


def exec_create_body(command: tuple[str, ...], *, stdin: bool, tty: bool) -> dict[str, Any]:
    """The ``POST /containers/{id}/exec`` body: attach the output always, stdin when asked."""
    return {
        "AttachStdin": stdin,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": tty,
        "Cmd": list(command),
    }


def hijack_request(path: str, body: bytes) -> bytes:
    """The raw HTTP/1.1 request that starts an exec and upgrades the connection to its raw stream."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
        f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def response_status(head: bytes) -> int:
    """The status code of a raw HTTP response head (``HTTP/1.1 101 UPGRADED``)."""
    first = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else 0


class FrameDemuxer:
    """Docker's multiplexed stream without timestamps (an exec's or an attach's output, no TTY): frames
    of an 8-byte header (stream 1 stdout, 2 stderr; big-endian length) and the payload, fed in chunks
    of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[Literal["stdout", "stderr"], bytes]]:
        self._buffer += chunk
        frames: list[tuple[Literal["stdout", "stderr"], bytes]] = []
        while len(self._buffer) >= 8:
            size = int.from_bytes(self._buffer[4:8], "big")
            if len(self._buffer) < 8 + size:
                break
            stream: Literal["stdout", "stderr"] = "stderr" if self._buffer[0] == STDERR_FRAME else "stdout"
            frames.append((stream, bytes(self._buffer[8 : 8 + size])))
            del self._buffer[: 8 + size]
        return frames
