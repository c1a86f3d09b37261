"""``kubectl logs`` and ``kubectl exec`` end to end: real kubectl 1.33 → the cluster's Kubernetes API
(in process, HTTPS, the cluster's CA) → a KubeletServer (client certificate of the cluster CA) → a real
PodEngine on the real Docker Engine running a busybox pod on a throwaway bridge network."""

from __future__ import annotations

import ipaddress
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.docker_runtime import DockerRuntime
from dockyard.agent.kubelet.pod_engine import KubeletSettings, PodEngine
from dockyard.agent.kubelet.pod_logic import LABEL_KIND, LABEL_POD_NAME
from dockyard.agent.kubelet.server import KubeletServer
from dockyard.api.kube.app import KubeApi
from dockyard.api.principals import KeyResolver
from dockyard.control.kube.catalog import by_gvr
from dockyard.core.clock import system_clock
from dockyard.services.eks.certificates import issue_cluster_pki
from dockyard.services.kube.objects import KubeObjects, WriteOptions
from dockyard.store.credentials import AccessKey, CredentialStore
from dockyard.store.database import open_database
from tests.eks_clusters import insert_active_cluster
from tests.integration.conftest import free_port
from tests.integration.images import docker_available, docker_import_busybox
from tests.integration.kube_clusters import REGION, eks_token, grant, serving, write_kubeconfig
from tests.polling import wait_until

KUBECTL = str(Path(sys.executable).parent / "kubectl")
CLUSTER = "logs-exec"
NODE = "node-1"
SCRIPT = 'echo start; i=0; while true; do i=$((i+1)); echo "line $i"; sleep 1; done'


class NoResources:
    def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


@dataclass
class Setup:
    home: Path
    env: dict[str, str]
    kubeconfig: Path
    viewer_kubeconfig: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if not docker_available():
        pytest.fail("the Docker Engine is not available")
    home = tmp_path_factory.mktemp("logs-exec")
    tag = uuid.uuid4().hex[:10]
    image = f"dockyard-test/kube-busybox:{tag}"
    docker_import_busybox(image, marker=tag)
    runtime = DockerRuntime()
    network = f"dockyard-test-kube-{tag}"
    subnet = ipaddress.ip_network(f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24")
    runtime.ensure_network(network, str(subnet), str(subnet.network_address + 1), {"dockyard.test": "1"})

    db = open_database(f"sqlite:///{home / 'store.db'}")
    now = datetime.now(UTC)
    credentials = CredentialStore(db)
    admin = credentials.ensure_root_key(now, None, None)
    viewer = credentials.create_key(now, account_id=admin.principal.account_id, user_name="viewer")
    pki = issue_cluster_pki(CLUSTER, now)
    port = free_port()
    with db.write() as tx:
        record = insert_active_cluster(tx, admin, name=CLUSTER, port=port, now=now, pki=pki)
        grant(tx, record, admin, "AmazonEKSClusterAdminPolicy", now)
        grant(tx, record, viewer, "AmazonEKSViewPolicy", now)
    objects = KubeObjects(db, clock=system_clock)
    app = KubeApi(db, objects, KeyResolver(credentials), clock=system_clock).app_for(record)

    engine = PodEngine(
        runtime,
        KubeletSettings(cluster=CLUSTER, node_name=NODE, network=network, state_dir=home / "kubelet"),
        NoResources(),
    )
    kubelet = KubeletServer(engine, client_ca_pem=pki.ca_cert_pem, host="127.0.0.1")
    kubelet.start()
    options = WriteOptions(manager="test")
    nodes, pods = by_gvr("", "v1", "nodes"), by_gvr("", "v1", "pods")
    assert nodes is not None and pods is not None
    objects.create(
        record.id, nodes, "", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}, options
    )
    node = objects.get(record.id, nodes, "", NODE)
    node["status"] = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
    }
    objects.update(record.id, nodes, "", NODE, node, options, subresource="status")
    for name, spec in (
        ("web", {"nodeName": NODE}),
        ("pending", {}),
    ):
        objects.create(
            record.id,
            pods,
            "default",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {
                    **spec,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "app", "image": image, "command": ["sh", "-c", SCRIPT]}],
                },
            },
            options,
        )
    web = objects.get(record.id, pods, "default", "web")
    stop = threading.Event()

    def sync_loop() -> None:
        while not stop.is_set():
            engine.sync([web])
            stop.wait(0.5)
        engine.sync([])

    syncer = threading.Thread(target=sync_loop, daemon=True)
    syncer.start()

    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "AWS_DEFAULT_REGION": REGION,
    }

    def kubeconfig(user: str, key: AccessKey) -> Path:
        token = eks_token(key, env, CLUSTER)
        path = home / f"{user}.kubeconfig"
        return write_kubeconfig(
            path, cluster=CLUSTER, port=port, ca_pem=pki.ca_cert_pem, token=token, user=user
        )

    labels = {LABEL_POD_NAME: "web"}
    try:
        with serving(app, port=port, pki=pki, directory=home):
            wait_until(
                lambda: any(
                    s.status == "running"
                    for s in runtime.list(labels)
                    if s.labels.get(LABEL_KIND) != "sandbox"
                ),
                deadline_s=60,
                what="the web pod's container running",
            )
            yield Setup(home, env, kubeconfig("admin", admin), kubeconfig("viewer", viewer))
    finally:
        stop.set()
        syncer.join(timeout=60)
        kubelet.stop()
        wait_until(lambda: not runtime.list(labels), deadline_s=60, what="the pod's containers removed")
        engine.close(timeout_s=10)
        runtime.remove_network(network)
        runtime.close()
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
        db.close()


