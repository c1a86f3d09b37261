"""The task engine against the in-memory runtime: lifecycle, dependsOn, failures, restarts, cleanup."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent import container_specs
from dockyard.agent.fake_runtime import FakeProgram, FakeRuntime
from dockyard.agent.reporter import TaskReport
from dockyard.agent.runtime import ContainerSpec, ContainerState, PullAuth
from dockyard.agent.task_engine import TaskEngine
from tests import polling

IMAGE = "registry.local/app:1"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
INSTANCE = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i-1"
OTHER_INSTANCE = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i-2"
SLEEP = ["sleep", "300"]


def _exit(code: int) -> list[str]:
    return ["sh", "-c", f"exit {code}"]


def program_for(spec: ContainerSpec) -> FakeProgram:
    command = spec.command or ()
    program = FakeProgram()
    if len(command) == 3 and command[:2] == ("sh", "-c") and command[2].startswith("exit "):
        program = FakeProgram(exit_code=int(command[2].split()[1]))
    if command == ("/bin/missing",):
        program = FakeProgram(start_error='exec: "/bin/missing": no such file or directory')
    if spec.health_check is not None and spec.health_check.test[-1] == "false":
        program = FakeProgram(healthy=False)
    return program


class Clock:
    """A clock the test moves; it counts its readers by thread name (the housekeeper reads it every pass)."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self.reads: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.reads[threading.current_thread().name] += 1
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


class RecordingReporter:
    def __init__(self) -> None:
        self.reports: list[TaskReport] = []
        self._lock = threading.Lock()

    def submit(self, report: TaskReport) -> None:
        with self._lock:
            self.reports.append(report)

    def latest(self, arn: str) -> TaskReport | None:
        with self._lock:
            found = [r for r in self.reports if r.task_arn == arn]
        return found[-1] if found else None

    def statuses(self, arn: str) -> list[str]:
        with self._lock:
            return [r.status for r in self.reports if r.task_arn == arn]


def wait_until(predicate: Callable[[], bool], what: str, deadline_s: float = 5) -> None:
    polling.wait_until(predicate, deadline_s=deadline_s, what=what, interval_s=0.002)


class CountingRuntime(FakeRuntime):
    """The fake runtime, counting inspections by thread name: a task's runner inspects its containers on
    every pass, so a count that moved on proves the runner looked at the latest state."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inspections: Counter[str] = Counter()

    def inspect(self, container_id: str) -> ContainerState | None:
        self.inspections[threading.current_thread().name] += 1
        return super().inspect(container_id)


def runner_name(arn: str) -> str:
    """The name the engine gives a task's runner thread."""
    return f"task-{arn[-12:]}"


def runner_alive(arn: str) -> bool:
    return any(t.name == runner_name(arn) and t.is_alive() for t in threading.enumerate())


def container(name: str, command: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "command": command or SLEEP,
        "containerArn": f"arn:aws:ecs:us-east-1:123456789012:container/prod/t/{name}",
        **fields,
    }


def task(
    task_id: str, *containers: dict[str, Any], desired: str = "RUNNING", **fields: Any
) -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/prod/{task_id}",
        "clusterArn": CLUSTER,
        "family": "web",
        "version": "3",
        "desiredStatus": desired,
        "networkMode": "bridge",
        "launchType": "EC2",
        "containers": list(containers) or [container("app")],
        **fields,
    }


