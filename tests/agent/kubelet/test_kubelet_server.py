"""The kubelet's HTTPS server (agent/kubelet/server.py) over real TLS with real clients (httpx, the
websockets client), in front of a scripted engine: client certificates, containerLogs, exec channels."""

from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from dockyard.agent.kubelet.pod_engine import KubeletError
from dockyard.agent.kubelet.server import KubeletServer
from dockyard.agent.runtime import ExecStream
from dockyard.core import kube_streams as ks
from dockyard.services.eks.certificates import issue_cluster_pki, issue_kubelet_client_cert


class ScriptedSession:
    """Prints ``output``, then echoes stdin (upper-cased) until it is closed, then exits ``code``."""

    def __init__(self, output: list[tuple[ExecStream, bytes]], code: int, *, echo: bool) -> None:
        self._out: queue.Queue[tuple[ExecStream, bytes] | None] = queue.Queue()
        for piece in output:
            self._out.put(piece)
        if not echo:
            self._out.put(None)
        self.code = code
        self.resized: list[tuple[int, int]] = []
        self.closed = threading.Event()
        self.stdin_closed = threading.Event()

    def write(self, data: bytes) -> None:
        self._out.put(("stdout", data.upper()))

    def close_stdin(self) -> None:
        self.stdin_closed.set()
        self._out.put(None)

    def read(self, timeout_s: float | None = None) -> tuple[ExecStream, bytes] | None:
        piece = self._out.get(timeout=timeout_s)
        return None if self.closed.is_set() else piece

    def resize(self, height: int, width: int) -> None:
        self.resized.append((height, width))

    def exit_code(self, timeout_s: float = 5.0) -> int | None:
        return self.code

    def close(self) -> None:
        self.closed.set()
        self._out.put(None)


