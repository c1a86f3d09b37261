"""The Fargate pool's provisioner: asked for capacity when tasks wait for a host that fits none.

Built in, the pool is the server's own host (the ``dockyard agent --fargate`` it supervises); with
``fargate_provisioner_command`` set, that command is run (through the shell, in the background) with the
region, the number of tasks waiting, the endpoint and the pool's credentials in its environment, and is
expected to start a ``dockyard agent --fargate`` somewhere (a cloud VM, another machine). It runs at most
once per ``fargate_provision_interval_s``; without a command, waiting tasks are only logged.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping

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
            "AWS_ACCESS_KEY_ID": self._key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self._key.secret_access_key,
            "AWS_REGION": region,
        }
        log.info("asking the provisioner for a Fargate host", extra={"region": region, "waiting": waiting})
        try:
            subprocess.Popen(  # noqa: S602 - the operator's own configured command
                self._command,
                shell=True,
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            log.exception("the provisioner command could not be started")
