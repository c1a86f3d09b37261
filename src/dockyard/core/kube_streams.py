"""The Kubernetes remote-command channel protocols (``kubectl exec`` over a websocket), pure.

Both ends of dockyard's exec path speak it: the kubelet's server (``agent/kubelet/server.py``) and the
API server's proxy (``api/kube/node_proxy.py``), so it lives here, below both layers. As in
``k8s.io/apimachinery/pkg/util/remotecommand`` and client-go's websocket executor::

    every message is binary: one byte naming the channel, then the payload
      0 stdin      client → server
      1 stdout     server → client
      2 stderr     server → client
      3 error      server → client: one v1 Status as JSON (Success, or Failure; an exit code other than 0
                   is reason NonZeroExitCode with a cause of type ExitCode whose message is the number)
      4 resize     client → server: {"Width": w, "Height": h}
    v5.channel.k8s.io adds 255 CLOSE: [255, channel] half-closes that channel (kubectl sends [255, 0] at
    the end of its stdin, which v4 cannot say); v4.channel.k8s.io is the same without it.

The error channel's Status is what the kubelet marshals with Go's ``encoding/json``: no ``kind`` nor
``apiVersion`` (unset TypeMeta), ``metadata: {}``, a cause's type under the key ``reason``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

V5_PROTOCOL = "v5.channel.k8s.io"
V4_PROTOCOL = "v4.channel.k8s.io"

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

NON_ZERO_EXIT_CODE_REASON = "NonZeroExitCode"
EXIT_CODE_CAUSE_TYPE = "ExitCode"


class FrameError(ValueError):
    """A message that is not a channel frame (empty, or a CLOSE without the channel it closes)."""


@dataclass(frozen=True, slots=True)
class Frame:
    channel: int
    data: bytes

    @property
    def closes(self) -> int | None:
        """The channel a v5 CLOSE frame half-closes, else ``None``."""
        return self.data[0] if self.channel == CLOSE else None


def encode(channel: int, data: bytes = b"") -> bytes:
    """The message carrying ``data`` on ``channel``."""
    if not 0 <= channel <= 255:
        raise ValueError(f"channel {channel} is not a byte")
    return bytes((channel,)) + data


def close_frame(channel: int) -> bytes:
    """v5's CLOSE of ``channel`` (``[255, channel]``)."""
    return encode(CLOSE, bytes((channel,)))


def decode(message: bytes) -> Frame:
    """The frame of one websocket message. Raises :class:`FrameError`."""
    if not message:
        raise FrameError("empty message: no channel byte")
    if message[0] == CLOSE and len(message) != 2:
        raise FrameError(f"a CLOSE frame names exactly one channel, got {len(message) - 1} bytes")
    return Frame(message[0], bytes(message[1:]))


def negotiate(offered: Iterable[str], supported: Sequence[str]) -> str | None:
    """The subprotocol to accept: the first the client offered that is in ``supported`` (in the
    client's order of preference, as apimachinery's wsstream does), or ``None``."""
    for protocol in offered:
        if protocol.strip() in supported:
            return protocol.strip()
    return None


def parse_resize(data: bytes) -> tuple[int, int]:
    """``(height, width)`` of a resize message (``{"Width": 80, "Height": 24}``). Raises ValueError."""
    try:
        size = orjson.loads(data)
        return int(size["Height"]), int(size["Width"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"invalid resize message {data[:100]!r}") from error


# --- the error channel's Status ----------------------------------------------------------------------------


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(exit_code: int, command: Sequence[str]) -> dict[str, Any]:
    """The Status ending an exec whose process exited with ``exit_code`` (Success for 0), worded as the
    kubelet writes it over containerd's exec error."""
    if exit_code == 0:
        return success_status()
    cause = f"error executing command [{' '.join(command)}], exit code {exit_code}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {cause}",
        "reason": NON_ZERO_EXIT_CODE_REASON,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE_TYPE, "message": str(exit_code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """apimachinery's ``NewInternalError``: what the stream ends with when exec itself failed."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def status_frame(status: dict[str, Any]) -> bytes:
    """The error-channel message carrying ``status``."""
    return encode(ERROR, orjson.dumps(status))


def exit_code_of(status: dict[str, Any]) -> int | None:
    """What client-go's v4 error decoder makes of a Status: 0 for Success, the exit code of a
    NonZeroExitCode failure, ``None`` for any other failure (an error message, not an exit)."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == NON_ZERO_EXIT_CODE_REASON:
        for cause in (status.get("details") or {}).get("causes") or ():
            if cause.get("reason") == EXIT_CODE_CAUSE_TYPE:
                return int(cause["message"])
    return None
