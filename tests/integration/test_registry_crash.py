"""kill -9 during a 1 GiB push: no corrupt blob is ever served, and the push resumes after a restart."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, Keys, ServerProcess, make_client
from tests.polling import wait_until

GIB = 1 << 30
CHUNK = 1 << 20
PATTERN = hashlib.sha256(b"dockyard").digest() * (CHUNK // 32)


def blob_chunks(start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of a deterministic 1 GiB blob, in 1 MiB chunks (``start`` is chunk-aligned)."""
    for offset in range(start, end, CHUNK):
        yield PATTERN[: min(CHUNK, end - offset)]


def blob_digest() -> str:
    hasher = hashlib.sha256()
    for chunk in blob_chunks(0, GIB):
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def registry_auth(server: ServerProcess) -> httpx.BasicAuth:
    ecr = make_client(server, "ecr", Keys(ROOT_KEY_ID, ROOT_SECRET))
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return httpx.BasicAuth("AWS", base64.b64decode(token).decode().split(":", 1)[1])


def upload_offset(client: httpx.Client, location: str) -> int:
    response = client.get(location)
    assert response.status_code == 204, response.text
    last = int(response.headers["range"].split("-")[1])
    return last + 1 if last > 0 or response.headers["range"] != "0-0" else 0


def test_kill_during_a_1gib_push_then_resume(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    server = ServerProcess(tmp_path)
    request.addfinalizer(server.stop)  # never leak the server, whatever fails
    server.start()
    make_client(server, "ecr", Keys(ROOT_KEY_ID, ROOT_SECRET)).create_repository(repositoryName="big")
    digest = blob_digest()
    with httpx.Client(base_url=server.endpoint, auth=registry_auth(server), timeout=120) as client:
        started = client.post("/v2/big/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]

        sent = {"bytes": 0}

        def counting() -> Iterator[bytes]:
            for chunk in blob_chunks(0, GIB):
                sent["bytes"] += len(chunk)
                yield chunk

        def push() -> None:
            headers = {"Content-Type": "application/octet-stream"}
            with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
                client.patch(location, content=counting(), headers=headers)

        pusher = threading.Thread(target=push)
        pusher.start()
        wait_until(lambda: sent["bytes"] >= 300 * CHUNK, deadline_s=120, what="300 MiB sent")
        server.kill()
        pusher.join(timeout=60)

    server.start()
    with httpx.Client(base_url=server.endpoint, auth=registry_auth(server), timeout=300) as client:
        # Nothing half-written is visible: the blob does not exist until the push completes.
        assert client.head(f"/v2/big/blobs/{digest}").status_code == 404
        offset = upload_offset(client, location)
        assert (0 < offset < GIB and offset % CHUNK == 0) or offset > 0
        # Resume from wherever the server got to (it may have stored part of a chunk).
        aligned = offset - offset % CHUNK
        tail = b"".join(blob_chunks(aligned, min(aligned + CHUNK, GIB)))[offset - aligned :]

        def rest() -> Iterator[bytes]:
            yield tail
            yield from blob_chunks(aligned + CHUNK, GIB)

        resumed = client.patch(
            location,
            content=rest(),
            headers={"Content-Range": f"{offset}-{GIB - 1}", "Content-Type": "application/octet-stream"},
        )
        assert resumed.status_code == 202, resumed.text
        done = client.put(resumed.headers["location"], params={"digest": digest})
        assert done.status_code == 201, done.text

        hasher = hashlib.sha256()
        size = 0
        with client.stream("GET", f"/v2/big/blobs/{digest}") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                hasher.update(chunk)
                size += len(chunk)
        assert size == GIB and "sha256:" + hasher.hexdigest() == digest
    server.stop()