@dataclass
class Env:
    tmp_path: Path
    runtime: CountingRuntime = field(
        default_factory=lambda: CountingRuntime(images=[IMAGE], pullable=[IMAGE], program_for=program_for)
    )
    reporter: RecordingReporter = field(default_factory=RecordingReporter)
    clock: Clock = field(default_factory=Clock)
    health: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    engines: list[TaskEngine] = field(default_factory=list)
    auth_asked: list[str] = field(default_factory=list)

    def engine(self, *, instance: str = INSTANCE, start: bool = True, **overrides: Any) -> TaskEngine:
        def auth(image: str) -> PullAuth | None:
            self.auth_asked.append(image)
            return PullAuth("AWS", "secret")

        kwargs: dict[str, Any] = {
            "runtime": self.runtime,
            "reporter": self.reporter,
            "store_path": self.tmp_path / f"tasks-{instance.rsplit('/', 1)[-1]}.json",
            "cluster_arn": CLUSTER,
            "container_instance_arn": instance,
            "availability_zone": "us-east-1a",
            "registry_auth": auth,
            "metadata_endpoint": "http://169.254.170.2",
            "health_publisher": lambda arn, health: self.health.append((arn, dict(health))),
            "poll_interval_s": 0.01,
            "cleanup_after_s": 3600,
            "clock": self.clock,
            **overrides,
        }
        engine = TaskEngine(**kwargs)
        self.engines.append(engine)
        if start:
            engine.start()
        return engine

    def containers(self, arn: str | None = None) -> list[ContainerState]:
        labels = {container_specs.LABEL_INSTANCE: INSTANCE}
        if arn is not None:
            labels[container_specs.LABEL_TASK_ARN] = arn
        return self.runtime.list(labels)

    def by_name(self, arn: str) -> dict[str, ContainerState]:
        return {s.labels[container_specs.LABEL_CONTAINER_NAME]: s for s in self.containers(arn)}

    def settle_runner(self, arn: str, passes: int = 2) -> None:
        """Wait until the task's runner has made ``passes`` more passes (so it has seen what came before)."""
        start = self.runtime.inspections[runner_name(arn)]
        wait_until(lambda: self.runtime.inspections[runner_name(arn)] >= start + passes, "runner passes")

    def settle_housekeeper(self, passes: int = 2) -> None:
        """Wait until the housekeeper has made ``passes`` more passes over the stopped tasks."""
        start = self.clock.reads["task-housekeeper"]
        wait_until(lambda: self.clock.reads["task-housekeeper"] >= start + passes, "housekeeper passes")

    def wait_status(self, arn: str, status: str) -> TaskReport:
        def reached() -> bool:
            report = self.reporter.latest(arn)
            return report is not None and report.status == status

        wait_until(reached, f"{status}")
        report = self.reporter.latest(arn)
        assert report is not None
        return report


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    yield environment
    for engine in environment.engines:
        engine.close()


def _change(report: TaskReport, name: str) -> Any:
    return next(c for c in report.containers if c.container_name == name)


# --- the happy path ---------------------------------------------------------------------------------------


