"""The server-side commands — ``server``, ``up``, ``keys`` — and how they serve.

Kept apart from :mod:`dockyard.cli.main` so that ``dockyard agent`` does not import the server stack
(uvicorn, Starlette, SQLAlchemy, the botocore models): the agent starts faster and smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import resource
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from dockyard.api.connections import ConnectionLimits, uvicorn_options
from dockyard.api.observability import configure_logging
from dockyard.cli.banner import AgentStatus, up_banner
from dockyard.cli.local_agent import LocalAgent, agent_endpoint, docker_reachable, docker_socket
from dockyard.control.launch.fargate import interrupt_spot
from dockyard.core.clock import system_clock
from dockyard.core.settings import ServerSettings, load_settings
from dockyard.server.compose import create_app
from dockyard.server.runtime import Runtime, open_runtime
from dockyard.store.credentials import AccessKey, CredentialStore

GRACEFUL_SHUTDOWN_S = 10

log = logging.getLogger(__name__)


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (often 1,024 → 1,048,576): every
    connection, agent channel and blob read holds a descriptor. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("cannot raise the open-file limit", extra={"soft": soft, "hard": hard})
    return soft


def _settings(args: argparse.Namespace) -> ServerSettings:
    overrides = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "registry_host": getattr(args, "registry_host", None),
        "log_level": getattr(args, "log_level", None),
    }
    return load_settings(config_file=args.config, environ=os.environ, overrides=overrides)


def run_server(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level)
    runtime = open_runtime(settings)
    sock = _bind(settings)
    _serve_with_agents(runtime, sock, [a for a in [_pool_agent(runtime)] if a is not None])
    return 0


def _pool_agent(runtime: Runtime) -> LocalAgent | None:
    """The built-in Fargate pool host: a ``dockyard agent --fargate`` on this host's Docker Engine."""
    settings = runtime.settings
    if not settings.fargate_local_pool:
        return None
    return _local_agent(
        runtime, runtime.pool_key, "fargate-agent", fargate=True, docker_socket=settings.fargate_docker_socket
    )


def _local_agent(runtime: Runtime, key: AccessKey, directory: str, **extra: Any) -> LocalAgent:
    """A ``dockyard agent`` supervised beside this server, signing with ``key``, its state in
    ``<data_dir>/<directory>``."""
    settings = runtime.settings
    return LocalAgent(
        endpoint=agent_endpoint(settings.host, settings.port),
        data_dir=(settings.data_dir / directory).expanduser().absolute(),
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        region=settings.default_region,
        log_level=settings.log_level,
        **extra,
    )


def _serve_with_agents(runtime: Runtime, sock: socket.socket, agents: list[LocalAgent]) -> None:
    """Serve until stopped, with ``agents`` supervised beside the server (started once it answers)."""
    for agent in agents:
        agent.start()  # each waits for the server to answer before starting its process

    def stop_agents() -> None:
        for agent in agents:
            agent.stop()

    try:
        # The agents stop first, while the server still answers them; then the server shuts down.
        _serve(runtime, sock, before_shutdown=stop_agents if agents else None)
    finally:
        stop_agents()


def run_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level)
    runtime = open_runtime(settings)
    sock = _bind(settings)
    agent: LocalAgent | None = None
    if args.no_agent:
        status = AgentStatus.DISABLED
    else:
        socket_path = docker_socket(os.environ)
        status = AgentStatus.RUNNING if docker_reachable(socket_path) else AgentStatus.WAITING_FOR_DOCKER
        agent = _local_agent(runtime, runtime.root_key, "agent")
    print(up_banner(settings, runtime.root_key, status, docker_socket(os.environ)), flush=True)
    agents = [a for a in (agent, _pool_agent(runtime)) if a is not None]
    _serve_with_agents(runtime, sock, agents)
    return 0


def _bind(settings: ServerSettings) -> socket.socket:
    """Bind the listening socket first, so a taken port fails before anything is printed as ready."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from exc
    sock.listen(1024)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, running ``before_shutdown`` (in a thread) once a shutdown begins."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], object] | None) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._before_shutdown is not None:
            await asyncio.to_thread(self._before_shutdown)
        await super().shutdown(sockets=sockets)


def _serve(
    runtime: Runtime, sock: socket.socket, before_shutdown: Callable[[], object] | None = None
) -> None:
    raise_open_file_limit()
    app = create_app(runtime)
    # Everything allocated so far (botocore's models above all) lives as long as the server: keeping it
    # out of the collector's generations spares every full collection a walk over it, which shows up as
    # latency spikes under load.
    gc.collect()
    gc.freeze()
    settings = runtime.settings
    limits = ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        idle_timeout_s=settings.idle_timeout_s,
        max_per_client=settings.max_connections_per_client,
    )
    config = uvicorn.Config(
        app,
        **uvicorn_options(limits),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    _Server(config, before_shutdown).run(sockets=[sock])


def run_keys_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    runtime = open_runtime(settings)
    account = runtime.pool_key.principal.account_id if args.fargate_pool else args.account
    key = CredentialStore(runtime.db).create_key(system_clock(), account_id=account, user_name=args.user)
    print(f"account           {key.principal.account_id}")
    print(f"arn               {key.principal.arn}")
    print(f"access key id     {key.access_key_id}")
    print(f"secret access key {key.secret_access_key}")
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    runtime = open_runtime(_settings(args))
    for key in CredentialStore(runtime.db).list_keys():
        print(f"{key.access_key_id}  {key.principal.account_id}  {key.principal.arn}")
    return 0


def run_fargate_interrupt(args: argparse.Namespace) -> int:
    """Interrupt a FARGATE_SPOT task in the server's store; its agent hears of it at the next heartbeat,
    its service (if any) replaces it."""
    runtime = open_runtime(_settings(args))
    with runtime.db.write() as tx:
        record = interrupt_spot(tx, args.task, now=system_clock())
    if record is None:
        print(f"no running FARGATE_SPOT task {args.task}", file=sys.stderr)
        return 1
    print(f"interrupted {record.arn}: {record.stopped_reason}")
    return 0
