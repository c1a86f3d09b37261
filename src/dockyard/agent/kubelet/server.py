"""The kubelet's HTTPS server (port 10250 on a real node): where the API server fetches logs and opens
exec streams, as kube-apiserver does with ``--kubelet-client-certificate``.

```
KubeletServer(engine, client_ca_pem=<the cluster's CA>, host=…, port=0)
  start(): a serving certificate (self-signed, P-256, for host) made now → TLS context that REQUIRES a
           client certificate signed by client_ca_pem (no certificate, or another CA's: the handshake
           fails) → socket bound (port 0: any free one; .port says which) → uvicorn in a daemon thread
           serving streaming.KubeletStreamingApp(engine) → returns once it listens
  stop():  graceful stop, the thread joined
```
kube-apiserver does not check the kubelet's serving certificate by default (no
``--kubelet-certificate-authority``) and neither does dockyard's API server, so a self-signed one made at
each start is enough; its PEM is :attr:`KubeletServer.serving_cert_pem` for clients that want to pin it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.agent.kubelet.streaming import KubeletStreamingApp, PodStreams

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
SERVING_VALIDITY = timedelta(days=365)


class KubeletServer:
    def __init__(self, engine: PodStreams, *, client_ca_pem: str, host: str, port: int = 0) -> None:
        self._app = KubeletStreamingApp(engine)
        self._client_ca_pem = client_ca_pem
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        """The bound port, once started."""
        self.serving_cert_pem = ""

    def start(self) -> None:
        """Serve in a background thread; returns once the port accepts connections. Raises OSError when
        the address cannot be bound and RuntimeError when the server did not come up."""
        if self._server is not None:
            raise RuntimeError("the kubelet server is already started")
        cert_pem, key_pem = serving_certificate(self._host, datetime.now(UTC))
        self.serving_cert_pem = cert_pem
        context = tls_context(cert_pem, key_pem, self._client_ca_pem)
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._requested_port))
            sock.set_inheritable(True)
            self.port = int(sock.getsockname()[1])
            config = uvicorn.Config(
                self._app,
                lifespan="off",
                log_config=None,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
            )
            config.load()
            config.ssl = context  # uvicorn only builds contexts from files, without a client-CA purpose
            server = _Server(config)
        except BaseException:
            sock.close()
            raise
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="kubelet-server", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        if not server.ready.wait(START_TIMEOUT_S) or not server.started:
            self.stop()
            raise RuntimeError(f"the kubelet server on {self._host}:{self.port} did not start")

    def stop(self) -> None:
        """Stop serving (open streams get :data:`STOP_TIMEOUT_S` to end); safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S * 2)


class _Server(uvicorn.Server):
    """uvicorn without signal handling (the agent's own), telling when its startup is over."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


def tls_context(cert_pem: str, key_pem: str, client_ca_pem: str) -> ssl.SSLContext:
    """A server context presenting ``cert_pem`` and requiring a client certificate ``client_ca_pem``
    signed, for client authentication (extended key usage checked when present)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=client_ca_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: the key is written to a private directory and removed at once.
    with tempfile.TemporaryDirectory(prefix="kubelet-tls-") as directory:
        cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
        cert.write_text(cert_pem)
        key.touch(mode=0o600)
        key.write_text(key_pem)
        context.load_cert_chain(str(cert), str(key))
    return context


def serving_certificate(host: str, now: datetime) -> tuple[str, str]:
    """A self-signed serving certificate (PEM) and its key (PKCS#8 PEM) for ``host`` (an address or a
    name) and ``localhost``, as a kubelet without ``--tls-cert-file`` makes for itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@{int(now.timestamp())}")])
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + SERVING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem
