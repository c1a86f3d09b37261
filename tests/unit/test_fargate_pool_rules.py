"""The Fargate pool's time-driven decisions, pure: random Spot interruptions and idle host retirement."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.control.launch.fargate_rules import (
    PoolHostUse,
    SpotTask,
    hosts_to_retire,
    interruption_probability,
    is_provisioned,
    next_retirement_in,
    spot_interruptions,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- Spot ------------------------------------------------------------------------------------------------


def test_the_probability_is_one_minus_exp_of_minus_rate_times_hours() -> None:
    assert interruption_probability(1.0, 3600) == pytest.approx(1 - math.exp(-1))
    assert interruption_probability(60.0, 60) == pytest.approx(1 - math.exp(-1))
    assert interruption_probability(2.0, 1800) == pytest.approx(1 - math.exp(-1))
    assert interruption_probability(0.5, 7200) == pytest.approx(1 - math.exp(-1))
    assert interruption_probability(3600.0, 1e-9) == pytest.approx(1e-9)  # tiny exposure: rate x dt
    assert interruption_probability(1e6, 3600) == 1.0
    assert interruption_probability(0.0, 3600) == 0.0
    assert interruption_probability(10.0, 0) == 0.0
    assert interruption_probability(10.0, -5) == 0.0


def test_two_checks_compound_like_one_of_their_total_span() -> None:
    """A Poisson process has no memory: surviving dt1 then dt2 is surviving dt1 + dt2."""
    one, two = interruption_probability(7.0, 40), interruption_probability(7.0, 80)
    both = interruption_probability(7.0, 120)
    assert (1 - one) * (1 - two) == pytest.approx(1 - both)


def test_a_seeded_source_gives_the_same_draw_and_each_task_draws_once() -> None:
    tasks = [SpotTask(f"arn:task/{i:02d}", T0) for i in range(20)]

    def draw(seed: int) -> list[str]:
        return spot_interruptions(
            tasks, since=T0, now=at(1800), rate_per_hour=1.0, random=random.Random(seed).random
        )

    assert draw(7) == draw(7)
    drawn: list[float] = []
    source = random.Random(7)

    def recording() -> float:
        drawn.append(source.random())
        return drawn[-1]

    chosen = spot_interruptions(tasks, since=T0, now=at(1800), rate_per_hour=1.0, random=recording)
    p = 1 - math.exp(-0.5)
    assert len(drawn) == 20
    assert chosen == [t.arn for t, r in zip(tasks, drawn, strict=True) if r < p]
    assert chosen == draw(7)


def test_the_order_of_the_tasks_does_not_change_the_draw() -> None:
    tasks = [SpotTask(f"arn:task/{i:02d}", T0) for i in range(10)]

    def draw(order: list[SpotTask]) -> list[str]:
        return spot_interruptions(
            order, since=T0, now=at(3600), rate_per_hour=1.0, random=random.Random(3).random
        )

    assert draw(tasks) == draw(list(reversed(tasks)))


def test_exposure_starts_at_the_later_of_the_last_check_and_the_task_start() -> None:
    # At rate 1/h, an exposure of `half` seconds gives probability one half; random() = 0.5 then draws
    # exactly the tasks exposed for longer than that.
    half = 3600 * math.log(2)
    old = SpotTask("arn:old", at(-10_000))  # exposed since the last check: 2 x half
    new = SpotTask("arn:new", at(half * 1.5))  # exposed since its start: half / 2
    chosen = spot_interruptions([old, new], since=T0, now=at(2 * half), rate_per_hour=1.0, random=lambda: 0.5)
    assert chosen == ["arn:old"]


def test_a_task_with_no_exposure_takes_no_draw() -> None:
    calls: list[None] = []

    def source() -> float:
        calls.append(None)
        return 0.0

    later = SpotTask("arn:later", at(100))  # started after this check's end
    assert spot_interruptions([later], since=T0, now=at(50), rate_per_hour=1e6, random=source) == []
    assert spot_interruptions([later], since=at(60), now=at(60), rate_per_hour=1e6, random=source) == []
    assert calls == []


def test_a_high_rate_interrupts_every_task_and_a_zero_rate_none() -> None:
    tasks = [SpotTask(f"arn:task/{i}", T0) for i in range(50)]
    source = random.Random(1).random
    assert len(spot_interruptions(tasks, since=T0, now=at(5), rate_per_hour=1e7, random=source)) == 50
    assert spot_interruptions(tasks, since=T0, now=at(5), rate_per_hour=0.0, random=source) == []


def test_the_observed_rate_matches_the_poisson_rate() -> None:
    """Over many seeded checks of 10 s at 360/h (p = 1 - e^-1 per check), about 63 % of draws fire."""
    source = random.Random(11)
    task = [SpotTask("arn:t", T0)]
    fired = sum(
        bool(
            spot_interruptions(
                task, since=at(10 * k), now=at(10 * k + 10), rate_per_hour=360.0, random=source.random
            )
        )
        for k in range(10_000)
    )
    assert fired / 10_000 == pytest.approx(1 - math.exp(-1), abs=0.02)


# --- retirement ------------------------------------------------------------------------------------------


def host(
    arn: str,
    *,
    registered: float = 0,
    live: int = 0,
    stopped: float | None = None,
    provisioned: bool = True,
) -> PoolHostUse:
    return PoolHostUse(
        arn=arn,
        provisioned=provisioned,
        registered_at=at(registered),
        live_tasks=live,
        last_task_stopped_at=None if stopped is None else at(stopped),
    )


def test_an_idle_provisioned_host_is_retired_once_the_grace_has_passed() -> None:
    hosts = [host("arn:a")]
    assert hosts_to_retire(hosts, at(599), 600) == []
    assert hosts_to_retire(hosts, at(600), 600) == ["arn:a"]
    assert next_retirement_in(hosts, at(599), 600) == pytest.approx(1)
    assert next_retirement_in(hosts, at(700), 600) == 0


def test_idle_since_is_the_later_of_registration_and_the_last_stop() -> None:
    stopped_late = host("arn:a", registered=0, stopped=500)
    assert hosts_to_retire([stopped_late], at(1099), 600) == []
    assert hosts_to_retire([stopped_late], at(1100), 600) == ["arn:a"]
    # A task that stopped before the host's (re-)registration does not push its idleness back.
    registered_late = host("arn:b", registered=300, stopped=100)
    assert hosts_to_retire([registered_late], at(899), 600) == []
    assert hosts_to_retire([registered_late], at(900), 600) == ["arn:b"]


def test_a_host_with_a_task_not_stopped_is_never_retired() -> None:
    busy = host("arn:a", live=1, stopped=0)
    assert hosts_to_retire([busy], at(10**6), 600) == []
    assert next_retirement_in([busy], at(10**6), 600) is None


def test_the_servers_own_pool_host_is_never_retired() -> None:
    local = host("arn:local", provisioned=False)
    assert hosts_to_retire([local], at(10**6), 600) == []
    assert next_retirement_in([local], at(10**6), 600) is None


def test_several_hosts_in_arn_order_and_the_next_due() -> None:
    hosts = [
        host("arn:c", registered=0),
        host("arn:a", registered=100),
        host("arn:b", live=2),
        host("arn:d", registered=50, stopped=400),
    ]
    assert hosts_to_retire(hosts, at(700), 600) == ["arn:a", "arn:c"]
    assert next_retirement_in([hosts[2], hosts[3]], at(700), 600) == pytest.approx(300)
    assert hosts_to_retire(hosts, at(700), 0) == ["arn:a", "arn:c", "arn:d"]


def test_the_provisioned_mark() -> None:
    assert is_provisioned({"dockyard.pool.provisioned": "true"})
    assert is_provisioned({"dockyard.pool.provisioned": "TRUE"})
    assert not is_provisioned({"dockyard.pool.provisioned": "false"})
    assert not is_provisioned({"dockyard.pool.provisioned": None})
    assert not is_provisioned({"ecs.os-type": "linux"})
