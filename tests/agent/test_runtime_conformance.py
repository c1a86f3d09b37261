"""One conformance suite for every ``ContainerRuntime``: the real Docker Engine and the in-memory fake.

Checks that need real processes or real time (HTTP reachability, stop durations, Docker's own error text)
run only for Docker, decided inside the test so the rest of each test still runs against both.
"""

from __future__ import annotations

import time

import httpx
import pytest

from dockyard.agent.awslogs import DockerLine
from dockyard.agent.fake_runtime import FakeExecSession, FakeRuntime
from dockyard.agent.pause_image import PAUSE_IMAGE, ensure_pause_image
from dockyard.agent.runtime import (
    ContainerCreateError,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerSpec,
    ContainerStartError,
    ExecResult,
    ExecSession,
    HealthCheck,
    ImagePullError,
    NetworkAttachment,
    NetworkError,
    PortBinding,
)
from tests.agent.conftest import (
    EXIT_3,
    HTTPD,
    IMAGE,
    LOCALHOST_CLIENT,
    MISSING_EXECUTABLE,
    SLEEP,
    TRAP_SET,
    TRAP_TERM,
    RuntimeHarness,
)

MiB = 1024 * 1024


def _health(harness: RuntimeHarness, container_id: str) -> str | None:
    state = harness.runtime.inspect(container_id)
    return None if state is None else state.health


def test_create_then_start_runs_the_container(harness: RuntimeHarness) -> None:
    runtime = harness.runtime
    spec = harness.spec(SLEEP)
    container_id = runtime.create(spec)

    created = runtime.inspect(container_id)
    assert created is not None
    assert (created.id, created.name, created.image) == (container_id, spec.name, IMAGE)
    assert (created.status, created.exit_code, created.started_at) == ("created", None, None)
    assert created.image_id.startswith("sha256:")

    runtime.start(container_id)
    runtime.start(container_id)  # starting a running container is a no-op
    running = runtime.inspect(container_id)
    assert running is not None
    assert (running.status, running.exit_code, running.health) == ("running", None, None)
    assert running.started_at is not None and running.finished_at is None
    assert set(running.ip_addresses) == {"bridge"}
    assert runtime.inspect(spec.name) == running  # names work wherever ids do


def test_labels_round_trip_and_list_finds_exactly_the_labelled(harness: RuntimeHarness) -> None:
    runtime = harness.runtime
    web = [harness.run(SLEEP, labels={"role": "web"}) for _ in range(2)]
    worker = runtime.create(harness.spec(SLEEP, labels={"role": "worker"}))  # created, never started
    done = harness.run(EXIT_3, labels={"role": "web"})
    assert runtime.wait_exit(done, timeout_s=10) == 3

    state = runtime.inspect(web[0])
    assert state is not None
    assert state.labels == {"role": "web", **harness.run_label}
    found = runtime.list({**harness.run_label, "role": "web"})
    assert {s.id for s in found} == {*web, done}  # every state, exited included
    assert {s.id for s in runtime.list(harness.run_label)} == {*web, worker, done}
    assert [s.id for s in runtime.list(harness.run_label)][-1] == web[0]  # newest first
    assert runtime.list({**harness.run_label, "role": "nobody"}) == []


def test_exit_code_of_a_finished_container(harness: RuntimeHarness) -> None:
    container_id = harness.run(EXIT_3)

    assert harness.runtime.wait_exit(container_id, timeout_s=10) == 3
    state = harness.runtime.inspect(container_id)
    assert state is not None
    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 3, False)
    assert state.finished_at is not None
    assert state.network_bindings == () and state.ip_addresses == {}


def test_stop_kills_a_process_that_ignores_sigterm_after_the_timeout(harness: RuntimeHarness) -> None:
    container_id = harness.run(SLEEP, stop_timeout_s=1)
    assert harness.runtime.wait_exit(container_id, timeout_s=0.2) is None  # still running

    started = time.monotonic()
    harness.runtime.stop(container_id)  # the spec's stop_timeout_s: SIGTERM, 1 s, SIGKILL
    elapsed = time.monotonic() - started

    state = harness.runtime.inspect(container_id)
    assert state is not None
    # `sleep` is PID 1: the kernel drops SIGTERM it has no handler for, so SIGKILL ends it: 128 + 9.
    assert (state.status, state.exit_code) == ("exited", 137)
    assert harness.runtime.wait_exit(container_id, timeout_s=1) == 137
    harness.runtime.stop(container_id, timeout_s=1)  # stopping a stopped container is a no-op
    if harness.is_docker:
        assert 0.9 <= elapsed < 5, elapsed


