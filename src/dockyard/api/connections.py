"""Connection hygiene for the HTTP server: what one client may hold, and for how long it may say nothing.

A few hundred sockets that connect and never speak would otherwise hold a file descriptor each until the
process runs out and stops accepting anyone. So, per connection:

- **admission**: at most ``max_per_client`` open connections per client address; one more is closed at
  once, before any byte is read (other addresses are unaffected);
- **header timeout**: the head of each request (request line and headers) must arrive within
  ``header_timeout_s`` of the connection opening, or of the request's first byte on a kept-alive
  connection; a silent or dripping client is disconnected;
- **header size**: a head larger than ``max_header_bytes`` is answered 400 and the connection closed;
- **idle timeout**: between requests uvicorn's keep-alive timeout applies (``idle_timeout_s``).

:class:`ConnectionGuard` is the bookkeeping (pure, no I/O); :func:`guarded_http_protocol` fits it into
uvicorn's httptools protocol. A websocket upgrade leaves the guard: the push channel authenticates before
it accepts and each agent holds one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 5.0
    max_per_client: int = 256
    max_header_bytes: int = 64 * 1024


class ConnectionGuard:
    """Counts open connections per client address and admits up to a cap (event-loop thread only)."""

    def __init__(self, max_per_client: int) -> None:
        self._max = max_per_client
        self._open: dict[str, int] = {}

    def admit(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and nothing counted) when at the cap."""
        count = self._open.get(address, 0)
        if count >= self._max:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def open_from(self, address: str) -> int:
        return self._open.get(address, 0)


def guarded_http_protocol(guard: ConnectionGuard, limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with admission, a header timeout and a header size cap."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        _admitted: str | None = None
        _header_timer: asyncio.TimerHandle | None = None
        _head_bytes: int = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if not guard.admit(address):
                transport.abort()
                return
            self._admitted = address
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._leave_guard()
            super().connection_lost(exc)

        # The head is measured as the parser hands it over (request target, header names and values),
        # not by the bytes read: one read may carry a head and the start of a large body.
        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value))
            super().on_header(name, value)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None and self._admitted is not None:
                self._await_head()

        def on_headers_complete(self) -> None:
            self._stop_head_timer()
            super().on_headers_complete()

        def handle_websocket_upgrade(self) -> None:
            self._leave_guard()
            super().handle_websocket_upgrade()

        def _await_head(self) -> None:
            self._head_bytes = 0
            self._header_timer = self.loop.call_later(limits.header_timeout_s, self._drop)

        def _count_head(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > limits.max_header_bytes:
                # Raised inside a parser callback, this becomes uvicorn's 400 and the connection closes.
                raise httptools.HttpParserError("request head too large")

        def _stop_head_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _leave_guard(self) -> None:
            self._stop_head_timer()
            if self._admitted is not None:
                guard.release(self._admitted)
                self._admitted = None

        def _drop(self) -> None:
            self._stop_head_timer()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpProtocol


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The ``uvicorn.Config`` arguments that apply ``limits``."""
    return {
        "http": guarded_http_protocol(ConnectionGuard(limits.max_per_client), limits),
        "timeout_keep_alive": limits.idle_timeout_s,
    }
