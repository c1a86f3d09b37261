"""Log streams: create, describe (by name or by last event time), delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.logs.errors import (
    STREAM_EXISTS,
    STREAM_NOT_FOUND,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from dockyard.services.logs.groups import require_group
from dockyard.services.logs.naming import epoch_ms, requested_group, stream_arn
from dockyard.services.paging import decode_token, encode_token
from dockyard.store import logs as store
from dockyard.store.database import Database
from dockyard.store.logs import LogGroupRecord, LogStreamRecord

DESCRIBE_LIMIT = 50
LAST_EVENT_TIME = "LastEventTime"
PREFIX_WITH_TIME_MESSAGE = "Cannot order by LastEventTime with a logStreamNamePrefix."


def require_stream(tx: Connection, group: LogGroupRecord, name: str) -> LogStreamRecord:
    stream = store.find_stream(tx, group.id, name)
    if stream is None:
        raise ResourceNotFoundException(STREAM_NOT_FOUND)
    return stream


def sequence_token(sequence: int) -> str:
    """The upload sequence as the decimal token AWS hands out (and no longer checks)."""
    return f"{sequence:056d}"


class StreamOperations:
    """Mixed into the Logs provider; needs ``_db``."""

    _db: Database

    def create_log_stream(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            group = require_group(tx, ctx, params["logGroupName"])
            if store.create_stream(tx, group.id, str(params["logStreamName"]), epoch_ms(ctx)) is None:
                raise ResourceAlreadyExistsException(STREAM_EXISTS)
        return {}

    def delete_log_stream(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            group = require_group(tx, ctx, params["logGroupName"])
            store.delete_stream(tx, require_stream(tx, group, str(params["logStreamName"])))
        return {}

    def describe_log_streams(self, ctx: RequestContext, params: Params) -> Result:
        by_time = params.get("orderBy") == LAST_EVENT_TIME
        prefix = params.get("logStreamNamePrefix")
        if by_time and prefix is not None:
            raise InvalidParameterException(PREFIX_WITH_TIME_MESSAGE)
        descending = bool(params.get("descending"))
        limit = int(params.get("limit") or DESCRIBE_LIMIT)
        after = decode_token(
            params.get("nextToken"), (int, str), message="The specified nextToken is invalid."
        )
        with self._db.read() as tx:
            group = require_group(tx, ctx, requested_group(ctx, params))
            streams = store.list_streams(
                tx,
                group.id,
                prefix=prefix,
                by_last_event=by_time,
                descending=descending,
                after=(int(after[0]), str(after[1])) if after else None,
                limit=limit + 1,
            )
        result: Result = {"logStreams": [_stream_view(group, s) for s in streams[:limit]]}
        if len(streams) > limit:
            last = streams[limit - 1]
            result["nextToken"] = encode_token([last.last_event_ms or 0, last.name])
        return result


def _stream_view(group: LogGroupRecord, stream: LogStreamRecord) -> dict[str, Any]:
    # storedBytes: AWS has reported 0 for every stream since 2019 (groups keep theirs).
    return {
        "logStreamName": stream.name,
        "creationTime": stream.created_ms,
        "firstEventTimestamp": stream.first_event_ms,
        "lastEventTimestamp": stream.last_event_ms,
        "lastIngestionTime": stream.last_ingestion_ms,
        "uploadSequenceToken": sequence_token(stream.upload_sequence + 1),
        "arn": stream_arn(group.region, group.account_id, group.name, stream.name),
        "storedBytes": 0,
    }
