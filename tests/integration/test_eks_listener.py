"""Each EKS cluster's Kubernetes API on its own HTTPS port, against a real server: ACTIVE only once the port
answers (TLS verified against the CA DescribeCluster gives), gone with the cluster, back after a restart; a
port in use keeps the cluster CREATING without harming the server; the certificate files are private."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dockyard.server.kube_listeners import remove_serving_files, write_serving_files
from dockyard.store.eks import ClusterPki
from tests.integration.conftest import Keys, ServerProcess, make_client, unique_name
from tests.polling import wait_until

ROLE = "arn:aws:iam::123456789012:role/eks"
VPC = {"subnetIds": ["subnet-1", "subnet-2"]}
ACTIVE_DEADLINE_S = 5.0  # the listener wakes the controller; its 10 s resync would be too late


@pytest.fixture(scope="module")
def eks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own, which its tests restart."""
    proc = ServerProcess(tmp_path_factory.mktemp("eks-listener"))
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def keys(eks_server: ServerProcess) -> Keys:
    return eks_server.create_key(unique_name("user"))


def _port(cluster: dict[str, Any]) -> int:
    endpoint = cluster["endpoint"]
    assert endpoint.startswith("https://127.0.0.1:")
    return int(endpoint.rsplit(":", 1)[1])


def _ca_pem(cluster: dict[str, Any]) -> str:
    return base64.b64decode(cluster["certificateAuthority"]["data"]).decode()


def _version(cluster: dict[str, Any]) -> dict[str, Any]:
    """GET /version on the cluster's endpoint, the certificate checked against the cluster's CA (and the
    name 127.0.0.1 against the certificate)."""
    context = ssl.create_default_context(cadata=_ca_pem(cluster))
    assert context.check_hostname
    reply = httpx.get(f"{cluster['endpoint']}/version", verify=context, timeout=5)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _create_and_wait_active(eks: Any, name: str) -> dict[str, Any]:
    """Create a cluster and poll it until ACTIVE; the first ACTIVE answer's cluster."""
    created = eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)["cluster"]
    assert created["status"] == "CREATING"
    seen: list[dict[str, Any]] = []

    def active() -> bool:
        cluster = eks.describe_cluster(name=name)["cluster"]
        assert cluster["status"] in ("CREATING", "ACTIVE")
        seen.append(cluster)
        return bool(cluster["status"] == "ACTIVE")

    wait_until(active, deadline_s=ACTIVE_DEADLINE_S, what=f"cluster {name} ACTIVE")
    return seen[-1]


def _cert_dir(server: ServerProcess, served_pem: str) -> Path:
    """The directory under <data_dir>/eks holding the certificate the port served."""
    served = x509.load_pem_x509_certificate(served_pem.encode())
    for crt in (server.data_dir / "eks").glob("*/server.crt"):
        if x509.load_pem_x509_certificate(crt.read_bytes()) == served:
            return crt.parent
    pytest.fail(f"no certificate file under {server.data_dir / 'eks'} matches the one served")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_api_answers_once_active_and_stops_with_the_cluster(eks_server: ServerProcess, keys: Keys) -> None:
    eks = make_client(eks_server, "eks", keys)
    name = unique_name("lsn")
    started = time.monotonic()
    cluster = _create_and_wait_active(eks, name)
    took = time.monotonic() - started
    # The first ACTIVE answer, and at once (no retry): the port already answers.
    info = _version(cluster)
    assert info["gitVersion"].startswith("v1.33")
    assert (info["major"], info["minor"]) == ("1", "33")
    assert took < ACTIVE_DEADLINE_S

    port = _port(cluster)
    low, high = (int(p) for p in eks_server.eks_api_ports.split("-"))
    assert low <= port <= high
    directory = _cert_dir(eks_server, ssl.get_server_certificate(("127.0.0.1", port)))
    assert _mode(directory) == 0o700
    assert _mode(directory.parent) == 0o700
    assert _mode(directory / "server.crt") == 0o600
    assert _mode(directory / "server.key") == 0o600

    eks.delete_cluster(name=name)
    wait_until(lambda: _refuses(port), deadline_s=10, what=f"port {port} to stop answering")
    wait_until(lambda: not directory.exists(), deadline_s=10, what="the certificate files to be removed")


