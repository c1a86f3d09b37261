"""Writing Kubernetes API replies: objects as JSON, errors as ``Status``, and the Accept negotiation
between plain objects and server-side ``Table`` (``application/json;as=Table;v=v1;g=meta.k8s.io``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import Send

from dockyard.control.kube.errors import KubeError

JSON = "application/json"
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def status_object(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None, *, success: bool = False
) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    status["status"] = "Success" if success else "Failure"
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    if details:
        status["details"] = details
    status["code"] = code
    return status


def error_status(error: KubeError) -> dict[str, Any]:
    details = dict(error.details)
    if error.causes:
        details["causes"] = error.causes
    return status_object(error.code, error.reason, error.message, details)


def wants_table(accept: str | None) -> bool:
    """Whether the first acceptable media type is a meta.k8s.io/v1 Table (kubectl get asks for that)."""
    for part in (accept or "").split(","):
        fields = [p.strip() for p in part.split(";")]
        params = dict(p.partition("=")[::2] for p in fields[1:])
        if params.get("as") == "Table":
            if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                return True
            continue
        if fields[0] in (JSON, "*/*", "application/*", "application/yaml", ""):
            return False
    return False


async def send_json(
    send: Send,
    status: int,
    body: Any,
    *,
    content_type: str = JSON,
    warnings: Sequence[str] = (),
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    data = orjson.dumps(body)
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-cache, private"),
        *headers,
    ]
    raw += [(b"warning", _warning(text)) for text in warnings]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


async def send_text(send: Send, status: int, text: str) -> None:
    data = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def send_error(send: Send, error: KubeError, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send_json(send, error.code, error_status(error), headers=headers)


def _warning(text: str) -> bytes:
    """An RFC 7234 Warning header as kube-apiserver writes it: ``299 - "<text>"``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'.encode()
