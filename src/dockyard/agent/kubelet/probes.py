"""Startup, liveness and readiness probes: when one is due and what its results mean (pure), and running
one (exec through the runtime, httpGet and tcpSocket from the host to the pod's IP, which the pods'
Docker bridge makes reachable).

Kubernetes' rules: nothing runs before ``initialDelaySeconds`` after the container started, then one probe
every ``periodSeconds``, each bounded by ``timeoutSeconds`` (a timed-out exec fails). A result changes after
``successThreshold`` consecutive successes or ``failureThreshold`` consecutive failures. Before its first
result a startup probe counts as not started, liveness as alive, readiness as not ready; liveness and
readiness wait until the startup probe has succeeded. httpGet succeeds on a status 200-399. ``grpc`` probes
are not implemented: they never change the result they start with.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from dockyard.agent.runtime import ContainerRuntime, ContainerRuntimeError

ProbeKind = Literal["startup", "liveness", "readiness"]
INITIAL_RESULT: dict[ProbeKind, bool | None] = {"startup": None, "liveness": True, "readiness": False}


@dataclass(frozen=True)
class Probe:
    action: str
    """``exec``, ``httpGet``, ``tcpSocket`` or ``grpc``."""
    command: tuple[str, ...] = ()
    port: int = 0
    path: str = "/"
    scheme: str = "HTTP"
    host: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay_s: int = 0
    period_s: int = 10
    timeout_s: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class ProbeState:
    result: bool | None
    successes: int = 0
    failures: int = 0
    last_run: datetime | None = None


def _port(value: Any, container: Mapping[str, Any]) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for port in container.get("ports") or ():
        if port.get("name") == value:
            return int(port["containerPort"])
    return 0


def parse_probe(spec: Mapping[str, Any] | None, container: Mapping[str, Any]) -> Probe | None:
    """A container's probe (``livenessProbe``…), with Kubernetes' defaults; ``None`` when it has none."""
    if not spec:
        return None
    timing = Probe(
        "grpc",
        initial_delay_s=int(spec.get("initialDelaySeconds", 0)),
        period_s=max(1, int(spec.get("periodSeconds", 10))),
        timeout_s=max(1, int(spec.get("timeoutSeconds", 1))),
        success_threshold=max(1, int(spec.get("successThreshold", 1))),
        failure_threshold=max(1, int(spec.get("failureThreshold", 3))),
    )
    if "exec" in spec:
        return replace(
            timing, action="exec", command=tuple(str(c) for c in spec["exec"].get("command") or ())
        )
    if "httpGet" in spec:
        get = spec["httpGet"]
        return replace(
            timing,
            action="httpGet",
            port=_port(get.get("port"), container),
            path=str(get.get("path") or "/"),
            scheme=str(get.get("scheme") or "HTTP").upper(),
            host=str(get.get("host") or ""),
            headers=tuple((str(h["name"]), str(h["value"])) for h in get.get("httpHeaders") or ()),
        )
    if "tcpSocket" in spec:
        tcp = spec["tcpSocket"]
        port = _port(tcp.get("port"), container)
        return replace(timing, action="tcpSocket", port=port, host=str(tcp.get("host") or ""))
    return timing


def due(probe: Probe, state: ProbeState, started_at: datetime | None, now: datetime) -> bool:
    if started_at is None or now < started_at + timedelta(seconds=probe.initial_delay_s):
        return False
    return state.last_run is None or now >= state.last_run + timedelta(seconds=probe.period_s)


def record(probe: Probe, state: ProbeState, ok: bool, now: datetime) -> ProbeState:
    """The state after one probe's outcome."""
    if ok:
        successes, failures = state.successes + 1, 0
        result = True if successes >= probe.success_threshold else state.result
    else:
        successes, failures = 0, state.failures + 1
        result = False if failures >= probe.failure_threshold else state.result
    return replace(state, result=result, successes=successes, failures=failures, last_run=now)


def run_probe(runtime: ContainerRuntime, container_id: str, probe: Probe, pod_ip: str) -> tuple[bool, str]:
    """Run the probe once: (succeeded, what it said)."""
    if probe.action == "exec":
        try:
            result = runtime.exec(container_id, probe.command, timeout_s=probe.timeout_s)
        except ContainerRuntimeError as exc:
            return False, exc.message
        return result.exit_code == 0, result.output
    host = probe.host or pod_ip
    if probe.action == "httpGet":
        url = f"{probe.scheme.lower()}://{host}:{probe.port}{probe.path}"
        try:
            response = httpx.get(
                url,
                headers=dict(probe.headers),
                timeout=probe.timeout_s,
                verify=False,  # noqa: S501 - the kubelet does not verify a probe's certificate
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            return False, f'Get "{url}": {exc}'
        return 200 <= response.status_code < 400, f"HTTP probe failed with statuscode: {response.status_code}"
    if probe.action == "tcpSocket":
        try:
            with socket.create_connection((host, probe.port), timeout=probe.timeout_s):
                return True, ""
        except OSError as exc:
            return False, f"dial tcp {host}:{probe.port}: {exc}"
    return True, "grpc probes are not implemented"