def kubectl(
    setup: Setup, *args: str, viewer: bool = False, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    config = setup.viewer_kubeconfig if viewer else setup.kubeconfig
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(setup.home / "cache"), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=setup.env,
        timeout=60,
        check=False,
    )


def test_logs_whole_tail_and_errors(setup: Setup) -> None:
    wait_until(
        lambda: "line 2" in kubectl(setup, "logs", "web").stdout, deadline_s=30, what="two lines of output"
    )
    whole = kubectl(setup, "logs", "web")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.startswith("start\nline 1\n")
    tail = kubectl(setup, "logs", "web", "--tail=1")
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.splitlines()) == 1 and tail.stdout.startswith("line ")
    stamped = kubectl(setup, "logs", "web", "--timestamps", "--tail=1")
    assert stamped.stdout[:4].isdigit() and "Z line " in stamped.stdout
    assert kubectl(setup, "logs", "web", "--limit-bytes=3").stdout == "sta"
    wrong = kubectl(setup, "logs", "web", "-c", "nope")
    assert wrong.returncode == 1
    assert "container nope is not valid for pod web" in wrong.stderr  # kubectl checks it first
    missing = kubectl(setup, "logs", "ghost")
    assert '(NotFound): pods "ghost" not found' in missing.stderr
    unscheduled = kubectl(setup, "logs", "pending")
    assert (unscheduled.returncode, unscheduled.stdout) == (0, "")
    viewer = kubectl(setup, "logs", "web", "--tail=1", viewer=True)
    assert viewer.returncode == 0, viewer.stderr


def test_logs_follow_streams_new_lines(setup: Setup) -> None:
    config = str(setup.kubeconfig)
    follower = subprocess.Popen(
        [KUBECTL, "--kubeconfig", config, "logs", "-f", "--tail=1", "web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=setup.env,
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        second = follower.stdout.readline()  # only arrives if the stream follows the container
        assert first.startswith("line ") and second.startswith("line ")
        assert int(second.split()[1]) == int(first.split()[1]) + 1
    finally:
        follower.kill()
        follower.communicate(timeout=10)


def test_exec_output_and_exit_code(setup: Setup) -> None:
    done = kubectl(setup, "exec", "web", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "hi\n"
    assert "oops" in done.stderr
    assert "command terminated with exit code 3" in done.stderr
    ok = kubectl(setup, "exec", "web", "--", "sh", "-c", "echo fine")
    assert (ok.returncode, ok.stdout) == (0, "fine\n")


def test_exec_with_stdin(setup: Setup) -> None:
    done = kubectl(setup, "exec", "-i", "web", "--", "sh", "-c", "cat; echo done", stdin="hello\nworld\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\nworld\ndone\n"


def test_exec_errors_and_a_viewer_is_forbidden(setup: Setup) -> None:
    refused = kubectl(setup, "exec", "web", "--", "true", viewer=True)
    assert refused.returncode == 1
    assert "Error from server (Forbidden)" in refused.stderr
    assert 'cannot create resource "pods/exec" in API group "" in the namespace "default"' in refused.stderr
    unscheduled = kubectl(setup, "exec", "pending", "--", "true")
    assert unscheduled.returncode == 1
    assert "pod pending does not have a host assigned" in unscheduled.stderr
    wrong = kubectl(setup, "exec", "web", "-c", "nope", "--", "true")
    assert "container nope is not valid for pod web" in wrong.stderr
