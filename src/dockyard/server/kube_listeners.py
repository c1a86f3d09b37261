"""Each EKS cluster's Kubernetes API on its own HTTPS port: one embedded uvicorn server per cluster, on the
main event loop, so that a cluster is ACTIVE only once its API answers.

```
EksClusterController (a worker thread, inside its transaction)
   endpoint_ready(conn, cluster) ── no listener yet ────────▶ loop.call_soon_threadsafe(start) → False
                                 ── its listener starting ──▶ False
                                 ── its listener started ───▶ True (CREATING → ACTIVE)
   on_removed(cluster) ─────────────────────────────────────▶ graceful stop, certificate files removed
KubeListeners.run (a task of the app's lifespan)
   at start: a listener for every CREATING / ACTIVE / UPDATING cluster in the store; the lifespan (so the
      AWS API) waits for their first attempt, STARTUP_WAIT_S at most
   a listener: bind host:endpoint_port → serving certificate and key into <data_dir>/eks/<id>/ (0600, the
      directories 0700) → KubeApi.app_for(cluster) (all of it in a worker thread) → uvicorn.Server with
      TLS and the guarded protocol, no signal handling (the main server's) → started: wake(EksClusterKey)
      so the controller syncs the cluster again at once
      failed (its port in use, …): logged, retried with backoff (RETRY_FIRST_S doubling to RETRY_MAX_S),
      the cluster stays CREATING; the server keeps running
   at shutdown: every listener stops gracefully (SHUTDOWN_TIMEOUT_S)
```
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import uvicorn
from anyio.abc import TaskGroup, TaskStatus
from sqlalchemy import Connection, select
from starlette.types import ASGIApp

from dockyard.api.connections import ConnectionLimits, uvicorn_options
from dockyard.control.controllers.eks import EksClusterKey
from dockyard.store import eks as eks_store
from dockyard.store.database import Database
from dockyard.store.eks import ClusterPki, EksClusterRecord
from dockyard.store.schema import eks_clusters

log = logging.getLogger(__name__)

SERVED_STATUSES = ("CREATING", "ACTIVE", "UPDATING")
"""The clusters given a listener when the server starts (a DELETING cluster is about to go)."""
SHUTDOWN_TIMEOUT_S = 2
"""How long a stopping listener waits for its requests (watches…) before cancelling them."""
STARTUP_WAIT_S = 10.0
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 5.0
REPEAT_WARNING_S = 60.0
"""The same failure of one listener is logged as a warning at most this often (debug otherwise)."""
CERT_FILE = "server.crt"
KEY_FILE = "server.key"

AppFor = Callable[[EksClusterRecord], ASGIApp]
"""The app a cluster's listener serves (``KubeApi.app_for``; does store I/O, called in a worker thread)."""
Wake = Callable[[EksClusterKey], None]

_LISTENING_FOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("kube_listener", default=None)


# --- the certificate files ---------------------------------------------------------------------------------


def cluster_cert_dir(data_dir: Path, cluster_id: int) -> Path:
    return data_dir / "eks" / str(cluster_id)


def write_serving_files(directory: Path, pki: ClusterPki) -> tuple[Path, Path]:
    """Put the cluster's serving certificate and key in ``directory`` (mode 0600; the directory and its
    parent 0700), rewriting a file only when its content or mode differ. Returns (certificate, key)."""
    directory.parent.parent.mkdir(parents=True, exist_ok=True)
    for folder in (directory.parent, directory):
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_mode & 0o777 != 0o700:
            folder.chmod(0o700)
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    _write_private(cert, pki.serving_cert_pem.encode())
    _write_private(key, pki.serving_key_pem.encode())
    return cert, key


