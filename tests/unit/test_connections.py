"""The per-address admission count behind the server's connection limits."""

from __future__ import annotations

from dockyard.api.connections import ConnectionGuard


def test_admits_up_to_the_cap_per_address_and_frees_on_release() -> None:
    guard = ConnectionGuard(max_per_client=2)
    assert guard.admit("10.0.0.1") and guard.admit("10.0.0.1")
    assert not guard.admit("10.0.0.1")
    assert guard.admit("10.0.0.2")  # another address has its own allowance
    guard.release("10.0.0.1")
    assert guard.open_from("10.0.0.1") == 1
    assert guard.admit("10.0.0.1")


def test_a_refused_connection_is_not_counted_and_counts_never_go_negative() -> None:
    guard = ConnectionGuard(max_per_client=1)
    assert guard.admit("a")
    assert not guard.admit("a")
    guard.release("a")
    guard.release("a")
    assert guard.open_from("a") == 0
    assert guard.admit("a")