def test_runs_a_task_and_reports_running(env: Env) -> None:
    engine = env.engine()
    payload = task(
        "t1",
        container("web", portMappings=[{"containerPort": 80, "hostPort": 0}], cpu=128, memory=64),
        container("sidecar"),
        tags=[{"key": "team", "value": "a"}],
    )
    arn = payload["taskArn"]

    engine.apply([payload])
    report = env.wait_status(arn, "RUNNING")

    assert env.reporter.statuses(arn) == ["RUNNING"]
    assert report.reason is None and report.pull_started_at is not None and report.pull_stopped_at is not None
    states = env.by_name(arn)
    assert set(states) == {"web", "sidecar"} and all(s.status == "running" for s in states.values())
    web = _change(report, "web")
    assert web.status == "RUNNING" and web.runtime_id == states["web"].id
    assert web.image_digest is not None and web.image_digest.startswith("sha256:")
    assert web.network_bindings == (
        {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"},
    )
    assert states["web"].name.startswith("ecs-web-3-web-")
    assert states["web"].labels[container_specs.LABEL_CLUSTER] == CLUSTER
    assert env.runtime.pulls == [(IMAGE, PullAuth("AWS", "secret"))]  # one pull per image, with credentials
    assert engine.active_task_arns() == {arn}

    # The metadata endpoint's view.
    token = None
    for spec_env in (env.runtime._containers[s.id].spec.env for s in states.values()):
        uri = spec_env["ECS_CONTAINER_METADATA_URI_V4"]
        assert uri.startswith("http://169.254.170.2/v4/")
        token = uri.rsplit("/", 1)[-1] if token is None else token
    assert token is not None
    found = engine.find_by_token(token)
    assert found is not None
    facts, container_facts = found
    assert (facts.task_arn, facts.family, facts.revision, facts.known_status) == (arn, "web", "3", "RUNNING")
    assert facts.tags == {"team": "a"} and facts.availability_zone == "us-east-1a"
    assert container_facts.docker_id in {s.id for s in states.values()}
    assert container_facts.known_status == "RUNNING" and container_facts.metadata_token == token
    assert engine.find_by_token("nope") is None
    stats = engine.container_stats(states["web"].id)
    assert stats is not None and "memory_stats" in stats
    assert engine.container_stats("0" * 64) is None


def test_apply_twice_is_idempotent(env: Env) -> None:
    engine = env.engine()
    payload = task("t1")
    engine.apply([payload])
    engine.apply([payload])
    env.wait_status(payload["taskArn"], "RUNNING")
    engine.apply([payload])
    env.settle_runner(payload["taskArn"])  # a few passes: nothing may change
    assert len(env.containers()) == 1
    assert env.reporter.statuses(payload["taskArn"]) == ["RUNNING"]


def test_apply_persists_before_returning(env: Env, tmp_path: Path) -> None:
    engine = env.engine(start=False)
    engine.apply([task("t1")])
    stored = (tmp_path / "tasks-i-1.json").read_text()
    assert "task/prod/t1" in stored
    assert env.containers() == []  # nothing runs before start()


# --- dependsOn --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "dependency"),
    [
        ("START", container("db", essential=False)),
        ("COMPLETE", container("db", _exit(5), essential=False)),
        ("SUCCESS", container("db", _exit(0), essential=False)),
    ],
)
def test_depends_on_orders_start(env: Env, condition: str, dependency: dict[str, Any]) -> None:
    engine = env.engine()
    app = container("app", dependsOn=[{"containerName": "db", "condition": condition}])
    payload = task("t1", app, dependency)  # the dependent is listed first
    arn = payload["taskArn"]

    engine.apply([payload])
    report = env.wait_status(arn, "RUNNING")

    states = env.by_name(arn)
    runtime_order = [s.labels[container_specs.LABEL_CONTAINER_NAME] for s in reversed(env.containers(arn))]
    assert runtime_order == ["db", "app"]
    assert states["app"].status == "running"
    if condition != "START":
        assert _change(report, "db").status == "STOPPED"


