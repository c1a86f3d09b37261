"""Wire the server: one function builds every part from the runtime, so the web layer only translates."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette

from dockyard.api.agent_channel import AgentChannel
from dockyard.api.app import web_app
from dockyard.api.connections import ConnectionLimits
from dockyard.api.gateway import AwsGateway
from dockyard.api.kube.app import KubeApi
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.registry.routes import RegistryApi
from dockyard.control.changes import ChangeFeed
from dockyard.control.controllers.eks import EksClusterController, EksClusterKey
from dockyard.control.controllers.fargate import FargatePoolController
from dockyard.control.controllers.fargate_hosts import PoolHostRetirer
from dockyard.control.controllers.fargate_spot import SpotInterrupter
from dockyard.control.controllers.queue import WorkQueue
from dockyard.control.controllers.runner import ControllerLoop, ControllerRunner
from dockyard.control.controllers.services import ServiceController
from dockyard.core.clock import Clock, system_clock
from dockyard.core.settings import ServerSettings
from dockyard.registry.filesystem import FilesystemBlobDriver
from dockyard.server.kube_listeners import KubeListeners
from dockyard.server.maintenance import maintain
from dockyard.server.provisioner import Provisioner, RetireCommand
from dockyard.server.runtime import Runtime
from dockyard.services.base import Provider
from dockyard.services.ce.provider import CeProvider, fargate_rates
from dockyard.services.ec2.provider import Ec2Provider
from dockyard.services.ecr.provider import EcrProvider
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import TOKEN_LIFETIME, RegistryGrant, RegistryTokens
from dockyard.services.ecs.agent_sessions import AgentSessions
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.provider import EcsProvider
from dockyard.services.eks.provider import EksProvider
from dockyard.services.kube.controllers.cluster import (
    EndpointsController,
    GarbageCollector,
    NamespaceController,
    ServiceAccountController,
)
from dockyard.services.kube.controllers.framework import KubeController, KubeControllerManager
from dockyard.services.kube.controllers.scheduler import SchedulerController
from dockyard.services.kube.controllers.workloads import (
    DaemonSetController,
    DeploymentController,
    JobController,
    NodeLifecycleController,
    ReplicaSetController,
)
from dockyard.services.kube.objects import KubeObjects
from dockyard.services.logs.live_tail import LiveTailHub
from dockyard.services.logs.provider import LogsProvider
from dockyard.services.logs.shipping import AgentLogShipping
from dockyard.services.sts.provider import StsProvider
from dockyard.store.container_instances import ContainerInstanceRecord
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database

log = logging.getLogger(__name__)

# Services synced together (one transaction, one read of their cluster's instances) when that many are
# waiting at once; a batch holds the store's write lock, so it stays small enough to keep API writes quick.
SERVICE_BATCH = 32


@dataclass(slots=True)
class Server:
    """Every long-lived part of a running server."""

    runtime: Runtime
    registry: RegistryService
    changes: ChangeFeed
    controllers: ControllerRunner
    app: Starlette
    kube_objects: KubeObjects
    """Every cluster's Kubernetes objects: the one instance the Kubernetes API and its controllers share."""
    kube_api: KubeApi
    kube_listeners: KubeListeners
    kube_controllers: KubeControllerManager
    """kube-controller-manager and kube-scheduler, for every cluster."""


