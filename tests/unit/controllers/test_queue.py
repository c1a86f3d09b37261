"""The keyed work queue and the controller loop, on a hand-stepped clock (no threads, no sleeps)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from dockyard.control.controllers.queue import Backoff, ShutDown, WorkQueue
from dockyard.control.controllers.runner import ControllerLoop


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(queue: WorkQueue[str]) -> list[str]:
    taken = []
    while (key := queue.get(timeout=0)) is not None:
        taken.append(key)
        queue.done(key)
    return taken


def test_a_key_added_twice_is_queued_once_in_arrival_order() -> None:
    queue: WorkQueue[str] = WorkQueue(monotonic=Ticks())
    for key in ("a", "b", "a", "c", "b"):
        queue.add(key)
    assert len(queue) == 3
    assert drain(queue) == ["a", "b", "c"]


def test_a_key_is_never_handed_out_while_it_is_processing_and_comes_back_once_when_dirty() -> None:
    queue: WorkQueue[str] = WorkQueue(monotonic=Ticks())
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")
    queue.add("a")
    assert queue.get(timeout=0) is None  # "a" is processing: not handed out twice at once
    queue.done("a")
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    assert queue.get(timeout=0) is None


def test_add_after_waits_for_its_time_and_the_earliest_request_wins() -> None:
    ticks = Ticks()
    queue: WorkQueue[str] = WorkQueue(monotonic=ticks)
    queue.add_after("a", 10)
    queue.add_after("a", 3)
    queue.add_after("a", 20)
    assert queue.get(timeout=0) is None
    ticks.now = 2.9
    assert queue.get(timeout=0) is None
    ticks.now = 3.0
    assert drain(queue) == ["a"]
    ticks.now = 30
    assert drain(queue) == []  # the superseded due times do not fire again
    assert queue.delayed() == 0


def test_rate_limited_retries_back_off_exponentially_up_to_the_cap_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(backoff=Backoff(base_s=1, max_s=5), monotonic=Ticks())
    assert [queue.add_rate_limited("a") for _ in range(5)] == [1, 2, 4, 5, 5]
    assert queue.failures("a") == 5
    queue.forget("a")
    assert queue.add_rate_limited("a") == 1


def test_a_shut_down_queue_refuses_to_hand_out_keys() -> None:
    queue: WorkQueue[str] = WorkQueue(monotonic=Ticks())
    queue.add("a")
    queue.shut_down()
    with pytest.raises(ShutDown):
        queue.get(timeout=0)


class Recorder:
    name = "recorder"
    resync_period_s = 60.0

    def __init__(self, known: Iterable[str], outcomes: dict[str, list[float | Exception | None]]) -> None:
        self.known = list(known)
        self.outcomes = outcomes
        self.synced: list[str] = []

    def all_keys(self) -> Iterable[str]:
        return self.known

    def sync_many(self, keys: list[str]) -> dict[str, float | None]:
        return {key: self.sync(key) for key in keys}

    def sync(self, key: str) -> float | None:
        self.synced.append(key)
        outcome = self.outcomes.get(key, [None]).pop(0) if self.outcomes.get(key) else None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_the_loop_retries_a_failing_sync_with_backoff_and_requeues_when_asked() -> None:
    ticks = Ticks()
    controller = Recorder(["a", "b"], {"a": [RuntimeError("store down"), None], "b": [5.0, None]})
    loop = ControllerLoop(controller, queue=WorkQueue(backoff=Backoff(base_s=1), monotonic=ticks))
    loop.resync()
    while loop.process_one():
        pass
    assert controller.synced == ["a", "b"]
    assert loop.queue.failures("a") == 1
    ticks.now = 1.0  # a's backoff elapsed; b asked to be looked at after 5 s
    while loop.process_one():
        pass
    assert controller.synced == ["a", "b", "a"]
    assert loop.queue.failures("a") == 0  # the success reset the backoff
    ticks.now = 5.0
    while loop.process_one():
        pass
    assert controller.synced == ["a", "b", "a", "b"]


def test_get_many_takes_what_is_ready_and_only_that() -> None:
    ticks = Ticks()
    queue: WorkQueue[str] = WorkQueue(monotonic=ticks)
    for key in ("a", "b", "c"):
        queue.add(key)
    queue.add_after("later", 5)
    assert queue.get_many(2, timeout=0) == ["a", "b"]
    assert queue.get_many(10, timeout=0) == ["c"]
    assert queue.get_many(10, timeout=0) == []
    ticks.now = 5
    assert queue.get_many(10, timeout=0) == ["later"]
