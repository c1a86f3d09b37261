"""The runtime harness: the same tests drive the real Docker Engine and the in-memory fake."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from dockyard.agent.docker_runtime import DockerRuntime
from dockyard.agent.fake_runtime import FakeProgram, FakeRuntime
from dockyard.agent.runtime import ContainerRuntime, ContainerSpec
from tests.integration.images import docker_available, docker_import_busybox
from tests.polling import wait_until

IMAGE = "dockyard-test/busybox:agent"
RUN_LABEL = "dockyard.test.run"

# Commands the suite runs, and what each does under Docker as the fake must model it.
SLEEP = ("sleep", "300")
EXIT_3 = ("sh", "-c", "exit 3")
# Creates /tmp/trapped once its trap is set: a health check on that file tells when TERM is handled.
TRAP_TERM = ("sh", "-c", "trap 'exit 0' TERM; : > /tmp/trapped; sleep 300 & wait")
TRAP_SET = ("CMD-SHELL", "[ -e /tmp/trapped ]")
HTTPD = ("httpd", "-f", "-p", "8080", "-h", "/www")
MISSING_EXECUTABLE = ("/bin/no-such-program",)
# Fetches / from 127.0.0.1:8080 until it serves busybox httpd's index (nc, not wget: wget fails under runsc).
LOCALHOST_CLIENT = (
    "sh",
    "-c",
    "i=0; while [ $i -lt 50 ]; do"
    ' r=$(echo -e "GET / HTTP/1.0\r\n\r\n" | nc 127.0.0.1 8080);'
    ' case "$r" in *"hello from dockyard"*) exit 0;; esac; i=$((i+1)); sleep 0.2; done; exit 1',
)
FAKE_PROGRAMS = {
    SLEEP: FakeProgram(sigterm_exit_code=None),  # PID 1 without a TERM handler: only SIGKILL ends it
    EXIT_3: FakeProgram(exit_code=3),
    TRAP_TERM: FakeProgram(sigterm_exit_code=0),
    MISSING_EXECUTABLE: FakeProgram(start_error='exec: "/bin/no-such-program": no such file or directory'),
    LOCALHOST_CLIENT: FakeProgram(exit_code=0),
}


def fake_program(spec: ContainerSpec) -> FakeProgram:
    program = FAKE_PROGRAMS.get(spec.command or (), FakeProgram())
    if spec.health_check is not None and spec.health_check.test[-1] == "false":
        program = replace(program, healthy=False)
    return program


@dataclass
class RuntimeHarness:
    """A runtime under test; every container it creates carries this run's unique label."""

    kind: str
    runtime: ContainerRuntime
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def is_docker(self) -> bool:
        return self.kind == "docker"

    @property
    def run_label(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    def spec(self, command: tuple[str, ...] | None = SLEEP, **overrides: Any) -> ContainerSpec:
        overrides["labels"] = {**overrides.get("labels", {}), **self.run_label}
        overrides.setdefault("image", IMAGE)
        name = f"dockyard-test-{self.run_id}-{next(self._names)}"
        return ContainerSpec(name=name, command=command, **overrides)

    def run(self, command: tuple[str, ...] | None = SLEEP, **overrides: Any) -> str:
        container_id = self.runtime.create(self.spec(command, **overrides))
        self.runtime.start(container_id)
        return container_id

    def wait_until(self, predicate: Callable[[], bool], *, deadline_s: float, what: str) -> None:
        """Poll ``predicate``. Between two polls real time passes for Docker; the fake runs one round of
        health checks instead (its time moves only then)."""
        fake = self.runtime if isinstance(self.runtime, FakeRuntime) else None

        def holds() -> bool:
            if predicate():
                return True
            if fake is not None:
                fake.run_health_checks()
            return False

        wait_until(holds, deadline_s=deadline_s, what=f"{self.kind}: {what}", interval_s=0 if fake else 0.1)

    def remove_all(self) -> None:
        for state in self.runtime.list(self.run_label):
            self.runtime.remove(state.id)


@pytest.fixture(scope="session")
def docker_image() -> str:
    if not docker_available():
        pytest.fail("the Docker Engine is not running: scripts/setup installs and starts it")
    docker_import_busybox(IMAGE)
    return IMAGE


@pytest.fixture(params=["docker", "fake"])
def harness(request: pytest.FixtureRequest) -> Iterator[RuntimeHarness]:
    if request.param == "docker":
        request.getfixturevalue("docker_image")
        docker = DockerRuntime()
        harness = RuntimeHarness("docker", docker)
        try:
            yield harness
        finally:
            harness.remove_all()
            docker.close()
    else:
        fake = FakeRuntime(images=[IMAGE], program_for=fake_program, runtimes=("runc", "runsc"))
        harness = RuntimeHarness("fake", fake)
        yield harness
        harness.remove_all()
