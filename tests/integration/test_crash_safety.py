"""kill -9 during a burst of writes: every answered write survives, nothing is half-written."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.integration.conftest import ROOT_KEY_ID, ROOT_SECRET, ServerProcess
from tests.polling import wait_until

BURST = 2000
ANSWERED_BEFORE_KILL = 60


def client(server: ServerProcess) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ROOT_KEY_ID,
        aws_secret_access_key=ROOT_SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=10),
    )


def tags_for(i: int) -> list[dict[str, str]]:
    return [{"key": "n", "value": str(i)}, {"key": "team", "value": "burst"}, {"key": "part", "value": "x"}]


def test_kill_during_create_burst_loses_no_answered_write(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = ServerProcess(tmp_path)
    request.addfinalizer(server.stop)  # never leak the server, whatever fails
    server.start()
    answered: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    ecs = client(server)

    def create(i: int) -> None:
        if stop.is_set():
            return
        try:
            ecs.create_cluster(clusterName=f"burst-{i}", tags=tags_for(i))
        except Exception:
            return
        with lock:
            answered.append(i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(BURST):
            pool.submit(create, i)
        wait_until(lambda: len(answered) >= ANSWERED_BEFORE_KILL, deadline_s=60, what="answered creates")
        server.kill()
        stop.set()
    assert len(answered) < BURST, "the burst finished before the kill; make it longer"

    server.start()
    ecs = client(server)
    names = [f"burst-{i}" for i in answered]
    for start in range(0, len(names), 100):
        result = ecs.describe_clusters(clusters=names[start : start + 100], include=["TAGS"])
        assert result["failures"] == []
        for cluster in result["clusters"]:
            assert cluster["status"] == "ACTIVE"
            assert cluster["tags"] == tags_for(int(cluster["clusterName"].split("-")[1]))

    # Whatever else made it in (answered or not) is whole: the cluster and all its tags, or nothing.
    listed = [arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
    assert len(listed) >= len(answered)
    for start in range(0, len(listed), 100):
        for cluster in ecs.describe_clusters(clusters=listed[start : start + 100], include=["TAGS"])[
            "clusters"
        ]:
            assert cluster["tags"] == tags_for(int(cluster["clusterName"].split("-")[1]))
    server.stop()

    with sqlite3.connect(tmp_path / "dockyard.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = conn.execute(
            "SELECT count(*) FROM resource_tags WHERE resource_arn NOT IN (SELECT arn FROM clusters)"
        ).fetchone()
        assert orphans == (0,)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
