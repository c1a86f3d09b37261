"""Running tasks on this host once it has joined a cluster: the parts, wired together.

    server ──push channel──▶ PushChannel ──apply/stop──▶ TaskEngine ──▶ Docker Engine
    server ◀─SubmitTaskStateChange── ApiReporter ◀─reports─┘   ▲
    containers ──ECS_CONTAINER_METADATA_URI_V4──▶ MetadataServer ┘ (reads the engine's task facts)
    server ──push channel (FirewallMessage)──▶ Firewall ──▶ iptables (awsvpc tasks' security groups)

:func:`start_task_host` starts them in an order that never loses work: the metadata endpoint binds first
(its address goes into every container's environment), the engine then re-adopts the containers it left
running and reports their state, and only then does the channel connect and take new payloads.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.config
import botocore.session

from dockyard.agent.channel import PushChannel
from dockyard.agent.config import AgentSettings
from dockyard.agent.docker_runtime import DockerRuntime
from dockyard.agent.firewall import Firewall
from dockyard.agent.log_shipper import LogShipper
from dockyard.agent.metadata import BridgeGatewayError, MetadataServer, bridge_gateway
from dockyard.agent.registry_auth import RegistryCredentials
from dockyard.agent.reporter import ApiReporter, StateChangeClient
from dockyard.agent.task_engine import TaskEngine
from dockyard.agent.task_facts import ContainerFacts, MetadataSource, TaskFacts

log = logging.getLogger("dockyard.agent")


@dataclass(frozen=True)
class Joined:
    """What registration established: who this host is in which cluster."""

    cluster: str
    cluster_arn: str
    container_instance_arn: str
    region: str
    availability_zone: str


def cluster_arn_of(container_instance_arn: str) -> str:
    """``arn:…:container-instance/<cluster>/<id>`` → ``arn:…:cluster/<cluster>``."""
    prefix, _, resource = container_instance_arn.partition(":container-instance/")
    return f"{prefix}:cluster/{resource.split('/', 1)[0]}"


class _EngineSlot:
    """The metadata endpoint's source until the engine exists (it needs the endpoint's address first)."""

    engine: MetadataSource | None = None

    def find_by_token(self, token: str) -> tuple[TaskFacts, ContainerFacts] | None:
        return None if self.engine is None else self.engine.find_by_token(token)

    def container_stats(self, docker_id: str) -> Mapping[str, Any] | None:
        return None if self.engine is None else self.engine.container_stats(docker_id)


class TaskHost:
    """The running parts; :meth:`close` stops them (containers keep running, as with ECS's agent)."""

    def __init__(
        self,
        engine: TaskEngine,
        channel: PushChannel,
        channel_thread: threading.Thread,
        reporter: ApiReporter,
        metadata: MetadataServer | None,
        stop: threading.Event,
        firewall: Firewall | None = None,
    ) -> None:
        self.engine = engine
        self.channel = channel
        self._channel_thread = channel_thread
        self._reporter = reporter
        self._metadata = metadata
        self._stop = stop
        self.firewall = firewall

    def close(self) -> None:
        self._stop.set()
        self._channel_thread.join(timeout=10)
        if self.firewall is not None:
            self.firewall.close()  # its chain stays: the tasks keep running
        self.engine.close()
        self._reporter.close()
        if self._metadata is not None:
            self._metadata.close()


def start_task_host(settings: AgentSettings, joined: Joined, ecs: StateChangeClient) -> TaskHost:
    """Start the engine, the metadata endpoint, the reporter and the push channel."""
    session = botocore.session.get_session()
    ecr = session.create_client(
        "ecr",
        region_name=joined.region,
        endpoint_url=settings.endpoint,
        config=botocore.config.Config(retries={"total_max_attempts": 2}, user_agent_extra="dockyard-agent"),
    )
    stop = threading.Event()
    slot = _EngineSlot()
    metadata = _start_metadata(settings, slot)
    reporter = ApiReporter(ecs, joined.cluster)
    channel_ref: list[PushChannel] = []

    def publish_health(task_arn: str, statuses: Mapping[str, str]) -> None:
        if channel_ref:
            channel_ref[0].publish_health(task_arn, statuses)

    def send_logs(request: Mapping[str, Any]) -> dict[str, Any] | None:
        return channel_ref[0].put_log_events(request) if channel_ref else None

    runtime = DockerRuntime(settings.docker_socket)
    shipper = LogShipper(runtime, settings.data_dir.expanduser() / "logs", send_logs)
    engine = TaskEngine(
        runtime=runtime,
        reporter=reporter,
        store_path=settings.data_dir.expanduser() / "tasks.json",
        cluster_arn=joined.cluster_arn,
        container_instance_arn=joined.container_instance_arn,
        availability_zone=joined.availability_zone,
        registry_auth=RegistryCredentials(ecr),
        metadata_endpoint=None if metadata is None else metadata.base_url,
        health_publisher=publish_health,
        log_shipper=shipper,
        cleanup_after_s=settings.task_cleanup_wait_s,
        default_stop_timeout_s=round(settings.container_stop_timeout_s),
    )
    slot.engine = engine
    engine.start()
    firewall = Firewall(joined.container_instance_arn) if settings.firewall_enabled else None
    if firewall is not None:
        firewall.start()
    channel = PushChannel(
        endpoint_url=settings.endpoint,
        cluster_arn=joined.cluster_arn,
        container_instance_arn=joined.container_instance_arn,
        credentials=session.get_credentials(),
        region=joined.region,
        handler=engine,
        stop=stop,
        rng=random.random,
        on_firewall=None if firewall is None else firewall.submit,
    )
    channel_ref.append(channel)
    thread = threading.Thread(target=channel.run, name="push-channel", daemon=True)
    thread.start()
    return TaskHost(engine, channel, thread, reporter, metadata, stop, firewall)


def _start_metadata(settings: AgentSettings, source: MetadataSource) -> MetadataServer | None:
    """The v4 endpoint on the configured address (default: Docker's bridge gateway), or ``None``."""
    if not settings.metadata_enabled:
        return None
    try:
        address = settings.metadata_address or bridge_gateway(settings.docker_socket)
    except BridgeGatewayError as exc:
        log.warning("no task metadata endpoint: %s", exc)
        return None
    server = MetadataServer(source, address, settings.metadata_port)
    try:
        server.start()
    except OSError as exc:
        log.warning(
            "no task metadata endpoint: cannot listen on %s:%d: %s", address, settings.metadata_port, exc
        )
        return None
    return server
