"""Properties of every plan, over random clusters and requests."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.control.scheduler import (
    NO_CONTAINER_INSTANCES,
    ClusterSnapshot,
    Constraint,
    InstanceSnapshot,
    InstanceStatus,
    Strategy,
    TaskRequest,
    parse_query,
    place,
)
from tests.unit.scheduler.harness import CLUSTER_ARN, instance

_PORTS = st.frozensets(st.sampled_from([22, 53, 80, 443, 8080]), max_size=3)
_GROUPS = st.sampled_from(["service:web", "service:db", "family:batch"])
_EXPRESSIONS = [
    "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
    "attribute:ecs.instance-type =~ t2.*",
    "agentConnected == true and not runningTasksCount > 5",
    "not(task:group == service:db)",
]


@st.composite
def _instances(draw: st.DrawFn, number: int) -> InstanceSnapshot:
    cpu = draw(st.sampled_from([512, 1024, 2048]))
    memory = draw(st.sampled_from([512, 1024, 4096]))
    return instance(
        f"i{number:02d}",
        cpu=cpu,
        memory=memory,
        remaining_cpu=draw(st.integers(0, cpu)),
        remaining_memory=draw(st.integers(0, memory)),
        status=draw(st.sampled_from(list(InstanceStatus))),
        connected=draw(st.booleans()),
        ports_tcp=draw(_PORTS),
        ports_udp=draw(_PORTS),
        zone=draw(st.sampled_from(["us-east-1a", "us-east-1b", "us-east-1c", None])),
        instance_type=draw(st.sampled_from(["t2.micro", "m5.large"])),
        running=draw(st.integers(0, 8)),
        groups=draw(st.dictionaries(_GROUPS, st.integers(0, 3), max_size=2)),
    )


@st.composite
def _clusters(draw: st.DrawFn) -> ClusterSnapshot:
    size = draw(st.integers(0, 6))
    return ClusterSnapshot(tuple(draw(_instances(n)) for n in range(size)))


_STRATEGIES = st.sampled_from(
    [
        Strategy.binpack("cpu"),
        Strategy.binpack("memory"),
        Strategy.spread("instanceId"),
        Strategy.spread("attribute:ecs.availability-zone"),
        Strategy.random(),
    ]
)
_REQUESTS = st.builds(
    TaskRequest,
    cpu=st.integers(0, 600),
    memory=st.integers(0, 1200),
    host_ports_tcp=_PORTS,
    host_ports_udp=_PORTS,
    group=st.one_of(st.none(), _GROUPS),
    constraints=st.lists(
        st.one_of(
            st.just(Constraint.distinct_instance()), st.sampled_from(_EXPRESSIONS).map(Constraint.member_of)
        ),
        max_size=3,
    ).map(tuple),
    strategies=st.lists(_STRATEGIES, max_size=3).map(tuple),
    count=st.integers(1, 20),
)


@settings(max_examples=300)
@given(_clusters(), _REQUESTS, st.integers(0, 2**32))
def test_plans_never_oversubscribe_and_account_for_every_task(
    snapshot: ClusterSnapshot, request: TaskRequest, seed: int
) -> None:
    plan = place(snapshot, request, random.Random(seed), cluster_arn=CLUSTER_ARN)

    assert len(plan.placements) + plan.unplaced == request.count
    assert (plan.unplaced == 0) == (plan.failures == ())
    assert plan == place(snapshot, request, random.Random(seed), cluster_arn=CLUSTER_ARN)

    by_arn = {host.arn: host for host in snapshot.instances}
    counts = Counter(placement.instance_arn for placement in plan.placements)
    queries = [parse_query(c.expression or "") for c in request.constraints if c.type == "memberOf"]
    for instance_arn, tasks in counts.items():
        host = by_arn[instance_arn]
        assert host.status is InstanceStatus.ACTIVE and host.agent_connected
        assert tasks * request.cpu <= host.remaining_cpu
        assert tasks * request.memory <= host.remaining_memory
        if request.host_ports_tcp or request.host_ports_udp:
            assert tasks == 1
            assert not request.host_ports_tcp & host.reserved_ports_tcp
            assert not request.host_ports_udp & host.reserved_ports_udp
        if any(c.type == "distinctInstance" for c in request.constraints):
            assert tasks == 1
            assert request.group is None or host.task_groups.get(request.group, 0) == 0
        # The first task on each instance saw the snapshot as it was (later ones see the plan's groups).
        if not any("task:group" in str(query) for query in queries):
            assert all(query.matches(host) for query in queries)

    usable = [host for host in snapshot.instances if host.status is not InstanceStatus.INACTIVE]
    if plan.failures and not usable:
        assert [(f.arn, f.reason) for f in plan.failures] == [(CLUSTER_ARN, NO_CONTAINER_INSTANCES)]
    elif plan.failures:
        assert sorted(f.arn for f in plan.failures) == sorted(host.arn for host in usable)


@settings(max_examples=100)
@given(st.integers(1, 6), st.integers(1, 40))
def test_spread_over_identical_instances_is_even(hosts: int, count: int) -> None:
    snapshot = ClusterSnapshot(tuple(instance(f"i{n}") for n in range(hosts)))
    request = TaskRequest(
        cpu=1, memory=1, group="service:web", count=count, strategies=(Strategy.spread("host"),)
    )
    plan = place(snapshot, request, random.Random(0), cluster_arn=CLUSTER_ARN)
    per_host = Counter(placement.instance_arn for placement in plan.placements)
    assert max(per_host.values()) - min(per_host.values(), default=0) <= 1
    assert len(per_host) == min(hosts, count)
