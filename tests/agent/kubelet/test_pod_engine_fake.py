"""PodEngine's decisions against the fake runtime (pure logic; the real engine is tested elsewhere)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dockyard.agent.fake_runtime import FakeProgram, FakeRuntime
from dockyard.agent.kubelet.env import expand
from dockyard.agent.kubelet.pod_engine import KubeletSettings, PodEngine
from dockyard.agent.runtime import ContainerSpec

IMAGE = "registry.local/app:1"


class Resources:
    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}

    def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.config_maps.get((namespace, name))

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": IMAGE}], **spec},
    }


def _engine(
    tmp_path: Path, runtime: FakeRuntime, clock: Clock, resources: Resources | None = None
) -> PodEngine:
    runtime.ensure_network("pods", "10.244.0.0/24", "10.244.0.1", {})
    settings = KubeletSettings("c1", "node-1", "pods", tmp_path, host_ip="192.0.2.1")
    return PodEngine(runtime, settings, Resources(), clock=clock)


def test_expand_follows_kubernetes() -> None:
    env = {"A": "x"}
    assert expand("$(A)-$(B)-$$(A)-$A-$(", env) == "x-$(B)-$(A)-$A-$("


def test_a_pod_runs_and_reports_running(tmp_path: Path) -> None:
    runtime, clock = FakeRuntime(images=[IMAGE]), Clock()
    engine = _engine(tmp_path, runtime, clock)
    pod = _pod()
    status = engine.sync([pod])[pod["metadata"]["uid"]]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("10.244.0.")
    [app] = status["containerStatuses"]
    assert app["ready"] and app["started"] and "running" in app["state"]
    assert app["containerID"].startswith("docker://")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_a_missing_config_map_is_a_config_error(tmp_path: Path) -> None:
    runtime, clock = FakeRuntime(images=[IMAGE]), Clock()
    engine = _engine(tmp_path, runtime, clock)
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]
    pod = _pod(containers=[{"name": "app", "image": IMAGE, "env": env}])
    status = engine.sync([pod])[pod["metadata"]["uid"]]
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'configmap "cfg" not found'}
    assert status["phase"] == "Pending"


def test_a_crashing_container_backs_off(tmp_path: Path) -> None:
    def program(spec: ContainerSpec) -> FakeProgram:
        return FakeProgram(exit_code=1) if spec.image == IMAGE else FakeProgram()

    clock = Clock()
    runtime = FakeRuntime(images=[IMAGE], program_for=program, clock=clock)
    engine = _engine(tmp_path, runtime, clock)
    pod = _pod()
    uid = pod["metadata"]["uid"]
    engine.sync([pod])
    status = engine.sync([pod])[uid]  # the first restart is immediate
    assert status["containerStatuses"][0]["restartCount"] == 1
    status = engine.sync([pod])[uid]
    app = status["containerStatuses"][0]
    assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert app["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=app pod=web_default("
    )
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running"
    clock.now += timedelta(seconds=11)
    assert engine.sync([pod])[uid]["containerStatuses"][0]["restartCount"] == 2