def build_server(runtime: Runtime, clock: Clock = system_clock) -> Server:
    settings = runtime.settings
    registry = RegistryService(
        runtime.db,
        FilesystemBlobDriver(settings.data_dir / "registry"),
        max_uploads_per_repository=settings.max_uploads_per_repository,
    )
    tokens = RegistryTokens(runtime.db, clock())
    notifier = InstanceNotifier()
    changes = ChangeFeed()
    pool_account = runtime.pool_key.principal.account_id
    live_tail = LiveTailHub()
    keys = KeyResolver(CredentialStore(runtime.db))
    eks_queue: WorkQueue[EksClusterKey] = WorkQueue()
    kube_objects, kube_api, kube_listeners, kube_controllers = _kube(runtime, keys, eks_queue, clock)
    eks_clusters = EksClusterController(
        runtime.db,
        clock=clock,
        endpoint_ready=kube_listeners.endpoint_ready,
        on_removed=kube_listeners.on_removed,
    )
    eks_loop: ControllerLoop[Any] = ControllerLoop(eks_clusters, workers=1, batch_size=8, queue=eks_queue)
    providers: dict[str, Provider] = {
        p.service_name: p
        for p in (
            EcsProvider(
                runtime.db,
                allow_privileged=settings.allow_privileged,
                endpoint_url=settings.advertised_endpoint,
                notifier=notifier,
                changes=changes,
                pool_account_id=pool_account,
            ),
            EcrProvider(
                registry,
                registry_host=settings.resolved_registry_host,
                endpoint_url=settings.advertised_endpoint,
                tokens=tokens,
            ),
            StsProvider(),
            Ec2Provider(runtime.db, notifier=notifier),
            CeProvider(runtime.db, fargate_rates(settings)),
            LogsProvider(runtime.db, live_tail=live_tail),
            EksProvider(
                runtime.db, port_range=settings.eks_api_port_range, wake=eks_clusters.waker(eks_loop.queue)
            ),
        )
    }
    catalog = ServiceCatalog.default()
    gateway = AwsGateway(
        catalog=catalog,
        providers=providers,
        keys=keys,
        clock=clock,
        local_store=runtime.db.is_sqlite,
        default_region=settings.default_region,
    )
    channel = AgentChannel(
        log_sink=AgentLogShipping(runtime.db, on_ingest=live_tail.publish).accept,
        sessions=AgentSessions(
            runtime.db, changes, pull_credentials=_pull_credentials(tokens, settings, clock)
        ),
        notifier=notifier,
        keys=keys,
        clock=clock,
        regions=catalog.regions | {settings.default_region},
        heartbeat_interval_s=settings.agent_heartbeat_interval_s,
    )
    services = ServiceController(
        runtime.db,
        clock=clock,
        wake_instances=notifier.notify,
        healthy_after_s=settings.service_healthy_after_s,
        resync_period_s=settings.service_resync_s,
        pool_account_id=pool_account,
    )
    service_loop: ControllerLoop[Any] = ControllerLoop(services, workers=1, batch_size=SERVICE_BATCH)
    changes.subscribe(services.watch(service_loop.queue))
    pool = FargatePoolController(
        runtime.db,
        pool_account_id=pool_account,
        clock=clock,
        wake_instances=notifier.notify,
        changes=changes,
        ask_for_capacity=Provisioner(
            settings.fargate_provisioner_command,
            endpoint=settings.advertised_endpoint,
            pool_key=runtime.pool_key,
            interval_s=settings.fargate_provision_interval_s,
        ),
    )
    pool_loop: ControllerLoop[Any] = ControllerLoop(pool, workers=1, batch_size=8)
    changes.subscribe(pool.watch(pool_loop.queue))
    retire_command = RetireCommand(settings.fargate_retire_command)

    def retired(hosts: Sequence[ContainerInstanceRecord]) -> None:
        channel.disconnect(h.arn for h in hosts)
        retire_command(hosts)

    retirer = PoolHostRetirer(
        runtime.db,
        pool_account_id=pool_account,
        clock=clock,
        grace_s=settings.fargate_idle_retire_s,
        changes=changes,
        on_retired=retired,
    )
    retire_loop: ControllerLoop[Any] = ControllerLoop(retirer, workers=1, batch_size=8)
    changes.subscribe(retirer.watch(retire_loop.queue))
    controllers = ControllerRunner([service_loop, pool_loop, retire_loop, eks_loop])
    if settings.fargate_spot_interruption_rate_per_hour > 0:
        controllers.add(_spot_interrupter(runtime, clock, notifier, changes))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await channel.start()
        try:
            async with anyio.create_task_group() as background:
                # The clusters' listeners first: a cluster ACTIVE in the store answers once the AWS API does.
                await background.start(kube_listeners.run)
                controllers.start()
                kube_controllers.start()
                log.info("dockyard ready", extra={"host": settings.host, "port": settings.port})
                background.start_soon(maintain, runtime, registry, clock)
                yield
                background.cancel_scope.cancel()
        finally:
            kube_controllers.stop()
            controllers.stop()
            runtime.db.close()
            log.info("dockyard stopped")

    app = web_app(
        gateway=gateway,
        channel=channel,
        registry_api=RegistryApi(registry, tokens, clock),
        lifespan=lifespan,
    )
    return Server(
        runtime,
        registry,
        changes,
        controllers,
        app,
        kube_objects=kube_objects,
        kube_api=kube_api,
        kube_listeners=kube_listeners,
        kube_controllers=kube_controllers,
    )


