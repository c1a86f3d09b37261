"""Facts about this host that registration reports: CPU, memory, reserved ports, attributes, versions.

The parsing and the assembly are pure functions (tested with made-up inputs); :func:`probe_host` and
:func:`docker_engine_version` are the only parts that read the machine.
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from dockyard import __version__
from dockyard.agent.config import AgentSettings, Attribute

CPU_UNITS_PER_CORE = 1024
MIN_DOCKER_API = (1, 17)
# The newest Engine API the agent's runtime speaks (docker_runtime.API_VERSION): never advertise past it.
MAX_DOCKER_API = (1, 41)
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# Capabilities the real agent advertises that dockyard's agent honours (ECS matches task definitions'
# requiresAttributes against them).
CAPABILITIES = (
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.privileged-container",
    "com.amazonaws.ecs.capability.ecr-auth",
    "ecs.capability.container-health-check",
)


@dataclass(frozen=True)
class HostFacts:
    cores: int
    memory_total_mib: int
    machine: str
    """``platform.machine()``: ``x86_64``, ``aarch64``…"""


@dataclass(frozen=True)
class EngineVersion:
    """What ``GET /version`` of the Docker Engine reports."""

    version: str
    api_version: str
    min_api_version: str
    runtimes: tuple[str, ...] = ()
    """The OCI runtimes ``GET /info`` lists (``runc``, ``runsc`` when gVisor is registered)."""


PROVISIONED_ATTRIBUTE = "dockyard.pool.provisioned"
"""Registered ``true`` by a pool host the provisioner started (``--provisioned``): the server retires it
once idle (its ``fargate_rules.PROVISIONED_ATTRIBUTE``)."""
ADDRESS_ATTRIBUTE = "dockyard.host.address"
"""The address a provisioned host reaches the server from, for the retire command."""

RUNTIME_ATTRIBUTE_PREFIX = "dockyard.oci-runtime."
"""One attribute per OCI runtime the engine offers (``dockyard.oci-runtime.runsc``): Fargate placement reads
which runtime will isolate a task from it."""


def parse_meminfo_mib(text: str) -> int:
    """MemTotal of ``/proc/meminfo`` (in kB) as whole MiB."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ValueError("MemTotal missing from /proc/meminfo")


def probe_host() -> HostFacts:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    memory = parse_meminfo_mib(Path("/proc/meminfo").read_text())
    return HostFacts(cores=cores, memory_total_mib=memory, machine=platform.machine())


def ecs_architecture(machine: str) -> str:
    return _ARCHITECTURES.get(machine.lower(), machine.lower())


def docker_engine_version(socket_path: str, timeout_s: float = 10.0) -> EngineVersion:
    """``GET /version`` over the Engine's unix socket (unversioned path: any engine answers it).

    Raises ``httpx.TransportError`` when the engine cannot be reached, ``httpx.HTTPStatusError`` on an error.
    """
    with httpx.Client(
        transport=httpx.HTTPTransport(uds=socket_path), base_url="http://docker", timeout=timeout_s
    ) as client:
        response = client.get("/version")
        response.raise_for_status()
        body: Mapping[str, Any] = response.json()
        info = client.get("/info")
        info.raise_for_status()
        runtimes = tuple(sorted(str(name) for name in (info.json().get("Runtimes") or {})))
    return EngineVersion(
        version=str(body.get("Version", "")),
        api_version=str(body.get("ApiVersion", "")),
        min_api_version=str(body.get("MinAPIVersion", "1.12")),
        runtimes=runtimes,
    )


def _api_tuple(text: str) -> tuple[int, int] | None:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor)
    except ValueError:
        return None


def docker_api_capabilities(engine: EngineVersion) -> list[str]:
    """``com.amazonaws.ecs.capability.docker-remote-api.1.N`` for each API version the engine and we share."""
    newest = min(_api_tuple(engine.api_version) or MIN_DOCKER_API, MAX_DOCKER_API)
    oldest = max(_api_tuple(engine.min_api_version) or MIN_DOCKER_API, MIN_DOCKER_API)
    return [
        f"com.amazonaws.ecs.capability.docker-remote-api.1.{minor}"
        for minor in range(oldest[1], newest[1] + 1)
        if newest[0] == 1 and oldest[0] == 1
    ]


