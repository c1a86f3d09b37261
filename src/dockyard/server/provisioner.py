"""The Fargate pool's provisioner: asked for capacity when tasks wait for a host that fits none, and told
when a host it started is retired.

Built in, the pool is the server's own host (the ``dockyard agent --fargate`` it supervises); with
``fargate_provisioner_command`` set, that command is run (through the shell, in the background) with the
region, the number of tasks waiting, the endpoint and the pool's credentials in its environment. It runs
at most once per ``fargate_provision_interval_s``; without a command, waiting tasks are only logged.

What a provisioner command must do: start ``dockyard agent --fargate --provisioned`` somewhere (a cloud
VM, another machine) that reaches the server at ``DOCKYARD_ENDPOINT``, signing with the pool's
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION``. ``--provisioned`` marks the host as
the provisioner's: once idle for ``fargate_idle_retire_s`` the server retires it (control/controllers/
fargate_hosts.py), its agent exits 0, and :class:`RetireCommand` runs ``fargate_retire_command`` to
destroy the machine. For a command that runs the agent right where it is started, the environment also
holds ``DOCKYARD_AGENT_ENDPOINT``, ``DOCKYARD_AGENT_FARGATE=1`` and ``DOCKYARD_AGENT_PROVISIONED=1``, so
a bare ``dockyard agent --data-dir DIR`` there is such a host.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from dockyard.control.launch.fargate_rules import ADDRESS_ATTRIBUTE
from dockyard.store.container_instances import ContainerInstanceRecord
from dockyard.store.credentials import AccessKey

log = logging.getLogger(__name__)


class Provisioner:
    def __init__(
        self,
        command: str | None,
        *,
        endpoint: str,
        pool_key: AccessKey,
        interval_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._command = command
        self._endpoint = endpoint
        self._key = pool_key
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._environ = dict(os.environ if environ is None else environ)
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, region: str, waiting: int) -> None:
        """Ask for capacity for ``waiting`` tasks in ``region`` (rate-limited)."""
        now = self._monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self._interval_s:
                return
            self._last = now
        if self._command is None:
            log.warning(
                "Fargate tasks wait for a pool host with room (no provisioner command is set)",
                extra={"region": region, "waiting": waiting},
            )
            return
        env = {
            **self._environ,
            "DOCKYARD_FARGATE_REGION": region,
            "DOCKYARD_FARGATE_WAITING": str(waiting),
            "DOCKYARD_ENDPOINT": self._endpoint,
            "DOCKYARD_AGENT_ENDPOINT": self._endpoint,
            "DOCKYARD_AGENT_FARGATE": "1",
            "DOCKYARD_AGENT_PROVISIONED": "1",
            "AWS_ACCESS_KEY_ID": self._key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self._key.secret_access_key,
            "AWS_REGION": region,
        }
        log.info("asking the provisioner for a Fargate host", extra={"region": region, "waiting": waiting})
        _run_in_background(self._command, env, "the provisioner command")


class RetireCommand:
    """Runs ``fargate_retire_command`` once per retired provisioned host (none set: only logged)."""

    def __init__(self, command: str | None, *, environ: Mapping[str, str] | None = None) -> None:
        self._command = command
        self._environ = dict(os.environ if environ is None else environ)

    def __call__(self, hosts: Sequence[ContainerInstanceRecord]) -> None:
        for host in hosts:
            if self._command is None:
                log.info("no retire command is set: the host's machine stays", extra={"instance": host.arn})
                continue
            env = {
                **self._environ,
                "DOCKYARD_FARGATE_CONTAINER_INSTANCE_ARN": host.arn,
                "DOCKYARD_FARGATE_EC2_INSTANCE_ID": host.ec2_instance_id,
                "DOCKYARD_FARGATE_HOST_ADDRESS": host.attributes.get(ADDRESS_ATTRIBUTE) or "",
                "DOCKYARD_FARGATE_REGION": host.region,
            }
            _run_in_background(self._command, env, "the retire command")


def _run_in_background(command: str, env: Mapping[str, str], what: str) -> None:
    """Start ``command`` through the shell in its own session; a daemon thread reaps it (no zombie) and
    logs a failing exit."""
    try:
        process = subprocess.Popen(  # noqa: S602 - the operator's own configured command
            command,
            shell=True,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        log.exception("%s could not be started", what)
        return

    def reap() -> None:
        if (code := process.wait()) != 0:
            log.warning("%s exited with %s", what, code)

    threading.Thread(target=reap, name=f"reap-{process.pid}", daemon=True).start()