def test_listener_answers_again_after_a_restart(eks_server: ServerProcess, keys: Keys) -> None:
    eks = make_client(eks_server, "eks", keys)
    name = unique_name("rst")
    cluster = _create_and_wait_active(eks, name)
    _version(cluster)
    port = _port(cluster)

    eks_server.stop()
    assert _refuses(port)
    eks_server.start()  # returns once /health answers
    again = make_client(eks_server, "eks", keys).describe_cluster(name=name)["cluster"]
    assert again["status"] == "ACTIVE"
    assert again["endpoint"] == cluster["endpoint"]
    # The server answers the AWS API only after its clusters' listeners have started: no polling here.
    assert _version(again)["gitVersion"].startswith("v1.33")


def test_a_port_in_use_keeps_the_cluster_creating_until_it_is_free(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    first_port = int(server.eks_api_ports.split("-")[0])  # the first cluster's: the range's lowest
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", first_port))
    blocker.listen()
    try:
        server.start()
        eks = make_client(server, "eks", server.create_key("blocked"))
        name = unique_name("busy")
        eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)
        wait_until(
            lambda: f"port {first_port} is in use" in server.log(),
            deadline_s=10,
            what="the listener to report its port in use",
        )
        assert eks.describe_cluster(name=name)["cluster"]["status"] == "CREATING"
        assert httpx.get(f"{server.endpoint}/health", timeout=5).status_code == 200
        assert server.process is not None and server.process.poll() is None

        blocker.close()
        # Retries back off to 5 s at most.
        wait_until(
            lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE",
            deadline_s=15,
            what="the cluster ACTIVE once its port is free",
        )
        cluster = eks.describe_cluster(name=name)["cluster"]
        assert _port(cluster) == first_port
        assert _version(cluster)["gitVersion"].startswith("v1.33")
    finally:
        blocker.close()
        server.stop()


def _pki(common_name: str) -> ClusterPki:
    """A key and a self-signed certificate (the file functions only copy PEM)."""
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ClusterPki(cert_pem, key_pem, cert_pem, key_pem)


def test_certificate_files_are_private_and_rewritten_only_when_they_differ(tmp_path: Path) -> None:
    directory = tmp_path / "eks" / "7"
    first = _pki("one")
    previous = os.umask(0)  # the modes must not depend on the umask
    try:
        cert, key = write_serving_files(directory, first)
    finally:
        os.umask(previous)
    assert (cert, key) == (directory / "server.crt", directory / "server.key")
    assert cert.read_text() == first.serving_cert_pem
    assert key.read_text() == first.serving_key_pem
    assert [_mode(p) for p in (tmp_path / "eks", directory, cert, key)] == [0o700, 0o700, 0o600, 0o600]

    unchanged = key.stat()
    write_serving_files(directory, first)
    assert key.stat().st_ino == unchanged.st_ino  # same content: left as it was
    key.chmod(0o644)
    directory.chmod(0o755)
    write_serving_files(directory, first)
    assert (_mode(directory), _mode(key)) == (0o700, 0o600)

    second = _pki("two")
    write_serving_files(directory, second)
    assert (cert.read_text(), key.read_text()) == (second.serving_cert_pem, second.serving_key_pem)
    assert (_mode(cert), _mode(key)) == (0o600, 0o600)
    assert sorted(p.name for p in directory.iterdir()) == ["server.crt", "server.key"]  # no temporaries

    remove_serving_files(directory)
    assert not directory.exists()
    remove_serving_files(directory)  # again: nothing to do
