"""Real kubectl 1.33 against one cluster's Kubernetes API (api/kube over services/kube and a real SQLite
store), served over HTTPS with the cluster's own CA by uvicorn in this process, with a token from the
real ``aws eks get-token``."""

from __future__ import annotations

import base64
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
import uvicorn

from dockyard.api.kube.app import KubeApi
from dockyard.api.principals import KeyResolver
from dockyard.core.clock import system_clock
from dockyard.services.eks.certificates import issue_cluster_pki
from dockyard.services.kube.objects import KubeObjects
from dockyard.store import eks
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import open_database
from tests.eks_clusters import insert_active_cluster
from tests.polling import wait_until

KUBECTL = str(Path(sys.executable).parent / "kubectl")
AWS = str(Path(sys.executable).parent / "aws")
CLUSTER = "demo"
REGION = "us-east-1"


@dataclass
class Cluster:
    kubeconfig: Path
    token: str
    other_account_token: str
    """A valid token of another account's key, which has no access entry here."""
    home: Path
    env: dict[str, str]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not Path(KUBECTL).is_file():
        pytest.fail(f"{KUBECTL} is missing: scripts/setup installs kubectl v1.33")
    home = tmp_path_factory.mktemp("kube")
    db = open_database(f"sqlite:///{home / 'store.db'}")
    now = datetime.now(UTC)
    key = CredentialStore(db).ensure_root_key(now, None, None)
    account = key.principal.account_id
    pki = issue_cluster_pki(CLUSTER, now)
    port = _free_port()
    with db.write() as tx:
        record = insert_active_cluster(tx, key, name=CLUSTER, port=port, now=now, pki=pki)
        entry = eks.insert_access_entry(
            tx,
            cluster=record,
            principal_arn=key.principal.arn,
            arn=f"arn:aws:eks:{REGION}:{account}:access-entry/{CLUSTER}/root",
            entry_type="STANDARD",
            username=key.principal.arn,
            kubernetes_groups=[],
            now=now,
        )
        assert entry is not None
        eks.put_access_policy(
            tx,
            entry.id,
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            {"type": "cluster"},
            now,
        )
    api = KubeApi(
        db, KubeObjects(db, clock=system_clock), KeyResolver(CredentialStore(db)), clock=system_clock
    )
    app = api.app_for(record)
    (home / "tls.crt").write_text(pki.serving_cert_pem)
    (home / "tls.key").write_text(pki.serving_key_pem)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(home / "tls.crt"),
        ssl_keyfile=str(home / "tls.key"),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, deadline_s=20, what="the kube API listener never started")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
    }
    token_json = subprocess.run(
        [AWS, "eks", "get-token", "--cluster-name", CLUSTER, "--region", REGION],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    token = json.loads(token_json)["status"]["token"]
    kubeconfig = home / "kubeconfig"
    ca = base64.b64encode(pki.ca_cert_pem.encode()).decode()
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": CLUSTER,
                        "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority-data": ca},
                    }
                ],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": "admin"}}],
                "current-context": CLUSTER,
            }
        )
    )
    other = CredentialStore(db).create_key(now, account_id=None, user_name="mallory")
    other_env = {
        **env,
        "AWS_ACCESS_KEY_ID": other.access_key_id,
        "AWS_SECRET_ACCESS_KEY": other.secret_access_key,
    }
    other_token = json.loads(
        subprocess.run(
            [AWS, "eks", "get-token", "--cluster-name", CLUSTER, "--region", REGION],
            capture_output=True,
            text=True,
            env=other_env,
            check=True,
            timeout=60,
        ).stdout
    )["status"]["token"]
    yield Cluster(kubeconfig, token, other_token, home, {**env, "KUBECONFIG": str(kubeconfig)})
    server.should_exit = True
    thread.join(timeout=10)
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
