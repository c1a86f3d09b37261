"""Log events: PutLogEvents, GetLogEvents (one stream, paged by position) and FilterLogEvents (a group's
streams interleaved in time order, through a filter pattern).

GetLogEvents' tokens are positions between two events of the stream: ``f/<key>/s`` pages forward from
there, ``b/<key>/s`` backward. A page that finds nothing hands back the very token it was given, which is
how clients know they reached the end (and a forward token keeps working as new events arrive).

FilterLogEvents reads the group's events in ``(timestamp, id)`` order and keeps those the pattern matches.
One call examines at most ``SCAN_BUDGET`` events, so a rare pattern over a large group answers a short or
empty page with a ``nextToken`` rather than one very long call — as AWS documents its pages ("partially
full, or even empty"); no ``nextToken`` means the search is complete. The walk is
``control/logs/scan.py``'s: the database skips the events missing a substring every match holds
(``control/logs/prefilter.py``), the pattern decides the rest, and only matches become response events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from dockyard.control.logs.batch import judge_batch
from dockyard.control.logs.pattern import PatternError, compile_pattern
from dockyard.control.logs.prefilter import Clause, required_substrings
from dockyard.control.logs.scan import Limits, scan_page
from dockyard.core.context import RequestContext
from dockyard.core.logs_limits import EVENT_OVERHEAD_BYTES
from dockyard.services.base import Params, Result
from dockyard.services.logs.errors import InvalidParameterException
from dockyard.services.logs.groups import require_group
from dockyard.services.logs.naming import epoch_ms, requested_group
from dockyard.services.logs.streams import require_stream, sequence_token
from dockyard.services.paging import decode_token, encode_token
from dockyard.store import logs as store
from dockyard.store.database import Database
from dockyard.store.logs import EventKey, EventRow, StoredEvent

MAX_EVENTS = 10_000
MAX_RESPONSE_BYTES = 1_048_576
SCAN_BUDGET = 100_000
SCAN_CHUNK = 10_000
MAX_STREAM_IDS_IN_QUERY = 500
BACKWARD_FILTER_SINCE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
INVALID_TOKEN = "The specified nextToken is invalid."  # noqa: S105 - a message, not a secret
_TOKEN = re.compile(r"([fb])/(\d{20})(\d{20})/s")
_LAST_ID = 10**20 - 1  # above any event id: (t, _LAST_ID) sits after every event of millisecond t


@dataclass(frozen=True, slots=True)
class Ingested:
    """Events a PutLogEvents call stored, as live tail sessions receive them after the commit."""

    group_id: int
    group_name: str
    account_id: str
    stream_name: str
    events: Sequence[tuple[int, str]]
    ingestion_time: int


#: Told of every batch stored, after its transaction has committed.
IngestListener = Callable[[Ingested], None]


class EventOperations:
    """Mixed into the Logs provider; needs ``_db`` and ``_on_ingest``."""

    _db: Database
    _on_ingest: IngestListener | None

    def put_log_events(self, ctx: RequestContext, params: Params) -> Result:
        batch: list[dict[str, Any]] = list(params["logEvents"])
        now = epoch_ms(ctx)
        with self._db.write() as tx:
            group = require_group(tx, ctx, params["logGroupName"])
            stream = require_stream(tx, group, str(params["logStreamName"]))
            verdict = judge_batch(batch, now_ms=now, retention_days=group.retention_days)
            accepted = [(int(e["timestamp"]), str(e["message"])) for e in batch[verdict.start : verdict.end]]
            sequence = store.append_events(tx, stream, accepted, now)
        if accepted and self._on_ingest is not None:
            self._on_ingest(Ingested(group.id, group.name, group.account_id, stream.name, accepted, now))
        return {
            "nextSequenceToken": sequence_token(sequence + 1),
            "rejectedLogEventsInfo": verdict.rejected_info,
        }

    def get_log_events(self, ctx: RequestContext, params: Params) -> Result:
        start, end = params.get("startTime"), params.get("endTime")
        limit = int(params.get("limit") or MAX_EVENTS)
        token = params.get("nextToken")
        position = _parse_position(token) if token else None
        with self._db.read() as tx:
            group = require_group(tx, ctx, requested_group(ctx, params))
            stream = require_stream(tx, group, str(params["logStreamName"]))
            forward = position[0] == "f" if position else bool(params.get("startFromHead"))
            key = position[1] if position else None
            found = store.stream_events(
                tx,
                stream.id,
                start_ms=start,
                end_ms=end,
                after=key if forward else None,
                before=None if forward else key,
                descending=not forward,
                limit=limit,
            )
        page = _within_response_size(found)
        if not forward:
            page.reverse()
        return {"events": [_output_event(e) for e in page], **_page_tokens(page, token, position, start)}

    def filter_log_events(self, ctx: RequestContext, params: Params) -> Result:
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix are mutually exclusive.")
        try:
            pattern = compile_pattern(str(params.get("filterPattern") or ""))
        except PatternError as exc:
            raise InvalidParameterException(str(exc)) from None
        limit = int(params.get("limit") or MAX_EVENTS)
        cursor = decode_token(params.get("nextToken"), (int, int, str), message=INVALID_TOKEN)
        if cursor is not None and cursor[2] not in ("f", "b"):
            raise InvalidParameterException(INVALID_TOKEN)
        forward = cursor[2] == "f" if cursor else params.get("startFromHead") is not False
        start, end = params.get("startTime"), params.get("endTime")
        if not forward and start is not None and start < BACKWARD_FILTER_SINCE_MS:
            raise InvalidParameterException(
                "startFromHead false is supported only with a startTime on or after Jan 1, 2024 00:00:00 UTC."
            )
        key = (int(cursor[0]), int(cursor[1])) if cursor else None
        with self._db.read() as tx:
            group = require_group(tx, ctx, requested_group(ctx, params))
            wanted: frozenset[int] | None = None
            if names is None and prefix is None:
                names_by_id = store.stream_names(tx, group.id)
            else:
                streams = store.list_streams(tx, group.id, prefix=prefix, names=names)
                names_by_id = {s.id: s.name for s in streams}
                wanted = frozenset(names_by_id)
            listing = _GroupListing(
                tx,
                group.id,
                stream_ids=_query_ids(wanted),
                start=start,
                end=None if end is None else end + 1,  # FilterLogEvents' endTime is inclusive
                forward=forward,
            )
            page = scan_page(
                listing,
                key,
                test=pattern.test,
                streams=wanted,
                containing=required_substrings(pattern),
                limit=limit,
                limits=Limits(SCAN_BUDGET, SCAN_CHUNK, MAX_RESPONSE_BYTES, EVENT_OVERHEAD_BYTES),
            )
        result: Result = {
            "events": [_filtered_event(row, names_by_id[row[1]]) for row in page.matched],
            "searchedLogStreams": [],  # AWS answers an empty list since 2020
        }
        if page.more:
            last = page.key if page.key is not None else (start or 0, 0)
            result["nextToken"] = encode_token([*last, "f" if forward else "b"])
        return result


@dataclass(frozen=True, slots=True)
class _GroupListing:
    """The group's events one FilterLogEvents call walks (its streams and times), in its direction:
    the store's side of :class:`dockyard.control.logs.scan.Listing`."""

    tx: Connection
    group_id: int
    stream_ids: list[int] | None
    start: int | None
    end: int | None
    forward: bool

    def rows(
        self, past: EventKey | None, through: EventKey | None, containing: Sequence[Clause], limit: int
    ) -> list[EventRow]:
        return store.group_event_rows(
            self.tx,
            self.group_id,
            stream_ids=self.stream_ids,
            start_ms=self.start,
            end_ms=self.end,
            after=past if self.forward else None,
            before=None if self.forward else past,
            first=None if self.forward else through,
            last=through if self.forward else None,
            containing=containing,
            descending=not self.forward,
            limit=limit,
        )

    def key_at(self, past: EventKey | None, offset: int) -> EventKey | None:
        return self._key(past, offset, forward=self.forward)

    def key_before(self, key: EventKey) -> EventKey | None:
        return self._key(key, 0, forward=not self.forward)

    def count(self, past: EventKey | None, through: EventKey) -> int:
        return store.count_group_events(
            self.tx,
            self.group_id,
            stream_ids=self.stream_ids,
            start_ms=self.start,
            end_ms=self.end,
            after=past if self.forward else None,
            before=None if self.forward else past,
            first=None if self.forward else through,
            last=through if self.forward else None,
        )

    def _key(self, past: EventKey | None, offset: int, *, forward: bool) -> EventKey | None:
        return store.group_event_key(
            self.tx,
            self.group_id,
            stream_ids=self.stream_ids,
            start_ms=self.start,
            end_ms=self.end,
            after=past if forward else None,
            before=None if forward else past,
            descending=not forward,
            offset=offset,
        )


