"""Event stream replies (api/protocol/event_stream.py) read back by botocore's own parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import create_parser

from dockyard.api.protocol.catalog import ServiceCatalog
from dockyard.api.protocol.event_stream import CONTENT_TYPE, encode_message, serialize_json_event_stream

OPERATION = ServiceCatalog.default().operation("logs", "StartLiveTail")


class RawStream:
    """What botocore reads an event stream from: the chunks as they came off the socket."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.closed = False

    def stream(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        self.closed = True


def wire_chunks(events: list[dict[str, Any]]) -> tuple[list[bytes], list[str]]:
    """The reply's chunks for ``events``, and what happened to the provider's generator."""
    trace: list[str] = []

    async def provider() -> AsyncGenerator[dict[str, Any], None]:
        try:
            for event in events:
                yield event
        finally:
            trace.append("closed")

    async def collect() -> list[bytes]:
        wire = serialize_json_event_stream(OPERATION, {"responseStream": provider()})
        assert wire.status == 200 and wire.headers["Content-Type"] == CONTENT_TYPE
        return [chunk async for chunk in wire.chunks]

    return asyncio.run(collect()), trace


def parse(chunks: list[bytes]) -> Any:
    # One byte at a time: messages split anywhere must still parse.
    body = RawStream([bytes([b]) for chunk in chunks for b in chunk])
    parsed = create_parser("json").parse(
        {"status_code": 200, "headers": {"content-type": CONTENT_TYPE}, "body": body, "context": {}},
        OPERATION.output_shape,
    )
    return parsed["responseStream"]


def test_a_message_is_what_botocore_decodes() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_message({":event-type": "x", "é": "ü"}, b'{"a": 1}'))
    (message,) = list(buffer)
    assert message.headers == {":event-type": "x", "é": "ü"}
    assert message.payload == b'{"a": 1}'


def test_live_tail_events_parse_as_botocore_reads_them() -> None:
    start = {
        "requestId": "r",
        "sessionId": "s",
        "logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:log-group:g"],
    }
    result = {
        "logStreamName": "web",
        "logGroupIdentifier": "1:g",
        "message": "hi",
        "timestamp": 5,
        "ingestionTime": 6,
    }
    update = {"sessionMetadata": {"sampled": False}, "sessionResults": [result], "internal": "dropped"}
    chunks, trace = wire_chunks([{"sessionStart": start}, {"sessionUpdate": update}])
    assert trace == ["closed"]
    events = list(parse(chunks))
    assert events == [
        {"sessionStart": start},
        {"sessionUpdate": {"sessionMetadata": {"sampled": False}, "sessionResults": [result]}},
    ]


def test_an_exception_event_raises_in_the_client() -> None:
    chunks, _ = wire_chunks([{"SessionTimeoutException": {"message": "over"}}])
    with pytest.raises(EventStreamError) as excinfo:
        list(parse(chunks))
    assert excinfo.value.response["Error"] == {"Code": "SessionTimeoutException", "Message": "over"}


def test_a_failing_provider_ends_the_stream() -> None:
    async def broken() -> AsyncGenerator[dict[str, Any], None]:
        yield {"sessionStart": {"sessionId": "s"}}
        raise RuntimeError("boom")

    async def collect() -> list[bytes]:
        wire = serialize_json_event_stream(OPERATION, {"responseStream": broken()})
        return [chunk async for chunk in wire.chunks]

    events = list(parse(asyncio.run(collect())))
    assert events == [{"sessionStart": {"sessionId": "s"}}]
