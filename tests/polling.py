"""Waiting in tests: poll a condition until it holds or a deadline passes — never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(
    predicate: Callable[[], bool], *, deadline_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll ``predicate`` until it holds; fail the test with ``what`` if it does not within the deadline."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(interval_s)
