"""``dockyard agent``: join a cluster, then stay in touch with the control plane.

Wait for the Docker Engine, register (keeping the containerInstanceArn across restarts), discover the
poll endpoint, start the task host (:mod:`dockyard.agent.task_host`: task engine, metadata endpoint,
state reporter, push channel), then every ``heartbeat_interval_s`` describe this instance and log what
the server sees — re-registering, and restarting the task host, if the server has lost it. A provisioned
Fargate pool host (``--provisioned``) whose instance the server deregistered was retired: it exits 0.
SIGTERM and SIGINT end the loop, or any backoff wait, promptly; the exit status is then 0. Containers
keep running when the agent stops: the next start adopts them.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent.config import AgentSettings, load_agent_settings
from dockyard.agent.host import (
    EngineVersion,
    HostFacts,
    build_registration,
    docker_engine_version,
    outbound_address,
    probe_host,
)
from dockyard.agent.registration import EcsClient, Registrar, Retrier, Stopped, ecs_client, is_retryable
from dockyard.agent.state import StateStore
from dockyard.agent.task_host import Joined, cluster_arn_of, start_task_host

log = logging.getLogger("dockyard.agent")


class Closeable(Protocol):
    """What runs beside the heartbeat loop once the host has joined (the task host)."""

    def close(self) -> None: ...


@dataclass
class AgentDeps:
    """The agent's contact with the outside world, replaceable in tests."""

    client_factory: Callable[[str, str | None], tuple[EcsClient, str]] = ecs_client
    engine_probe: Callable[[str], EngineVersion] = docker_engine_version
    host_probe: Callable[[], HostFacts] = probe_host
    address_probe: Callable[[str], str | None] = outbound_address
    rng: Callable[[], float] = field(default=random.random)
    task_host: Callable[[AgentSettings, Joined, EcsClient], Closeable] = start_task_host


def run(settings: AgentSettings, stop: threading.Event, deps: AgentDeps | None = None) -> int:
    """Run the agent until ``stop`` is set; 0 on a requested shutdown, 1 on a fatal error."""
    deps = deps or AgentDeps()
    try:
        return _run(settings, stop, deps)
    except Stopped:
        log.info("shutting down")
        return 0
    except ClientError as exc:
        log.error("the server refused the agent: %s", exc)
        return 1


def _run(settings: AgentSettings, stop: threading.Event, deps: AgentDeps) -> int:
    client, region = deps.client_factory(settings.endpoint, settings.region)
    docker_retrier = Retrier(
        sleep=stop.wait, rng=deps.rng, retryable=lambda e: isinstance(e, httpx.HTTPError)
    )
    engine = docker_retrier.call("Docker Engine /version", lambda: deps.engine_probe(settings.docker_socket))
    host = deps.host_probe()
    address = deps.address_probe(settings.endpoint) if settings.provisioned else None
    registration = build_registration(settings, host, engine, region, address=address)
    log.info(
        "host: %d cores, %d MiB (CPU %s, MEMORY %s), Docker %s (API %s)",
        host.cores,
        host.memory_total_mib,
        registration.resource("CPU")["integerValue"],
        registration.resource("MEMORY")["integerValue"],
        engine.version,
        engine.api_version,
    )
    retrier = Retrier(sleep=stop.wait, rng=deps.rng)
    registrar = Registrar(
        client=client,
        cluster=settings.cluster,
        endpoint=settings.endpoint,
        store=StateStore(settings.state_file),
        retrier=retrier,
    )
    zone = registration.attribute("ecs.availability-zone") or f"{region}a"

    def join() -> tuple[str, Closeable]:
        arn = str(registrar.register(registration)["containerInstanceArn"])
        log.info("poll endpoint: %s", registrar.discover_poll_endpoint(arn))
        joined = Joined(settings.cluster, cluster_arn_of(arn), arn, region, zone)
        return arn, deps.task_host(settings, joined, client)

    arn, tasks = join()
    try:
        seen: tuple[object, object] | None = None
        while not stop.wait(settings.heartbeat_interval_s):
            try:
                instance = registrar.describe_self(arn)
            except (BotoCoreError, ClientError) as exc:
                if not is_retryable(exc):
                    raise
                log.warning("cannot reach the server: %s", exc)
                continue
            if settings.provisioned and instance is not None and instance.get("status") == "INACTIVE":
                log.info("the server retired container instance %s: exiting", arn)
                break
            if instance is None or instance.get("status") == "INACTIVE":
                log.warning("the server no longer has container instance %s: registering again", arn)
                tasks.close()
                arn, tasks = join()
                continue
            seen = _log_heartbeat(instance, seen)
    finally:
        tasks.close()
    log.info("shutting down")
    return 0


def _log_heartbeat(
    instance: Mapping[str, Any], before: tuple[object, object] | None
) -> tuple[object, object]:
    """Log what the server sees: at INFO when status or agentConnected changed, else at DEBUG."""
    now = (instance.get("status"), instance.get("agentConnected"))
    log.log(
        logging.INFO if now != before else logging.DEBUG,
        "container instance %s: status %s, agentConnected %s, running %s, pending %s",
        instance.get("containerInstanceArn"),
        instance.get("status"),
        instance.get("agentConnected"),
        instance.get("runningTasksCount"),
        instance.get("pendingTasksCount"),
    )
    return now


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT request a graceful shutdown."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def configure_agent_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("httpx", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def run_from_args(args: argparse.Namespace) -> int:
    """The ``dockyard agent`` command (flags from :func:`dockyard.agent.config.add_arguments`)."""
    settings = load_agent_settings(args, os.environ)
    configure_agent_logging(settings.log_level)
    stop = threading.Event()
    install_signal_handlers(stop)
    return run(settings, stop)