def test_stop_lets_a_process_that_traps_sigterm_exit_cleanly(harness: RuntimeHarness) -> None:
    # A TERM that arrives before the trap is set is dropped (PID 1): wait for the shell to report it.
    check = HealthCheck(TRAP_SET, interval_s=0.1, timeout_s=1, retries=1)
    container_id = harness.run(TRAP_TERM, health_check=check)
    harness.wait_until(lambda: _health(harness, container_id) == "healthy", deadline_s=10, what="trapping")

    started = time.monotonic()
    harness.runtime.stop(container_id, timeout_s=10)
    elapsed = time.monotonic() - started

    state = harness.runtime.inspect(container_id)
    assert state is not None
    assert (state.status, state.exit_code) == ("exited", 0)
    if harness.is_docker:
        assert elapsed < 5, elapsed  # ended by its trap, long before the SIGKILL


def test_dynamic_host_port_is_bound_and_reachable(harness: RuntimeHarness) -> None:
    container_id = harness.run(HTTPD, port_bindings=(PortBinding(8080, "tcp", host_port=0),))

    state = harness.runtime.inspect(container_id)
    assert state is not None
    bindings = [b for b in state.network_bindings if (b.container_port, b.protocol) == (8080, "tcp")]
    assert bindings and all(b.host_port > 0 for b in bindings)
    assert "0.0.0.0" in {b.host_ip for b in bindings}
    if harness.is_docker:
        url = f"http://127.0.0.1:{bindings[0].host_port}/"

        def serves_index() -> bool:
            try:
                return "hello from dockyard" in httpx.get(url, timeout=1).text
            except httpx.HTTPError:
                return False

        harness.wait_until(serves_index, deadline_s=10, what="serving on the dynamic port")


@pytest.mark.parametrize(("test", "expected"), [("true", "healthy"), ("false", "unhealthy")])
def test_health_check_reaches_its_status(harness: RuntimeHarness, test: str, expected: str) -> None:
    check = HealthCheck(("CMD-SHELL", test), interval_s=1, timeout_s=1, retries=1)
    container_id = harness.run(SLEEP, health_check=check)

    first = harness.runtime.inspect(container_id)
    assert first is not None and first.health == "starting"

    harness.wait_until(lambda: _health(harness, container_id) == expected, deadline_s=15, what=expected)


def test_a_stopped_container_with_a_health_check_reads_unhealthy(harness: RuntimeHarness) -> None:
    # The engine's own rule: whatever the last check said, a container that is not running is unhealthy.
    check = HealthCheck(("CMD-SHELL", "true"), interval_s=1, timeout_s=1, retries=1)
    container_id = harness.run(SLEEP, health_check=check)
    harness.wait_until(lambda: _health(harness, container_id) == "healthy", deadline_s=15, what="healthy")

    harness.runtime.stop(container_id, timeout_s=1)

    assert _health(harness, container_id) == "unhealthy"


def test_resource_limits_are_visible_in_inspect(harness: RuntimeHarness) -> None:
    container_id = harness.run(SLEEP, memory_bytes=64 * MiB, cpu_shares=256)

    state = harness.runtime.inspect(container_id)
    assert state is not None
    assert (state.memory_bytes, state.cpu_shares) == (64 * MiB, 256)


def test_remove_deletes_even_a_running_container(harness: RuntimeHarness) -> None:
    container_id = harness.run(SLEEP)

    harness.runtime.remove(container_id)
    harness.runtime.remove(container_id)  # removing twice is a no-op

    assert harness.runtime.inspect(container_id) is None
    assert harness.runtime.list(harness.run_label) == []


def test_unknown_container(harness: RuntimeHarness) -> None:
    unknown = "0" * 64
    runtime = harness.runtime

    assert runtime.inspect(unknown) is None
    with pytest.raises(ContainerNotFound):
        runtime.start(unknown)
    with pytest.raises(ContainerNotFound):
        runtime.stop(unknown, timeout_s=1)
    with pytest.raises(ContainerNotFound):
        runtime.wait_exit(unknown, timeout_s=1)


def test_create_fails_for_a_missing_image_or_a_taken_name(harness: RuntimeHarness) -> None:
    with pytest.raises(ContainerCreateError, match=r"(?i)no such image"):
        harness.runtime.create(harness.spec(SLEEP, image="dockyard-test/never-pulled:none"))
    spec = harness.spec(SLEEP)
    harness.runtime.create(spec)
    with pytest.raises(ContainerCreateError, match=r"(?i)already in use"):
        harness.runtime.create(spec)


def test_start_of_a_missing_executable_fails_and_leaves_it_created(harness: RuntimeHarness) -> None:
    container_id = harness.runtime.create(harness.spec(MISSING_EXECUTABLE))

    with pytest.raises(ContainerStartError, match="no such file or directory"):
        harness.runtime.start(container_id)
    state = harness.runtime.inspect(container_id)
    assert state is not None
    assert state.status == "created" and state.error is not None
    assert "no-such-program" in state.error


