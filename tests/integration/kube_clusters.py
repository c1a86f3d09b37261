"""One cluster's Kubernetes API served in the test process, as kubectl and the aws CLI reach it: access
entries granted straight in the store, tokens from the real ``aws eks get-token``, a kubeconfig that
trusts the cluster's CA, and uvicorn serving the API over TLS with the cluster's certificate."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from dockyard.store import eks
from dockyard.store.credentials import AccessKey
from tests.polling import wait_until

AWS = str(Path(sys.executable).parent / "aws")
REGION = "us-east-1"


def grant(tx: Any, record: eks.EksClusterRecord, key: AccessKey, policy: str, now: datetime) -> None:
    """An access entry for ``key``'s principal with the cluster-wide access policy ``policy``."""
    entry = eks.insert_access_entry(
        tx,
        cluster=record,
        principal_arn=key.principal.arn,
        arn=f"arn:aws:eks:{REGION}:{key.principal.account_id}:access-entry/{record.name}/{uuid.uuid4().hex}",
        entry_type="STANDARD",
        username=key.principal.arn,
        kubernetes_groups=[],
        now=now,
    )
    assert entry is not None
    eks.put_access_policy(
        tx, entry.id, f"arn:aws:eks::aws:cluster-access-policy/{policy}", {"type": "cluster"}, now
    )


def eks_token(key: AccessKey, env: dict[str, str], cluster: str) -> str:
    """``key``'s bearer token for ``cluster``, from the real ``aws eks get-token``."""
    done = subprocess.run(
        [AWS, "eks", "get-token", "--cluster-name", cluster, "--region", REGION],
        capture_output=True,
        text=True,
        env={**env, "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key},
        check=True,
        timeout=60,
    )
    return str(json.loads(done.stdout)["status"]["token"])


def write_kubeconfig(path: Path, *, cluster: str, port: int, ca_pem: str, token: str, user: str) -> Path:
    """A kubeconfig for ``https://127.0.0.1:<port>`` trusting ``ca_pem``, signed in with ``token``."""
    ca = base64.b64encode(ca_pem.encode()).decode()
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": cluster,
                        "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority-data": ca},
                    }
                ],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
                "current-context": cluster,
            }
        )
    )
    return path


@contextmanager
def serving(app: Any, *, port: int, pki: eks.ClusterPki, directory: Path) -> Iterator[None]:
    """``app`` over TLS on ``127.0.0.1:<port>`` with the cluster's serving certificate, until the block
    ends."""
    (directory / "tls.crt").write_text(pki.serving_cert_pem)
    (directory / "tls.key").write_text(pki.serving_key_pem)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(directory / "tls.crt"),
            ssl_keyfile=str(directory / "tls.key"),
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, deadline_s=20, what="the kube API listener never started")
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
