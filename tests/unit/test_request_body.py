"""The gateway's body reader: the limit holds while streaming, whatever the client declares."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from dockyard.api.gateway import _read_body
from dockyard.core.errors import ApiError


class StreamingRequest:
    """Just what ``_read_body`` reads of a Starlette request: headers and the body stream."""

    def __init__(self, chunks: list[bytes], headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}
        self.chunks = chunks
        self.consumed = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.consumed += 1
            yield chunk


def read(request: StreamingRequest, limit: int) -> bytes:
    return anyio.run(_read_body, request, limit)  # type: ignore[arg-type]


def test_an_undeclared_body_over_the_limit_stops_at_the_first_chunk_past_it() -> None:
    request = StreamingRequest([b"x" * 10] * 100)
    with pytest.raises(ApiError) as raised:
        read(request, 35)
    assert raised.value.status == 413
    assert request.consumed == 4  # 40 bytes read, not 1,000


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    request = StreamingRequest([b"x"], {"content-length": "1000"})
    with pytest.raises(ApiError):
        read(request, 10)
    assert request.consumed == 0


def test_a_body_within_the_limit_is_returned_whole() -> None:
    assert read(StreamingRequest([b"ab", b"cd"]), 4) == b"abcd"