def test_pull_from_an_unreachable_registry_fails(harness: RuntimeHarness) -> None:
    with pytest.raises(ImagePullError) as raised:
        harness.runtime.pull("localhost:1/nope:latest")
    if harness.is_docker:
        assert "connection refused" in raised.value.message.lower()


def test_stats_of_a_container(harness: RuntimeHarness) -> None:
    container_id = harness.run(SLEEP, memory_bytes=64 * MiB)

    stats = harness.runtime.stats(container_id)
    assert stats is not None
    assert {"read", "cpu_stats", "memory_stats"} <= set(stats)
    assert harness.runtime.stats("0" * 64) is None


# --- networks, shared network namespaces, OCI runtimes, imported images ------------------------------------

CONFORMANCE_CIDR, CONFORMANCE_GATEWAY, CONFORMANCE_ADDRESS = "10.222.1.0/24", "10.222.1.1", "10.222.1.10"


def test_ensure_network_is_idempotent_and_refuses_another_subnet(harness: RuntimeHarness) -> None:
    runtime, name = harness.runtime, f"dockyard-test-{harness.run_id}"
    labels = {"com.dockyard.subnet": f"subnet-{harness.run_id}"}
    try:
        first = runtime.ensure_network(name, CONFORMANCE_CIDR, CONFORMANCE_GATEWAY, labels)
        assert first
        assert runtime.ensure_network(name, CONFORMANCE_CIDR, CONFORMANCE_GATEWAY, labels) == first
        with pytest.raises(NetworkError):
            runtime.ensure_network(name, "10.222.2.0/24", "10.222.2.1", labels)
        with pytest.raises(NetworkError):  # the same subnet under another name overlaps
            runtime.ensure_network(f"{name}-other", CONFORMANCE_CIDR, CONFORMANCE_GATEWAY, labels)
    finally:
        runtime.remove_network(name)
    runtime.remove_network(name)  # removing an unknown network is a no-op


def test_a_container_joins_another_containers_network_namespace(harness: RuntimeHarness) -> None:
    runtime, name = harness.runtime, f"dockyard-test-{harness.run_id}"
    runtime.ensure_network(name, CONFORMANCE_CIDR, CONFORMANCE_GATEWAY, {})
    try:
        attachment = NetworkAttachment(name, CONFORMANCE_ADDRESS, "02:42:0a:de:01:0a")
        owner = harness.run(HTTPD, network=attachment)
        owner_state = runtime.inspect(owner)
        assert owner_state is not None
        assert owner_state.ip_addresses == {name: CONFORMANCE_ADDRESS}
        assert (owner_state.network_mode, owner_state.runtime) == (name, "runc")

        client = harness.run(LOCALHOST_CLIENT, network_container=owner)
        assert runtime.wait_exit(client, timeout_s=20) == 0  # reached httpd on localhost
        client_state = runtime.inspect(client)
        assert client_state is not None
        assert client_state.network_mode == f"container:{owner}"

        not_started = runtime.create(harness.spec(SLEEP, network=attachment))
        joiner = runtime.create(harness.spec(SLEEP, network_container=not_started))
        with pytest.raises(ContainerStartError, match="non running container"):
            runtime.start(joiner)

        if harness.is_docker:
            url = f"http://{CONFORMANCE_ADDRESS}:8080/"

            def serves() -> bool:
                try:
                    return "hello from dockyard" in httpx.get(url, timeout=1, trust_env=False).text
                except httpx.HTTPError:
                    return False

            harness.wait_until(serves, deadline_s=10, what="serving at the network address")
            with pytest.raises(NetworkError):
                runtime.remove_network(name)  # in use
    finally:
        harness.remove_all()
        runtime.remove_network(name)


def test_the_oci_runtime_is_chosen_and_reported(harness: RuntimeHarness) -> None:
    runtime = harness.runtime
    assert "runc" in runtime.runtimes()
    default = runtime.inspect(harness.run(SLEEP))
    assert default is not None and default.runtime == "runc"
    # scripts/setup installs runsc and registers it with Docker: its absence is a broken set-up.
    assert "runsc" in runtime.runtimes(), "gVisor (runsc) is not registered with Docker; run scripts/setup"
    sandboxed = runtime.inspect(harness.run(SLEEP, runtime="runsc"))
    assert sandboxed is not None and sandboxed.runtime == "runsc"
    with pytest.raises(ContainerCreateError, match=r"(?i)unknown runtime"):
        runtime.create(harness.spec(SLEEP, runtime="no-such-runtime"))


