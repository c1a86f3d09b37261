"""ClusterIP and NodePort allocation (control/kube/controllers/ipalloc.py), with kube-apiserver's errors."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.control.kube.controllers import ipalloc
from dockyard.control.kube.errors import KubeError


def test_eks_well_known_addresses() -> None:
    assert ipalloc.kubernetes_service_ip() == "10.100.0.1"
    assert ipalloc.dns_service_ip() == "10.100.0.10"


def test_dynamic_allocation_is_repeatable_in_the_upper_band_and_skips_reserved() -> None:
    first = ipalloc.allocate_cluster_ip("web", None, [], seed=7)
    assert first == ipalloc.allocate_cluster_ip("web", None, [], seed=7)
    offset = int(ipaddress.ip_address(first)) - int(ipaddress.ip_address("10.100.0.0"))
    assert 256 < offset < 65535  # static band of a /16: 256 addresses


def test_a_small_range_fills_the_upper_band_then_the_static_band_then_is_full() -> None:
    cidr = "10.0.0.0/27"  # 30 usable addresses, static band 16, .1 and .10 reserved
    used: list[str] = []
    for seed in range(28):
        used.append(ipalloc.allocate_cluster_ip("s", None, used, seed=seed, cidr=cidr))
    offsets = [int(ipaddress.ip_address(ip)) & 31 for ip in used]
    assert sorted(offsets[:14]) == list(range(17, 31))
    assert sorted(offsets) == [n for n in range(1, 31) if n not in (1, 10)]
    with pytest.raises(KubeError) as caught:
        ipalloc.allocate_cluster_ip("s", None, used, seed=99, cidr=cidr)
    assert caught.value.code == 500
    assert caught.value.message == "Internal error occurred: failed to allocate a serviceIP: range is full"


def test_requested_addresses() -> None:
    assert ipalloc.allocate_cluster_ip("dns", "10.100.0.10", [], seed=0) == "10.100.0.10"
    with pytest.raises(KubeError) as caught:
        ipalloc.allocate_cluster_ip("web", "10.100.3.4", ["10.100.3.4"], seed=0)
    assert (caught.value.reason, caught.value.code) == ("Invalid", 422)
    assert caught.value.message == (
        'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"10.100.3.4"}: '
        "failed to allocate IP 10.100.3.4: provided IP is already allocated"
    )
    assert caught.value.causes[0]["field"] == "spec.clusterIPs"
    with pytest.raises(KubeError) as caught:
        ipalloc.allocate_cluster_ip("web", "172.20.0.4", [], seed=0)
    assert caught.value.message.endswith(
        "failed to allocate IP 172.20.0.4: the provided IP (172.20.0.4) is not in the valid range. "
        "The range of valid IPs is 10.100.0.0/16"
    )


def test_node_ports_for_node_port_and_load_balancer_services() -> None:
    service = {
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]},
    }
    spec = ipalloc.allocate_service(service, [], [], seed=1)
    assert spec["clusterIP"] == spec["clusterIPs"][0] and spec["ipFamilies"] == ["IPv4"]
    first, second = (port["nodePort"] for port in spec["ports"])
    assert 30086 <= first <= 32767 and second == 30443
    lb = {
        "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "ports": [{"port": 80}]},
    }
    assert "nodePort" not in ipalloc.allocate_service(lb, [], [], seed=1)["ports"][0]
    with pytest.raises(KubeError) as caught:
        ipalloc.allocate_service(service, [], [30443], seed=1)
    assert caught.value.message == (
        'Service "web" is invalid: spec.ports[1].nodePort: Invalid value: 30443: '
        "provided port is already allocated"
    )
    service["spec"]["ports"][1]["nodePort"] = 8080
    with pytest.raises(KubeError) as caught:
        ipalloc.allocate_service(service, [], [], seed=1)
    assert caught.value.message.endswith(
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    )


def test_headless_and_external_name_services_get_no_address() -> None:
    headless = ipalloc.allocate_service(
        {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}}, [], [], seed=0
    )
    assert headless["clusterIPs"] == ["None"]
    external = ipalloc.allocate_service(
        {"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "example.com"}},
        [],
        [],
        seed=0,
    )
    assert "clusterIP" not in external
