"""The task metadata endpoint, version 4: what a container reads at ``$ECS_CONTAINER_METADATA_URI_V4``.

Routes, all ``GET``, keyed by the container's metadata token (the ``<id>`` in its URI):

- ``/v4/<token>``               the container (``DockerId``, ``Name``, ``Limits``, ``Networks`` …)
- ``/v4/<token>/task``          its task, with every container under ``Containers``
- ``/v4/<token>/taskWithTags``  the same plus ``TaskTags``
- ``/v4/<token>/stats``         Docker's stats JSON for the container
- ``/v4/<token>/task/stats``    Docker id → stats (``null`` while a container has none) for the task

JSON field names, the fields left out when empty, and the error answers follow the real ECS agent:
timestamps are UTC RFC 3339 with up to nanosecond digits (trailing zeros dropped, as Go prints them), an
unknown token is a 404 whose body is a JSON string naming the handler, an unknown path is Go's plain
``404 page not found``, and any method but ``GET`` is a 405.

Rendering is pure (:func:`container_json`, :func:`task_json`, :func:`task_stats_json`);
:class:`MetadataServer` is a small threaded HTTP server over a ``task_facts.MetadataSource``.
:func:`bridge_gateway` finds the address containers reach the host on (Docker's ``bridge`` network gateway),
where the agent listens by default.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from dockyard.agent.task_facts import ContainerFacts, MetadataSource, TaskFacts, TaskInterface

log = logging.getLogger("dockyard.agent.metadata")

DEFAULT_PORT = 51679
DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
CONTAINER_TYPE = "NORMAL"
# The real agent passes CPU values below 2 to Docker as 2 shares, and reports that.
MINIMUM_CPU_UNITS = 2
CPU_UNITS_PER_VCPU = 1024

_TASK_PATH = re.compile(r"^/v4/(?P<token>[^/]+)(?P<rest>(?:/task|/taskWithTags|/stats|/task/stats)?)$")
_HANDLER_NAMES = {
    "": "V4 container metadata handler",
    "/task": "V4 task metadata handler",
    "/taskWithTags": "V4 task metadata handler",
    "/stats": "V4 container stats handler",
    "/task/stats": "V4 task stats handler",
}
_VCPU = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*vcpu\s*$", re.IGNORECASE)
_MEMORY_GB = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*gb\s*$", re.IGNORECASE)


# --- rendering (pure) ----------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """UTC, RFC 3339, fraction trimmed of trailing zeros (Go's ``time.RFC3339Nano``); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _number(value: float) -> int | float:
    """Go prints a whole float64 without a fraction (``10``, not ``10.0``)."""
    return int(value) if float(value).is_integer() else value


def task_cpu_vcpus(cpu: str | None) -> float | None:
    """Task-level CPU as the endpoint reports it, in vCPUs: ``"256"`` → 0.25, ``"1 vCPU"`` → 1."""
    if cpu is None or not cpu.strip():
        return None
    match = _VCPU.match(cpu)
    if match:
        value = float(match["n"])
    else:
        try:
            value = float(cpu) / CPU_UNITS_PER_VCPU
        except ValueError:
            return None
    return value if value > 0 else None


def task_memory_mib(memory: str | None) -> int | None:
    """Task-level memory in MiB: ``"512"`` → 512, ``"2 GB"`` → 2048."""
    if memory is None or not memory.strip():
        return None
    match = _MEMORY_GB.match(memory)
    try:
        value = float(match["n"]) * 1024 if match else float(memory)
    except ValueError:
        return None
    return int(value) if value > 0 else None


def _port_json(binding: Mapping[str, Any]) -> dict[str, Any]:
    port: dict[str, Any] = {}
    # Go's omitempty: a zero port or an empty string is left out.
    if binding.get("containerPort"):
        port["ContainerPort"] = int(binding["containerPort"])
    if binding.get("protocol"):
        port["Protocol"] = str(binding["protocol"])
    if binding.get("hostPort"):
        port["HostPort"] = int(binding["hostPort"])
    if binding.get("bindIP"):
        port["HostIp"] = str(binding["bindIP"])
    return port


def _interface_json(interface: TaskInterface) -> dict[str, Any]:
    """An awsvpc network's fields after ``NetworkMode``, in ECS's order; the gateway carries the prefix
    length (``10.0.2.1/24``), as ECS shows it."""
    network: dict[str, Any] = {"IPv4Addresses": [interface.ipv4_address], "AttachmentIndex": 0}
    if interface.mac_address:
        network["MACAddress"] = interface.mac_address
    if interface.subnet_cidr:
        network["IPv4SubnetCIDRBlock"] = interface.subnet_cidr
    if interface.private_dns_name:
        network["PrivateDNSName"] = interface.private_dns_name
    if interface.subnet_gateway:
        gateway = interface.subnet_gateway
        if "/" not in gateway and interface.subnet_cidr:
            with contextlib.suppress(ValueError):
                gateway += f"/{ipaddress.ip_network(interface.subnet_cidr, strict=False).prefixlen}"
        network["SubnetGatewayIpv4Address"] = gateway
    return network


def container_json(container: ContainerFacts) -> dict[str, Any]:
    """The v4 container response (``GET /v4/<token>``, and each of a task's ``Containers``)."""
    body: dict[str, Any] = {
        "DockerId": container.docker_id or "",
        "Name": container.name,
        "DockerName": container.docker_name or "",
        "Image": container.image,
        "ImageID": container.image_id or "",
    }
    if container.ports:
        body["Ports"] = [_port_json(binding) for binding in container.ports]
    if container.labels:
        body["Labels"] = dict(container.labels)
    body["DesiredStatus"] = container.desired_status
    body["KnownStatus"] = container.known_status
    if container.exit_code is not None:
        body["ExitCode"] = container.exit_code
    body["Limits"] = {
        "CPU": _number(float(max(container.cpu, MINIMUM_CPU_UNITS))),
        "Memory": container.memory or 0,
    }
    for key, moment in (
        ("CreatedAt", container.created_at),
        ("StartedAt", container.started_at),
        ("FinishedAt", container.finished_at),
    ):
        if moment is not None:
            body[key] = rfc3339(moment)
    body["Type"] = CONTAINER_TYPE
    if container.health_status is not None:
        body["Health"] = {"status": container.health_status}
    if container.container_arn:
        body["ContainerARN"] = container.container_arn
    if container.network_mode:
        network: dict[str, Any] = {"NetworkMode": container.network_mode}
        if container.ipv4_addresses:
            network["IPv4Addresses"] = list(container.ipv4_addresses)
        if container.interface is not None:
            network.update(_interface_json(container.interface))
        body["Networks"] = [network]
    return body


def task_json(task: TaskFacts, *, with_tags: bool = False) -> dict[str, Any]:
    """The v4 task response (``/task``; ``/taskWithTags`` when ``with_tags``)."""
    body: dict[str, Any] = {
        "Cluster": task.cluster_arn,
        "TaskARN": task.task_arn,
        "Family": task.family,
        "Revision": task.revision,
    }
    if task.desired_status:
        body["DesiredStatus"] = task.desired_status
    body["KnownStatus"] = task.known_status
    limits: dict[str, Any] = {}
    if (vcpus := task_cpu_vcpus(task.cpu)) is not None:
        limits["CPU"] = _number(vcpus)
    if (memory := task_memory_mib(task.memory)) is not None:
        limits["Memory"] = memory
    if limits:
        body["Limits"] = limits
    for key, moment in (
        ("PullStartedAt", task.pull_started_at),
        ("PullStoppedAt", task.pull_stopped_at),
        ("ExecutionStoppedAt", task.execution_stopped_at),
    ):
        if moment is not None:
            body[key] = rfc3339(moment)
    if task.availability_zone:
        body["AvailabilityZone"] = task.availability_zone
    if with_tags:
        body["TaskTags"] = dict(task.tags)
    if task.launch_type:
        body["LaunchType"] = task.launch_type
    if task.containers:
        body["Containers"] = [container_json(container) for container in task.containers]
    return body


def task_stats_json(task: TaskFacts, source: MetadataSource) -> dict[str, Any]:
    """``/task/stats``: Docker id → that container's stats, ``null`` when it has none (not running)."""
    stats: dict[str, Any] = {}
    for container in task.containers:
        if container.docker_id is None:
            continue
        found = source.container_stats(container.docker_id)
        stats[container.docker_id] = dict(found) if found is not None else None
    return stats


def metadata_uri(host: str, port: int, token: str) -> str:
    """The ``ECS_CONTAINER_METADATA_URI_V4`` value for the container with ``token``."""
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}/v4/{token}"


