"""AWS event streams (``application/vnd.amazon.eventstream``): the reply of an operation whose output has an
event stream member, such as CloudWatch Logs' StartLiveTail.

A message is ``total length · headers length · prelude CRC32 · headers · payload · message CRC32`` (lengths
big-endian 32-bit); each header is ``name length (1 byte) · name · type (7: string) · value length (2
bytes) · value``. For the JSON protocols the stream opens with an ``initial-response`` event holding the
output's other members (botocore reads it first), then one message per event the provider yields::

    provider: {"sessionUpdate": {...}}  ─▶  :message-type event, :event-type sessionUpdate, JSON payload
    provider: {"SessionTimeoutException": {"message": …}}  ─▶  :message-type exception,
                                                              :exception-type SessionTimeoutException

Events are written through their shapes (an allow-list, as replies are). The provider's iterator is closed
whenever the stream ends, however it ends.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel

from dockyard.api.protocol.json_protocol import serialize_json_structure

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class WireStream:
    """A reply sent as it is produced: status and headers first, then ``chunks`` one message at a time."""

    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message with string ``headers`` and ``payload``."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + _CRC.size + len(encoded) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(encoded))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + encoded + payload
    return head + _CRC.pack(zlib.crc32(head))


def serialize_json_event_stream(operation: OperationModel, result: Mapping[str, Any]) -> WireStream:
    """The reply of an event-stream operation of a JSON protocol: ``result`` holds the stream member as an
    async generator of ``{member name: value}`` events, and the output's other members."""
    output = operation.output_shape
    stream_name = output.event_stream_name
    stream_shape = output.members[stream_name]
    rest = {key: value for key, value in result.items() if key != stream_name}
    events: AsyncGenerator[Mapping[str, Any], None] = result[stream_name]

    async def chunks() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(events):
            yield _event_message("initial-response", serialize_json_structure(output, rest))
            try:
                async for event in events:
                    for name, value in event.items():
                        yield _stream_message(stream_shape, name, value)
            except Exception:
                # Nothing can reach the client but the end of the stream: its status was sent long ago.
                log.exception("an event stream failed", extra={"operation": operation.name})

    return WireStream(200, {"Content-Type": CONTENT_TYPE}, chunks())


def _stream_message(stream_shape: Any, name: str, value: Mapping[str, Any]) -> bytes:
    shape = stream_shape.members[name]
    payload = serialize_json_structure(shape, value)
    if shape.metadata.get("exception"):
        headers = {":message-type": "exception", ":exception-type": name, ":content-type": "application/json"}
        return encode_message(headers, payload)
    return _event_message(name, payload)


def _event_message(event_type: str, payload: bytes) -> bytes:
    headers = {":message-type": "event", ":event-type": event_type, ":content-type": "application/json"}
    return encode_message(headers, payload)


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    return (
        bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    )
