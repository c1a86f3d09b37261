"""Docker-only checks: settings that only a real process can observe, and the engine being unreachable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from dockyard.agent.docker_runtime import DockerRuntime
from dockyard.agent.runtime import ContainerSpec, RuntimeUnavailable, Ulimit
from tests.agent.conftest import RUN_LABEL


@pytest.fixture
def docker(docker_image: str) -> Iterator[DockerRuntime]:
    with DockerRuntime() as runtime:
        yield runtime


def test_settings_reach_the_process(docker: DockerRuntime, docker_image: str) -> None:
    # Each clause checks one setting from inside the container; the exit code says which one failed.
    script = (
        '[ "$GREETING" = "hi there" ] || exit 10; '
        '[ "$(pwd)" = /tmp ] || exit 11; '
        "busybox grep -q 'db-host' /etc/hosts || exit 12; "
        '[ "$(ulimit -n)" = 512 ] || exit 13; '
        '[ "$(busybox id -u)" = 1234 ] || exit 14; '
        "( : > /bin/probe ) 2>/dev/null && exit 15; "
        "exit 0"
    )
    label = {RUN_LABEL: uuid.uuid4().hex[:12]}
    spec = ContainerSpec(
        name=f"dockyard-test-settings-{label[RUN_LABEL]}",
        image=docker_image,
        command=("sh", "-c", script),
        env={"GREETING": "hi there"},
        working_dir="/tmp",
        user="1234",
        labels=label,
        ulimits=(Ulimit("nofile", 512, 512),),
        readonly_rootfs=True,
        extra_hosts=(("db-host", "10.1.2.3"),),
    )
    container_id = docker.create(spec)
    try:
        docker.start(container_id)
        assert docker.wait_exit(container_id, timeout_s=10) == 0
    finally:
        docker.remove(container_id)


def test_missing_socket_is_runtime_unavailable(tmp_path: object) -> None:
    with DockerRuntime(f"{tmp_path}/no-docker.sock") as runtime, pytest.raises(RuntimeUnavailable):
        runtime.inspect("anything")
