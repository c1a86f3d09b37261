"""LogsProvider on a real SQLite store with a fixed clock: FilterLogEvents' bounded pages, GetLogEvents'
positions at the edges, the retention sweep, and live tail sessions (their updates, sampling, filters and
three-hour end) driven without a server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.core.context import Principal, RequestContext
from dockyard.core.errors import ApiError
from dockyard.services.logs import events as events_module
from dockyard.services.logs import live_tail
from dockyard.services.logs.live_tail import LiveTailHub
from dockyard.services.logs.provider import LogsProvider
from dockyard.services.logs.retention import expire_log_events
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'logs.db'}")
    yield database
    database.close()


@pytest.fixture
def ctx(db: Database) -> RequestContext:
    account = CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id
    principal = Principal(account, f"arn:aws:iam::{account}:root", account, "AKIA")
    return RequestContext(principal=principal, region="us-east-1", request_id="r", now=NOW)


@pytest.fixture
def logs(db: Database) -> LogsProvider:
    return LogsProvider(db, live_tail=LiveTailHub(), live_tail_max_s=0.3)


def stream(logs: LogsProvider, ctx: RequestContext, *events: tuple[int, str], name: str = "s") -> None:
    logs.create_log_stream(ctx, {"logGroupName": "g", "logStreamName": name})
    if events:
        batch = [{"timestamp": ts, "message": message} for ts, message in events]
        logs.put_log_events(ctx, {"logGroupName": "g", "logStreamName": name, "logEvents": batch})


def test_filter_pages_stop_at_the_scan_budget(
    logs: LogsProvider, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "SCAN_BUDGET", 10)
    monkeypatch.setattr(events_module, "SCAN_CHUNK", 4)
    logs.create_log_group(ctx, {"logGroupName": "g"})
    stream(logs, ctx, *[(NOW_MS - 100 + i, "hit" if i in (3, 25) else "miss") for i in range(30)])
    pages: list[list[str]] = []
    token = None
    while True:
        result = logs.filter_log_events(
            ctx, {"logGroupName": "g", "filterPattern": "hit", **({"nextToken": token} if token else {})}
        )
        pages.append([e["message"] for e in result["events"]])
        token = result.get("nextToken")
        if token is None:
            break
    # 30 events, 10 examined per call: a page with the first hit, an empty one, one with the second hit.
    assert pages == [["hit"], [], ["hit"]]


@pytest.mark.parametrize("head", [True, False])
def test_pre_filtered_searches_page_as_searches_that_examine_every_event(
    logs: LogsProvider, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch, head: bool
) -> None:
    monkeypatch.setattr(events_module, "SCAN_BUDGET", 7)
    monkeypatch.setattr(events_module, "SCAN_CHUNK", 3)
    logs.create_log_group(ctx, {"logGroupName": "g"})
    for name in ("a", "b"):
        events = [(NOW_MS - 50 + i // 3, "hit" if i % 5 in (0, 3) else "miss") for i in range(20)]
        stream(logs, ctx, *events, name=name)

    def pages(pattern: str) -> list[tuple[list[str], str | None]]:
        found: list[tuple[list[str], str | None]] = []
        token = None
        while True:
            params = {"logGroupName": "g", "filterPattern": pattern, "limit": 4, "startFromHead": head}
            if not head:
                params["startTime"] = NOW_MS - 100
            result = logs.filter_log_events(ctx, {**params, **({"nextToken": token} if token else {})})
            token = result.get("nextToken")
            found.append(([f"{e['logStreamName']}:{e['eventId']}" for e in result["events"]], token))
            if token is None:
                return found

    # "hit" goes to the database as a substring; a regular expression does not, so every event is read.
    assert pages("hit") == pages("%^hit$%")
    assert sum(len(events) for events, _ in pages("hit")) == 16


def test_get_log_events_on_an_empty_stream_and_past_the_ends(logs: LogsProvider, ctx: RequestContext) -> None:
    logs.create_log_group(ctx, {"logGroupName": "g"})
    stream(logs, ctx)
    empty = logs.get_log_events(ctx, {"logGroupName": "g", "logStreamName": "s"})
    assert empty["events"] == []
    again = logs.get_log_events(
        ctx, {"logGroupName": "g", "logStreamName": "s", "nextToken": empty["nextForwardToken"]}
    )
    assert again["nextForwardToken"] == empty["nextForwardToken"]
    batch = [{"timestamp": NOW_MS - 5, "message": "a"}, {"timestamp": NOW_MS - 5, "message": "b"}]
    logs.put_log_events(ctx, {"logGroupName": "g", "logStreamName": "s", "logEvents": batch})
    later = logs.get_log_events(
        ctx, {"logGroupName": "g", "logStreamName": "s", "nextToken": empty["nextForwardToken"]}
    )
    assert [e["message"] for e in later["events"]] == ["a", "b"]
    # Backward from the first event finds nothing, then forward from there finds them all again.
    before = logs.get_log_events(
        ctx, {"logGroupName": "g", "logStreamName": "s", "nextToken": later["nextBackwardToken"]}
    )
    assert before["events"] == [] and before["nextBackwardToken"] == later["nextBackwardToken"]
    after = logs.get_log_events(
        ctx, {"logGroupName": "g", "logStreamName": "s", "nextToken": before["nextForwardToken"]}
    )
    assert [e["message"] for e in after["events"]] == ["a", "b"]


def test_the_sweep_expires_events_by_each_groups_retention(
    db: Database, logs: LogsProvider, ctx: RequestContext
) -> None:
    for group, days in (("g", 1), ("keep", None)):
        logs.create_log_group(ctx, {"logGroupName": group})
        logs.create_log_stream(ctx, {"logGroupName": group, "logStreamName": "s"})
        for timestamp, message in ((NOW_MS - 3 * DAY_MS, "old"), (NOW_MS, "new")):
            batch = [{"timestamp": timestamp, "message": message}]
            logs.put_log_events(ctx, {"logGroupName": group, "logStreamName": "s", "logEvents": batch})
        if days:
            logs.put_retention_policy(ctx, {"logGroupName": group, "retentionInDays": days})
    assert expire_log_events(db, NOW + timedelta(seconds=1)) == 1
    for group, kept in (("g", ["new"]), ("keep", ["old", "new"])):
        got = logs.get_log_events(ctx, {"logGroupName": group, "logStreamName": "s", "startFromHead": True})
        assert [e["message"] for e in got["events"]] == kept
    assert expire_log_events(db, NOW + timedelta(seconds=1)) == 0


async def collect(stream: AsyncGenerator[dict[str, Any], None], until: str) -> list[dict[str, Any]]:
    seen = []
    async for event in stream:
        seen.append(event)
        if until in event:
            break
    await stream.aclose()
    return seen


def test_a_session_ends_with_session_timeout_after_its_maximum(
    logs: LogsProvider, ctx: RequestContext
) -> None:
    logs.create_log_group(ctx, {"logGroupName": "g"})
    result = logs.start_live_tail(ctx, {"logGroupIdentifiers": ["g"]})
    seen = asyncio.run(collect(result["responseStream"], until="SessionTimeoutException"))
    assert "sessionStart" in seen[0]
    assert seen[-1] == {"SessionTimeoutException": {"message": live_tail.TIMEOUT_MESSAGE}}
    assert logs._live_tail.session_count() == 0


def test_sessions_follow_their_streams_pattern_and_sample_above_500(
    logs: LogsProvider, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_tail, "UPDATE_INTERVAL_S", 0.05)
    logs.create_log_group(ctx, {"logGroupName": "g"})
    stream(logs, ctx, name="web")
    stream(logs, ctx, name="jobs")
    tail = logs.start_live_tail(
        ctx, {"logGroupIdentifiers": ["g"], "logStreamNames": ["web"], "logEventFilterPattern": "ERROR"}
    )["responseStream"]

    async def run() -> list[dict[str, Any]]:
        assert "sessionStart" in await tail.__anext__()
        assert logs._live_tail.session_count() == 1
        for name in ("web", "jobs"):
            batch = [{"timestamp": NOW_MS, "message": f"ERROR {i}" if i % 2 else "fine"} for i in range(1400)]
            await asyncio.to_thread(
                logs.put_log_events, ctx, {"logGroupName": "g", "logStreamName": name, "logEvents": batch}
            )
        update = await tail.__anext__()
        await tail.aclose()
        return [update]

    (update,) = asyncio.run(run())
    results = update["sessionUpdate"]["sessionResults"]
    assert update["sessionUpdate"]["sessionMetadata"] == {"sampled": True}
    assert len(results) == 500 and {r["logStreamName"] for r in results} == {"web"}
    assert all(r["message"].startswith("ERROR") for r in results)
    assert logs._live_tail.session_count() == 0


def test_a_session_for_a_missing_group_is_refused(logs: LogsProvider, ctx: RequestContext) -> None:
    with pytest.raises(ApiError) as excinfo:
        logs.start_live_tail(ctx, {"logGroupIdentifiers": ["nope"]})
    assert excinfo.value.code == "ResourceNotFoundException"