def _spot_interrupter(
    runtime: Runtime, clock: Clock, notifier: InstanceNotifier, changes: ChangeFeed
) -> ControllerLoop[Any]:
    """The Fargate Spot interruption simulation's loop."""
    settings = runtime.settings
    spot = SpotInterrupter(
        runtime.db,
        rate_per_hour=settings.fargate_spot_interruption_rate_per_hour,
        clock=clock,
        random=random.Random().random,  # noqa: S311 - a simulation, not a secret
        wake_instances=notifier.notify,
        changes=changes,
    )
    return ControllerLoop(spot, workers=1, batch_size=8)


def _kube(
    runtime: Runtime, keys: KeyResolver, eks_queue: WorkQueue[EksClusterKey], clock: Clock
) -> tuple[KubeObjects, KubeApi, KubeListeners, KubeControllerManager]:
    """The clusters' Kubernetes API: their objects, the app each serves, their listeners (which wake
    the EKS cluster controller through ``eks_queue`` once they serve) and their controllers."""
    settings = runtime.settings
    objects = KubeObjects(runtime.db, clock=clock)
    api = KubeApi(runtime.db, objects, keys, clock=clock)
    listeners = KubeListeners(
        runtime.db,
        api.app_for,
        host=settings.host,
        data_dir=settings.data_dir.expanduser(),
        limits=_connection_limits(settings),
        wake=EksClusterController.waker(eks_queue),
    )
    return objects, api, listeners, kube_controller_manager(runtime.db, objects, clock)


def kube_controller_manager(db: Database, objects: KubeObjects, clock: Clock) -> KubeControllerManager:
    """Every kube controller of the clusters, with the scheduler, on their change logs."""
    controllers: list[KubeController] = [
        NamespaceController(objects, clock=clock),
        GarbageCollector(objects, clock=clock),
        ServiceAccountController(objects, clock=clock),
        EndpointsController(objects, clock=clock),
        DeploymentController(objects, clock=clock),
        ReplicaSetController(objects, clock=clock),
        DaemonSetController(objects, clock=clock),
        JobController(objects, clock=clock),
        NodeLifecycleController(objects, clock=clock),
        SchedulerController(objects, clock=clock),
    ]
    return KubeControllerManager(db, objects, controllers)


def _connection_limits(settings: ServerSettings) -> ConnectionLimits:
    """The per-connection limits of the settings (the clusters' listeners; cli builds the main server's)."""
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        idle_timeout_s=settings.idle_timeout_s,
        max_per_client=settings.max_connections_per_client,
    )


def _pull_credentials(
    tokens: RegistryTokens, settings: ServerSettings, clock: Clock
) -> Callable[[str, str], Mapping[str, str]]:
    """Registry credentials of a task's account, for the Fargate pool host that pulls its images."""

    def credentials(account_id: str, region: str) -> Mapping[str, str]:
        grant = RegistryGrant(account_id, region, f"arn:aws:iam::{account_id}:root", clock() + TOKEN_LIFETIME)
        return {
            "registry": settings.resolved_registry_host,
            "username": "AWS",
            "password": tokens.issue(grant),
        }

    return credentials


def create_app(runtime: Runtime, clock: Clock = system_clock) -> Starlette:
    """The ASGI app of a fully wired server."""
    return build_server(runtime, clock).app
