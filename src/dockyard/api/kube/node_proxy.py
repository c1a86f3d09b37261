"""The API server's side of ``kubectl logs`` and ``kubectl exec``: calls to a node's kubelet with the
cluster's kubelet-client certificate, streamed back to kubectl.

```
logs: GET https://<node>:<port>/containerLogs/…  ─ 2xx ─▶ 200 text/plain, chunked, as it comes
                                                  ─ 4xx/5xx ─▶ Status as kube-apiserver's response checker
                                                    words it (400 BadRequest with the kubelet's text …)
      unreachable ─▶ 500 Status: Get "<url>": dial tcp <host:port>: connect: connection refused
exec: kubectl's websocket accepted (v5.channel.k8s.io; v4 too) ─▶ wss://<node>:<port>/exec/… with the
      same subprotocol ─▶ every message relayed as it is, both ways; the kubelet's close ends both
      the kubelet refuses or cannot be reached ─▶ an InternalError Status on channel 3, then close — as
      kube-apiserver's stream translator reports it (the websocket was already accepted)
```
The client certificate (``services/eks/certificates.issue_kubelet_client_cert``) is issued on first
use from the cluster's CA in the store and kept in memory for the life of the cluster's listener.
kube-apiserver does not verify kubelets' serving certificates unless told a CA for them; neither
does this.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from starlette.types import Receive, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from dockyard.api.kube.pod_locations import KubeletLocation
from dockyard.control.kube.errors import KubeError
from dockyard.core import kube_streams as ks
from dockyard.services.eks.certificates import issue_kubelet_client_cert
from dockyard.store.eks import ClusterPki

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
MAX_ERROR_BODY = 64 * 1024
UPGRADE_PREFIX = "unable to upgrade connection: "


class NodeProxy:
    """Streams to one cluster's kubelets. ``pki`` reads the cluster's CA from the store (called once,
    in a worker thread); ``now`` dates the client certificate."""

    def __init__(self, pki: Callable[[], ClusterPki | None], *, now: Callable[[], datetime]) -> None:
        self._pki = pki
        self._now = now
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        """The client context presenting the kubelet-client certificate (store I/O the first time: call
        it from a worker thread)."""
        with self._lock:
            if self._context is None:
                pki = self._pki()
                if pki is None:
                    raise KubeError("the cluster's certificate authority is not in the store", code=500)
                client = issue_kubelet_client_cert(pki, self._now())
                self._context = client_context(client.cert_pem, client.key_pem)
            return self._context

    # --- logs -----------------------------------------------------------------------------------------------

    async def stream_logs(self, location: KubeletLocation, pod: str, receive: Receive, send: Send) -> None:
        """The kubelet's answer, streamed to the client. Raises KubeError before anything is sent."""
        context = await anyio.to_thread.run_sync(self.tls_context)
        url = location.url()
        timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=None)
        async with httpx.AsyncClient(verify=context, timeout=timeout) as client:
            try:
                async with client.stream("GET", url) as response:
                    if not 200 <= response.status_code <= 206:
                        body = await _bounded(response)
                        raise response_error(response.status_code, body, pod)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", b"text/plain"),
                                (b"cache-control", b"no-cache, private"),
                            ],
                        }
                    )
                    await _relay_body(response, receive, send)
            except httpx.TransportError as error:
                raise KubeError(
                    f'Get "{url}": dial tcp {location.authority}: {_dial_reason(error)}', reason="", code=500
                ) from None

    # --- exec -----------------------------------------------------------------------------------------------

    async def relay_exec(
        self, location: KubeletLocation, protocol: str, receive: Receive, send: Send
    ) -> None:
        """Relay an accepted client websocket (``protocol`` negotiated) to the kubelet's exec stream."""
        try:
            context = await anyio.to_thread.run_sync(self.tls_context)
            kubelet = await connect(
                location.url("wss"),
                ssl=context,
                subprotocols=[protocol],  # type: ignore[list-item]
                open_timeout=CONNECT_TIMEOUT_S,
                max_size=None,
                compression=None,
            )
        except InvalidStatus as refused:
            body = refused.response.body.decode("utf-8", "replace").strip()
            message = body if body.startswith(UPGRADE_PREFIX) else UPGRADE_PREFIX + body
            await _end_with(send, ks.internal_error_status(message))
            return
        except (OSError, InvalidHandshake, TimeoutError) as error:
            message = f"error dialing backend: dial tcp {location.authority}: {_dial_reason(error)}"
            await _end_with(send, ks.internal_error_status(message))
            return
        except KubeError as error:
            await _end_with(send, ks.internal_error_status(error.message))
            return
        async with kubelet:
            await _relay_frames(kubelet, receive, send)


