"""Sending a reply as it is produced (an event stream), and stopping as soon as the client goes away.

Starlette's StreamingResponse notices a departed client only when a send fails, and uvicorn drops sends
to a closed connection silently, so a quiet stream would run on for hours. Here a second task waits for
``http.disconnect`` and cancels the sending; either way the chunks' iterator is closed, which ends what
produces them (a live tail session unsubscribes).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.api.protocol.event_stream import WireStream


class StreamedResponse(Response):
    def __init__(self, wire: WireStream) -> None:
        self.status_code = wire.status
        self.background = None
        self.init_headers(wire.headers)
        self._chunks = wire.chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self._chunks

        async def stream(cancel: anyio.CancelScope) -> None:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            cancel.cancel()

        async def watch_disconnect(cancel: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            cancel.cancel()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(stream, group.cancel_scope)
                group.start_soon(watch_disconnect, group.cancel_scope)
        finally:
            if isinstance(chunks, AsyncGenerator):
                with contextlib.suppress(RuntimeError):  # already running its own close
                    await chunks.aclose()
