"""Time and identifiers as injectable inputs, so logic that uses them is deterministic under test."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def system_clock() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def random_uuid() -> str:
    """A random UUID4 in its canonical form."""
    return str(uuid.uuid4())


def random_hex(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)
