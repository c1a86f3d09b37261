"""The ASGI application: opens the store, wires the providers behind the gateway, serves one port.

Routes: ``POST /`` (and ``GET /`` for query-protocol calls) go to the AWS gateway; ``GET /health``
answers liveness probes; ``/v2/…`` is the OCI registry (:mod:`dockyard.api.registry`); ``GET /ws`` is the
agents' push channel (:mod:`dockyard.api.agent_channel`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard import __version__
from dockyard.api.agent_channel import AgentChannel
from dockyard.api.gateway import AwsGateway
from dockyard.api.observability import RequestIdMiddleware
from dockyard.api.principals import KeyResolver
from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.registry.routes import RegistryApi
from dockyard.core.clock import Clock, system_clock
from dockyard.core.settings import ServerSettings
from dockyard.registry.filesystem import FilesystemBlobDriver
from dockyard.services.base import Provider
from dockyard.services.ecr.lifecycle_ops import run_registry_maintenance
from dockyard.services.ecr.provider import EcrProvider
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import RegistryTokens
from dockyard.services.ecs.agent_sessions import AgentSessions
from dockyard.services.ecs.notifier import InstanceNotifier
from dockyard.services.ecs.provider import EcsProvider
from dockyard.services.ecs.task_definitions import purge_deleted_task_definitions
from dockyard.services.ecs.tasks import purge_stopped_tasks
from dockyard.services.sts.provider import StsProvider
from dockyard.store.credentials import AccessKey, CredentialStore
from dockyard.store.database import Database, open_database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a running server holds: its settings, its store and the root key it prints."""

    settings: ServerSettings
    db: Database
    root_key: AccessKey


def open_runtime(settings: ServerSettings, clock: Clock = system_clock) -> Runtime:
    """Open (and migrate) the store and make sure the root key exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.resolved_database_url)
    root_key = CredentialStore(db).ensure_root_key(
        clock(), settings.access_key_id, settings.secret_access_key
    )
    return Runtime(settings, db, root_key)


def run_maintenance(runtime: Runtime, registry: RegistryService, now: datetime) -> None:
    """One pass of the periodic housekeeping: registry lifecycle policies and garbage collection, then
    the removal of tasks STOPPED longer than the retention, and the final removal of task definitions
    whose deletion was requested (once no task uses them)."""
    run_registry_maintenance(registry, now)
    retention = timedelta(seconds=runtime.settings.stopped_task_retention_s)
    purge_stopped_tasks(runtime.db, stopped_before=now - retention)
    purge_deleted_task_definitions(runtime.db, requested_before=now)


async def _maintain(runtime: Runtime, registry: RegistryService, clock: Clock) -> None:
    """Run :func:`run_maintenance` every ``maintenance_interval_s`` seconds, forever."""
    while True:
        await anyio.sleep(runtime.settings.maintenance_interval_s)
        try:
            await anyio.to_thread.run_sync(run_maintenance, runtime, registry, clock())
        except Exception:
            log.exception("maintenance failed; retrying at the next interval")


def create_app(runtime: Runtime, clock: Clock = system_clock) -> Starlette:
    settings = runtime.settings
    registry = RegistryService(
        runtime.db,
        FilesystemBlobDriver(settings.data_dir / "registry"),
        max_uploads_per_repository=settings.max_uploads_per_repository,
    )
    tokens = RegistryTokens(runtime.db, clock())
    ecr = EcrProvider(
        registry,
        registry_host=settings.resolved_registry_host,
        endpoint_url=settings.advertised_endpoint,
        tokens=tokens,
    )
    notifier = InstanceNotifier()
    providers: dict[str, Provider] = {
        p.service_name: p
        for p in (
            EcsProvider(
                runtime.db,
                allow_privileged=settings.allow_privileged,
                endpoint_url=settings.advertised_endpoint,
                notifier=notifier,
            ),
            ecr,
            StsProvider(),
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
        sessions=AgentSessions(runtime.db),
        notifier=notifier,
        keys=keys,
        clock=clock,
        regions=catalog.regions | {settings.default_region},
        heartbeat_interval_s=settings.agent_heartbeat_interval_s,
    )

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await channel.start()
        log.info("dockyard ready", extra={"host": settings.host, "port": settings.port})
        async with anyio.create_task_group() as background:
            background.start_soon(_maintain, runtime, registry, clock)
            yield
            background.cancel_scope.cancel()
        runtime.db.close()
        log.info("dockyard stopped")

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/", gateway.handle, methods=["POST", "GET"]),
            channel.route(),
            *RegistryApi(registry, tokens, clock).routes(),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
