"""Large layers stream through the server: memory stays flat while a big blob is pushed and pulled.

The size defaults to 256 MiB so the suite stays quick; ``DOCKYARD_TEST_LARGE_BLOB_MIB=2048`` runs the
2 GiB case the benchmark uses. The server's peak resident set (``VmHWM``) must stay under 200 MB.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from tests.integration.conftest import ServerProcess
from tests.polling import wait_until
from tests.registry_http.conftest import Registry

MIB = 1024 * 1024
SIZE_MIB = int(os.environ.get("DOCKYARD_TEST_LARGE_BLOB_MIB", "256"))
MAX_SERVER_RSS_BYTES = 200 * 1000 * 1000


def peak_rss(pid: int) -> int:
    """The process's peak resident set size, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_large_blob_push_and_pull_keep_memory_flat(
    registry_server: ServerProcess, registry: Registry, repo: str
) -> None:
    assert registry_server.process is not None
    pid = registry_server.process.pid
    block = os.urandom(MIB)
    # Every block differs in its first bytes, so a server mixing chunks up cannot match the digest.
    blocks = [i.to_bytes(8, "big") + block[8:] for i in range(min(SIZE_MIB, 64))]
    hasher = hashlib.sha256()
    for i in range(SIZE_MIB):
        hasher.update(blocks[i % len(blocks)])
    digest = f"sha256:{hasher.hexdigest()}"

    def body() -> Iterator[bytes]:
        for i in range(SIZE_MIB):
            yield blocks[i % len(blocks)]

    started = time.monotonic()
    location = registry.start_upload(repo)
    patch = registry.request("PATCH", location, content=body())
    assert patch.status_code == 202, patch.text
    assert patch.headers["range"] == f"0-{SIZE_MIB * MIB - 1}"
    put = registry.request("PUT", patch.headers["location"], params={"digest": digest})
    assert put.status_code == 201, put.text
    pushed = time.monotonic()

    received = hashlib.sha256()
    size = 0
    with registry.http.stream("GET", f"/v2/{repo}/blobs/{digest}") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(SIZE_MIB * MIB)
        for chunk in response.iter_raw(MIB):
            received.update(chunk)
            size += len(chunk)
    pulled = time.monotonic()
    assert size == SIZE_MIB * MIB
    assert f"sha256:{received.hexdigest()}" == digest

    # A ranged read from the middle streams as well.
    middle = SIZE_MIB * MIB // 2
    with registry.http.stream(
        "GET", f"/v2/{repo}/blobs/{digest}", headers={"Range": f"bytes={middle}-"}
    ) as response:
        assert response.status_code == 206
        assert sum(len(c) for c in response.iter_raw(MIB)) == SIZE_MIB * MIB - middle

    rss = peak_rss(pid)
    print(
        f"\n{SIZE_MIB} MiB: push {SIZE_MIB / (pushed - started):.0f} MiB/s, "
        f"pull {SIZE_MIB / (pulled - pushed):.0f} MiB/s, server peak RSS {rss / 1e6:.0f} MB"
    )
    assert rss < MAX_SERVER_RSS_BYTES
    assert registry.request("DELETE", f"/v2/{repo}/blobs/{digest}").status_code == 202


def test_client_going_away_mid_upload_keeps_what_arrived(
    registry_server: ServerProcess, registry: Registry, repo: str
) -> None:
    location = registry.start_upload(repo)
    authorization = registry.http.headers["authorization"]
    with socket.create_connection(("127.0.0.1", registry_server.port)) as sock:
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {10 * MIB}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * (3 * MIB))
    # The server notices, keeps the bytes it stored, and the upload can be resumed from there (once the
    # failed request has released it: the reported size stops changing).
    seen: list[str] = []

    def released() -> bool:
        status = registry.request("GET", location)
        assert status.status_code == 204
        seen.append(status.headers["range"])
        return len(seen) >= 3 and len(set(seen[-3:])) == 1 and seen[-1] != "0-0"

    wait_until(released, deadline_s=10, what="the upload's size to settle", interval_s=0.1)
    stored = int(seen[-1].split("-")[1]) + 1
    assert 0 < stored <= 3 * MIB
    rest = b"x" * (3 * MIB - stored)
    resumed = registry.request(
        "PATCH", location, content=rest, headers={"Content-Range": f"{stored}-{3 * MIB - 1}"}
    )
    assert resumed.status_code == 202, resumed.text
    digest = f"sha256:{hashlib.sha256(b'x' * 3 * MIB).hexdigest()}"
    assert registry.request("PUT", location, params={"digest": digest}).status_code == 201
    assert '"level": "error"' not in registry_server.log()