# --- routing (pure) ------------------------------------------------------------------------------------


def respond(source: MetadataSource, path: str) -> tuple[int, Any]:
    """The status and JSON body for ``GET path``; a ``str`` body of an unknown path is sent as plain text."""
    match = _TASK_PATH.match(urlsplit(path).path)
    if match is None:
        return HTTPStatus.NOT_FOUND, "404 page not found\n"
    token, rest = match["token"], match["rest"]
    found = source.find_by_token(token)
    if found is None:
        reason = f"{_HANDLER_NAMES[rest]}: unable to find a task or container for metadata id {token}"
        return HTTPStatus.NOT_FOUND, _JsonString(reason)
    task, container = found
    if rest == "":
        return HTTPStatus.OK, container_json(container)
    if rest == "/task":
        return HTTPStatus.OK, task_json(task)
    if rest == "/taskWithTags":
        return HTTPStatus.OK, task_json(task, with_tags=True)
    if rest == "/task/stats":
        return HTTPStatus.OK, task_stats_json(task, source)
    stats = source.container_stats(container.docker_id) if container.docker_id else None
    if stats is None:
        reason = f"{_HANDLER_NAMES[rest]}: no stats for container {container.name} (it is not running)"
        return HTTPStatus.NOT_FOUND, _JsonString(reason)
    return HTTPStatus.OK, dict(stats)


