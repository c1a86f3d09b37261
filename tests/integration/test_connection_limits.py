"""Silent and greedy clients cannot take the server from others.

The server here starts with the soft open-file limit a default shell gives (1,024) and a 5 s header
timeout: long enough that the first of 1,100 silent sockets is still held when the last connects, on a
loaded machine too (with 2 s the first were sometimes closed before the last was accepted). Sockets come
from several loopback addresses (the whole 127/8 is local), so "another client" is another address, as
it would be on a network.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ServerProcess
from tests.polling import wait_until

HEADER_TIMEOUT_S = 5
PER_CLIENT = 256


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # this test process holds the silent sockets itself
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    proc = ServerProcess(
        tmp_path_factory.mktemp("guarded"),
        host="0.0.0.0",  # reachable on every loopback address
        extra_env={
            "DOCKYARD_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "DOCKYARD_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        },
        open_files_limit=1024,
    )
    try:
        proc.start()
        assert proc.process is not None
        pid = proc.process.pid
        # Tests count the server's descriptors from here: let it close the connection of start()'s health
        # check first (on a loaded machine it may still hold it, and a count would be one short).
        wait_until(
            lambda: not tcp_connections(pid),
            deadline_s=10,
            what="the server to close the health check's connection",
        )
        yield proc
    finally:
        proc.stop()


def tcp_connections(pid: int) -> set[str]:
    """The socket inodes of the TCP connections (not listeners) process ``pid`` holds."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed since listed
            link = str(fd.readlink())
            if link.startswith("socket:["):
                held.add(link.removeprefix("socket:[").removesuffix("]"))
    connections = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # 0A: LISTEN
                connections.add(fields[9])
    return held & connections


def silent_socket(server: ServerProcess, source: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect((source, server.port))
    return sock


def open_descriptors(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def health_from(server: ServerProcess, source: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=5) as client:
        return client.get(f"http://{source}:{server.port}/health").status_code


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def test_eleven_hundred_silent_sockets_do_not_stop_other_clients(guarded_server: ServerProcess) -> None:
    assert guarded_server.process is not None
    pid = guarded_server.process.pid
    baseline = open_descriptors(pid)
    sockets: list[socket.socket] = []
    with contextlib.ExitStack() as stack:
        for i in range(1100):
            sock = silent_socket(guarded_server, f"127.0.0.{2 + i // 250}")
            stack.enter_context(sock)
            sockets.append(sock)
        # Evidence that the server holds them all: more descriptors than the limit it started with.
        wait_until(
            lambda: open_descriptors(pid) >= baseline + 1100,
            deadline_s=20,
            what="the server to accept 1,100 connections",
        )
        started = time.monotonic()
        assert health_from(guarded_server, "127.0.0.100") == 200
        assert time.monotonic() - started < 5
        # The header timeout then closes every one of them.
        wait_until(
            lambda: open_descriptors(pid) < baseline + 10,
            deadline_s=HEADER_TIMEOUT_S + 15,
            what="the silent sockets to be closed",
        )
        assert all(closed_by_server(sock) for sock in sockets[:20])


def test_one_address_may_hold_only_so_many_connections(guarded_server: ServerProcess) -> None:
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(silent_socket(guarded_server, "127.0.0.30")) for _ in range(PER_CLIENT)]
        extra = stack.enter_context(silent_socket(guarded_server, "127.0.0.30"))
        extra.settimeout(HEADER_TIMEOUT_S / 2)  # closed at once, well before any header timeout
        assert closed_by_server(extra)
        assert health_from(guarded_server, "127.0.0.31") == 200
        assert len(held) == PER_CLIENT


def test_a_client_dripping_its_headers_is_disconnected(guarded_server: ServerProcess) -> None:
    with silent_socket(guarded_server, "127.0.0.40") as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 10
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(b"X-Drip: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                closed = sock.recv(1) == b""
        assert closed, "a client that never finishes its headers must be disconnected"


def test_a_kept_alive_connection_serves_requests_in_turn(guarded_server: ServerProcess) -> None:
    with httpx.Client(timeout=5) as client:
        for _ in range(5):
            assert client.get(f"{guarded_server.endpoint}/health").status_code == 200


def test_a_request_head_over_the_cap_is_refused_and_a_large_body_is_not_mistaken_for_one(
    guarded_server: ServerProcess,
) -> None:
    with silent_socket(guarded_server, "127.0.0.50") as sock:
        sock.settimeout(10)
        padding = b"X-Pad: " + b"p" * 1000 + b"\r\n"
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + padding * 70 + b"\r\n")
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 400"), reply[:100]
        while reply:  # then the server closes the connection
            reply = sock.recv(65536)
    # One write holding a small head and a 1 MiB body: the body is not counted as head.
    with silent_socket(guarded_server, "127.0.0.51") as sock:
        sock.settimeout(10)
        body = b"{" + b" " * (1024 * 1024) + b"}"
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        sock.sendall(head + body)
        reply = sock.recv(65536)
        # Unsigned: refused by the gateway, not by the guard.
        assert reply.startswith(b"HTTP/1.1 403"), reply[:100]
