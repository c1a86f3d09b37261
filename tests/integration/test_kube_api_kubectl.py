"""Real kubectl 1.33 against one cluster's Kubernetes API (api/kube over services/kube and a real SQLite
store), served over HTTPS with the cluster's own CA by uvicorn in this process, with a token from the
real ``aws eks get-token``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dockyard.api.kube.app import KubeApi
from dockyard.api.principals import KeyResolver
from dockyard.core.clock import system_clock
from dockyard.services.eks.certificates import issue_cluster_pki
from dockyard.services.kube.objects import KubeObjects
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import open_database
from tests.eks_clusters import insert_active_cluster
from tests.integration.conftest import free_port
from tests.integration.kube_clusters import REGION, eks_token, grant, serving, write_kubeconfig
from tests.polling import wait_until

KUBECTL = str(Path(sys.executable).parent / "kubectl")
CLUSTER = "demo"


@dataclass
class Cluster:
    kubeconfig: Path
    token: str
    other_account_token: str
    """A valid token of another account's key, which has no access entry here."""
    home: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not Path(KUBECTL).is_file():
        pytest.fail(f"{KUBECTL} is missing: scripts/setup installs kubectl v1.33")
    home = tmp_path_factory.mktemp("kube")
    db = open_database(f"sqlite:///{home / 'store.db'}")
    now = datetime.now(UTC)
    credentials = CredentialStore(db)
    key = credentials.ensure_root_key(now, None, None)
    pki = issue_cluster_pki(CLUSTER, now)
    port = free_port()
    with db.write() as tx:
        record = insert_active_cluster(tx, key, name=CLUSTER, port=port, now=now, pki=pki)
        grant(tx, record, key, "AmazonEKSClusterAdminPolicy", now)
    app = KubeApi(db, KubeObjects(db, clock=system_clock), KeyResolver(credentials), clock=system_clock)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
    }
    with serving(app.app_for(record), port=port, pki=pki, directory=home):
        token = eks_token(key, env, CLUSTER)
        kubeconfig = write_kubeconfig(
            home / "kubeconfig", cluster=CLUSTER, port=port, ca_pem=pki.ca_cert_pem, token=token, user="admin"
        )
        other = credentials.create_key(now, account_id=None, user_name="mallory")
        other_token = eks_token(other, env, CLUSTER)
        yield Cluster(kubeconfig, token, other_token, home, {**env, "KUBECONFIG": str(kubeconfig)})
    db.close()


def kubectl(
    cluster: Cluster, *args: str, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KUBECTL, "--cache-dir", str(cluster.home / "cache"), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=cluster.env,
        timeout=60,
        check=False,
    )
    if ok:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: busybox:1
        ports:
        - containerPort: 80