async def _relay_frames(kubelet: ClientConnection, receive: Receive, send: Send) -> None:
    status_seen = False
    async with anyio.create_task_group() as group:

        async def from_kubelet() -> None:
            nonlocal status_seen
            try:
                async for message in kubelet:
                    data = message if isinstance(message, bytes) else message.encode()
                    status_seen = status_seen or data[:1] == bytes((ks.ERROR,))
                    await send({"type": "websocket.send", "bytes": data})
            except ConnectionClosed:
                pass
            with contextlib.suppress(OSError):
                if not status_seen:
                    lost = "error executing command in container: the kubelet closed the stream"
                    await send(
                        {"type": "websocket.send", "bytes": ks.status_frame(ks.internal_error_status(lost))}
                    )
                await send({"type": "websocket.close", "code": 1000})
            group.cancel_scope.cancel()

        group.start_soon(from_kubelet)
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None and message.get("text") is not None:
                data = str(message["text"]).encode()
            if data is not None:
                try:
                    await kubelet.send(data)
                except ConnectionClosed:
                    break
        await kubelet.close()
        group.cancel_scope.cancel()


async def _end_with(send: Send, status: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        await send({"type": "websocket.send", "bytes": ks.status_frame(status)})
        await send({"type": "websocket.close", "code": 1000})


async def _relay_body(response: httpx.Response, receive: Receive, send: Send) -> None:
    """The kubelet's body to the client as it comes, until it ends or the client goes away."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            async for chunk in response.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, httpx.TransportError):
            log.debug("logs stream ended early", exc_info=True)
        group.cancel_scope.cancel()


async def _bounded(response: httpx.Response) -> str:
    body = b""
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY].decode("utf-8", "replace")


def response_error(code: int, body: str, pod: str) -> KubeError:
    """kube-apiserver's ``GenericHttpResponseChecker`` for ``pods/log``: the kubelet's plain-text
    refusal as a Status."""
    if code == 500:
        return KubeError(f"Internal error occurred: {body}", reason="InternalError", code=500)
    if code == 400:
        return KubeError(body, reason="BadRequest", code=400)
    reasons = {
        404: ("NotFound", "the server could not find the requested resource"),
        401: ("Unauthorized", "the server has asked for the client to provide credentials"),
        403: ("Forbidden", body),
        409: ("Conflict", "the server reported a conflict"),
        429: (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
    }
    reason, message = reasons.get(
        code,
        ("InternalError", f'an error on the server ("{body}") has prevented the request from succeeding')
        if code >= 500
        else ("", f"the server responded with the status code {code} but did not return more information"),
    )
    return KubeError(
        f"{message} ( pods/log {pod})", reason=reason, code=code, details={"name": pod, "kind": "pods/log"}
    )


def client_context(cert_pem: str, key_pem: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # as kube-apiserver without --kubelet-certificate-authority
    with tempfile.TemporaryDirectory(prefix="kubelet-client-") as directory:
        cert, key = Path(directory) / "client.crt", Path(directory) / "client.key"
        cert.write_text(cert_pem)
        key.touch(mode=0o600)
        key.write_text(key_pem)
        context.load_cert_chain(str(cert), str(key))
    return context


def _dial_reason(error: BaseException) -> str:
    """Go's wording of why a dial failed, from the exception chain."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connect: connection refused"
        if isinstance(seen, TimeoutError | httpx.TimeoutException):
            return "i/o timeout"
        seen = seen.__cause__ or seen.__context__
    return str(error) or type(error).__name__
