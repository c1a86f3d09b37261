"""Wire the server: one function builds every part from the runtime, so the web layer only translates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette

from dockyard.api.agent_channel import AgentChannel
from dockyard.api.app import web_app
from dockyard.api.gateway import AwsGateway
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.registry.routes import RegistryApi
from dockyard.control.changes import ChangeFeed
from dockyard.control.controllers.runner import ControllerLoop, ControllerRunner
from dockyard.control.controllers.services import ServiceController
from dockyard.core.clock import Clock, system_clock
from dockyard.registry.filesystem import FilesystemBlobDriver
from dockyard.server.maintenance import maintain
from dockyard.server.runtime import Runtime
from dockyard.services.base import Provider
from dockyard.services.ce.provider import CeProvider, fargate_rates
from dockyard.services.ec2.provider import Ec2Provider
from dockyard.services.ecr.provider import EcrProvider
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import RegistryTokens
from dockyard.services.ecs.agent_sessions import AgentSessions
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.provider import EcsProvider
from dockyard.services.sts.provider import StsProvider
from dockyard.store.credentials import CredentialStore

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
    providers: dict[str, Provider] = {
        p.service_name: p
        for p in (
            EcsProvider(
                runtime.db,
                allow_privileged=settings.allow_privileged,
                endpoint_url=settings.advertised_endpoint,
                notifier=notifier,
                changes=changes,
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
        )
    }
    keys = KeyResolver(CredentialStore(runtime.db))
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
        sessions=AgentSessions(runtime.db, changes),
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
    )
    service_loop: ControllerLoop[Any] = ControllerLoop(services, workers=1, batch_size=SERVICE_BATCH)
    changes.subscribe(services.watch(service_loop.queue))
    controllers = ControllerRunner([service_loop])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await channel.start()
        controllers.start()
        log.info("dockyard ready", extra={"host": settings.host, "port": settings.port})
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(maintain, runtime, registry, clock)
                yield
                background.cancel_scope.cancel()
        finally:
            controllers.stop()
            runtime.db.close()
            log.info("dockyard stopped")

    app = web_app(
        gateway=gateway,
        channel=channel,
        registry_api=RegistryApi(registry, tokens, clock),
        lifespan=lifespan,
    )
    return Server(runtime, registry, changes, controllers, app)


def create_app(runtime: Runtime, clock: Clock = system_clock) -> Starlette:
    """The ASGI app of a fully wired server."""
    return build_server(runtime, clock).app
