"""The task engine: runs the tasks the server assigns to this instance as Docker containers, as ECS does.

Flow::

    apply(payload tasks) ──persist──▶ TaskRecord ──wake──▶ runner thread (one per task)
        pull every image (in parallel) → create + start in dependsOn order → RUNNING (report)
        → monitor (inspect every poll_interval_s; woken at once by apply/stop_tasks)
        → essential exit, failure or desired STOPPED: stop in reverse dependency order → STOPPED (report)
    housekeeper thread: removes a stopped task's containers after cleanup_after_s, then forgets the task

- Image pulls follow ECS's default behaviour: always pull (with ``registry_auth(image)``); when the pull
  fails but the image is cached locally, the cached image is used; otherwise the task stops with
  ``CannotPullContainerError: <engine message>``.
- Any container that cannot be pulled, created or started stops the task (``CannotCreateContainerError``,
  ``CannotStartContainerError``), as does a ``dependsOn`` condition that can no longer be met.
- After a restart (:meth:`TaskEngine.start`) the persisted tasks are resumed and their containers found again
  by their labels (only this instance's: ``dockyard.container-instance-arn``); a container is never created
  twice (its Docker name is fixed when the task arrives). Labelled containers of no known task are stopped
  and removed; containers Docker no longer knows count as stopped.
- awsvpc tasks (``networkMode: awsvpc``): before its containers, the task gets the Docker network of its
  subnet (``ensure_network``) and a pause container attached to it at the interface's address and MAC,
  from the locally built :data:`~dockyard.agent.pause_image.PAUSE_IMAGE`; the containers join its network
  namespace. The pause container is never reported; it is removed once the containers have stopped, and if it
  dies the task stops with ``ResourceInitializationError: …``. ``containerRuntime: runsc`` runs the task's
  containers under gVisor when the engine offers it (runc otherwise, with a warning).
- Reports are full snapshots (:class:`~dockyard.agent.reporter.TaskReport`) sent when the task is RUNNING or
  STOPPED, or a container changes after that; health changes go to ``health_publisher``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dockyard.agent import container_specs, task_logic
from dockyard.agent.awslogs import AwslogsOptions
from dockyard.agent.log_shipper import LogShipper
from dockyard.agent.pause_image import UnsupportedPlatform, ensure_pause_image
from dockyard.agent.registry_auth import image_registry
from dockyard.agent.reporter import ContainerChange, TaskReport, TaskReporter, TaskStatus
from dockyard.agent.runtime import (
    ContainerCreateError,
    ContainerNotFound,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerStartError,
    ContainerState,
    ImageImportError,
    NetworkError,
    PullAuth,
)
from dockyard.agent.task_facts import ContainerFacts, TaskFacts, TaskInterface
from dockyard.agent.task_records import (
    MAX_FORGOTTEN,
    PENDING,
    RUNNING,
    STOPPED,
    ContainerRecord,
    TaskRecord,
    dump_store,
    load_store,
    save_store,
)
from dockyard.core.agent_protocol import DESIRED_STOPPED, TaskPayload
from dockyard.core.clock import Clock, system_clock

log = logging.getLogger("dockyard.agent.tasks")

ESSENTIAL_EXITED = "Essential container in task exited"
CONTAINER_GONE = "DockerStateError: the container no longer exists"
RESOURCE_INITIALIZATION = "ResourceInitializationError"
_CLOSE_JOIN_S = 2.0


@dataclass
class _Pull:
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    digest: str | None = None


@dataclass
class _PauseStart:
    """The pause container's start, beside the runner: the task's containers are created meanwhile (they
    only need it to exist) and started once it runs."""

    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class TaskEngine:
    """Runs this instance's tasks; also the task metadata endpoint's :class:`MetadataSource`."""

    def __init__(
        self,
        *,
        runtime: ContainerRuntime,
        reporter: TaskReporter,
        store_path: Path,
        cluster_arn: str,
        container_instance_arn: str,
        availability_zone: str,
        registry_auth: Callable[[str], PullAuth | None],
        metadata_endpoint: str | None,
        health_publisher: Callable[[str, Mapping[str, str]], None] | None = None,
        log_shipper: LogShipper | None = None,
        poll_interval_s: float = 1.0,
        cleanup_after_s: float = 3600,
        default_stop_timeout_s: int = container_specs.DEFAULT_STOP_TIMEOUT_S,
        clock: Clock = system_clock,
    ) -> None:
        self._runtime = runtime
        self._reporter = reporter
        self._store_path = store_path
        self._cluster_arn = cluster_arn
        self._instance_arn = container_instance_arn
        self._availability_zone = availability_zone
        self._registry_auth = registry_auth
        self._metadata_endpoint = metadata_endpoint
        self._health_publisher = health_publisher
        self._log_shipper = log_shipper
        self._poll_interval_s = poll_interval_s
        self._cleanup_after = timedelta(seconds=cleanup_after_s)
        self._default_stop_timeout_s = default_stop_timeout_s
        self._clock = clock

        self._lock = threading.RLock()
        self._write_lock = threading.Lock()  # taken before _lock, never while holding it
        self._tasks: dict[str, TaskRecord] = {}
        self._forgotten: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, str]] = {}  # metadata token → (task ARN, container name)
        self._stopped_at: dict[str, datetime] = {}
        self._last_report: dict[str, TaskReport] = {}
        self._last_health: dict[str, dict[str, str]] = {}
        self._wakes: dict[str, threading.Event] = {}
        self._runners: dict[str, threading.Thread] = {}
        self._closing = threading.Event()
        self._housekeeping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loaded = False
        self._started = False
        self._engine_runtimes: frozenset[str] | None = None
        self._warned_runtimes: set[str] = set()
        self._warned_flat_cgroups = False
        self._warned_storage = False

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the persisted tasks, find their containers again, and resume running them."""
        with self._write_lock, self._lock:
            self._load()
            orphans = self._adopt(self._runtime.list({container_specs.LABEL_INSTANCE: self._instance_arn}))
            now = self._clock()
            for task in self._tasks.values():
                if task.status == STOPPED:
                    self._stopped_at.setdefault(task.arn, task.execution_stopped_at or now)
            self._started = True
            arns = list(self._tasks)
        for arn in arns:
            self._submit(arn, force=True)
            self._ensure_runner(arn)
            self._resume_log_shipping(arn)
        self._spawn("task-housekeeper", self._housekeep)
        if orphans:
            self._spawn("task-reaper", lambda: self._reap(orphans))

    def close(self) -> None:
        """Stop the engine's threads promptly; containers keep running (a restart adopts them)."""
        self._closing.set()
        if self._log_shipper is not None:
            self._log_shipper.close()
        self._housekeeping.set()
        with self._lock:
            for wake in self._wakes.values():
                wake.set()
            threads = [*self._runners.values(), *self._threads]
        for thread in threads:
            thread.join(_CLOSE_JOIN_S)

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return thread

    def _load(self) -> None:
        if self._loaded:
            return
        self._tasks, self._forgotten = load_store(self._store_path)
        for task in self._tasks.values():
            for container in task.containers.values():
                self._tokens[container.token] = (task.arn, container.name)
        self._loaded = True

    def _persist(self) -> None:
        """Write the store; callers hold ``_write_lock`` (so writes land in order) but not ``_lock``."""
        with self._lock:
            text = dump_store(self._tasks, self._forgotten)
        save_store(self._store_path, text)

    # --- what the push channel calls -------------------------------------------------------------------

    def apply(self, tasks: Sequence[TaskPayload]) -> None:
        """Record the desired state of ``tasks`` durably, then act on it in the background.

        Idempotent: a task is keyed by its ARN, later payloads of a known task only move its desired status
        from RUNNING to STOPPED.
        """
        changed: list[str] = []
        with self._write_lock:
            with self._lock:
                self._load()
                for payload in tasks:
                    arn = str(payload["taskArn"])
                    task = self._tasks.get(arn)
                    if task is None:
                        if arn in self._forgotten:
                            continue
                        tokens = {
                            str(d["name"]): (uuid.uuid4().hex, secrets.token_hex(10))
                            for d in payload.get("containers") or ()
                        }
                        task = TaskRecord.new(payload, tokens)
                        task.pause_name_suffix = secrets.token_hex(10)
                        self._tasks[arn] = task
                        for container in task.containers.values():
                            self._tokens[container.token] = (arn, container.name)
                        changed.append(arn)
                    elif payload.get("desiredStatus") == DESIRED_STOPPED and task.desired != DESIRED_STOPPED:
                        task.desired = DESIRED_STOPPED
                        changed.append(arn)
            if changed:
                self._persist()
        for arn in changed:
            self._ensure_runner(arn)

    def stop_tasks(self, task_arns: Sequence[str], reason: str) -> None:
        """Stop these tasks (the server confirmed them after a manifest), reporting ``reason``."""
        changed: list[str] = []
        with self._write_lock:
            with self._lock:
                for arn in task_arns:
                    task = self._tasks.get(arn)
                    if task is None or task.status == STOPPED:
                        continue
                    if task.desired != DESIRED_STOPPED or task.stop_reason is None:
                        task.desired = DESIRED_STOPPED
                        task.stop_reason = task.stop_reason or reason
                        changed.append(arn)
            if changed:
                self._persist()
        for arn in changed:
            self._ensure_runner(arn)

    def active_task_arns(self) -> set[str]:
        """Tasks known here that are not STOPPED yet."""
        with self._lock:
            self._load()
            return {arn for arn, task in self._tasks.items() if task.status != STOPPED}

    def _ensure_runner(self, arn: str) -> None:
        """Wake the task's runner, starting one if it has none (only once the engine has started)."""
        with self._lock:
            if not self._started or self._closing.is_set():
                return
            wake = self._wakes.setdefault(arn, threading.Event())
            wake.set()
            runner = self._runners.get(arn)
            task = self._tasks.get(arn)
            if (runner is not None and runner.is_alive()) or task is None or task.status == STOPPED:
                return
            runner = threading.Thread(target=self._run, args=(arn,), name=f"task-{arn[-12:]}", daemon=True)
            self._runners[arn] = runner
        runner.start()

    # --- the runner ----------------------------------------------------------------------------------------

    def _run(self, arn: str) -> None:
        wake = self._wakes[arn]
        pulls: dict[str, _Pull] = {}
        pause_starts: dict[str, _PauseStart] = {}
        while not self._closing.is_set():
            wake.clear()
            with self._lock:
                task = self._tasks.get(arn)
                if task is None or task.status == STOPPED:
                    return
                stopping = task.desired == DESIRED_STOPPED
            try:
                if stopping:
                    if self._stop_task(arn):
                        return
                    progressed = False
                else:
                    progressed = self._step(arn, pulls, pause_starts, wake)
            except ContainerRuntimeError as exc:
                log.warning("task %s: container engine error: %s", arn, exc)
                progressed = False
            except Exception:
                log.exception("task %s: unexpected error", arn)
                progressed = False
            if not progressed:
                wake.wait(self._poll_interval_s)

    def _step(
        self, arn: str, pulls: dict[str, _Pull], pause_starts: dict[str, _PauseStart], wake: threading.Event
    ) -> bool:
        """One pass over the task: start pulls, observe containers, create and start the ready ones.

        Returns whether it did something worth an immediate next pass.
        """
        with self._lock:
            task = self._tasks[arn]
            containers = list(task.containers.values())
            definitions = [c.definition for c in containers]
        try:
            order = task_logic.start_order(definitions)
        except task_logic.DependencyError as exc:
            self._fail(arn, None, f"CannotStartContainerError: {exc}")
            return True
        self._start_pulls(task, containers, pulls, wake)
        for container in containers:
            if container.docker_id is not None and container.status != STOPPED:
                self._observe(arn, container, self._runtime.inspect(container.docker_id))
        pause_start: _PauseStart | None = None
        if container_specs.network_mode(task.payload) == "awsvpc":
            if not self._ensure_pause(task, pause_starts, wake):
                return True
            pause_start = pause_starts.get(task.pause_id or "")
        progressed = False
        for name in order:
            if self._closing.is_set():
                return False
            container = task.containers[name]
            with self._lock:
                if task.desired == DESIRED_STOPPED:
                    return True
                views = self._dependency_views(task)
                ready = container.docker_id is None or (not container.started and not container.failed)
            if not ready:
                continue
            pull = pulls.get(container.definition.get("image", ""))
            if container.docker_id is None and (pull is None or not pull.done.is_set()):
                continue
            verdict = task_logic.dependencies_verdict(container.definition, views)
            if verdict == "wait":
                continue
            if verdict != "ok":
                self._fail(arn, container, f"CannotStartContainerError: {name}: {verdict}")
                return True
            if not self._create_and_start(task, container, pull, pause_start):
                return True
            progressed = True
        self._after_observation(arn)
        return progressed

    def _start_pulls(
        self,
        task: TaskRecord,
        containers: list[ContainerRecord],
        pulls: dict[str, _Pull],
        wake: threading.Event,
    ) -> None:
        images = {str(c.definition.get("image", "")) for c in containers if c.docker_id is None}
        for image in sorted(images - set(pulls)):
            pull = pulls[image] = _Pull()
            with self._lock:
                if task.pull_started_at is None:
                    task.pull_started_at = self._clock()
            threading.Thread(
                target=self._pull,
                args=(image, pull, wake, task.payload.get("registryAuth")),
                name=f"pull-{image[-20:]}",
                daemon=True,
            ).start()
        if pulls and task.pull_stopped_at is None and all(p.done.is_set() for p in pulls.values()):
            with self._lock:
                task.pull_stopped_at = self._clock()

    def _pull(self, image: str, pull: _Pull, wake: threading.Event, given: object = None) -> None:
        try:
            try:
                auth = task_auth(image, given) or self._registry_auth(image)
            except Exception:
                log.exception("registry credentials for %s", image)
                auth = None
            pull.digest = self._runtime.pull(image, auth)
        except ContainerRuntimeError as exc:
            pull.error = exc.message
            log.info("pull of %s failed: %s", image, exc.message)
        except Exception as exc:
            pull.error = str(exc)
            log.exception("pull of %s failed", image)
        finally:
            pull.done.set()
            wake.set()

    def _create_and_start(
        self,
        task: TaskRecord,
        container: ContainerRecord,
        pull: _Pull | None,
        pause_start: _PauseStart | None = None,
    ) -> bool:
        """Create (unless it exists) and start ``container``; ``False`` when that failed the task."""
        try:
            awslogs = self._awslogs(task, container)
        except ValueError as exc:
            reason = f"CannotStartContainerError: failed to initialize logging driver: {exc}"
            self._fail(task.arn, container, reason)
            return False
        if container.docker_id is None:
            try:
                spec = container_specs.build_spec(
                    task.payload,
                    container.definition,
                    cluster_arn=self._cluster_arn,
                    container_instance_arn=self._instance_arn,
                    metadata_endpoint=self._metadata_endpoint,
                    metadata_token=container.token,
                    name_suffix=container.name_suffix,
                    default_stop_timeout_s=self._default_stop_timeout_s,
                    network_container=task.pause_id,
                    oci_runtime=self._oci_runtime(task),
                    cgroup_parent=self._task_cgroup(task),
                    limits_storage=self._limits_storage(task),
                )
                docker_id = self._runtime.create(spec)
            except container_specs.SpecError as exc:
                self._fail(task.arn, container, f"CannotCreateContainerError: {exc}")
                return False
            except ContainerCreateError as exc:
                if pull is not None and pull.error is not None and "no such image" in exc.message.lower():
                    self._fail(task.arn, container, f"CannotPullContainerError: {pull.error}")
                else:
                    self._fail(task.arn, container, f"CannotCreateContainerError: {exc.message}")
                return False
            with self._lock:
                container.docker_id, container.docker_name = docker_id, spec.name
                container.image_digest = None if pull is None else pull.digest
        assert container.docker_id is not None
        if pause_start is not None:
            pause_start.done.wait()
            if pause_start.error is not None:
                self._fail(task.arn, None, pause_start.error)
                return False
        try:
            self._runtime.start(container.docker_id)
        except (ContainerStartError, ContainerNotFound) as exc:
            self._fail(task.arn, container, f"CannotStartContainerError: {exc.message}")
            return False
        if awslogs is not None and self._log_shipper is not None:
            self._log_shipper.follow(
                container.docker_id, awslogs, task_arn=task.arn, container_name=container.name
            )
        self._observe(task.arn, container, self._runtime.inspect(container.docker_id))
        return True

    # --- awslogs -------------------------------------------------------------------------------------------

    def _awslogs(self, task: TaskRecord, container: ContainerRecord) -> AwslogsOptions | None:
        """The container's awslogs options (None: it keeps Docker's json-file log only); ValueError in
        Docker's or ECS's words for options they refuse."""
        return AwslogsOptions.parse(
            container.definition.get("logConfiguration"),
            fargate=task.payload.get("launchType") == "FARGATE",
        )

    def _resume_log_shipping(self, arn: str) -> None:
        """After a restart: ship the rest of the logs of the task's started awslogs containers."""
        if self._log_shipper is None:
            return
        with self._lock:
            task = self._tasks[arn]
            started = [c for c in task.containers.values() if c.docker_id is not None and c.started]
        for container in started:
            assert container.docker_id is not None
            try:
                options = self._awslogs(task, container)
            except ValueError:
                continue
            if options is not None and not self._log_shipper.done(container.docker_id):
                self._log_shipper.follow(
                    container.docker_id, options, task_arn=task.arn, container_name=container.name
                )

    # --- awsvpc: the pause container and the OCI runtime ----------------------------------------------------

    def _ensure_pause(self, task: TaskRecord, starts: dict[str, _PauseStart], wake: threading.Event) -> bool:
        """Make the awsvpc task's pause container exist, and run or be starting (a new one is started
        beside the runner, in ``starts``); ``False`` when that failed the task."""
        with self._lock:
            pause_id = task.pause_id
        if pause_id is not None and pause_id in starts:
            start = starts[pause_id]
            if not start.done.is_set():
                return True
            del starts[pause_id]  # started or failed: from now on its state is watched like any
            if start.error is not None:
                self._fail(task.arn, None, start.error)
                return False
        if pause_id is not None:
            state = self._runtime.inspect(pause_id)
            if state is not None and state.status == "running":
                return True
            if state is None or state.status != "created":  # created: the agent stopped before starting it
                what = "was removed" if state is None else f"exited ({state.exit_code})"
                self._fail(
                    task.arn,
                    None,
                    f"{RESOURCE_INITIALIZATION}: the task's network namespace is gone: "
                    f"its pause container {what}",
                )
                return False
        else:
            try:
                spec = container_specs.pause_spec(
                    task.payload,
                    cluster_arn=self._cluster_arn,
                    container_instance_arn=self._instance_arn,
                    name_suffix=task.pause_name_suffix or secrets.token_hex(10),
                )
                network, cidr, gateway, labels = container_specs.subnet_network(task.payload)
                self._runtime.ensure_network(network, cidr, gateway, labels)
                ensure_pause_image(self._runtime)
                pause_id = self._runtime.create(spec)
            except container_specs.SpecError as exc:
                self._fail(task.arn, None, f"{RESOURCE_INITIALIZATION}: {exc}")
                return False
            except (NetworkError, ImageImportError, ContainerCreateError, UnsupportedPlatform) as exc:
                self._fail(task.arn, None, f"{RESOURCE_INITIALIZATION}: {exc.message}")
                return False
            with self._lock:
                task.pause_id = pause_id
            with self._write_lock:
                self._persist()
            log.info("task %s: pause container %s on %s", task.arn, pause_id[:12], network)
            starts[pause_id] = self._start_pause_beside(pause_id, wake)
            return True
        try:
            self._runtime.start(pause_id)
        except (ContainerStartError, ContainerNotFound) as exc:
            self._fail(
                task.arn, None, f"{RESOURCE_INITIALIZATION}: starting the pause container: {exc.message}"
            )
            return False
        return True

    def _limits_storage(self, task: TaskRecord) -> bool:
        """Whether the task's ephemeral storage can be enforced (else the agent says once that it is not)."""
        if task.payload.get("ephemeralStorageGiB") is None:
            return False
        if self._runtime.limits_storage():
            return True
        if not self._warned_storage:
            self._warned_storage = True
            log.warning(
                "the storage driver cannot cap a container's writable layer (overlay2 can only on xfs with "
                "pquota): Fargate tasks' ephemeral storage is not enforced on this host"
            )
        return False

    def _task_cgroup(self, task: TaskRecord) -> str | None:
        """A Fargate task's cgroup: its pause container's, limited to the task's size, where the engine
        can nest its containers' cgroups inside it (else each container alone is limited to the task's
        size, and the agent says so once)."""
        if task.pause_id is None or container_specs.fargate_memory_bytes(task.payload) is None:
            return None
        cgroup = self._runtime.nested_cgroup(task.pause_id)
        if cgroup is None and not self._warned_flat_cgroups:
            self._warned_flat_cgroups = True
            log.warning(
                "the container engine cannot nest cgroups (cgroup v2, or the systemd driver): each container "
                "of a Fargate task is limited to the task's size, not the task's containers together"
            )
        return cgroup

    def _start_pause_beside(self, pause_id: str, wake: threading.Event) -> _PauseStart:
        start = _PauseStart()

        def run() -> None:
            try:
                self._runtime.start(pause_id)
            except (ContainerStartError, ContainerNotFound) as exc:
                start.error = f"{RESOURCE_INITIALIZATION}: starting the pause container: {exc.message}"
            except Exception as exc:
                log.exception("starting pause container %s", pause_id[:12])
                start.error = f"{RESOURCE_INITIALIZATION}: starting the pause container: {exc}"
            finally:
                start.done.set()
                wake.set()

        threading.Thread(target=run, name=f"pause-{pause_id[:12]}", daemon=True).start()
        return start

    def _oci_runtime(self, task: TaskRecord) -> str | None:
        """The OCI runtime of the task's containers: its ``containerRuntime`` if the engine offers it."""
        wanted = task.payload.get("containerRuntime")
        if not wanted:
            return None
        if self._engine_runtimes is None:
            self._engine_runtimes = self._runtime.runtimes()
        if str(wanted) in self._engine_runtimes:
            return str(wanted)
        with self._lock:
            warn = str(wanted) not in self._warned_runtimes
            self._warned_runtimes.add(str(wanted))
        if warn:
            log.warning(
                "the container engine has no %s runtime: tasks asking for it run under runc, "
                "with weaker isolation (engine runtimes: %s)",
                wanted,
                ", ".join(sorted(self._engine_runtimes)) or "none",
            )
        return "runc" if "runc" in self._engine_runtimes else None

    def _observe(self, arn: str, container: ContainerRecord, state: ContainerState | None) -> None:
        """Fold one inspection into the container's record."""
        with self._lock:
            if state is None:
                if container.status != STOPPED:  # Docker no longer knows it: it counts as stopped
                    container.status, container.started = STOPPED, True
                    container.reason = container.reason or CONTAINER_GONE
                return
            container.state = state
            container.docker_name = state.name
            container.image_id = state.image_id or container.image_id
            if state.status == "running":
                container.started = True
                container.status = RUNNING
                if state.network_bindings:
                    container.bindings = task_logic.bindings_json(state.network_bindings)
                elif container_specs.network_mode(self._tasks[arn].payload) == "host":
                    container.bindings = task_logic.host_mode_bindings(container.definition)
            elif state.status in ("exited", "dead"):
                container.started = container.started or state.started_at is not None
                container.status = STOPPED
                container.exit_code = state.exit_code

    def _dependency_views(self, task: TaskRecord) -> dict[str, task_logic.DependencyView]:
        views = {}
        for name, c in task.containers.items():
            exited = c.status == STOPPED and c.started
            health = c.state.health if c.state is not None else None
            views[name] = task_logic.DependencyView(c.started, exited, c.exit_code, health, c.failed)
        return views

    def _after_observation(self, arn: str) -> None:
        """Decide what the latest observations mean for the task: RUNNING, an essential exit, reports."""
        with self._lock:
            task = self._tasks[arn]
            containers = task.containers.values()
            if task.desired != DESIRED_STOPPED:
                essential_exited = any(
                    task_logic.is_essential(c.definition) and c.started and c.status == STOPPED
                    for c in containers
                )
                if essential_exited:
                    task.desired = DESIRED_STOPPED
                    task.stop_reason = task.stop_reason or ESSENTIAL_EXITED
                elif task.status == PENDING and all(c.started for c in containers):
                    task.status = RUNNING
            became_running = task.status == RUNNING and arn not in self._last_report
            stopping = task.desired == DESIRED_STOPPED
        self._submit(arn)
        self._publish_health(arn)
        if became_running or stopping:
            with self._write_lock:
                self._persist()
            self._wakes[arn].set()

    def _fail(self, arn: str, container: ContainerRecord | None, reason: str) -> None:
        """The task cannot run: stop it with ``reason`` (also the failing container's reason)."""
        log.warning("task %s: %s", arn, reason)
        with self._lock:
            task = self._tasks[arn]
            if container is not None:
                container.failed = True
                container.reason = container.reason or reason
            task.desired = DESIRED_STOPPED
            task.stop_reason = task.stop_reason or reason
        with self._write_lock:
            self._persist()

    # --- stopping ------------------------------------------------------------------------------------------

    def _stop_task(self, arn: str) -> bool:
        """Stop the task's containers in reverse dependency order; ``True`` once the task is STOPPED."""
        with self._lock:
            task = self._tasks[arn]
            definitions = [c.definition for c in task.containers.values()]
        self._submit(arn)  # a running task is STOPPING while its containers stop (reported once)
        for wave in task_logic.stop_waves(definitions):
            if self._closing.is_set():
                return False
            threads = []
            for name in wave:
                container = task.containers[name]
                if container.docker_id is None or (container.status == STOPPED and container.started):
                    continue
                thread = threading.Thread(
                    target=self._stop_container, args=(arn, container), name=f"stop-{name}", daemon=True
                )
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
        self._remove_pause(task)
        with self._lock:
            now = self._clock()
            for container in task.containers.values():
                container.status = STOPPED
            task.status = STOPPED
            task.execution_stopped_at = task.execution_stopped_at or now
            self._stopped_at[arn] = now
        self._submit(arn)
        self._publish_health(arn)
        with self._write_lock:
            self._persist()
        self._housekeeping.set()
        log.info("task %s stopped%s", arn, f": {task.stop_reason}" if task.stop_reason else "")
        return True

    def _remove_pause(self, task: TaskRecord) -> None:
        """Remove the awsvpc task's pause container (its containers stopped); cleanup retries failures."""
        with self._lock:
            pause_id = task.pause_id
        if pause_id is None:
            return
        try:
            self._runtime.remove(pause_id)
        except ContainerRuntimeError as exc:
            log.warning("task %s: removing the pause container failed: %s", task.arn, exc)
            return
        with self._lock:
            task.pause_id = None

    def _stop_container(self, arn: str, container: ContainerRecord) -> None:
        docker_id = container.docker_id
        assert docker_id is not None
        try:
            with self._lock:
                task = self._tasks.get(arn)
                payload = task.payload if task is not None else None
            self._runtime.stop(
                docker_id,
                container_specs.stop_timeout_s(container.definition, self._default_stop_timeout_s, payload),
            )
        except ContainerNotFound:
            pass
        except ContainerRuntimeError as exc:
            log.warning("task %s: stopping %s failed: %s", arn, container.name, exc)
        try:
            state = self._runtime.inspect(docker_id)
        except ContainerRuntimeError as exc:
            log.warning("task %s: inspecting %s failed: %s", arn, container.name, exc)
            return
        self._observe(arn, container, state)

    # --- reports and health ------------------------------------------------------------------------------

    def _snapshot(self, task: TaskRecord) -> TaskReport:
        changes = tuple(
            ContainerChange(
                container_name=c.name,
                status=_status(c.status),
                exit_code=c.exit_code,
                reason=c.reason,
                network_bindings=tuple(c.bindings),
                runtime_id=c.docker_id,
                image_digest=c.image_digest or task_logic.image_digest(str(c.definition.get("image", ""))),
            )
            for c in task.containers.values()
        )
        return TaskReport(
            task_arn=task.arn,
            status=_task_status(task),
            reason=task.stop_reason if task.status == STOPPED else None,
            containers=changes,
            pull_started_at=task.pull_started_at,
            pull_stopped_at=task.pull_stopped_at,
            execution_stopped_at=task.execution_stopped_at if task.status == STOPPED else None,
        )

    def _submit(self, arn: str, *, force: bool = False) -> None:
        """Report the task if it is RUNNING or STOPPED and its snapshot changed since the last report."""
        with self._lock:
            task = self._tasks.get(arn)
            if task is None or task.status == PENDING:
                return
            report = self._snapshot(task)
            if not force and self._last_report.get(arn) == report:
                return
            self._last_report[arn] = report
        self._reporter.submit(report)

    def _publish_health(self, arn: str) -> None:
        if self._health_publisher is None:
            return
        with self._lock:
            task = self._tasks.get(arn)
            # A task on its way out has no health to report: the engine marks a container it stopped
            # (or that was killed) unhealthy, which the service scheduler would take for a failed check.
            if task is None or task.desired == DESIRED_STOPPED:
                return
            health = {
                c.name: task_logic.ecs_health(c.state.health if c.state is not None else None)
                for c in task.containers.values()
                if container_specs.health_check_for(c.definition) is not None
            }
            before = self._last_health.get(arn, dict.fromkeys(health, "UNKNOWN"))
            if not health or health == before:
                return
            self._last_health[arn] = health
        try:
            self._health_publisher(arn, health)
        except Exception:
            log.exception("publishing the health of %s", arn)

    # --- restart and cleanup -----------------------------------------------------------------------------

    def _adopt(self, states: list[ContainerState]) -> list[str]:
        """Attach listed containers to their task's records (called under the lock); returns the ids of
        containers to reap: of no known task, or duplicates."""
        groups: dict[tuple[str, str], list[ContainerState]] = {}
        for state in states:
            key = (
                state.labels.get(container_specs.LABEL_TASK_ARN, ""),
                state.labels.get(container_specs.LABEL_CONTAINER_NAME, ""),
            )
            groups.setdefault(key, []).append(state)
        orphans: list[str] = []
        for (task_arn, name), found in groups.items():
            task = self._tasks.get(task_arn)
            if name == container_specs.PAUSE_CONTAINER_NAME:
                if task is None or task.status == STOPPED:
                    orphans.extend(s.id for s in found)
                    continue
                keep = next((s for s in found if s.id == task.pause_id), found[0])
                task.pause_id = keep.id
                orphans.extend(s.id for s in found if s is not keep)
                log.info("task %s: adopted its pause container (%s)", task_arn, keep.id[:12])
                continue
            container = task.containers.get(name) if task is not None else None
            if container is None:
                orphans.extend(s.id for s in found)
                continue
            keep = next((s for s in found if s.id == container.docker_id), found[0])
            container.docker_id = keep.id
            self._observe(task_arn, container, keep)
            orphans.extend(s.id for s in found if s is not keep)
            log.info("task %s: adopted container %s (%s)", task_arn, name, keep.id[:12])
        return orphans

    def _reap(self, container_ids: list[str]) -> None:
        for container_id in container_ids:
            if self._closing.is_set():
                return
            log.info("removing container %s of no known task", container_id[:12])
            try:
                self._runtime.stop(container_id, None)
                self._runtime.remove(container_id)
            except ContainerRuntimeError as exc:
                log.warning("removing container %s failed: %s", container_id[:12], exc)

    def _housekeep(self) -> None:
        while not self._closing.is_set():
            self._housekeeping.clear()
            now = self._clock()
            with self._lock:
                due = [arn for arn, at in self._stopped_at.items() if now - at >= self._cleanup_after]
            for arn in due:
                if self._closing.is_set():
                    return
                self._clean_up(arn)
            self._housekeeping.wait(self._poll_interval_s)

    def _clean_up(self, arn: str) -> None:
        """Remove a stopped task's containers, then forget the task."""
        with self._lock:
            task = self._tasks.get(arn)
            ids = [c.docker_id for c in task.containers.values() if c.docker_id] if task else []
            if task is not None and task.pause_id:
                ids.append(task.pause_id)
        try:
            for docker_id in ids:
                self._runtime.remove(docker_id)
                if self._log_shipper is not None:
                    self._log_shipper.forget(docker_id)
        except ContainerRuntimeError as exc:
            log.warning("task %s: removing its containers failed: %s", arn, exc)
            return
        with self._write_lock:
            with self._lock:
                task = self._tasks.pop(arn, None)
                self._stopped_at.pop(arn, None)
                self._last_report.pop(arn, None)
                self._last_health.pop(arn, None)
                self._wakes.pop(arn, None)
                self._runners.pop(arn, None)
                if task is not None:
                    for container in task.containers.values():
                        self._tokens.pop(container.token, None)
                self._forgotten[arn] = self._clock().isoformat()
                while len(self._forgotten) > MAX_FORGOTTEN:
                    del self._forgotten[next(iter(self._forgotten))]
            self._persist()
        log.info("task %s cleaned up", arn)

    # --- the metadata endpoint's view ----------------------------------------------------------------------

    def find_by_token(self, token: str) -> tuple[TaskFacts, ContainerFacts] | None:
        with self._lock:
            found = self._tokens.get(token)
            task = self._tasks.get(found[0]) if found else None
            if found is None or task is None:
                return None
            facts = self._task_facts(task)
        by_name = {c.name: c for c in facts.containers}
        return facts, by_name[found[1]]

    def container_stats(self, docker_id: str) -> Mapping[str, Any] | None:
        with self._lock:
            known = any(
                c.docker_id == docker_id for task in self._tasks.values() for c in task.containers.values()
            )
        if not known:
            return None
        try:
            return self._runtime.stats(docker_id)
        except ContainerRuntimeError:
            return None

    def _task_facts(self, task: TaskRecord) -> TaskFacts:
        payload = task.payload
        task_memory = container_specs.parse_memory_mib(payload.get("memory"))
        eni = container_specs.network_interface(payload)
        interface = None
        if eni is not None:
            interface = TaskInterface(
                ipv4_address=str(eni["privateIPv4Address"]),
                mac_address=_str_or_none(eni.get("macAddress")),
                subnet_cidr=_str_or_none(eni.get("subnetCidr")),
                subnet_gateway=_str_or_none(eni.get("subnetGateway")),
                private_dns_name=_str_or_none(eni.get("privateDnsName")),
            )
        containers = []
        for c in task.containers.values():
            state = c.state
            memory = _int_or_none(c.definition.get("memory"))
            if memory is None and c.definition.get("memoryReservation") is None:
                memory = task_memory
            has_check = container_specs.health_check_for(c.definition) is not None
            health = task_logic.ecs_health(state.health if state else None) if has_check else None
            containers.append(
                ContainerFacts(
                    name=c.name,
                    container_arn=str(c.definition.get("containerArn", "")),
                    image=str(c.definition.get("image", "")),
                    docker_id=c.docker_id,
                    docker_name=c.docker_name,
                    image_id=c.image_id,
                    labels=dict(state.labels) if state is not None else {},
                    desired_status=task.desired,
                    known_status=c.status,
                    cpu=_int_or_none(c.definition.get("cpu")) or 0,
                    memory=memory,
                    created_at=state.created_at if state else None,
                    started_at=state.started_at if state else None,
                    finished_at=state.finished_at if state else None,
                    exit_code=c.exit_code,
                    health_status=health,
                    network_mode=container_specs.network_mode(payload),
                    ipv4_addresses=tuple(state.ip_addresses.values()) if state and not interface else (),
                    ports=tuple(c.bindings),
                    metadata_token=c.token,
                    interface=interface,
                )
            )
        tags = {str(t.get("key")): str(t.get("value", "")) for t in payload.get("tags") or ()}
        return TaskFacts(
            cluster_arn=str(payload.get("clusterArn") or self._cluster_arn),
            task_arn=task.arn,
            family=str(payload.get("family", "")),
            revision=str(payload.get("version", "")),
            desired_status=task.desired,
            known_status=task.status,
            cpu=_str_or_none(payload.get("cpu")),
            memory=_str_or_none(payload.get("memory")),
            availability_zone=str(payload.get("availabilityZone") or self._availability_zone),
            launch_type=str(payload.get("launchType") or "EC2"),
            containers=tuple(containers),
            pull_started_at=task.pull_started_at,
            pull_stopped_at=task.pull_stopped_at,
            execution_stopped_at=task.execution_stopped_at,
            tags=tags,
        )


def task_auth(image: str, given: object) -> PullAuth | None:
    """The payload's ``registryAuth`` for ``image`` when it is for that image's registry (a Fargate pool
    host pulls a user's images with the user's credentials, not its own)."""
    if not isinstance(given, Mapping) or image_registry(image) != given.get("registry"):
        return None
    return PullAuth(str(given.get("username", "")), str(given.get("password", "")))


def _task_status(task: TaskRecord) -> TaskStatus:
    """The task's reported status: STOPPING once a running task is to stop, until its containers have."""
    if task.status == RUNNING and task.desired == DESIRED_STOPPED:
        return "STOPPING"
    return _status(task.status)


def _status(status: str) -> TaskStatus:
    return "RUNNING" if status == RUNNING else ("STOPPED" if status == STOPPED else "PENDING")


def _int_or_none(value: object) -> int | None:
    try:
        return None if value is None or value == "" else int(str(value))
    except ValueError:
        return None


def _str_or_none(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