def health_gated_task() -> dict[str, Any]:
    """``app`` waits for ``db`` to be HEALTHY."""
    check = {"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 1}
    return task(
        "t1",
        container("app", dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
        container("db", healthCheck=check),
    )


def test_depends_on_healthy_waits_for_the_health_check(env: Env) -> None:
    engine = env.engine()
    payload = health_gated_task()
    arn = payload["taskArn"]
    engine.apply([payload])
    wait_until(lambda: "db" in env.by_name(arn), "db created")
    env.settle_runner(arn)
    assert set(env.by_name(arn)) == {"db"}  # db is still "starting"

    env.runtime.run_health_checks()
    env.wait_status(arn, "RUNNING")
    assert set(env.by_name(arn)) == {"db", "app"}
    wait_until(lambda: ("t1" in env.health[-1][0]) if env.health else False, "health published")
    assert env.health[-1] == (arn, {"db": "HEALTHY"})


@pytest.mark.parametrize(
    ("condition", "dependency", "expected"),
    [
        ("SUCCESS", container("db", _exit(1), essential=False), "exited with code 1, SUCCESS required"),
        (
            "HEALTHY",
            container("db", healthCheck={"command": ["CMD-SHELL", "false"], "retries": 1}),
            "is unhealthy",
        ),
        ("HEALTHY", container("db"), "has no health check"),
    ],
)
def test_unsatisfiable_dependency_stops_the_task(
    env: Env, condition: str, dependency: dict[str, Any], expected: str
) -> None:
    engine = env.engine()
    payload = task(
        "t1", container("app", dependsOn=[{"containerName": "db", "condition": condition}]), dependency
    )
    arn = payload["taskArn"]
    engine.apply([payload])
    wait_until(lambda: "db" in env.by_name(arn), "db created")
    env.runtime.run_health_checks()

    report = env.wait_status(arn, "STOPPED")

    assert report.reason is not None and expected in report.reason
    assert report.reason.startswith("CannotStartContainerError: app: dependency db")
    assert set(env.by_name(arn)) == {"db"}  # app was never created
    assert _change(report, "app").status == "STOPPED"
    assert engine.active_task_arns() == set()


# --- exits, failures, stops -------------------------------------------------------------------------------


def test_essential_exit_stops_the_task(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", container("app"), container("sidecar", stopTimeout=2))
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")

    env.runtime.exit(env.by_name(arn)["app"].id, 3)
    report = env.wait_status(arn, "STOPPED")

    assert report.reason == "Essential container in task exited"
    assert _change(report, "app").exit_code == 3
    assert _change(report, "sidecar").exit_code == 137  # ignored SIGTERM, killed after its stopTimeout
    assert all(c.status == "STOPPED" for c in report.containers)
    assert report.execution_stopped_at is not None
    assert all(s.status == "exited" for s in env.containers(arn))  # stopped, not yet removed
    assert engine.active_task_arns() == set()


def test_essential_container_that_exits_at_once(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", container("app", _exit(3)))
    engine.apply([payload])
    report = env.wait_status(payload["taskArn"], "STOPPED")
    assert report.reason == "Essential container in task exited"
    assert _change(report, "app").exit_code == 3


def test_non_essential_exit_keeps_the_task_running(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", container("app"), container("job", essential=False))
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")

    env.runtime.exit(env.by_name(arn)["job"].id, 4)
    wait_until(
        lambda: (r := env.reporter.latest(arn)) is not None and _change(r, "job").status == "STOPPED",
        "job reported stopped",
    )
    report = env.reporter.latest(arn)
    assert report is not None and report.status == "RUNNING"
    assert _change(report, "job").exit_code == 4
    assert env.by_name(arn)["app"].status == "running"


def test_pull_failure_stops_the_task(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", container("app", image="registry.local/missing:1"))
    report = _apply_and_stop(env, engine, payload)
    assert report.reason == (
        "CannotPullContainerError: pull access denied for registry.local/missing:1, repository does not exist"
    )
    assert _change(report, "app").reason == report.reason
    assert env.containers() == []


def test_a_failed_pull_falls_back_to_the_cached_image(env: Env) -> None:
    env.runtime.add_image("local/only:1")  # present, but the registry does not have it
    engine = env.engine()
    payload = task("t1", container("app", image="local/only:1"))
    engine.apply([payload])
    env.wait_status(payload["taskArn"], "RUNNING")


def test_start_failure_stops_the_task(env: Env) -> None:
    engine = env.engine()
    report = _apply_and_stop(env, engine, task("t1", container("app", ["/bin/missing"])))
    assert report.reason == 'CannotStartContainerError: exec: "/bin/missing": no such file or directory'


def test_create_failure_stops_the_task(env: Env) -> None:
    engine = env.engine()
    bad = container("app", mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}])
    report = _apply_and_stop(env, engine, task("t1", bad))
    assert report.reason is not None and report.reason.startswith("CannotCreateContainerError: ")


def _apply_and_stop(env: Env, engine: TaskEngine, payload: dict[str, Any]) -> TaskReport:
    engine.apply([payload])
    report = env.wait_status(payload["taskArn"], "STOPPED")
    assert env.reporter.statuses(payload["taskArn"]) == ["STOPPED"]
    return report


def test_desired_stopped_stops_the_task(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", container("app"), container("db"))
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")

    engine.apply([{**payload, "desiredStatus": "STOPPED"}])
    report = env.wait_status(arn, "STOPPED")

    assert report.reason is None  # StopTask's reason is the server's
    assert {c.container_name: c.exit_code for c in report.containers} == {"app": 137, "db": 137}
    wait_until(lambda: not runner_alive(arn), "the runner to end")
    engine.apply([payload])  # desired status never moves back to RUNNING: no runner starts again
    assert not runner_alive(arn)
    assert env.reporter.statuses(arn) == ["RUNNING", "STOPPING", "STOPPED"]
    assert all(s.status == "exited" for s in env.containers(arn))


def test_stop_order_is_reverse_dependency_order(env: Env) -> None:
    stops: list[str] = []
    real_stop = env.runtime.stop

    def recording_stop(container_id: str, timeout_s: int | None = None) -> None:
        state = env.runtime.inspect(container_id)
        assert state is not None
        stops.append(state.labels[container_specs.LABEL_CONTAINER_NAME])
        real_stop(container_id, timeout_s)

    env.runtime.stop = recording_stop  # type: ignore[method-assign]
    engine = env.engine()
    payload = task(
        "t1",
        container("db"),
        container("app", dependsOn=[{"containerName": "db", "condition": "START"}]),
        container("proxy", dependsOn=[{"containerName": "app", "condition": "START"}]),
    )
    engine.apply([payload])
    env.wait_status(payload["taskArn"], "RUNNING")
    engine.stop_tasks([payload["taskArn"]], "Task stopped by the agent: not in the manifest")
    report = env.wait_status(payload["taskArn"], "STOPPED")
    assert stops == ["proxy", "app", "db"]
    assert report.reason == "Task stopped by the agent: not in the manifest"


def test_a_task_arriving_stopped_is_reported_stopped(env: Env) -> None:
    engine = env.engine()
    payload = task("t1", desired="STOPPED")
    report = _apply_and_stop(env, engine, payload)
    assert env.containers() == [] and report.containers[0].status == "STOPPED"


# --- health -----------------------------------------------------------------------------------------------


def test_health_changes_are_published(env: Env) -> None:
    engine = env.engine()
    check = {"command": ["CMD-SHELL", "probe"], "interval": 5, "retries": 1}
    payload = task("t1", container("app", healthCheck=check), container("plain"))
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")
    assert env.health == []  # starting → UNKNOWN, as the server already has it

    env.runtime.run_health_checks()
    wait_until(lambda: len(env.health) == 1, "HEALTHY published")
    env.runtime.set_health(env.by_name(arn)["app"].id, "unhealthy")
    wait_until(lambda: len(env.health) == 2, "UNHEALTHY published")
    assert env.health == [(arn, {"app": "HEALTHY"}), (arn, {"app": "UNHEALTHY"})]


def test_a_container_that_exits_is_not_published_unhealthy(env: Env) -> None:
    # The engine marks an exited container unhealthy; publishing that would make the service scheduler
    # count a failed health check (and say so) for a task that merely stopped.
    engine = env.engine()
    check = {"command": ["CMD-SHELL", "probe"], "interval": 5, "retries": 1}
    payload = task("t1", container("app", healthCheck=check))
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")
    env.runtime.run_health_checks()
    wait_until(lambda: len(env.health) == 1, "HEALTHY published")
    env.runtime.exit(env.by_name(arn)["app"].id, 137)
    env.wait_status(arn, "STOPPED")
    assert env.health == [(arn, {"app": "HEALTHY"})]


# --- restarts ---------------------------------------------------------------------------------------------


def test_restart_adopts_running_containers_without_duplicates(env: Env) -> None:
    first = env.engine()
    payload = task("t1", container("app"), container("db"))
    arn = payload["taskArn"]
    first.apply([payload])
    env.wait_status(arn, "RUNNING")
    ids = {s.id for s in env.containers()}
    first.close()

    second = env.engine()
    wait_until(lambda: env.reporter.statuses(arn) == ["RUNNING", "RUNNING"], "RUNNING re-reported")
    second.apply([payload])  # the server re-sends the payload it saw no ack for
    env.settle_runner(arn)
    assert {s.id for s in env.containers()} == ids
    assert second.active_task_arns() == {arn}

    second.apply([{**payload, "desiredStatus": "STOPPED"}])  # stopped while the first engine was down
    report = env.wait_status(arn, "STOPPED")
    assert {s.id for s in env.containers()} == ids
    assert all(c.exit_code == 137 for c in report.containers)


def test_restart_with_a_pending_container_creates_only_the_missing_one(env: Env) -> None:
    first = env.engine()
    payload = health_gated_task()
    arn = payload["taskArn"]
    first.apply([payload])
    wait_until(lambda: "db" in env.by_name(arn), "db created")
    first.close()

    env.engine()
    env.runtime.run_health_checks()
    env.wait_status(arn, "RUNNING")
    assert sorted(env.by_name(arn)) == ["app", "db"] and len(env.containers(arn)) == 2


def test_containers_that_exited_or_vanished_while_down_are_reported(env: Env) -> None:
    first = env.engine()
    exited, vanished = task("t1"), task("t2")
    first.apply([exited, vanished])
    env.wait_status(exited["taskArn"], "RUNNING")
    env.wait_status(vanished["taskArn"], "RUNNING")
    first.close()
    env.runtime.exit(env.by_name(exited["taskArn"])["app"].id, 2)
    env.runtime.remove(env.by_name(vanished["taskArn"])["app"].id)

    env.engine()
    report = env.wait_status(exited["taskArn"], "STOPPED")
    assert report.reason == "Essential container in task exited" and report.containers[0].exit_code == 2
    gone = env.wait_status(vanished["taskArn"], "STOPPED")
    assert gone.reason == "Essential container in task exited"
    assert gone.containers[0].reason is not None and "no longer exists" in gone.containers[0].reason


def test_unknown_labelled_containers_are_reaped_and_other_instances_untouched(env: Env) -> None:
    other = env.engine(instance=OTHER_INSTANCE)
    theirs = task("theirs")
    other.apply([theirs])
    env.wait_status(theirs["taskArn"], "RUNNING")
    first = env.engine()
    mine = task("mine")
    first.apply([mine])
    env.wait_status(mine["taskArn"], "RUNNING")
    first.close()
    (env.tmp_path / "tasks-i-1.json").unlink()  # this instance forgot its tasks

    env.engine()
    wait_until(lambda: env.containers() == [], "orphan removed")
    assert [s.status for s in env.runtime.list({container_specs.LABEL_INSTANCE: OTHER_INSTANCE})] == [
        "running"
    ]


# --- cleanup ----------------------------------------------------------------------------------------------


def test_stopped_tasks_are_cleaned_up_after_the_delay(env: Env) -> None:
    engine = env.engine(cleanup_after_s=600)
    payload = task("t1")
    arn = payload["taskArn"]
    engine.apply([payload])
    env.wait_status(arn, "RUNNING")
    token = next(iter(engine._tasks[arn].containers.values())).token
    engine.apply([{**payload, "desiredStatus": "STOPPED"}])
    env.wait_status(arn, "STOPPED")

    env.clock.advance(599)
    env.settle_housekeeper()
    assert len(env.containers(arn)) == 1

    env.clock.advance(2)
    wait_until(lambda: env.containers(arn) == [], "containers removed")
    wait_until(lambda: engine.find_by_token(token) is None, "task forgotten")
    engine.apply([payload])  # a late copy of the original payload must not run it again
    assert not runner_alive(arn)  # apply starts a runner before it returns, when it starts one
    assert env.containers(arn) == [] and engine.active_task_arns() == set()


def test_close_is_prompt_and_leaves_containers_running(env: Env) -> None:
    engine = env.engine(poll_interval_s=30)
    payload = task("t1")
    engine.apply([payload])
    env.wait_status(payload["taskArn"], "RUNNING")
    started = time.monotonic()
    engine.close()
    assert time.monotonic() - started < 1
    assert [s.status for s in env.containers()] == ["running"]


def test_health_publisher_mapping_type(env: Env) -> None:
    published: list[Mapping[str, str]] = []
    engine = env.engine(health_publisher=lambda _arn, health: published.append(health))
    check = {"command": ["CMD-SHELL", "true"], "retries": 1}
    engine.apply([task("t1", container("app", healthCheck=check))])
    env.wait_status(task("t1")["taskArn"], "RUNNING")
    env.runtime.run_health_checks()
    wait_until(lambda: published == [{"app": "HEALTHY"}], "published")
