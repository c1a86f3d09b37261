"""The kubelet's streaming endpoints as an ASGI app: ``kubectl logs`` and ``kubectl exec`` on this node.

```
GET /containerLogs/<ns>/<pod>/<container>?…  ─▶ engine.logs (worker thread) ─▶ 200, chunked, line by
     line (until the container stops or the client goes, when following; limitBytes cuts it)
     refused: the engine's KubeletError status, its message as plain text (as go-restful's WriteError)
GET /exec/<ns>/<pod>/<container>?command=…   ─▶ websocket, v5.channel.k8s.io or v4.channel.k8s.io
     engine.exec before the handshake completes (a refusal is an HTTP answer, not a stream)
     ─▶ accepted; an empty frame on the first output channel says the streams are up
     output  (a thread): session.read → frames on 1 / 2 ─ at its end: exit code → Status on 3 → close 1000
     input   (the loop): 0 → stdin, 4 → resize, v5's [255, 0] → stdin closed; the client gone → closed
```
Who may call is settled before any of this: the listener (``server.py``) accepts only TLS clients with a
certificate the cluster's CA signed. Frames and Status are built by :mod:`dockyard.core.kube_streams`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.types import Receive, Scope, Send

from dockyard.agent.kubelet import stream_options
from dockyard.agent.kubelet.pod_engine import KubeletError
from dockyard.agent.kubelet.stream_options import ExecOptions, LogOptions, OptionsError, Target
from dockyard.agent.runtime import ContainerRuntimeError, ExecSession
from dockyard.core import kube_streams as ks

log = logging.getLogger("dockyard.agent.kubelet.server")

SUBPROTOCOLS = (ks.V5_PROTOCOL, ks.V4_PROTOCOL)


class PodStreams(Protocol):
    """What the server needs of the pod runtime (:class:`~dockyard.agent.kubelet.pod_engine.PodEngine`)."""

    def logs(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]: ...

    def exec(
        self,
        namespace: str,
        name: str,
        container: str | None,
        command: Sequence[str],
        *,
        stdin: bool = False,
        tty: bool = False,
    ) -> ExecSession: ...


class KubeletStreamingApp:
    def __init__(self, engine: PodStreams) -> None:
        self._engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        target = stream_options.parse_target(scope.get("path", "/"))
        query = stream_options.query_values(scope.get("query_string", b""))
        if scope["type"] == "websocket":
            if (await receive())["type"] != "websocket.connect":
                return
            if target is None or target.endpoint != "exec":
                await _deny(send, 404, "404 page not found")
                return
            await self._exec(target, query, list(scope.get("subprotocols") or ()), send, receive)
            return
        if target is None:
            await _text(send, 404, "404 page not found")
        elif scope.get("method") != "GET":
            await _text(send, 405, "405: Method Not Allowed")
        elif target.endpoint == "exec":
            # SPDY (a POST with Upgrade: SPDY/3.1) is not spoken here; the API server uses the websocket.
            await _text(send, 400, "Upgrade request required")
        else:
            await self._logs(target, query, receive, send)

    # --- containerLogs --------------------------------------------------------------------------------------

    async def _logs(self, target: Target, query: dict[str, list[str]], receive: Receive, send: Send) -> None:
        try:
            options = stream_options.log_options(query)
        except OptionsError as error:
            await _text(send, 400, str(error))
            return
        stop = threading.Event()
        try:
            lines = await anyio.to_thread.run_sync(lambda: self._open_logs(target, options, stop))
        except KubeletError as error:
            await _text(send, error.status, error.message)
            return
        except ContainerRuntimeError as error:
            await _text(send, 500, str(error))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"cache-control", b"no-cache, private")],
            }
        )
        delivered = True
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_disconnect, receive, stop)
            delivered = await anyio.to_thread.run_sync(
                lambda: _pump_lines(lines, send, stop, options.limit_bytes)
            )
            group.cancel_scope.cancel()
        if delivered:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _open_logs(self, target: Target, options: LogOptions, stop: threading.Event) -> Iterator[bytes]:
        return self._engine.logs(
            target.namespace,
            target.pod,
            target.container,
            follow=options.follow,
            tail_lines=options.tail_lines,
            since_seconds=options.since_seconds,
            timestamps=options.timestamps,
            previous=options.previous,
            stop=stop,
        )

    # --- exec -----------------------------------------------------------------------------------------------

    async def _exec(
        self, target: Target, query: dict[str, list[str]], offered: list[str], send: Send, receive: Receive
    ) -> None:
        protocol = ks.negotiate(offered, SUBPROTOCOLS)
        if protocol is None:
            await _deny(
                send,
                400,
                f"requested protocol(s) are not supported: {_go_list(offered)}; "
                f"supports {_go_list(SUBPROTOCOLS)}",
            )
            return
        try:
            options = stream_options.exec_options(query)
            session = await anyio.to_thread.run_sync(lambda: self._open_exec(target, options))
        except OptionsError as error:
            await _deny(send, 400, str(error))
            return
        except KubeletError as error:
            await _deny(send, error.status, error.message)
            return
        except ContainerRuntimeError as error:
            await _deny(send, 500, str(error))
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": protocol})
            first = ks.STDOUT if options.stdout else ks.STDERR if options.stderr else ks.ERROR
            await send({"type": "websocket.send", "bytes": ks.encode(first)})
            await _relay(session, options, protocol, receive, send)
        finally:
            await anyio.to_thread.run_sync(session.close)

    def _open_exec(self, target: Target, options: ExecOptions) -> ExecSession:
        return self._engine.exec(
            target.namespace,
            target.pod,
            target.container,
            options.command,
            stdin=options.stdin,
            tty=options.tty,
        )


async def _relay(
    session: ExecSession, options: ExecOptions, protocol: str, receive: Receive, send: Send
) -> None:
    """Both directions until the process ends (its Status sent, the socket closed) or the client goes."""
    async with anyio.create_task_group() as group:

        async def output() -> None:
            status = await anyio.to_thread.run_sync(lambda: _pump_output(session, options, send))
            if status is not None:
                with contextlib.suppress(OSError):
                    await send({"type": "websocket.send", "bytes": ks.status_frame(status)})
                    await send({"type": "websocket.close", "code": 1000})
            group.cancel_scope.cancel()

        group.start_soon(output)
        await _pump_input(session, protocol, receive)
        # The client went away: let go of the process's streams so the output thread ends too.
        await anyio.to_thread.run_sync(session.close)


async def _pump_input(session: ExecSession, protocol: str, receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            continue  # the channel protocols are binary; kubectl sends nothing else
        try:
            frame = ks.decode(data)
        except ks.FrameError as error:
            log.debug("exec: ignoring a bad frame: %s", error)
            continue
        if frame.channel == ks.STDIN and frame.data:
            await anyio.to_thread.run_sync(session.write, frame.data)
        elif frame.channel == ks.RESIZE:
            with contextlib.suppress(ValueError):
                height, width = ks.parse_resize(frame.data)
                await anyio.to_thread.run_sync(session.resize, height, width)
        elif protocol == ks.V5_PROTOCOL and frame.closes == ks.STDIN:
            await anyio.to_thread.run_sync(session.close_stdin)


def _pump_output(session: ExecSession, options: ExecOptions, send: Send) -> dict[str, Any] | None:
    """In a worker thread: the process's output as frames; its ending Status, or ``None`` when the
    client is gone (nothing more to say)."""
    try:
        while (piece := session.read()) is not None:
            stream, data = piece
            channel = ks.STDERR if stream == "stderr" else ks.STDOUT
            if (channel == ks.STDOUT and not options.stdout) or (channel == ks.STDERR and not options.stderr):
                continue
            _send_from_thread(send, {"type": "websocket.send", "bytes": ks.encode(channel, data)})
        code = session.exit_code()
    except OSError:
        return None  # the client went away mid-send, or the session was closed under the reader
    except ContainerRuntimeError as error:
        return ks.internal_error_status(f"error executing command in container: {error}")
    if code is None:
        return ks.internal_error_status("error executing command in container: the exit code is unknown")
    return ks.exit_status(code, options.command)


# --- helpers ----------------------------------------------------------------------------------------------


def _pump_lines(lines: Iterator[bytes], send: Send, stop: threading.Event, limit: int | None) -> bool:
    """In a worker thread: ``lines`` to the client, ``limit`` bytes at most. False once the client is
    gone."""
    remaining = limit
    try:
        for line in lines:
            if stop.is_set():
                return False
            chunk = line if remaining is None else line[:remaining]
            _send_from_thread(send, {"type": "http.response.body", "body": chunk, "more_body": True})
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    except OSError:
        return False
    finally:
        close: Callable[[], None] | None = getattr(lines, "close", None)
        if close is not None:
            close()
    return True


def _send_from_thread(send: Send, message: dict[str, Any]) -> None:
    async def deliver() -> None:
        await send(message)

    anyio.from_thread.run(deliver)


async def _stop_on_disconnect(receive: Receive, stop: threading.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stop.set()


def _go_list(items: Sequence[str]) -> str:
    return "[" + " ".join(items) + "]"


async def _text(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _deny(send: Send, status: int, text: str) -> None:
    """Refuse a websocket handshake with an HTTP answer (the ASGI websocket.http.response extension)."""
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