@dataclass(frozen=True)
class Registration:
    """The RegisterContainerInstance parameters for this host (without cluster and ARN)."""

    total_resources: tuple[Mapping[str, Any], ...]
    attributes: tuple[Attribute, ...]
    version_info: Mapping[str, str]

    def to_api(self) -> dict[str, Any]:
        return {
            "totalResources": [dict(r) for r in self.total_resources],
            "attributes": [a.to_api() for a in self.attributes],
            "versionInfo": dict(self.version_info),
        }

    def resource(self, name: str) -> Mapping[str, Any]:
        return next(r for r in self.total_resources if r["name"] == name)

    def attribute(self, name: str) -> str | None:
        return next((a.value for a in self.attributes if a.name == name), None)


def offered_runtimes(settings: AgentSettings, engine: EngineVersion) -> tuple[str, ...]:
    """The OCI runtimes this host offers tasks: the engine's, or those of them the settings name
    (ValueError naming a runtime the engine lacks)."""
    if settings.oci_runtimes is None:
        return engine.runtimes
    missing = [name for name in settings.oci_runtimes if name not in engine.runtimes]
    if missing:
        raise ValueError(
            f"OCI runtime {', '.join(missing)} is not one of the engine's ({', '.join(engine.runtimes)})"
        )
    return settings.oci_runtimes


def outbound_address(endpoint: str) -> str | None:
    """The local address this host reaches ``endpoint`` from (a UDP socket's source address: no packet is
    sent), or None when it cannot be told."""
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_DGRAM)
        family, kind, proto, _, target = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.connect(target)
            return str(probe.getsockname()[0])
    except (OSError, IndexError):
        return None


def build_registration(
    settings: AgentSettings,
    host: HostFacts,
    engine: EngineVersion,
    region: str,
    *,
    address: str | None = None,
) -> Registration:
    """What the real ECS agent reports: resources, attributes (built-in, capabilities, custom), versions;
    a provisioned pool host also marks itself, with ``address`` when known."""
    memory = settings.memory_mib or host.memory_total_mib - settings.reserved_memory_mib
    if memory <= 0:
        raise ValueError(
            f"reserved memory {settings.reserved_memory_mib} MiB leaves nothing"
            f" of the host's {host.memory_total_mib} MiB"
        )
    resources: tuple[Mapping[str, Any], ...] = (
        {
            "name": "CPU",
            "type": "INTEGER",
            "integerValue": settings.cpu_units or host.cores * CPU_UNITS_PER_CORE,
        },
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": [str(p) for p in settings.reserved_ports]},
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            "stringSetValue": [str(p) for p in settings.reserved_udp_ports],
        },
    )
    builtin = [
        Attribute("ecs.os-type", "linux"),
        Attribute("ecs.cpu-architecture", ecs_architecture(host.machine)),
        Attribute("ecs.availability-zone", settings.availability_zone or f"{region}a"),
        *(Attribute(name) for name in docker_api_capabilities(engine)),
        *(Attribute(name) for name in CAPABILITIES),
        *(Attribute(f"{RUNTIME_ATTRIBUTE_PREFIX}{name}") for name in offered_runtimes(settings, engine)),
    ]
    if settings.provisioned:
        builtin.append(Attribute(PROVISIONED_ATTRIBUTE, "true"))
        if address:
            builtin.append(Attribute(ADDRESS_ATTRIBUTE, address))
    custom_names = {a.name for a in settings.attributes}
    attributes = tuple(a for a in builtin if a.name not in custom_names) + settings.attributes
    version_info = {"agentVersion": __version__, "dockerVersion": f"DockerVersion: {engine.version}"}
    return Registration(resources, attributes, version_info)
