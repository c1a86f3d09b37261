"""The protocol-neutral HTTP reply that every protocol serializer produces."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WireResponse:
    """A fully serialized reply: the gateway only adds transport headers (request id) and sends it."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