def test_the_imported_pause_image_runs_until_killed(harness: RuntimeHarness) -> None:
    runtime = harness.runtime
    assert ensure_pause_image(runtime) == PAUSE_IMAGE
    assert runtime.image_exists(PAUSE_IMAGE)
    assert not runtime.image_exists("dockyard-test/never-pulled:none")

    container_id = harness.run(None, image=PAUSE_IMAGE, network_mode="none", stop_timeout_s=1)
    assert runtime.wait_exit(container_id, timeout_s=0.5) is None  # still pausing
    runtime.stop(container_id)

    state = runtime.inspect(container_id)
    assert state is not None and (state.status, state.exit_code) == ("exited", 137)


# --- exec and logs -----------------------------------------------------------------------------------------

OUT_ERR_EXIT_3 = ("sh", "-c", "echo out; echo err >&2; exit 3")
THREE_LINES = ("sh", "-c", "echo one; echo two; echo three")


def _fake_exec(spec: ContainerSpec, command: tuple[str, ...], stdin: bytes) -> ExecResult:
    """What the busybox commands below do under Docker."""
    if command == OUT_ERR_EXIT_3:
        return ExecResult(3, "out\nerr\n")
    if command == ("cat",):
        return ExecResult(0, stdin.decode())
    return ExecResult(127, f"exec: {command[0]}: not found")


def _scripted(harness: RuntimeHarness) -> None:
    if isinstance(harness.runtime, FakeRuntime):
        harness.runtime.exec_handler = _fake_exec


def test_exec_returns_the_exit_code_and_the_output(harness: RuntimeHarness) -> None:
    _scripted(harness)
    container_id = harness.run(SLEEP)

    result = harness.runtime.exec(container_id, OUT_ERR_EXIT_3, timeout_s=10)
    # Two pipes: the engine keeps each stream's order, not the order between them.
    assert (result.exit_code, sorted(result.output.splitlines())) == (3, ["err", "out"])
    missing = harness.runtime.exec(container_id, ("/bin/no-such-program",), timeout_s=10)
    assert missing.exit_code in (126, 127)
    assert "no-such-program" in missing.output


def test_exec_needs_a_running_container(harness: RuntimeHarness) -> None:
    _scripted(harness)
    exited = harness.run(EXIT_3)
    assert harness.runtime.wait_exit(exited, timeout_s=10) == 3

    with pytest.raises(ContainerNotRunning):
        harness.runtime.exec(exited, ("true",))
    with pytest.raises(ContainerNotRunning):
        harness.runtime.open_exec(exited, ("true",))
    with pytest.raises(ContainerNotFound):
        harness.runtime.exec("0" * 64, ("true",))


def _drain(session: ExecSession) -> bytes:
    output = bytearray()
    while (piece := session.read(timeout_s=10)) is not None:
        output += piece[1]
    return bytes(output)


def test_an_interactive_exec_reads_stdin_until_it_is_closed(harness: RuntimeHarness) -> None:
    _scripted(harness)
    container_id = harness.run(SLEEP)

    session = harness.runtime.open_exec(container_id, ("cat",), stdin=True)
    try:
        session.write(b"hello\n")
        session.write(b"world\n")
        session.close_stdin()
        assert _drain(session) == b"hello\nworld\n"
        assert session.exit_code(timeout_s=10) == 0
    finally:
        session.close()
        session.close()  # twice is harmless


def test_an_interactive_exec_with_a_tty_can_be_resized(harness: RuntimeHarness) -> None:
    container_id = harness.run(SLEEP)

    session = harness.runtime.open_exec(container_id, ("sh",), stdin=True, tty=True)
    try:
        session.resize(40, 100)
        if harness.is_docker:
            session.write(b"busybox stty size; exit 7\n")
            assert b"40 100" in _drain(session)
            assert session.exit_code(timeout_s=10) == 7
        else:
            assert isinstance(session, FakeExecSession) and session.sizes == [(40, 100)]
    finally:
        session.close()


def test_read_logs_returns_the_output_so_far_or_its_tail(harness: RuntimeHarness) -> None:
    container_id = harness.run(THREE_LINES)
    if isinstance(harness.runtime, FakeRuntime):  # what the fake's process prints: the test says
        harness.runtime.exit(container_id, 0)
        harness.runtime.logs[container_id] = [
            DockerLine(1_700_000_000_000_000_000 + n, text) for n, text in enumerate(("one", "two", "three"))
        ]
    assert harness.runtime.wait_exit(container_id, timeout_s=10) == 0

    lines = harness.runtime.read_logs(container_id)
    assert [line.text for line in lines] == ["one", "two", "three"]
    assert all(line.timestamp_ns > 0 for line in lines)
    assert [line.text for line in harness.runtime.read_logs(container_id, tail=2)] == ["two", "three"]
    assert harness.runtime.read_logs(container_id, since_s=4_000_000_000) == []
    with pytest.raises(ContainerNotFound):
        harness.runtime.read_logs("0" * 64)