def _query_ids(wanted: frozenset[int] | None) -> list[int] | None:
    """The stream ids to name in the query; past a few hundred the group is read whole and filtered."""
    if wanted is None or len(wanted) > MAX_STREAM_IDS_IN_QUERY:
        return None
    return sorted(wanted)


def _within_response_size(events: list[StoredEvent]) -> list[StoredEvent]:
    """The leading events (in the order read) that fit in a 1 MB response, at least one."""
    size = 0
    for count, event in enumerate(events):
        size += len(event.message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if size > MAX_RESPONSE_BYTES and count:
            return events[:count]
    return list(events)


def _page_tokens(
    page: list[StoredEvent], token: str | None, position: tuple[str, EventKey] | None, start: int | None
) -> dict[str, str]:
    """GetLogEvents' two tokens: around the page, or for an empty page the token given back unchanged
    (the end) beside the one pointing the other way from the same place."""
    if page:
        return {"nextForwardToken": _token("f", page[-1].key), "nextBackwardToken": _token("b", page[0].key)}
    if position is None or token is None:
        origin = (start or 0, 0)
        return {"nextForwardToken": _token("f", origin), "nextBackwardToken": _token("b", origin)}
    direction, (timestamp, event_id) = position
    if direction == "f":
        # Forward from "after K" found nothing; backward from the same place must include K itself.
        return {"nextForwardToken": token, "nextBackwardToken": _token("b", (timestamp, event_id + 1))}
    # Backward from "before K" found nothing; forward from the same place must include K itself.
    before = (timestamp, event_id - 1) if event_id > 0 else (timestamp - 1, _LAST_ID) if timestamp else (0, 0)
    return {"nextForwardToken": _token("f", before), "nextBackwardToken": token}


def _token(direction: str, key: EventKey) -> str:
    timestamp, event_id = key
    return f"{direction}/{timestamp:020d}{event_id:020d}/s"


def _parse_position(token: str) -> tuple[str, EventKey]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidParameterException(INVALID_TOKEN)
    return match.group(1), (int(match.group(2)), int(match.group(3)))


def _output_event(event: StoredEvent) -> dict[str, Any]:
    return {"timestamp": event.timestamp, "message": event.message, "ingestionTime": event.ingestion_time}


def _filtered_event(row: EventRow, stream_name: str) -> dict[str, Any]:
    event_id, _stream_id, timestamp, ingestion_time, message = row
    return {
        "logStreamName": stream_name,
        "timestamp": timestamp,
        "message": message,
        "ingestionTime": ingestion_time,
        "eventId": f"{timestamp:020d}{event_id:036d}",
    }