class ScriptedEngine:
    def __init__(self) -> None:
        self.sessions: list[ScriptedSession] = []
        self.log_lines = [b"one\n", b"two\n", b"three\n"]
        self.follow_gate = threading.Event()
        self.follow_stopped = threading.Event()
        self.calls: list[dict[str, object]] = []

    def logs(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        self.calls.append({"pod": name, "container": container, "tail": tail_lines, "follow": follow})
        if name == "missing":
            raise KubeletError(404, f'pods "{name}" not found')
        if name == "creating":
            raise KubeletError(
                400, f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        lines = self.log_lines[-tail_lines:] if tail_lines else self.log_lines

        def generate() -> Iterator[bytes]:
            yield from lines
            if follow:
                assert stop is not None
                self.follow_gate.wait(10)
                yield b"four\n"
                stop.wait(10)
                self.follow_stopped.set()

        return generate()

    def exec(
        self,
        namespace: str,
        name: str,
        container: str | None,
        command: Sequence[str],
        *,
        stdin: bool = False,
        tty: bool = False,
    ) -> ScriptedSession:
        if container == "stopped":
            raise KubeletError(400, f'unable to upgrade connection: container not found ("{container}")')
        output: list[tuple[ExecStream, bytes]] = [("stdout", b"hi\n"), ("stderr", b"warn\n")]
        session = ScriptedSession(output, 3 if "fail" in command else 0, echo=stdin)
        self.sessions.append(session)
        return session


@pytest.fixture(scope="module")
def pki():  # type: ignore[no-untyped-def]
    return issue_cluster_pki("demo", datetime.now(UTC))


@pytest.fixture
def kubelet(pki) -> Iterator[tuple[KubeletServer, ScriptedEngine]]:  # type: ignore[no-untyped-def]
    engine = ScriptedEngine()
    server = KubeletServer(engine, client_ca_pem=pki.ca_cert_pem, host="127.0.0.1")
    server.start()
    yield server, engine
    server.stop()


def client_context(tmp_path: Path, cert_pem: str | None, key_pem: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert_pem and key_pem:
        (tmp_path / "c.crt").write_text(cert_pem)
        (tmp_path / "c.key").write_text(key_pem)
        context.load_cert_chain(str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    return context


@pytest.fixture
def trusted(tmp_path: Path, pki) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    client = issue_kubelet_client_cert(pki, datetime.now(UTC))
    return client_context(tmp_path, client.cert_pem, client.key_pem)


def open_exec(
    server: KubeletServer, context: ssl.SSLContext, query: str, **kwargs: object
) -> ClientConnection:
    return connect(
        f"wss://127.0.0.1:{server.port}/exec/default/web/app?{query}",
        ssl=context,
        subprotocols=kwargs.pop("subprotocols", [ks.V5_PROTOCOL]),  # type: ignore[arg-type]
        open_timeout=10,
    )


def collect(ws: ClientConnection) -> tuple[dict[int, bytes], dict[str, object]]:
    """Everything up to the server's close: bytes per channel, and the error channel's Status."""
    channels: dict[int, bytes] = {}
    while True:
        try:
            message = ws.recv(timeout=10)
        except Exception:  # ConnectionClosedOK once the server closed
            break
        assert isinstance(message, bytes)
        frame = ks.decode(message)
        channels[frame.channel] = channels.get(frame.channel, b"") + frame.data
    return channels, orjson.loads(channels.get(ks.ERROR, b"{}"))


def test_a_client_without_a_certificate_of_the_cluster_ca_is_refused(
    kubelet: tuple[KubeletServer, ScriptedEngine], tmp_path: Path
) -> None:
    server, engine = kubelet
    url = f"https://127.0.0.1:{server.port}/containerLogs/default/web/app"
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=client_context(tmp_path, None, None))
    other = issue_cluster_pki("other", datetime.now(UTC))
    stranger = issue_kubelet_client_cert(other, datetime.now(UTC))
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=client_context(tmp_path, stranger.cert_pem, stranger.key_pem))
    assert engine.calls == []


def test_container_logs_with_tail_and_errors_as_plain_text(
    kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext
) -> None:
    server, engine = kubelet
    base = f"https://127.0.0.1:{server.port}/containerLogs/default"
    with httpx.Client(verify=trusted) as client:
        whole = client.get(f"{base}/web/app")
        assert whole.status_code == 200
        assert whole.text == "one\ntwo\nthree\n"
        assert client.get(f"{base}/web/app?tailLines=1").text == "three\n"
        assert client.get(f"{base}/web/app?limitBytes=6").text == "one\ntw"
        missing = client.get(f"{base}/missing/app")
        assert (missing.status_code, missing.text) == (404, 'pods "missing" not found')
        creating = client.get(f"{base}/creating/app")
        assert creating.status_code == 400
        assert creating.text == 'container "app" in pod "creating" is waiting to start: ContainerCreating'
        bad = client.get(f"{base}/web/app?tailLines=x")
        assert bad.status_code == 400
        assert client.get(f"https://127.0.0.1:{server.port}/pods").status_code == 404
    assert engine.calls[1] == {"pod": "web", "container": "app", "tail": 1, "follow": False}


def test_following_logs_streams_until_the_client_goes(
    kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext
) -> None:
    server, engine = kubelet
    url = f"https://127.0.0.1:{server.port}/containerLogs/default/web/app?follow=true"
    with httpx.Client(verify=trusted, timeout=10) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert [next(lines), next(lines), next(lines)] == ["one", "two", "three"]
        engine.follow_gate.set()
        assert next(lines) == "four"
    assert engine.follow_stopped.wait(10), "the follow did not stop when the client went away"


def test_exec_v5_output_and_exit_code(
    kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext
) -> None:
    server, _ = kubelet
    query = "command=sh&command=-c&command=fail&output=1&error=1"
    with open_exec(server, trusted, query) as ws:
        assert ws.subprotocol == ks.V5_PROTOCOL
        channels, status = collect(ws)
    assert channels[ks.STDOUT] == b"hi\n"
    assert channels[ks.STDERR] == b"warn\n"
    assert status == ks.exit_status(3, ["sh", "-c", "fail"])
    with open_exec(server, trusted, "command=true&output=1&error=1") as ws:
        _, status = collect(ws)
    assert status == {"metadata": {}, "status": "Success"}


def test_exec_stdin_resize_and_v5_close(
    kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext
) -> None:
    server, engine = kubelet
    with open_exec(server, trusted, "command=cat&input=1&output=1&tty=1") as ws:
        ws.send(ks.encode(ks.RESIZE, b'{"Width":100,"Height":30}'))
        ws.send(ks.encode(ks.STDIN, b"abc"))
        ws.send(ks.close_frame(ks.STDIN))
        channels, status = collect(ws)
    assert channels[ks.STDOUT] == b"hi\nABC"
    assert ks.STDERR not in channels  # a TTY has one output
    assert status["status"] == "Success"
    session = engine.sessions[-1]
    assert session.stdin_closed.is_set()
    assert session.resized == [(30, 100)]
    assert session.closed.wait(5)


def test_exec_v4_and_refusals(kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext) -> None:
    server, engine = kubelet
    with open_exec(server, trusted, "command=ls&output=1", subprotocols=[ks.V4_PROTOCOL]) as ws:
        assert ws.subprotocol == ks.V4_PROTOCOL
        channels, status = collect(ws)
    assert channels[ks.STDOUT] == b"hi\n" and status["status"] == "Success"
    with pytest.raises(InvalidStatus) as refused:
        open_exec(server, trusted, "command=ls&output=1", subprotocols=["channel.k8s.io"])
    assert refused.value.response.status_code == 400
    assert b"requested protocol(s) are not supported" in refused.value.response.body
    with pytest.raises(InvalidStatus) as no_streams:
        open_exec(server, trusted, "command=ls")
    assert no_streams.value.response.status_code == 400
    assert no_streams.value.response.body == b"you must specify at least 1 of stdin, stdout, stderr"
    with pytest.raises(InvalidStatus) as stopped:
        connect(
            f"wss://127.0.0.1:{server.port}/exec/default/web/stopped?command=ls&output=1",
            ssl=trusted,
            subprotocols=[ks.V5_PROTOCOL],  # type: ignore[list-item]
        )
    assert stopped.value.response.status_code == 400
    assert stopped.value.response.body == b'unable to upgrade connection: container not found ("stopped")'
    assert len(engine.sessions) == 1


def test_exec_session_closed_when_the_client_goes(
    kubelet: tuple[KubeletServer, ScriptedEngine], trusted: ssl.SSLContext
) -> None:
    server, engine = kubelet
    with open_exec(server, trusted, "command=cat&input=1&output=1") as ws:
        assert ks.decode(ws.recv(timeout=10)).channel == ks.STDOUT  # the "streams are up" frame
    assert engine.sessions[-1].closed.wait(10)
