"""The kubelet's pod runtime: runs the Pods bound to this node on a :class:`ContainerRuntime` and reports
each one's Kubernetes ``status``.

Level-triggered, like Nomad's ``runAllocs`` and the kubelet's ``syncPod``: :meth:`PodEngine.sync` is called
periodically (about every second, since probes and back-offs are timed by it) and whenever the pods
change. Each call lists the containers labelled with this node, diffs them against the desired pods and
acts::

    sync(desired pods)
      ├─ containers of pods no longer desired → graceful stop (thread) → removed, pod directory removed
      ├─ desired pod with deletionTimestamp → preStop, SIGTERM, SIGKILL after the grace period (thread)
      └─ each other pod:
           volumes written ─ pause container running? (else made; a dead one: the pod starts over in a
           new one) ─ init containers one at a time, each to exit 0 ─ then every app container:
           missing → pull (policy, back-off) → create → start;  running → probes (liveness or startup
           failure: stopped in a thread, then restarted);  exited → restart if the policy says so,
           after CrashLoopBackOff's back-off
      → every desired pod's status (pod_status.py) from a fresh listing

Nothing is persisted: after an agent restart the containers are found again by their labels (restart
counts included); back-off delays, probe results and transition times start over. Image pulls run inside
sync (a long pull delays the other pods' sync; a pull worker can come later).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.agent.awslogs import DockerLine
from dockyard.agent.kubelet import pod_dirs, probes
from dockyard.agent.kubelet.backoff import Backoff
from dockyard.agent.kubelet.env import ConfigError, PodFacts, PodResources, container_env
from dockyard.agent.kubelet.pod_logic import (
    LABEL_CONTAINER,
    LABEL_KIND,
    LABEL_NAMESPACE,
    LABEL_POD_NAME,
    LABEL_POD_UID,
    LABEL_RESTART_COUNT,
    SANDBOX_CONTAINER,
    ContainerKind,
    Node,
    container_spec,
    go_duration,
    grace_period_s,
    pod_key,
    pull_policy,
    restart_policy,
    sandbox_spec,
    should_restart,
    uid_of,
)
from dockyard.agent.kubelet.pod_status import ContainerView, exit_code, finished, pod_status
from dockyard.agent.kubelet.probes import (
    INITIAL_RESULT,
    ProbeKind,
    ProbeState,
    due,
    parse_probe,
    run_probe,
)
from dockyard.agent.kubelet.volumes import PlannedVolume, TokenSource, container_binds, plan_volumes
from dockyard.agent.pause_image import ensure_pause_image
from dockyard.agent.runtime import (
    ContainerCreateError,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerStartError,
    ContainerState,
    ExecSession,
    ImagePullError,
    PullAuth,
)
from dockyard.core.clock import Clock, system_clock

log = logging.getLogger("dockyard.agent.kubelet")
PullAuthSource = Callable[[str], PullAuth | None]
TERMINAL = frozenset({"Succeeded", "Failed"})


class KubeletError(RuntimeError):
    """A logs or exec request that cannot be served; ``status`` is the HTTP status the API answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class KubeletSettings:
    cluster: str
    """The cluster's name, on every container's labels."""
    node_name: str
    """This node's name (``spec.nodeName`` of its pods), on every container's labels."""
    network: str
    """The Docker network pods are attached to (made by the caller); a pod's IP is its address there."""
    state_dir: Path
    """Pod directories (volumes) live in ``<state_dir>/pods/<uid>``."""
    host_ip: str = ""
    """``status.hostIP``."""
    node_milli_cpu: int = field(default_factory=lambda: 1000 * (os.cpu_count() or 1))
    """The node's allocatable CPU: what ``resourceFieldRef: limits.cpu`` reads without a limit."""
    node_memory_bytes: int = 2**30
    """The node's allocatable memory, likewise."""
    base_env: Mapping[str, str] = field(default_factory=dict)
    """Variables every container gets first (e.g. ``KUBERNETES_SERVICE_HOST``)."""


@dataclass
class _PodRecord:
    pod: Mapping[str, Any]
    start_time: datetime
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    probes: dict[tuple[str, ProbeKind], ProbeState] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    restart_floor: dict[str, int] = field(default_factory=dict)
    volumes: dict[str, PlannedVolume] = field(default_factory=dict)
    pod_ip: str = ""
    phase: str = "Pending"