"""


def test_get_namespaces_lists_the_system_ones(cluster: Cluster) -> None:
    out = kubectl(cluster, "get", "ns").stdout
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert "Active" in out


def test_no_token_or_a_bad_one_is_unauthorized(cluster: Cluster) -> None:
    server = json.loads(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    for token in (
        "not-a-token",
        "k8s-aws-v1.bm90LWEtdXJs",
        cluster.token.replace("k8s-aws-v1.", "k8s-aws-v1.x"),
    ):
        done = kubectl(
            cluster,
            "--kubeconfig",
            "/dev/null",
            "--server",
            server,
            "--insecure-skip-tls-verify",
            f"--token={token}",
            "get",
            "ns",
            ok=False,
        )
        assert done.returncode != 0
        assert "You must be logged in to the server (Unauthorized)" in done.stderr
    anonymous = httpx.get(f"{server}/api/v1/namespaces", verify=False)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert httpx.get(f"{server}/version", verify=False).json()["gitVersion"].startswith("v1.33")


def test_apply_get_and_explain(cluster: Cluster) -> None:
    applied = kubectl(cluster, "apply", "-f", "-", stdin=DEPLOYMENT)
    assert applied.stdout.strip() == "deployment.apps/web created"
    again = kubectl(cluster, "apply", "-f", "-", stdin=DEPLOYMENT)
    assert again.stdout.strip() == "deployment.apps/web unchanged"
    changed = kubectl(cluster, "apply", "-f", "-", stdin=DEPLOYMENT.replace("busybox:1", "busybox:2"))
    assert changed.stdout.strip() == "deployment.apps/web configured"
    got = json.loads(kubectl(cluster, "get", "deployment", "web", "-o", "json").stdout)
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:2"
    assert got["metadata"]["generation"] == 2
    table = kubectl(cluster, "get", "deploy").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/3"]
    explained = kubectl(cluster, "explain", "pod.spec").stdout
    assert "KIND:       Pod" in explained and "containers" in explained


def test_strict_field_validation_refuses_unknown_fields(cluster: Cluster) -> None:
    bad = DEPLOYMENT.replace("name: web\n  labels", "name: strict\n  labels").replace(
        "replicas: 3", "replicas: 3\n  replics: 2"
    )
    done = kubectl(cluster, "apply", "-f", "-", stdin=bad, ok=False)
    assert done.returncode != 0
    assert 'unknown field "spec.replics"' in done.stderr


def test_server_side_apply_conflicts_as_kube_apiserver_reports_them(cluster: Cluster) -> None:
    config = DEPLOYMENT.replace("name: web\n  labels", "name: ssa\n  labels")
    first = kubectl(cluster, "apply", "--server-side", "--field-manager=alice", "-f", "-", stdin=config)
    assert first.stdout.strip() == "deployment.apps/ssa serverside-applied"
    conflicting = kubectl(
        cluster,
        "apply",
        "--server-side",
        "--field-manager=bob",
        "-f",
        "-",
        stdin=config.replace("replicas: 3", "replicas: 5"),
        ok=False,
    )
    assert conflicting.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas' in conflicting.stderr
    forced = kubectl(
        cluster,
        "apply",
        "--server-side",
        "--field-manager=bob",
        "--force-conflicts",
        "-f",
        "-",
        stdin=config.replace("replicas: 3", "replicas: 5"),
    )
    assert forced.stdout.strip() == "deployment.apps/ssa serverside-applied"


def test_scale_patch_and_delete(cluster: Cluster) -> None:
    config = DEPLOYMENT.replace("name: web\n  labels", "name: scaled\n  labels")
    kubectl(cluster, "create", "-f", "-", stdin=config)
    assert (
        kubectl(cluster, "scale", "deployment/scaled", "--replicas=5").stdout.strip()
        == "deployment.apps/scaled scaled"
    )
    kubectl(cluster, "patch", "deployment", "scaled", "-p", '{"metadata":{"labels":{"tier":"front"}}}')
    got = json.loads(kubectl(cluster, "get", "deployment", "scaled", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 5 and got["metadata"]["labels"]["tier"] == "front"
    labelled = kubectl(cluster, "get", "deployments", "-l", "tier=front", "-o", "name").stdout.split()
    assert labelled == ["deployment.apps/scaled"]
    assert (
        kubectl(cluster, "delete", "deployment", "scaled").stdout.strip()
        == 'deployment.apps "scaled" deleted'
    )
    missing = kubectl(cluster, "get", "deployment", "scaled", ok=False)
    assert 'Error from server (NotFound): deployments.apps "scaled" not found' in missing.stderr


def test_get_pods_watch_streams_changes(cluster: Cluster) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "watched"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    watcher = subprocess.Popen(
        [KUBECTL, "--cache-dir", str(cluster.home / "cache"), "get", "pods", "-w", "--request-timeout=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cluster.env,
    )
    lines: list[str] = []

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # the watch may start before or after the create: either way the pod must show
        kubectl(cluster, "create", "-f", "-", stdin=json.dumps(pod))
        wait_until(
            lambda: any(line.startswith("watched ") for line in lines),
            deadline_s=20,
            what=f"no watch line: {lines}",
        )
        kubectl(cluster, "label", "pod", "watched", "seen=yes")
        wait_until(
            lambda: sum(line.startswith("watched ") for line in lines) >= 2, deadline_s=20, what=f"{lines}"
        )
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        reader.join(timeout=10)
        assert watcher.stdout is not None
        watcher.stdout.close()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[1].split()[:3] == ["watched", "0/1", "Pending"]


def test_delete_pod_waits_until_it_is_gone(cluster: Cluster) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "brief"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    kubectl(cluster, "create", "-f", "-", stdin=json.dumps(pod))
    assert kubectl(cluster, "delete", "pod", "brief").stdout.strip() == 'pod "brief" deleted'
    assert kubectl(cluster, "get", "pods", "-o", "name").stdout.split().count("pod/brief") == 0
