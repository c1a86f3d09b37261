"""Service ClusterIP and NodePort allocation, as kube-apiserver's service REST storage does it. Pure.

The caller passes what is in use (every Service's ``spec.clusterIPs`` and node ports) and a seed; the
result is the ``spec`` fields to store, or a :class:`KubeError` with kube's text:

- ClusterIP from the service CIDR (EKS default ``10.100.0.0/16``): the network and broadcast addresses
  are never handed out; ``.1`` belongs to ``default/kubernetes`` and ``.10`` to kube-dns, so dynamic
  allocation skips both (a Service may still ask for ``.10`` explicitly). As kube ≥1.26
  (``ServiceIPStaticSubrange``) the range has a static lower band of ``min(max(16, size/16), 256)``
  addresses that dynamic allocation uses only once the upper band is full; a random pick, seeded here.
- A requested ``spec.clusterIP`` must be in the range and free: ``provided IP is already allocated`` /
  ``the provided IP (…) is not in the valid range. The range of valid IPs is …`` (422 Invalid on
  ``spec.clusterIPs``); a full range is ``range is full`` (500). ``None`` (headless) and
  ExternalName Services get no address.
- NodePort and LoadBalancer ports get a node port from 30000-32767 (LoadBalancer unless
  ``allocateLoadBalancerNodePorts: false``), with the static band ``min(max(16, size/32), 128)`` as
  kube ≥1.29; a requested one must be free and in range (``provided port is already allocated``,
  ``provided port is not in the valid range. The range of valid ports is 30000-32767``).

Not matched: dual-stack (IPv6 families), ``healthCheckNodePort``, and the MultiCIDRServiceAllocator
(IPAddress objects); releasing is the caller's (an address is free once no Service lists it).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Collection, Mapping
from typing import Any

from dockyard.control.kube.errors import KubeError

Obj = dict[str, Any]

EKS_SERVICE_CIDR = "10.100.0.0/16"
NODE_PORT_RANGE = (30000, 32767)
KUBERNETES_OFFSET, DNS_OFFSET = 1, 10


def kubernetes_service_ip(cidr: str = EKS_SERVICE_CIDR) -> str:
    """The first address of the range: ``default/kubernetes``'s ClusterIP."""
    return str(ipaddress.ip_network(cidr)[KUBERNETES_OFFSET])


def dns_service_ip(cidr: str = EKS_SERVICE_CIDR) -> str:
    """The tenth address of the range: EKS's kube-dns ClusterIP (``10.100.0.10``)."""
    return str(ipaddress.ip_network(cidr)[DNS_OFFSET])


def _invalid(name: str, field: str, value: str, detail: str) -> KubeError:
    text = f"Invalid value: {value}: {detail}"
    return KubeError(
        f'Service "{name}" is invalid: {field}: {text}',
        reason="Invalid",
        code=422,
        causes=[{"reason": "FieldValueInvalid", "message": text, "field": field}],
        details={"name": name, "kind": "Service"},
    )


def _pick(size: int, band: int, taken: Collection[int], draw: random.Random) -> int | None:
    """An offset in ``[0, size)`` not taken: random in the upper band, else in the lower (static) band."""
    for low, high in ((band, size), (0, band)):
        if high <= low:
            continue
        start = draw.randrange(low, high)
        for step in range(high - low):
            offset = low + (start - low + step) % (high - low)
            if offset not in taken:
                return offset
    return None


def allocate_cluster_ip(
    name: str,
    requested: str | None,
    used: Collection[str],
    *,
    seed: int | str,
    cidr: str = EKS_SERVICE_CIDR,
) -> str:
    """The ClusterIP for Service ``name``: ``requested`` if given and free, else a free one."""
    network = ipaddress.ip_network(cidr)
    if requested:
        try:
            address = ipaddress.ip_address(requested)
        except ValueError:
            raise _invalid(
                name, "spec.clusterIPs", f'[]string{{"{requested}"}}', "must be a valid IP address"
            ) from None
        shown = f'[]string{{"{requested}"}}'
        if address not in network or address in (network.network_address, network.broadcast_address):
            raise _invalid(
                name,
                "spec.clusterIPs",
                shown,
                f"failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid "
                f"range. The range of valid IPs is {cidr}",
            )
        if requested in used:
            raise _invalid(
                name,
                "spec.clusterIPs",
                shown,
                f"failed to allocate IP {requested}: provided IP is already allocated",
            )
        return requested
    # Offsets count from the first usable address (network + 1).
    size = network.num_addresses - 2
    band = min(max(16, size // 16), 256)
    base = int(network.network_address) + 1
    taken = {int(ipaddress.ip_address(ip)) - base for ip in used if ipaddress.ip_address(ip) in network}
    taken |= {KUBERNETES_OFFSET - 1, DNS_OFFSET - 1}
    offset = _pick(size, band, taken, random.Random(seed))  # noqa: S311 - placement, not secrecy
    if offset is None:
        raise KubeError("Internal error occurred: failed to allocate a serviceIP: range is full")
    return str(ipaddress.ip_address(base + offset))


def allocate_node_port(
    name: str,
    index: int,
    requested: int | None,
    used: Collection[int],
    *,
    draw: random.Random,
    port_range: tuple[int, int] = NODE_PORT_RANGE,
) -> int:
    """The node port for ``spec.ports[index]``: ``requested`` if given and free, else a free one."""
    low, high = port_range
    field = f"spec.ports[{index}].nodePort"
    if requested:
        if not low <= requested <= high:
            raise _invalid(
                name,
                field,
                str(requested),
                f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
            )
        if requested in used:
            raise _invalid(name, field, str(requested), "provided port is already allocated")
        return requested
    size = high - low + 1
    band = min(max(16, size // 32), 128)
    offset = _pick(size, band, {port - low for port in used}, draw)
    if offset is None:
        raise KubeError("Internal error occurred: failed to allocate a nodePort: range is full")
    return low + offset


def needs_node_ports(spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type", "ClusterIP")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and bool(spec.get("allocateLoadBalancerNodePorts", True))
    )


def allocate_service(
    service: Mapping[str, Any],
    used_ips: Collection[str],
    used_node_ports: Collection[int],
    *,
    seed: int | str,
    cidr: str = EKS_SERVICE_CIDR,
    node_port_range: tuple[int, int] = NODE_PORT_RANGE,
) -> Obj:
    """The ``spec`` of ``service`` with ``clusterIP``/``clusterIPs``/``ipFamilies`` and node ports filled.

    ``used_*`` must not include this Service's own allocations on create; on update pass the others'
    only, and its previous values come back unchanged because they are requested.
    """
    name = str((service.get("metadata") or {}).get("name", ""))
    spec: Obj = dict(service.get("spec") or {})
    kind = spec.get("type", "ClusterIP")
    if kind != "ExternalName":
        requested = spec.get("clusterIP") or next(iter(spec.get("clusterIPs") or []), None)
        if requested == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        else:
            address = allocate_cluster_ip(name, requested, used_ips, seed=seed, cidr=cidr)
            spec["clusterIP"], spec["clusterIPs"] = address, [address]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if needs_node_ports(spec):
        draw = random.Random(f"{seed}/nodePorts")  # noqa: S311 - placement, not secrecy
        taken = set(used_node_ports)
        ports = []
        for index, port in enumerate(spec.get("ports") or []):
            number = allocate_node_port(
                name, index, port.get("nodePort"), taken, draw=draw, port_range=node_port_range
            )
            taken.add(number)
            ports.append({**port, "nodePort": number})
        spec["ports"] = ports
    return spec
