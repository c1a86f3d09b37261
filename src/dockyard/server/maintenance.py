"""Periodic housekeeping: registry lifecycle policies and garbage collection, aged-out tasks, the final
removal of deleted task definitions, and log events past their group's retention."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import anyio
import anyio.to_thread

from dockyard.core.clock import Clock
from dockyard.server.runtime import Runtime
from dockyard.services.ecr.lifecycle_ops import run_registry_maintenance
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecs.task_definitions import purge_deleted_task_definitions
from dockyard.services.ecs.tasks import purge_stopped_tasks
from dockyard.services.logs.retention import expire_log_events

log = logging.getLogger(__name__)


def run_maintenance(runtime: Runtime, registry: RegistryService, now: datetime) -> None:
    """One pass: registry lifecycle policies and garbage collection, then the removal of tasks STOPPED
    longer than the retention, and of task definitions whose deletion was requested (once no task uses
    them), and of log events older than their group's retention policy."""
    run_registry_maintenance(registry, now)
    retention = timedelta(seconds=runtime.settings.stopped_task_retention_s)
    purge_stopped_tasks(runtime.db, stopped_before=now - retention)
    purge_deleted_task_definitions(runtime.db, requested_before=now)
    expire_log_events(runtime.db, now)


async def maintain(runtime: Runtime, registry: RegistryService, clock: Clock) -> None:
    """Run :func:`run_maintenance` every ``maintenance_interval_s`` seconds, forever."""
    while True:
        await anyio.sleep(runtime.settings.maintenance_interval_s)
        try:
            await anyio.to_thread.run_sync(run_maintenance, runtime, registry, clock())
        except Exception:
            log.exception("maintenance failed; retrying at the next interval")