def remove_serving_files(directory: Path) -> None:
    for name in (CERT_FILE, KEY_FILE):
        (directory / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # absent, or holding something else
        directory.rmdir()


def _write_private(path: Path, data: bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            if path.stat().st_mode & 0o777 != 0o600:
                path.chmod(0o600)
            return
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --- one cluster's server ----------------------------------------------------------------------------------


class _ClusterServer(uvicorn.Server):
    """uvicorn's server embedded in the main server's loop: it leaves signals alone and says when it has
    started (its socket accepts from then on)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # only the main server handles SIGINT / SIGTERM; it stops the listeners through the lifespan

    def install_signal_handlers(self) -> None:
        """uvicorn before 0.29 installed its handlers here; none either."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


@dataclass(eq=False)
class _Listener:
    """One cluster's listener: its state is changed on the event loop; ``serving`` and ``stopping`` are
    read by controller threads, under the lock of :class:`KubeListeners`."""

    record: EksClusterRecord
    previous: _Listener | None
    """The stopping listener of a cluster that had the same store id: this one starts once it is done."""
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    attempted: anyio.Event = field(default_factory=anyio.Event)
    """Set when the first start has either succeeded or failed."""
    done: anyio.Event = field(default_factory=anyio.Event)
    server: _ClusterServer | None = None
    serving: bool = False
    stopping: bool = False
    remove_files: bool = False
    last_warning: tuple[str, float] | None = None

    def is_stopping(self) -> bool:
        """(A call, so that a check after an await is not taken for the one before it.)"""
        return self.stopping


def _same_cluster(a: EksClusterRecord, b: EksClusterRecord) -> bool:
    """One cluster, not another one given the same store id after the first was deleted."""
    return (a.id, a.arn, a.created_at) == (b.id, b.arn, b.created_at)


class KubeListeners:
    """The HTTPS listeners of every cluster's Kubernetes API. :meth:`run` is a task of the app's lifespan;
    :meth:`endpoint_ready` and :meth:`on_removed` are the EKS cluster controller's hooks (any thread)."""

    def __init__(
        self,
        db: Database,
        app_for: AppFor,
        *,
        host: str,
        data_dir: Path,
        limits: ConnectionLimits | None = None,
        wake: Wake | None = None,
        shutdown_timeout_s: int = SHUTDOWN_TIMEOUT_S,
        startup_wait_s: float = STARTUP_WAIT_S,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self._db = db
        self._app_for = app_for
        self._host = host
        self._data_dir = data_dir
        # One guard for all of them: a client's connections count together across the clusters' ports.
        self._protocol = uvicorn_options(limits or ConnectionLimits())
        self._wake = wake
        self._shutdown_timeout_s = shutdown_timeout_s
        self._startup_wait_s = startup_wait_s
        self._retry_first_s = retry_first_s
        self._retry_max_s = retry_max_s
        self._lock = threading.Lock()
        self._listeners: dict[int, _Listener] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._group: TaskGroup | None = None
        self._closed = False

    # --- the controller's hooks (its worker threads) ---------------------------------------------------

    def endpoint_ready(self, conn: Connection, record: EksClusterRecord) -> bool:
        """Whether ``record``'s listener has started; if it has none, ask for one (it wakes the controller
        once it serves). Never waits."""
        del conn  # the listener reads what it needs in its own transactions, off this one
        with self._lock:
            listener = self._listeners.get(record.id)
            if listener is not None and not listener.stopping and _same_cluster(listener.record, record):
                return listener.serving
        self._call_on_loop(self._start, record)
        return False

    def on_removed(self, record: EksClusterRecord) -> None:
        """``record`` was deleted: stop its listener and remove its certificate files."""
        if not self._call_on_loop(self._remove, record):
            remove_serving_files(cluster_cert_dir(self._data_dir, record.id))

    def serving(self, cluster_id: int) -> bool:
        with self._lock:
            listener = self._listeners.get(cluster_id)
            return listener is not None and listener.serving

    # --- the lifespan task ---------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve every cluster's listener until cancelled, then stop them all gracefully. Reports started
        (``TaskGroup.start``) once the store's clusters have had their first attempt, or STARTUP_WAIT_S."""
        uvicorn_log = logging.getLogger("uvicorn.error")
        quieter = _ListenerLogFilter()
        uvicorn_log.addFilter(quieter)
        try:
            async with anyio.create_task_group() as group:
                try:
                    self._group, self._loop, self._closed = group, asyncio.get_running_loop(), False
                    records = await anyio.to_thread.run_sync(self._served_clusters)
                    first = [listener for r in records if (listener := self._start(r)) is not None]
                    with anyio.move_on_after(self._startup_wait_s):
                        for listener in first:
                            await listener.attempted.wait()
                    log.info(
                        "kube listeners started",
                        extra={"clusters": len(first), "serving": sum(x.serving for x in first)},
                    )
                    task_status.started()
                    await anyio.sleep_forever()
                finally:
                    self._close()
        finally:
            self._group = None
            uvicorn_log.removeFilter(quieter)

    def _served_clusters(self) -> list[EksClusterRecord]:
        c = eks_clusters.c
        with self._db.read() as tx:
            names = tx.execute(
                select(c.account_id, c.region, c.name).where(c.status.in_(SERVED_STATUSES)).order_by(c.id)
            ).all()
            found = (eks_store.find_cluster(tx, str(a), str(r), str(n)) for a, r, n in names)
            return [record for record in found if record is not None]

    # --- on the event loop ---------------------------------------------------------------------------------

    def _call_on_loop(self, callback: Callable[[EksClusterRecord], object], record: EksClusterRecord) -> bool:
        loop = self._loop
        if loop is None or self._closed:
            return False
        try:
            loop.call_soon_threadsafe(callback, record)
        except RuntimeError:  # the loop has closed
            return False
        return True

    def _start(self, record: EksClusterRecord) -> _Listener | None:
        if self._closed or self._group is None:
            return None
        with self._lock:
            current = self._listeners.get(record.id)
            if current is not None and not current.stopping and _same_cluster(current.record, record):
                return current
            listener = _Listener(record, previous=current)
            self._listeners[record.id] = listener
        if current is not None:
            self._stop(current)  # another cluster that had this id: its removal was not heard of
        self._group.start_soon(self._keep_serving, listener, name=f"kube listener {record.arn}")
        return listener

    def _remove(self, record: EksClusterRecord) -> None:
        with self._lock:
            listener = self._listeners.get(record.id)
        if listener is not None and _same_cluster(listener.record, record):
            self._stop(listener, remove_files=True)
        elif listener is None and self._group is not None:
            directory = cluster_cert_dir(self._data_dir, record.id)
            self._group.start_soon(anyio.to_thread.run_sync, remove_serving_files, directory)

    def _stop(self, listener: _Listener, *, remove_files: bool = False) -> None:
        """Stop ``listener``: its server gracefully, a wait for a retry at once. (A start already under way
        in a worker thread finishes first; the listener then closes what it made.)"""
        with self._lock:
            listener.stopping = True
            listener.serving = False
        listener.remove_files |= remove_files
        if listener.server is not None:
            listener.server.should_exit = True
        listener.scope.cancel()  # reaches only its unshielded waits

    def _close(self) -> None:
        self._closed = True
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            self._stop(listener)

    async def _keep_serving(self, listener: _Listener) -> None:
        record = listener.record
        _LISTENING_FOR.set(record.arn)
        delay = self._retry_first_s
        try:
            with listener.scope:
                if listener.previous is not None:
                    await listener.previous.done.wait()
                while not listener.is_stopping():
                    try:
                        with anyio.CancelScope(shield=True):  # so whatever it opened is never lost
                            server, sock = await anyio.to_thread.run_sync(self._prepare, listener)
                    except Exception as exc:
                        self._failed(listener, exc, delay)
                    else:
                        failed = await self._serve(listener, server, sock, delay)
                        if listener.is_stopping():
                            break
                        if server.started:
                            delay = self._retry_first_s
                        if not failed:
                            log.warning(
                                "kube listener stopped by itself; restarting",
                                extra={
                                    "cluster": record.arn,
                                    "port": record.endpoint_port,
                                    "retry_in_s": delay,
                                },
                            )
                    listener.attempted.set()
                    await anyio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(listener)

    def _prepare(self, listener: _Listener) -> tuple[_ClusterServer, socket.socket]:
        """(worker thread) Bind the port, write the certificate files, build the app and the server."""
        record = listener.record
        sock = _bind(self._host, record.endpoint_port)
        try:
            with self._db.read() as tx:
                pki = eks_store.cluster_pki(tx, record.id)
            if pki is None:
                raise LookupError(f"no certificates stored for {record.arn}")
            cert, key = write_serving_files(cluster_cert_dir(self._data_dir, record.id), pki)
            config = uvicorn.Config(
                self._app_for(record),
                host=self._host,
                port=record.endpoint_port,
                ssl_certfile=str(cert),
                ssl_keyfile=str(key),
                lifespan="off",
                log_config=None,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=self._shutdown_timeout_s,
                **self._protocol,
            )
            config.load()  # the TLS context, read from the files now
        except BaseException:
            sock.close()
            raise
        return _ClusterServer(config, on_started=lambda: self._started(listener)), sock

    async def _serve(
        self, listener: _Listener, server: _ClusterServer, sock: socket.socket, retry_in_s: float
    ) -> bool:
        """Run ``server`` until it stops; True if it failed (logged)."""
        with self._lock:
            listener.server = server
        if listener.stopping:
            server.should_exit = True
        failed = False
        try:
            # Shielded: it stops through should_exit, so that its connections are closed gracefully.
            with anyio.CancelScope(shield=True):
                await server.serve(sockets=[sock])
        except Exception as exc:
            failed = True
            self._failed(listener, exc, retry_in_s)
        finally:
            sock.close()
            with self._lock:
                listener.server = None
                listener.serving = False
        if listener.stopping:
            log.info("kube listener stopped", extra={"cluster": listener.record.arn})
        return failed

    def _started(self, listener: _Listener) -> None:
        record = listener.record
        with self._lock:
            listener.serving = not listener.stopping
        listener.attempted.set()
        listener.last_warning = None
        log.info(
            "kube listener serving",
            extra={"cluster": record.arn, "endpoint": f"https://{self._host}:{record.endpoint_port}"},
        )
        if self._wake is not None:
            self._wake(EksClusterKey(record.account_id, record.region, record.name))

    def _failed(self, listener: _Listener, exc: Exception, retry_in_s: float) -> None:
        record = listener.record
        in_use = isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE
        message = f"port {record.endpoint_port} is in use" if in_use else f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        last = listener.last_warning
        repeated = last is not None and last[0] == message and now - last[1] < REPEAT_WARNING_S
        if not repeated:
            listener.last_warning = (message, now)
        log.log(
            logging.DEBUG if repeated else logging.WARNING,
            "kube listener cannot start; retrying",
            exc_info=None if in_use or repeated else exc,
            extra={
                "cluster": record.arn,
                "port": record.endpoint_port,
                "error": message,
                "retry_in_s": retry_in_s,
            },
        )

    async def _finish(self, listener: _Listener) -> None:
        with self._lock:
            if self._listeners.get(listener.record.id) is listener:
                del self._listeners[listener.record.id]
            listener.serving = False
        listener.attempted.set()
        try:
            if listener.remove_files:
                directory = cluster_cert_dir(self._data_dir, listener.record.id)
                await anyio.to_thread.run_sync(remove_serving_files, directory)
        finally:
            listener.done.set()


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, not yet listening (the server's start does that)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _ListenerLogFilter(logging.Filter):
    """uvicorn's own lines from inside a cluster's listener: its lifecycle ("Started server process",
    "Shutting down"…, which would read as the main server's) dropped — ours say it —, the others marked
    with the cluster."""

    def filter(self, record: logging.LogRecord) -> bool:
        cluster = _LISTENING_FOR.get()
        if cluster is None:
            return True
        if record.levelno < logging.WARNING:
            return False
        record.__dict__["cluster"] = cluster
        return True
