"""The task engine on the real Docker Engine (busybox from Debian's busybox-static, no Docker Hub)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.agent import container_specs
from dockyard.agent.docker_runtime import DockerRuntime
from dockyard.agent.reporter import TaskReport
from dockyard.agent.task_engine import TaskEngine
from tests.agent.test_task_engine import CLUSTER, RecordingReporter, wait_until


class DockerEnv:
    def __init__(self, tmp_path: Path, image: str) -> None:
        self.image = image
        self.instance = (
            f"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/test-{uuid.uuid4().hex[:12]}"
        )
        self.runtime = DockerRuntime()
        self.reporter = RecordingReporter()
        self.engine = TaskEngine(
            runtime=self.runtime,
            reporter=self.reporter,
            store_path=tmp_path / "tasks.json",
            cluster_arn=CLUSTER,
            container_instance_arn=self.instance,
            availability_zone="local",
            registry_auth=lambda _image: None,
            metadata_endpoint=None,
            poll_interval_s=0.1,
        )
        self.engine.start()

    def task(self, *containers: dict[str, Any]) -> dict[str, Any]:
        return {
            "taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/prod/{uuid.uuid4().hex}",
            "clusterArn": CLUSTER,
            "family": "dockertest",
            "version": "1",
            "desiredStatus": "RUNNING",
            "networkMode": "bridge",
            "containers": [{"image": self.image, **c} for c in containers],
        }

    def wait_status(self, arn: str, status: str, deadline_s: float = 30) -> TaskReport:
        def reached() -> bool:
            report = self.reporter.latest(arn)
            return report is not None and report.status == status

        wait_until(reached, status, deadline_s)
        report = self.reporter.latest(arn)
        assert report is not None
        return report

    def remove_all(self) -> None:
        self.engine.close()
        for state in self.runtime.list({container_specs.LABEL_INSTANCE: self.instance}):
            self.runtime.remove(state.id)
        self.runtime.close()


@pytest.fixture
def docker_env(tmp_path: Path, docker_image: str) -> Iterator[DockerEnv]:
    environment = DockerEnv(tmp_path, docker_image)
    try:
        yield environment
    finally:
        environment.remove_all()


def test_essential_container_exit_code_3(docker_env: DockerEnv) -> None:
    payload = docker_env.task(
        {"name": "app", "command": ["sh", "-c", "exit 3"]},
        {"name": "sidecar", "command": ["sleep", "300"], "stopTimeout": 1},
    )
    docker_env.engine.apply([payload])

    report = docker_env.wait_status(payload["taskArn"], "STOPPED")

    assert report.reason == "Essential container in task exited"
    codes = {c.container_name: c.exit_code for c in report.containers}
    assert codes == {"app": 3, "sidecar": 137}
    assert all(c.runtime_id for c in report.containers)


def test_httpd_on_a_dynamic_host_port(docker_env: DockerEnv) -> None:
    payload = docker_env.task(
        {
            "name": "web",
            "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
            "stopTimeout": 1,
        }
    )
    started = time.monotonic()
    docker_env.engine.apply([payload])
    report = docker_env.wait_status(payload["taskArn"], "RUNNING")
    elapsed = time.monotonic() - started

    bindings = [b for b in report.containers[0].network_bindings if b["bindIP"] == "0.0.0.0"]
    assert bindings and bindings[0]["containerPort"] == 8080 and bindings[0]["hostPort"] > 0
    url = f"http://127.0.0.1:{bindings[0]['hostPort']}/"

    def serves() -> bool:
        try:
            return "hello from dockyard" in httpx.get(url, timeout=1).text
        except httpx.HTTPError:
            return False

    wait_until(serves, "serving", 10)
    assert elapsed < 10, elapsed

    docker_env.engine.apply([{**payload, "desiredStatus": "STOPPED"}])
    stopped = docker_env.wait_status(payload["taskArn"], "STOPPED")
    assert stopped.containers[0].status == "STOPPED" and stopped.containers[0].exit_code is not None


AWSVPC_ADDRESS = "10.222.0.10"


@pytest.mark.parametrize("oci_runtime", ["runc", "runsc"])
def test_awsvpc_task_end_to_end(docker_env: DockerEnv, oci_runtime: str) -> None:
    # scripts/setup installs runsc and registers it with Docker: its absence is a broken set-up.
    assert oci_runtime in docker_env.runtime.runtimes(), (
        f"Docker has no {oci_runtime} runtime; run scripts/setup"
    )
    subnet = f"subnet-t{uuid.uuid4().hex[:10]}"
    network = container_specs.subnet_network_name(subnet)
    client = (
        "i=0; while [ $i -lt 50 ]; do"
        ' r=$(echo -e "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80);'
        ' case "$r" in *"hello from dockyard"*) exit 0;; esac; i=$((i+1)); sleep 0.2; done; exit 1'
    )
    payload = docker_env.task(
        {
            "name": "web",
            "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "stopTimeout": 1,
        },
        {"name": "client", "command": ["sh", "-c", client], "essential": False},
    )
    payload.update(
        networkMode="awsvpc",
        containerRuntime=oci_runtime,
        networkInterface={
            "attachmentId": "att-1",
            "networkInterfaceId": "eni-1",
            "privateIPv4Address": AWSVPC_ADDRESS,
            "macAddress": "02:42:0a:de:00:0a",
            "subnetId": subnet,
            "subnetCidr": "10.222.0.0/24",
            "subnetGateway": "10.222.0.1",
        },
    )
    arn = payload["taskArn"]
    try:
        docker_env.engine.apply([payload])
        docker_env.wait_status(arn, "RUNNING", deadline_s=60)

        def client_done() -> bool:
            report = docker_env.reporter.latest(arn)
            return report is not None and any(
                c.container_name == "client" and c.status == "STOPPED" for c in report.containers
            )

        wait_until(client_done, "the client reached httpd over localhost", 30)
        report = docker_env.reporter.latest(arn)
        assert report is not None and report.status == "RUNNING"
        codes = {c.container_name: c.exit_code for c in report.containers}
        assert codes == {"web": None, "client": 0}  # the pause container is never reported

        def serves() -> bool:
            try:
                return (
                    "hello from dockyard"
                    in httpx.get(f"http://{AWSVPC_ADDRESS}/", timeout=1, trust_env=False).text
                )
            except httpx.HTTPError:
                return False

        wait_until(serves, "serving at the task's address", 15)
        by_name = {
            s.labels[container_specs.LABEL_CONTAINER_NAME]: s
            for s in docker_env.runtime.list({container_specs.LABEL_TASK_ARN: arn})
        }
        pause = by_name["~internal~ecs~pause"]
        assert (pause.runtime, pause.ip_addresses) == ("runc", {network: AWSVPC_ADDRESS})
        assert by_name["web"].runtime == oci_runtime
        assert by_name["web"].network_mode == f"container:{pause.id}"

        docker_env.engine.apply([{**payload, "desiredStatus": "STOPPED"}])
        stopped = docker_env.wait_status(arn, "STOPPED")
        assert {c.container_name for c in stopped.containers} == {"web", "client"}
        assert docker_env.runtime.inspect(pause.id) is None
    finally:  # the engine never creates a task's containers again once they are gone
        for state in docker_env.runtime.list({container_specs.LABEL_TASK_ARN: arn}):
            docker_env.runtime.remove(state.id)
        docker_env.runtime.remove_network(network)
