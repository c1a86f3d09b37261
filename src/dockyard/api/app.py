"""The ASGI application: routes and middleware around the parts the composition root built
(:mod:`dockyard.server`).

Routes: ``POST /`` (and ``GET /`` for query-protocol calls) go to the AWS gateway; ``GET /health``
answers liveness probes; ``/v2/…`` is the OCI registry (:mod:`dockyard.api.registry`); ``GET /ws`` is the
agents' push channel (:mod:`dockyard.api.agent_channel`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard import __version__
from dockyard.api.agent_channel import AgentChannel
from dockyard.api.gateway import AwsGateway
from dockyard.api.observability import RequestIdMiddleware
from dockyard.api.registry.routes import RegistryApi

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


def web_app(
    *, gateway: AwsGateway, channel: AgentChannel, registry_api: RegistryApi, lifespan: Lifespan
) -> Starlette:
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/", gateway.handle, methods=["POST", "GET"]),
            channel.route(),
            *registry_api.routes(),
            *gateway.rest_routes(),  # rest-json services (EKS) are addressed by path: /clusters…
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
