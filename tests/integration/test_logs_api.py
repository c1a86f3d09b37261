"""CloudWatch Logs against a real server: boto3 and the aws CLI on loopback.

Every logs client is made with ``inject_host_prefix=False``: botocore sends StartLiveTail to
``stream-<endpoint host>`` otherwise, which does not resolve for ``127.0.0.1`` (the README says so).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    AWS_CLI,
    REGION,
    Keys,
    ServerProcess,
    run_aws,
    unique_name,
)
from tests.polling import wait_until

DAY_MS = 24 * 3600 * 1000
LIVE_TAIL_DEADLINE_S = 2.0


def logs_client(server: ServerProcess, keys: Keys, **config: Any) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=Config(inject_host_prefix=False, **config),
    )


@pytest.fixture
def logs(server: ServerProcess, account_keys: Keys) -> Any:
    return logs_client(server, account_keys)


def now_ms() -> int:
    return int(time.time() * 1000)


def error_of(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as excinfo:
        call()
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def group_with_stream(logs: Any, stream: str = "s") -> str:
    group = unique_name("/app/g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group


def put(logs: Any, group: str, stream: str, *events: tuple[int, str]) -> dict[str, Any]:
    result: dict[str, Any] = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": message} for ts, message in events],
    )
    return result


# --- log groups ------------------------------------------------------------------------------------------


def test_groups_are_created_described_paged_and_deleted(logs: Any, account_keys: Keys) -> None:
    kms = f"arn:aws:kms:{REGION}:{account_keys.account_id}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    logs.create_log_group(logGroupName="/svc/api", kmsKeyId=kms, tags={"team": "api"})
    for name in ("/svc/web", "/svc/worker", "other#1", "/svc/web-canary"):
        logs.create_log_group(logGroupName=name)
    assert error_of(lambda: logs.create_log_group(logGroupName="/svc/api")) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )

    described = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in described] == [
        "/svc/api",
        "/svc/web",
        "/svc/web-canary",
        "/svc/worker",
        "other#1",
    ]
    api = described[0]
    assert api["kmsKeyId"] == kms and api["storedBytes"] == 0 and "retentionInDays" not in api
    assert api["logGroupArn"] == f"arn:aws:logs:{REGION}:{account_keys.account_id}:log-group:/svc/api"
    assert api["arn"] == api["logGroupArn"] + ":*"
    assert abs(api["creationTime"] - now_ms()) < 60_000

    prefixed = logs.describe_log_groups(logGroupNamePrefix="/svc/web")["logGroups"]
    assert [g["logGroupName"] for g in prefixed] == ["/svc/web", "/svc/web-canary"]
    by_pattern = logs.describe_log_groups(logGroupNamePattern="web")["logGroups"]
    assert [g["logGroupName"] for g in by_pattern] == ["/svc/web", "/svc/web-canary"]
    assert set(by_pattern[0]) == {"logGroupName", "arn", "creationTime"}  # AWS answers only these then
    assert logs.describe_log_groups(logGroupNamePattern="WEB")["logGroups"] == []
    code, _ = error_of(lambda: logs.describe_log_groups(logGroupNamePrefix="/svc", logGroupNamePattern="w"))
    assert code == "InvalidParameterException"

    first = logs.describe_log_groups(limit=2)
    assert len(first["logGroups"]) == 2 and "nextToken" in first
    pages = list(logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == [
        g["logGroupName"] for g in described
    ]
    assert error_of(lambda: logs.describe_log_groups(nextToken="garbage"))[0] == "InvalidParameterException"

    logs.delete_log_group(logGroupName="/svc/worker")
    assert "/svc/worker" not in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert error_of(lambda: logs.delete_log_group(logGroupName="/svc/worker")) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_names_and_values_are_checked_as_cloudwatch_logs_does(logs: Any) -> None:
    code, message = error_of(lambda: logs.create_log_group(logGroupName="bad:name"))
    assert code == "InvalidParameterException"
    assert message.startswith("1 validation error detected: Value 'bad:name' at 'logGroupName'")
    assert error_of(lambda: logs.create_log_group(logGroupName="x" * 513))[0] == "InvalidParameterException"
    group = group_with_stream(logs)
    assert error_of(lambda: logs.create_log_stream(logGroupName=group, logStreamName="a:b"))[0] == (
        "InvalidParameterException"
    )
    assert error_of(lambda: logs.create_log_stream(logGroupName=group, logStreamName="s")) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )
    assert error_of(lambda: logs.create_log_stream(logGroupName=group + "-no", logStreamName="s")) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_retention_policies_take_awss_values(logs: Any) -> None:
    group = group_with_stream(logs)
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    code, message = error_of(lambda: logs.put_retention_policy(logGroupName=group, retentionInDays=2))
    assert code == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30," in message
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert error_of(lambda: logs.put_retention_policy(logGroupName=group + "x", retentionInDays=1))[0] == (
        "ResourceNotFoundException"
    )


def test_tags_by_name_and_by_arn_are_the_same(logs: Any) -> None:
    group = unique_name("tagged")
    logs.create_log_group(logGroupName=group, tags={"team": "web"})
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    logs.tag_log_group(logGroupName=group, tags={"env": "prod"})
    logs.tag_resource(resourceArn=arn, tags={"team": "api", "tier": "1"})
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "api", "env": "prod", "tier": "1"}
    logs.untag_log_group(logGroupName=group, tags=["env"])
    logs.untag_resource(resourceArn=arn, tagKeys=["tier"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "api"}
    too_many = {f"k{i}": "v" for i in range(50)}
    assert error_of(lambda: logs.tag_resource(resourceArn=arn, tags=too_many)) == (
        "TooManyTagsException",
        "A resource can have no more than 50 tags.",
    )
    missing = arn + "-missing"
    assert (
        error_of(lambda: logs.list_tags_for_resource(resourceArn=missing))[0] == "ResourceNotFoundException"
    )
    # A group made again after its deletion starts without the old tags.
    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {}


# --- log streams -----------------------------------------------------------------------------------------


def test_streams_order_by_name_or_last_event_time_and_page(logs: Any) -> None:
    group = unique_name("streams")
    logs.create_log_group(logGroupName=group)
    base = now_ms() - 60_000
    for name, offset in [("web/b", 30), ("web/a", 10), ("api", 20), ("idle", None)]:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        if offset is not None:
            put(logs, group, name, (base + offset, "first"), (base + offset + 5, "second"))

    def names(**kwargs: Any) -> list[str]:
        return [
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, **kwargs)["logStreams"]
        ]

    assert names() == ["api", "idle", "web/a", "web/b"]
    assert names(descending=True) == ["web/b", "web/a", "idle", "api"]
    assert names(logStreamNamePrefix="web/") == ["web/a", "web/b"]
    assert names(orderBy="LastEventTime", descending=True) == ["web/b", "api", "web/a", "idle"]
    assert error_of(
        lambda: logs.describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="w"
        )
    ) == ("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")

    paginator = logs.get_paginator("describe_log_streams")
    pages = list(
        paginator.paginate(
            logGroupName=group, orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 3}
        )
    )
    assert len(pages) == 2
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == ["web/b", "api", "web/a", "idle"]

    web_a = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="web/a")["logStreams"][0]
    assert web_a["firstEventTimestamp"] == base + 10 and web_a["lastEventTimestamp"] == base + 15
    assert abs(web_a["lastIngestionTime"] - now_ms()) < 60_000
    assert web_a["storedBytes"] == 0  # AWS reports 0 for streams; the group keeps the total
    assert web_a["arn"].endswith(f":log-group:{group}:log-stream:web/a")
    assert web_a["uploadSequenceToken"]
    stored = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"]
    assert stored == 3 * len("firstsecond")

    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]
    assert [s["logStreamName"] for s in by_arn] == ["api", "idle", "web/a", "web/b"]
    assert error_of(lambda: logs.describe_log_streams(logGroupName=group, logGroupIdentifier=arn))[0] == (
        "InvalidParameterException"
    )
    logs.delete_log_stream(logGroupName=group, logStreamName="web/b")
    assert names() == ["api", "idle", "web/a"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == stored - 11
    assert error_of(lambda: logs.delete_log_stream(logGroupName=group, logStreamName="web/b")) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )


# --- PutLogEvents ----------------------------------------------------------------------------------------


def test_put_log_events_follows_awss_rules(server: ServerProcess, account_keys: Keys, logs: Any) -> None:
    group = group_with_stream(logs)
    now = now_ms()
    assert error_of(lambda: put(logs, group, "s", (now, "b"), (now - 1, "a"))) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    oversized = [(now, "x" * 1000)] * 1030  # 1030 * (1000 + 26) bytes > 1,048,576
    assert error_of(lambda: put(logs, group, "s", *oversized)) == (
        "InvalidParameterException",
        "Upload too large: 1056780 bytes exceeds limit of 1048576",
    )
    assert error_of(lambda: put(logs, group, "s", (now - DAY_MS - 1, "a"), (now, "b"))) == (
        "InvalidParameterException",
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    )
    assert logs.get_log_events(logGroupName=group, logStreamName="s")["events"] == []  # nothing half-stored

    result = put(
        logs,
        group,
        "s",
        (now - 15 * DAY_MS, "15 days old"),
        (now - 1, "kept 1"),
        (now, "kept 2"),
        (now + 3 * 3600_000, "future"),
    )
    assert result["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}
    assert result["nextSequenceToken"]
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["kept 1", "kept 2"]

    # Sequence tokens are accepted and ignored, right or wrong, as AWS does now.
    again = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "kept 3"}],
        sequenceToken="49039859613988856286513488596327413584125473052318787234",
    )
    assert "rejectedLogEventsInfo" not in again and again["nextSequenceToken"] != result["nextSequenceToken"]

    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    expired = put(logs, group, "s", (now - 2 * DAY_MS, "expired"), (now, "kept 4"))
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}

    assert error_of(lambda: put(logs, group, "nope", (now, "x"))) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    assert error_of(lambda: put(logs, group + "-nope", "s", (now, "x"))) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    unchecked = logs_client(server, account_keys, parameter_validation=False)
    empty = [{"timestamp": now, "message": ""}]
    code, message = error_of(
        lambda: unchecked.put_log_events(logGroupName=group, logStreamName="s", logEvents=empty)
    )
    assert code == "InvalidParameterException" and "logEvents.1.member.message" in message


# --- GetLogEvents ----------------------------------------------------------------------------------------


def test_get_log_events_pages_both_ways_and_returns_the_same_token_at_the_end(logs: Any) -> None:
    group = group_with_stream(logs)
    base = now_ms() - 60_000
    put(logs, group, "s", *[(base + i, f"line {i}") for i in range(25)])

    forward: list[str] = []
    token = None
    calls = 0
    while True:
        kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10, **kwargs)
        calls += 1
        forward += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert forward == [f"line {i}" for i in range(25)] and calls == 4

    # Without startFromHead the newest page comes first; backward tokens walk to the oldest.
    newest = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10)
    assert [e["message"] for e in newest["events"]] == [f"line {i}" for i in range(15, 25)]
    backward = [e["message"] for e in newest["events"]]
    token = newest["nextBackwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10, nextToken=token)
        if page["nextBackwardToken"] == token:
            break
        backward = [e["message"] for e in page["events"]] + backward
        token = page["nextBackwardToken"]
    assert backward == forward

    # The forward token at the end keeps working: new events appear through it.
    put(logs, group, "s", (base + 30, "later"))
    later = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=newest["nextForwardToken"])
    assert [e["message"] for e in later["events"]] == ["later"]

    ranged = logs.get_log_events(
        logGroupName=group, logStreamName="s", startTime=base + 5, endTime=base + 8, startFromHead=True
    )
    assert [e["message"] for e in ranged["events"]] == ["line 5", "line 6", "line 7"]  # endTime excluded
    assert all(e["ingestionTime"] >= e["timestamp"] for e in ranged["events"])

    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    by_arn = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s", limit=1, startFromHead=True)
    assert [e["message"] for e in by_arn["events"]] == ["line 0"]
    assert error_of(lambda: logs.get_log_events(logGroupName=group, logStreamName="s", nextToken="f/1"))[
        0
    ] == ("InvalidParameterException")
    assert error_of(lambda: logs.get_log_events(logStreamName="s"))[0] == "InvalidParameterException"


def test_a_page_holds_at_most_1_mb(logs: Any) -> None:
    group = group_with_stream(logs)
    now = now_ms()
    big = "x" * (200 * 1024)
    for _ in range(2):
        put(logs, group, "s", *[(now, big)] * 4)
    page = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert len(page["events"]) == 5  # 5 * (204,800 + 26) bytes fit in 1,048,576; 6 would not
    rest = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=page["nextForwardToken"])
    assert len(rest["events"]) == 3


# --- FilterLogEvents -------------------------------------------------------------------------------------


def test_filter_log_events_interleaves_streams_and_matches_patterns(logs: Any) -> None:
    group = unique_name("filter")
    logs.create_log_group(logGroupName=group)
    base = now_ms() - 60_000
    lines = {
        "web/1": [(0, "GET / 200"), (3, "ERROR timeout"), (6, '{"level": "error", "latency": 250}')],
        "web/2": [(1, "GET /a 404"), (4, "WARN slow"), (7, '{"level": "info", "latency": 50}')],
        "jobs": [(2, "ERROR disk full"), (5, "done")],
    }
    for stream, events in lines.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        put(logs, group, stream, *[(base + offset, message) for offset, message in events])

    def messages(**kwargs: Any) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, **kwargs)["events"]]

    every = logs.filter_log_events(logGroupName=group)
    assert [e["timestamp"] - base for e in every["events"]] == list(range(8))
    assert [e["logStreamName"] for e in every["events"][:3]] == ["web/1", "web/2", "jobs"]
    assert len({e["eventId"] for e in every["events"]}) == 8 and "nextToken" not in every
    assert every["searchedLogStreams"] == []
    assert messages(filterPattern="ERROR") == ["ERROR disk full", "ERROR timeout"]
    assert messages(filterPattern="?WARN ?404") == ["GET /a 404", "WARN slow"]
    assert messages(filterPattern="ERROR -disk") == ["ERROR timeout"]
    assert messages(filterPattern='{ $.level = "error" }') == ['{"level": "error", "latency": 250}']
    assert messages(filterPattern="{ $.latency > 100 }") == ['{"level": "error", "latency": 250}']
    assert messages(logStreamNames=["jobs"]) == ["ERROR disk full", "done"]
    assert messages(logStreamNamePrefix="web/", filterPattern="GET") == ["GET / 200", "GET /a 404"]
    assert messages(startTime=base + 2, endTime=base + 4) == ["ERROR disk full", "ERROR timeout", "WARN slow"]
    assert messages(startTime=base, startFromHead=False)[:2] == [
        '{"level": "info", "latency": 50}',
        '{"level": "error", "latency": 250}',
    ]

    pages = list(
        logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 3})
    )
    assert [len(p["events"]) for p in pages] == [3, 3, 2]
    assert [e["message"] for p in pages for e in p["events"]] == [e["message"] for e in every["events"]]

    code, _ = error_of(lambda: logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = }"))
    assert code == "InvalidParameterException"
    code, _ = error_of(
        lambda: logs.filter_log_events(logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="a")
    )
    assert code == "InvalidParameterException"
    assert (
        error_of(lambda: logs.filter_log_events(logGroupName=group + "-no"))[0] == "ResourceNotFoundException"
    )


# --- retention sweep, crash safety (servers of their own) ------------------------------------------------


@pytest.fixture
def fast_maintenance_server(tmp_path: Path, request: pytest.FixtureRequest) -> ServerProcess:
    server = ServerProcess(tmp_path, extra_env={"DOCKYARD_MAINTENANCE_INTERVAL_S": "0.5"})
    request.addfinalizer(server.stop)
    server.start()
    return server


def test_retention_drops_older_events_at_the_sweep(fast_maintenance_server: ServerProcess) -> None:
    logs = logs_client(fast_maintenance_server, fast_maintenance_server.create_key("retention"))
    group = group_with_stream(logs)
    now = now_ms()
    put(logs, group, "s", (now - 3 * DAY_MS, "three days old"), (now - 2 * DAY_MS, "two days old"))
    put(logs, group, "s", (now - 3600_000, "an hour old"), (now, "new"))
    before = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"]

    logs.put_retention_policy(logGroupName=group, retentionInDays=1)

    def kept() -> list[str]:
        page = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
        return [e["message"] for e in page["events"]]

    wait_until(lambda: kept() == ["an hour old", "new"], deadline_s=20, what="the sweep to drop old events")
    after = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"]
    assert after == before - len("three days old") - len("two days old")


def test_kill_9_right_after_acknowledged_puts_loses_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = ServerProcess(tmp_path)
    request.addfinalizer(server.stop)
    server.start()
    keys = server.create_key("crash")
    logs = logs_client(server, keys, retries={"max_attempts": 1, "mode": "standard"})
    group = group_with_stream(logs)
    base = now_ms() - 60_000
    acknowledged = 0
    for batch in range(20):
        put(logs, group, "s", *[(base + batch, f"{batch}-{i}") for i in range(500)])
        acknowledged += 500
    server.kill()  # SIGKILL the moment the last batch was answered

    server.start()
    logs = logs_client(server, keys)
    seen: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName="s", **kwargs)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"{batch}-{i}" for batch in range(20) for i in range(500)]
    assert len(seen) == acknowledged


# --- accounts --------------------------------------------------------------------------------------------


def test_accounts_never_see_each_others_logs(server: ServerProcess, logs: Any) -> None:
    other = logs_client(server, server.create_key("logs-mallory"))
    group = group_with_stream(logs)
    put(logs, group, "s", (now_ms(), "secret"))
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    arn = described["logGroupArn"]

    assert other.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    for call in (
        lambda: other.describe_log_streams(logGroupName=group),
        lambda: other.describe_log_streams(logGroupIdentifier=arn),
        lambda: other.get_log_events(logGroupIdentifier=arn, logStreamName="s"),
        lambda: other.filter_log_events(logGroupIdentifier=arn),
        lambda: put(other, group, "s", (now_ms(), "intrusion")),
        lambda: other.list_tags_for_resource(resourceArn=arn),
        lambda: other.tag_resource(resourceArn=arn, tags={"owner": "mallory"}),
        lambda: other.put_retention_policy(logGroupName=group, retentionInDays=1),
        lambda: other.delete_log_group(logGroupName=group),
        lambda: other.start_live_tail(logGroupIdentifiers=[arn]),
    ):
        assert error_of(call) == ("ResourceNotFoundException", "The specified log group does not exist.")

    # The same name in the other account is another group.
    other.create_log_group(logGroupName=group)
    assert other.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"] != arn
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["secret"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {}


# --- StartLiveTail ---------------------------------------------------------------------------------------


class Tail:
    """A live tail session read on a thread: its events land in a queue as they arrive."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.stream = response["responseStream"]
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except BaseException as exc:  # closed by the test, or an error event
            self.error = exc

    def next_event(self, kind: str, deadline_s: float) -> dict[str, Any]:
        """The next event of ``kind`` (other kinds skipped), within ``deadline_s``."""
        deadline = time.monotonic() + deadline_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                break
            if kind in event:
                return dict(event[kind])
        pytest.fail(f"no {kind} within {deadline_s}s")

    def results_within(self, deadline_s: float, wanted: int) -> list[dict[str, Any]]:
        """Session results until ``wanted`` arrived or the deadline passed."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + deadline_s
        while len(found) < wanted and (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                break
            found += event.get("sessionUpdate", {}).get("sessionResults", [])
        return found

    def close(self) -> None:
        self.stream.close()
        self._thread.join(timeout=10)


@pytest.fixture
def tails() -> Iterator[list[Tail]]:
    opened: list[Tail] = []
    yield opened
    for tail in opened:
        tail.close()


def test_live_tail_delivers_new_events_within_2_seconds(logs: Any, tails: list[Tail]) -> None:
    group = unique_name("tail")
    logs.create_log_group(logGroupName=group)
    for stream in ("web/1", "web/2", "jobs"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    put(logs, group, "web/1", (now_ms(), "before the session"))
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]

    tail = Tail(logs.start_live_tail(logGroupIdentifiers=[arn], logStreamNamePrefixes=["web/"]))
    tails.append(tail)
    start = tail.next_event("sessionStart", deadline_s=10)
    assert start["logGroupIdentifiers"] == [arn] and start["logStreamNamePrefixes"] == ["web/"]
    assert start["sessionId"] and start["requestId"]

    put(logs, group, "jobs", (now_ms(), "not followed"))
    sent = time.monotonic()
    put(logs, group, "web/2", (now_ms(), "hello live"))
    (result,) = tail.results_within(LIVE_TAIL_DEADLINE_S, wanted=1)
    assert time.monotonic() - sent < LIVE_TAIL_DEADLINE_S
    assert result["message"] == "hello live" and result["logStreamName"] == "web/2"
    assert result["logGroupIdentifier"].endswith(f":{group}")
    assert abs(result["ingestionTime"] - now_ms()) < 10_000

    # An idle session still hears from the server every second (an empty update).
    update = tail.next_event("sessionUpdate", deadline_s=3)
    assert update["sessionResults"] == [] and update["sessionMetadata"] == {"sampled": False}


def test_live_tail_applies_the_filter_pattern(logs: Any, tails: list[Tail]) -> None:
    group = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    tail = Tail(logs.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="ERROR"))
    tails.append(tail)
    tail.next_event("sessionStart", deadline_s=10)
    now = now_ms()
    put(logs, group, "s", (now, "INFO fine"), (now, "ERROR broken"), (now, "ERROR again"))
    found = tail.results_within(LIVE_TAIL_DEADLINE_S, wanted=2)
    assert [r["message"] for r in found] == ["ERROR broken", "ERROR again"]


def test_live_tail_requests_are_checked(logs: Any) -> None:
    group = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    assert error_of(lambda: logs.start_live_tail(logGroupIdentifiers=[arn + "-gone"])) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    both = {"logStreamNames": ["s"], "logStreamNamePrefixes": ["s"]}
    assert (
        error_of(lambda: logs.start_live_tail(logGroupIdentifiers=[arn], **both))[0]
        == "InvalidParameterException"
    )
    assert error_of(
        lambda: logs.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="{ $.x = ")
    )[0] == ("InvalidParameterException")


def test_live_tail_sessions_end_when_their_clients_leave(logs: Any, tails: list[Tail]) -> None:
    group = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    for _ in range(15):  # the account's quota of concurrent sessions
        tail = Tail(logs.start_live_tail(logGroupIdentifiers=[arn]))
        tails.append(tail)
        tail.next_event("sessionStart", deadline_s=10)
    assert error_of(lambda: logs.start_live_tail(logGroupIdentifiers=[arn]))[0] == "LimitExceededException"

    tails.pop().close()  # the client goes away: the server ends that session

    def another_opens() -> bool:
        try:
            tails.append(Tail(logs.start_live_tail(logGroupIdentifiers=[arn])))
        except ClientError:
            return False
        return True

    wait_until(another_opens, deadline_s=10, what="a session to free its place")


# --- the aws CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(server: ServerProcess, account_keys: Keys, tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": account_keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account_keys.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "HOME": str(tmp_path),
    }


def test_the_aws_cli_writes_reads_and_filters(cli_env: dict[str, str]) -> None:
    group = unique_name("/cli/g")
    run_aws(cli_env, "logs", "create-log-group", "--log-group-name", group, "--tags", "team=cli")
    run_aws(cli_env, "logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "web/1")
    now = now_ms()
    events = json.dumps(
        [{"timestamp": now + i, "message": f"line {i} {'ERROR' if i % 3 == 0 else 'ok'}"} for i in range(9)]
    )
    answer = json.loads(
        run_aws(
            cli_env,
            "logs",
            "put-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            "web/1",
            "--log-events",
            events,
        ).stdout
    )
    assert "nextSequenceToken" in answer and "rejectedLogEventsInfo" not in answer

    got = json.loads(
        run_aws(
            cli_env,
            "logs",
            "get-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            "web/1",
            "--start-from-head",
        ).stdout
    )
    assert [e["message"] for e in got["events"]] == [
        f"line {i} {'ERROR' if i % 3 == 0 else 'ok'}" for i in range(9)
    ]
    filtered = json.loads(
        run_aws(
            cli_env, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "ERROR"
        ).stdout
    )
    assert [e["message"] for e in filtered["events"]] == ["line 0 ERROR", "line 3 ERROR", "line 6 ERROR"]
    streams = json.loads(run_aws(cli_env, "logs", "describe-log-streams", "--log-group-name", group).stdout)
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["web/1"]

    unordered = json.dumps([{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}])
    failed = run_aws(
        cli_env,
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "web/1",
        "--log-events",
        unordered,
        check=False,
    )
    assert failed.returncode != 0
    assert "InvalidParameterException" in failed.stderr and "chronological order" in failed.stderr


def test_the_aws_cli_tails_live(cli_env: dict[str, str], logs: Any) -> None:
    group = group_with_stream(logs)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    env = {**cli_env, "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    with subprocess.Popen(
        [AWS_CLI, "logs", "start-live-tail", "--log-group-identifiers", arn],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as tail:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout or []], daemon=True)
        reader.start()

        # The CLI prints nothing until events arrive, so keep putting until the first one shows.
        def printed() -> bool:
            assert tail.poll() is None, "aws logs start-live-tail exited"
            put(logs, group, "s", (now_ms(), "from the tail"))
            try:
                return lines.get(timeout=1.0).strip() == "from the tail"
            except queue.Empty:
                return False

        try:
            wait_until(printed, deadline_s=30, what="aws logs start-live-tail to print an event")
        finally:
            tail.kill()
            tail.wait(timeout=10)
            reader.join(timeout=10)
        assert tail.stderr is not None and "Could not connect" not in tail.stderr.read()