def restart_count(state: ContainerState) -> int:
    try:
        return int(state.labels.get(LABEL_RESTART_COUNT, "0"))
    except ValueError:
        return 0


def _grouped(instances: Iterable[ContainerState]) -> dict[str, list[ContainerState]]:
    """Container name → its instances, the latest (highest restart count) first."""
    groups: dict[str, list[ContainerState]] = {}
    for state in instances:
        groups.setdefault(state.labels.get(LABEL_CONTAINER, ""), []).append(state)
    for group in groups.values():
        group.sort(key=restart_count, reverse=True)
    return groups


class PodEngine:
    """Runs this node's pods. ``resources`` resolves ConfigMaps and Secrets, ``pull_auth`` gives the
    credentials for an image (dockyard's ECR), ``token_source`` service-account tokens (optional)."""

    def __init__(
        self,
        runtime: ContainerRuntime,
        settings: KubeletSettings,
        resources: PodResources,
        *,
        pull_auth: PullAuthSource = lambda _image: None,
        token_source: TokenSource | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._node = Node(settings.cluster, settings.node_name)
        self._resources = resources
        self._pull_auth = pull_auth
        self._token_source = token_source
        self._clock = clock
        self._sync_lock = threading.Lock()
        self._records: dict[str, _PodRecord] = {}
        self._restarts = Backoff()
        self._pulls = Backoff()
        self._threads: dict[str, threading.Thread] = {}
        """Stops in progress: container id or ``pod:<uid>`` → its thread."""
        self._terminated: set[str] = set()
        self._statuses: dict[str, dict[str, Any]] = {}

    # --- the sync loop's entry points ---------------------------------------------------------------------

    def sync(self, desired_pods: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Make the node run exactly ``desired_pods``; every desired pod's ``status`` by uid."""
        with self._sync_lock:
            now = self._clock()
            desired = {uid_of(pod): pod for pod in desired_pods}
            observed: dict[str, list[ContainerState]] = {}
            for state in self._runtime.list(self._node.labels):
                observed.setdefault(state.labels.get(LABEL_POD_UID, ""), []).append(state)
            for uid in observed.keys() - desired.keys():
                self._terminate(uid, observed[uid], remove=True)
            statuses: dict[str, dict[str, Any]] = {}
            for uid, pod in desired.items():
                record = self._record(pod, observed.get(uid, []), now)
                try:
                    if pod["metadata"].get("deletionTimestamp"):
                        self._terminate(uid, observed.get(uid, []), remove=False)
                    elif record.phase not in TERMINAL:
                        self._sync_pod(pod, record, observed.get(uid, []), now)
                    statuses[uid] = self._status(pod, record, now)
                except ContainerRuntimeError as exc:
                    log.warning("pod %s: %s", pod_key(pod), exc.message)
                    statuses[uid] = self._statuses.get(uid) or {"phase": "Pending"}
            for uid in list(self._records):
                if uid not in desired and uid not in observed and not self._busy(f"pod:{uid}"):
                    del self._records[uid]
            self._statuses = statuses
            return statuses

    def statuses(self) -> dict[str, dict[str, Any]]:
        """The statuses the last :meth:`sync` computed."""
        return dict(self._statuses)

    def terminated(self, uid: str) -> bool:
        """Whether a pod being deleted has no running container left (the API may now remove it)."""
        return uid in self._terminated

    def close(self, timeout_s: float = 60.0) -> None:
        """Wait for the stops in progress (containers keep running: a restarted agent adopts them)."""
        for thread in list(self._threads.values()):
            thread.join(timeout_s)

    # --- one pod --------------------------------------------------------------------------------------------

    def _record(
        self, pod: Mapping[str, Any], instances: Sequence[ContainerState], now: datetime
    ) -> _PodRecord:
        uid = uid_of(pod)
        record = self._records.get(uid)
        if record is None:
            created = [s.created_at for s in instances if s.created_at is not None]
            record = self._records[uid] = _PodRecord(pod, min(created) if created else now)
        record.pod = pod
        return record

    def _facts(self, record: _PodRecord) -> PodFacts:
        settings = self._settings
        return PodFacts(record.pod_ip, settings.host_ip, settings.node_milli_cpu, settings.node_memory_bytes)

    def _sync_pod(
        self, pod: Mapping[str, Any], record: _PodRecord, instances: Sequence[ContainerState], now: datetime
    ) -> None:
        uid = uid_of(pod)
        try:
            root = pod_dirs.volume_root(self._settings.state_dir, uid)
            record.volumes = plan_volumes(pod, self._resources, self._facts(record), root, self._token_source)
            pod_dirs.write_volumes(record.volumes.values())
        except ConfigError as exc:
            log.warning("pod %s: MountVolume.SetUp failed: %s", pod_key(pod), exc.message)
            return
        groups = _grouped(instances)
        sandbox = self._ensure_sandbox(pod, record, groups)
        if sandbox is None:
            return
        record.pod_ip = sandbox.ip_addresses.get(self._settings.network, "")
        for container in pod["spec"].get("initContainers") or ():
            latest = next(iter(groups.get(container["name"], [])), None)
            if latest is not None and finished(latest) and exit_code(latest) == 0:
                continue
            if latest is None or latest.status == "running" or not finished(latest):
                self._advance(pod, record, container, "init", latest, sandbox.id, now)
            elif restart_policy(pod) != "Never":
                self._restart(pod, record, container, "init", latest, sandbox.id, now)
            return  # one init container at a time, each to success
        for container in pod["spec"].get("containers") or ():
            latest = next(iter(groups.get(container["name"], [])), None)
            if latest is not None and finished(latest):
                if should_restart(restart_policy(pod), exit_code(latest)):
                    self._restart(pod, record, container, "app", latest, sandbox.id, now)
                else:
                    record.waiting.pop(container["name"], None)
            else:
                self._advance(pod, record, container, "app", latest, sandbox.id, now)
        self._collect_garbage(groups)

    def _advance(
        self,
        pod: Mapping[str, Any],
        record: _PodRecord,
        container: Mapping[str, Any],
        kind: ContainerKind,
        latest: ContainerState | None,
        sandbox_id: str,
        now: datetime,
    ) -> None:
        """A container not finished: make it, start it, or probe it."""
        name = str(container["name"])
        if latest is None:
            self._start(pod, record, container, kind, record.restart_floor.get(name, 0), sandbox_id, now)
        elif latest.status == "created":
            self._start_created(record, name, latest.id)
        else:
            record.waiting.pop(name, None)
            if kind == "app":
                self._probe(pod, record, container, latest, now)

    def _ensure_sandbox(
        self, pod: Mapping[str, Any], record: _PodRecord, groups: dict[str, list[ContainerState]]
    ) -> ContainerState | None:
        sandboxes = groups.get(SANDBOX_CONTAINER, [])
        if sandboxes and sandboxes[0].status == "running":
            return sandboxes[0]
        attempt = 0
        if sandboxes:
            # The pod's network namespace is gone: as the kubelet does, everything starts over in a new one.
            log.info("pod %s: sandbox changed, its containers are made again", pod_key(pod))
            attempt = restart_count(sandboxes[0]) + 1
            for name, group in groups.items():
                if name != SANDBOX_CONTAINER and group:
                    record.restart_floor[name] = restart_count(group[0]) + 1
                for state in group:
                    self._runtime.remove(state.id)
            groups.clear()
        image = ensure_pause_image(self._runtime)
        spec = sandbox_spec(self._node, pod, self._settings.network, attempt, image)
        sandbox_id = self._runtime.create(spec)
        self._runtime.start(sandbox_id)
        started = self._runtime.inspect(sandbox_id)
        return started if started is not None and started.status == "running" else None

    def _ensure_image(
        self, pod: Mapping[str, Any], record: _PodRecord, container: Mapping[str, Any], now: datetime
    ) -> bool:
        name, image = str(container["name"]), str(container["image"])
        policy = pull_policy(container)
        present = self._runtime.image_exists(image)
        if policy == "Never" or (policy == "IfNotPresent" and present):
            if not present:
                message = f'Container image "{image}" is not present with pull policy of Never'
                record.waiting[name] = ("ErrImageNeverPull", message)
            return present
        key = f"{uid_of(pod)}/{image}"
        if self._pulls.in_backoff_since_update(key, now):
            record.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            return False
        try:
            digest = self._runtime.pull(image, self._pull_auth(image))
        except ImagePullError as exc:
            self._pulls.next(key, now, now)
            record.waiting[name] = ("ErrImagePull", exc.message)
            return False
        if digest:
            record.digests[image] = digest
        return True

    def _start(
        self,
        pod: Mapping[str, Any],
        record: _PodRecord,
        container: Mapping[str, Any],
        kind: ContainerKind,
        count: int,
        sandbox_id: str,
        now: datetime,
    ) -> None:
        name = str(container["name"])
        if not self._ensure_image(pod, record, container, now):
            return
        try:
            env = container_env(pod, container, self._resources, self._facts(record), self._settings.base_env)
            binds = container_binds(container, record.volumes)
            pod_dirs.ensure_sub_paths(binds, record.volumes.values())
            spec = container_spec(self._node, pod, container, kind, count, sandbox_id, env, binds)
        except ConfigError as exc:
            record.waiting[name] = ("CreateContainerConfigError", exc.message)
            return
        try:
            container_id = self._runtime.create(spec)
        except ContainerCreateError as exc:
            record.waiting[name] = ("CreateContainerError", exc.message)
            return
        self._start_created(record, name, container_id)

    def _start_created(self, record: _PodRecord, name: str, container_id: str) -> None:
        try:
            self._runtime.start(container_id)
        except ContainerStartError as exc:
            record.waiting[name] = ("RunContainerError", exc.message)
            return
        record.waiting.pop(name, None)

    def _restart(
        self,
        pod: Mapping[str, Any],
        record: _PodRecord,
        container: Mapping[str, Any],
        kind: ContainerKind,
        latest: ContainerState,
        sandbox_id: str,
        now: datetime,
    ) -> None:
        name = str(container["name"])
        key = f"{uid_of(pod)}/{name}"
        finished_at = latest.finished_at or latest.created_at or now
        if self._restarts.in_backoff_since(key, finished_at, now):
            delay = go_duration(self._restarts.delay_s(key))
            message = f"back-off {delay} restarting failed container={name} pod={pod_key(pod)}"
            record.waiting[name] = ("CrashLoopBackOff", message)
            return
        self._restarts.next(key, finished_at, now)
        self._start(pod, record, container, kind, restart_count(latest) + 1, sandbox_id, now)

    def _probe(
        self,
        pod: Mapping[str, Any],
        record: _PodRecord,
        container: Mapping[str, Any],
        state: ContainerState,
        now: datetime,
    ) -> None:
        if self._busy(state.id):
            return  # being stopped already

        def step(kind: ProbeKind) -> bool | None:
            probe = parse_probe(container.get(f"{kind}Probe"), container)
            if probe is None:
                return True
            current = record.probes.get((state.id, kind), ProbeState(INITIAL_RESULT[kind]))
            if due(probe, current, state.started_at, now):
                ok, output = run_probe(self._runtime, state.id, probe, record.pod_ip)
                if not ok:
                    log.info(
                        "pod %s container %s: %s probe failed: %s",
                        pod_key(pod),
                        container["name"],
                        kind,
                        output,
                    )
                current = record.probes[(state.id, kind)] = probes.record(probe, current, ok, now)
            return current.result

        startup = step("startup")
        if startup is False or (startup is True and step("liveness") is False):
            self._stop_async(state.id, state.id, grace_period_s(pod))
        elif startup is True:
            step("readiness")

    # --- stopping ---------------------------------------------------------------------------------------

    def _busy(self, key: str) -> bool:
        thread = self._threads.get(key)
        return thread is not None and thread.is_alive()

    def _run_async(self, key: str, work: Callable[[], None]) -> None:
        if self._busy(key):
            return

        def run() -> None:
            try:
                work()
            except ContainerRuntimeError as exc:
                log.warning("stopping %s: %s", key, exc.message)

        thread = threading.Thread(target=run, name=f"kubelet-stop-{key[:16]}", daemon=True)
        self._threads[key] = thread
        thread.start()

    def _stop_async(self, key: str, container_id: str, timeout_s: int) -> None:
        self._run_async(key, lambda: self._runtime.stop(container_id, timeout_s=timeout_s))

    def _terminate(self, uid: str, instances: Sequence[ContainerState], *, remove: bool) -> None:
        """Stop the pod gracefully in a thread: preStop hooks, SIGTERM, SIGKILL after the grace period,
        then the pause container; ``remove`` also removes the containers and the pod's directory."""
        if not remove and uid in self._terminated:
            return
        record = self._records.get(uid)
        pod = record.pod if record is not None else None
        grace = None
        if pod is not None:
            deletion = pod["metadata"].get("deletionGracePeriodSeconds")
            grace = int(deletion) if deletion is not None else grace_period_s(pod)

        def stop_container(state: ContainerState) -> None:
            hook = _pre_stop(pod, state)
            if hook:
                try:
                    self._runtime.exec(state.id, hook, timeout_s=float(grace or 30))
                except ContainerRuntimeError as exc:
                    log.info("preStop hook of %s failed: %s", state.name, exc.message)
            self._runtime.stop(state.id, timeout_s=grace)

        def work() -> None:
            running = [
                s for s in instances if s.status == "running" and s.labels.get(LABEL_KIND) != "sandbox"
            ]
            threads = [threading.Thread(target=stop_container, args=(s,), daemon=True) for s in running]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for state in instances:
                if state.labels.get(LABEL_KIND) == "sandbox" and state.status == "running":
                    self._runtime.stop(state.id, timeout_s=1)
            if remove:
                for state in instances:
                    self._runtime.remove(state.id)
                pod_dirs.remove_pod_dir(self._settings.state_dir, uid)
                self._restarts.forget(f"{uid}/")
                self._pulls.forget(f"{uid}/")
            self._terminated.add(uid)

        self._run_async(f"pod:{uid}", work)

    def _collect_garbage(self, groups: Mapping[str, list[ContainerState]]) -> None:
        """Keep each container's latest and previous instance (``kubectl logs --previous``)."""
        for name, group in groups.items():
            if name == SANDBOX_CONTAINER:
                continue
            for state in group[2:]:
                if state.status != "running":
                    self._runtime.remove(state.id)

    # --- status ----------------------------------------------------------------------------------------

    def _status(self, pod: Mapping[str, Any], record: _PodRecord, now: datetime) -> dict[str, Any]:
        uid = uid_of(pod)
        groups = _grouped(self._runtime.list({**self._node.labels, LABEL_POD_UID: uid}))
        sandbox = next(iter(groups.get(SANDBOX_CONTAINER, [])), None)
        running_sandbox = sandbox is not None and sandbox.status == "running"
        if running_sandbox and sandbox is not None:
            record.pod_ip = sandbox.ip_addresses.get(self._settings.network, record.pod_ip)
        init_views = [
            self._view(record, c, groups, init=True) for c in pod["spec"].get("initContainers") or ()
        ]
        views = [self._view(record, c, groups, init=False) for c in pod["spec"].get("containers") or ()]
        status = pod_status(
            pod,
            sandbox_ready=running_sandbox and bool(record.pod_ip),
            pod_ip=record.pod_ip,
            host_ip=self._settings.host_ip,
            start_time=record.start_time,
            init_views=init_views,
            views=views,
            previous_conditions=record.conditions,
            now=now,
        )
        record.conditions = {c["type"]: c for c in status["conditions"]}
        record.phase = status["phase"]
        if record.phase in TERMINAL and running_sandbox and sandbox is not None:
            self._stop_async(sandbox.id, sandbox.id, 1)  # a finished pod keeps no network namespace
        return status

    def _view(
        self,
        record: _PodRecord,
        container: Mapping[str, Any],
        groups: Mapping[str, list[ContainerState]],
        *,
        init: bool,
    ) -> ContainerView:
        name = str(container["name"])
        group = groups.get(name, [])
        current = group[0] if group else None
        running = current is not None and current.status == "running"
        if init:
            succeeded = finished(current) and current is not None and exit_code(current) == 0
            started, ready = running, succeeded
        else:
            started = (
                running and current is not None and self._passed(record, container, current.id, "startup")
            )
            ready = (
                started and current is not None and self._passed(record, container, current.id, "readiness")
            )
        return ContainerView(
            name=name,
            image=str(container["image"]),
            current=current,
            previous=group[1] if len(group) > 1 else None,
            restart_count=restart_count(current)
            if current is not None
            else record.restart_floor.get(name, 0),
            waiting=record.waiting.get(name),
            ready=ready,
            started=started,
            digest=record.digests.get(str(container["image"])),
        )

    @staticmethod
    def _passed(record: _PodRecord, container: Mapping[str, Any], container_id: str, kind: ProbeKind) -> bool:
        if not container.get(f"{kind}Probe"):
            return True
        state = record.probes.get((container_id, kind))
        return state is not None and state.result is True

    # --- kubectl logs and exec ----------------------------------------------------------------------------

    def _container(
        self, namespace: str, name: str, container: str | None, *, previous: bool
    ) -> ContainerState:
        labels = {**self._node.labels, LABEL_NAMESPACE: namespace, LABEL_POD_NAME: name}
        instances = [s for s in self._runtime.list(labels) if s.labels.get(LABEL_KIND) != "sandbox"]
        if not instances and not any(
            r.pod["metadata"]["name"] == name and r.pod["metadata"].get("namespace", "default") == namespace
            for r in self._records.values()
        ):
            raise KubeletError(404, f'pods "{name}" not found')
        groups = _grouped(instances)
        if container is None:
            if len(groups) != 1:
                choices = " ".join(sorted(groups))
                raise KubeletError(
                    400, f"a container name must be specified for pod {name}, choose one of: [{choices}]"
                )
            container = next(iter(groups))
        group = groups.get(container, [])
        if previous:
            if len(group) < 2:
                raise KubeletError(
                    400, f'previous terminated container "{container}" in pod "{name}" not found'
                )
            return group[1]
        if not group:
            raise KubeletError(
                400, f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        return group[0]

    def logs(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """``kubectl logs``: the container's output line by line (each ending ``\\n``, prefixed with its
        RFC 3339 nanosecond timestamp when ``timestamps``), following it until it stops or ``stop`` is set
        when ``follow``. Raises :class:`KubeletError` with the kubelet's message."""
        state = self._container(namespace, name, container, previous=previous)
        since_s = int(self._clock().timestamp()) - since_seconds if since_seconds else 0
        lines = self._runtime.read_logs(state.id, since_s=since_s, tail=tail_lines)
        return self._log_lines(
            state.id, lines, follow=follow, timestamps=timestamps, stop=stop or threading.Event()
        )

    def _log_lines(
        self,
        container_id: str,
        lines: list[DockerLine],
        *,
        follow: bool,
        timestamps: bool,
        stop: threading.Event,
    ) -> Iterator[bytes]:
        yield from (_log_line(line, timestamps) for line in lines)
        if not follow:
            return
        last_ns = lines[-1].timestamp_ns if lines else 0
        for line in self._runtime.follow_logs(container_id, last_ns // 1_000_000_000, stop):
            if line.timestamp_ns > last_ns:
                yield _log_line(line, timestamps)

    def exec(
        self,
        namespace: str,
        name: str,
        container: str | None,
        command: Sequence[str],
        *,
        stdin: bool = False,
        tty: bool = False,
    ) -> ExecSession:
        """``kubectl exec``: ``command`` in the pod's running container, its streams attached (the API
        server proxies kubectl's stream to these). Raises :class:`KubeletError`."""
        state = self._container(namespace, name, container, previous=False)
        if state.status != "running":
            label = state.labels.get(LABEL_CONTAINER, "")
            raise KubeletError(400, f'unable to upgrade connection: container not found ("{label}")')
        return self._runtime.open_exec(state.id, tuple(command), stdin=stdin, tty=tty)


def _pre_stop(pod: Mapping[str, Any] | None, state: ContainerState) -> tuple[str, ...] | None:
    """The container's ``lifecycle.preStop.exec`` command, if any (httpGet hooks are not run)."""
    if pod is None or state.labels.get(LABEL_KIND) != "app":
        return None
    for container in pod["spec"].get("containers") or ():
        if container.get("name") == state.labels.get(LABEL_CONTAINER):
            hook = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}
            return tuple(str(c) for c in hook.get("command") or ()) or None
    return None


def _log_line(line: DockerLine, timestamps: bool) -> bytes:
    if not timestamps:
        return line.text.encode() + b"\n"
    seconds, nanos = divmod(line.timestamp_ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{nanos:09d}".rstrip("0").rstrip(".")
    return f"{base}{fraction}Z {line.text}\n".encode()
