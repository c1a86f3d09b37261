"""kube-proxy's rules for one cluster (pure): chains, endpoint choice, DNAT, hairpin, no-endpoints REJECT."""

from __future__ import annotations

from typing import Any

from dockyard.agent.kubelet.proxy_rules import chain_prefix, chains_for, render


def _service(ip: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80, "targetPort": 8080}], **spec},
    }


SLICE = {
    "metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
    "ports": [{"port": 8080, "protocol": "TCP"}],
    "endpoints": [
        {"addresses": ["172.30.0.3"]},
        {"addresses": ["172.30.0.2"], "conditions": {"ready": True}},
        {"addresses": ["172.30.0.9"], "conditions": {"ready": False}},
    ],
}


def test_two_endpoints_are_chosen_one_in_two_then_the_last() -> None:
    chains = chains_for("c1")
    svc = chains.service("default/web", "tcp")
    sep2 = chains.endpoint("default/web", "tcp", "172.30.0.2:8080")
    dnat = "-m tcp -p tcp -j DNAT --to-destination"
    sep3 = chains.endpoint("default/web", "tcp", "172.30.0.3:8080")
    rendered = render("c1", [_service("10.100.250.5")], [SLICE])
    assert rendered.nat[-7:] == [
        f'-A {chains.services} -m comment --comment "default/web cluster IP" -m tcp -p tcp '
        f"-d 10.100.250.5/32 --dport 80 -j {svc}",
        f'-A {svc} -m comment --comment "default/web -> 172.30.0.2:8080" '
        f"-m statistic --mode random --probability 0.5000000000 -j {sep2}",
        f'-A {sep2} -m comment --comment "default/web" -s 172.30.0.2/32 -j {chains.mark_masq}',
        f'-A {sep2} -m comment --comment "default/web" {dnat} 172.30.0.2:8080',
        f'-A {svc} -m comment --comment "default/web -> 172.30.0.3:8080" -j {sep3}',
        f'-A {sep3} -m comment --comment "default/web" -s 172.30.0.3/32 -j {chains.mark_masq}',
        f'-A {sep3} -m comment --comment "default/web" {dnat} 172.30.0.3:8080',
    ]
    assert rendered.filter == [f":{chains.services} - [0:0]"]
    assert all(len(c) <= 28 for c in rendered.nat_chains)


def test_no_endpoints_is_rejected_and_headless_gets_nothing() -> None:
    chains = chains_for("c1")
    rendered = render("c1", [_service("10.100.250.6")], [])
    assert rendered.filter[1:] == [
        f'-A {chains.services} -m comment --comment "default/web has no endpoints" -m tcp -p tcp '
        "-d 10.100.250.6/32 --dport 80 -j REJECT --reject-with icmp-port-unreachable"
    ]
    headless = render("c1", [_service("None")], [SLICE])
    assert len(headless.nat_chains) == 3 and headless.filter[1:] == []


def test_two_clusters_chains_are_distinct() -> None:
    assert chain_prefix("a") != chain_prefix("b")
    one = set(render("a", [_service("10.100.250.5")], [SLICE]).nat_chains)
    two = set(render("b", [_service("10.100.250.5")], [SLICE]).nat_chains)
    assert not one & two