class _JsonString(str):
    """An error reason: sent as a JSON string, as the real agent writes its error bodies."""

    __slots__ = ()


# --- the server ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "dockyard-agent"
    sys_version = ""

    def do_GET(self) -> None:
        try:
            status, body = respond(self.server.source, self.path)
        except Exception:
            log.exception("task metadata: %s failed", self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, _JsonString("failed to get metadata")
        if isinstance(body, str) and not isinstance(body, _JsonString):
            self._send(status, body.encode(), "text/plain; charset=utf-8")
        else:
            self._send(status, json.dumps(body).encode(), "application/json")

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain; charset=utf-8", allow="GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def do_HEAD(self) -> None:
        self._not_allowed()

    def _send(self, status: int, payload: bytes, content_type: str, *, allow: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if allow is not None:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("task metadata: %s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], source: MetadataSource) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.source = source
        super().__init__(address, _Handler)


class MetadataServer:
    """The v4 endpoint for ``source`` on ``host``:``port`` (0 = any free port), served by a daemon thread.

    ``start()`` binds (raising ``OSError`` if it cannot) and serves; ``close()`` stops and unbinds. The bound
    address is :attr:`host` / :attr:`port` once started.
    """

    def __init__(self, source: MetadataSource, host: str, port: int = DEFAULT_PORT) -> None:
        self._source = source
        self._requested = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self._requested, self._source)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="task-metadata",
            daemon=True,
        )
        self._thread.start()
        log.info("task metadata endpoint listening on %s", self.base_url)

    def close(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> MetadataServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the requested ones before :meth:`start`."""
        if self._server is None:
            return self._requested
        bound = self._server.server_address
        return str(bound[0]), int(bound[1])

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def uri_for(self, token: str) -> str:
        """``ECS_CONTAINER_METADATA_URI_V4`` for the container with ``token``."""
        host, port = self.address
        return metadata_uri(host, port, token)


# --- where containers reach the agent ------------------------------------------------------------------


class BridgeGatewayError(Exception):
    """Docker's bridge network, or its gateway, cannot be found."""


def gateway_from_network(network: Mapping[str, Any]) -> str | None:
    """The IPv4 gateway of a ``GET /networks/<name>`` answer: ``IPAM.Config[].Gateway``, else the first
    host of the subnet (Docker's own choice when none is configured)."""
    configs = (network.get("IPAM") or {}).get("Config") or []
    for config in configs:
        gateway = str(config.get("Gateway") or "").split("/")[0]
        if gateway and ipaddress.ip_address(gateway).version == 4:
            return gateway
    for config in configs:
        subnet = config.get("Subnet")
        if subnet:
            net = ipaddress.ip_network(str(subnet), strict=False)
            if net.version == 4 and net.num_addresses > 2:
                return str(net.network_address + 1)
    return None


def bridge_gateway(socket_path: str = DEFAULT_DOCKER_SOCKET, timeout_s: float = 5.0) -> str:
    """The address containers on Docker's default bridge reach the host on, e.g. ``172.17.0.1``.

    Raises :class:`BridgeGatewayError` if the Docker Engine cannot be reached or has no bridge network.
    """
    # Checked first: httpcore leaks the socket of a failed unix connect (a ResourceWarning).
    if not Path(socket_path).exists():
        raise BridgeGatewayError(f"Docker Engine unreachable at {socket_path}: no such socket")
    try:
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=socket_path), base_url="http://docker", timeout=timeout_s
        ) as client:
            response = client.get("/networks/bridge")
    except httpx.HTTPError as exc:
        raise BridgeGatewayError(f"Docker Engine unreachable at {socket_path}: {exc}") from exc
    if response.status_code != HTTPStatus.OK:
        raise BridgeGatewayError(f"Docker has no bridge network (HTTP {response.status_code})")
    gateway = gateway_from_network(response.json())
    if gateway is None:
        raise BridgeGatewayError("Docker's bridge network has no IPv4 gateway")
    return gateway
