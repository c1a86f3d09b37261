"""kube-proxy's iptables rules for one cluster's Services, as ``iptables-restore`` text. Pure.

As kube-proxy's iptables proxier (v1.33) lays them out, with every chain scoped by cluster
(``DYKP-<6 base32 of sha256(cluster)>-…``, at most 28 characters) so that two clusters on one machine
never touch each other's chains:

- ``nat``: ``…-SERVICES`` (kube's ``KUBE-SERVICES``) matches ``-d <clusterIP>/32 -p <proto> --dport <port>``
  of every Service port with endpoints and jumps to its ``…-SVC-<12>`` chain; that picks one of n endpoints
  with ``-m statistic --mode random --probability`` 1/n, 1/(n-1)… (the last one unconditionally) and
  jumps to the endpoint's ``…-SEP-<12>`` chain, which marks hairpin traffic (``-s <pod IP>/32``, a pod
  reaching itself through its Service) for masquerade and DNATs to ``<pod IP>:<port>``;
  ``…-MARK-MASQ`` sets mark bit ``0x4000`` and ``…-POSTROUTING`` masquerades marked packets (clearing
  the bit), as ``KUBE-MARK-MASQ``/``KUBE-POSTROUTING`` do;
- ``filter``: ``…-SERVICES`` REJECTs (``icmp-port-unreachable``: connection refused at once) a ClusterIP
  port whose Service "has no endpoints".

Chain names hash the cluster, ``namespace/name:port`` and the protocol (and, for endpoints, the address)
like kube's ``servicePortChainName``/``servicePortEndpointChainName``. Headless Services (``clusterIP:
None``) get no rules; NodePort and LoadBalancer Services get their ClusterIP part only. Endpoints come
from EndpointSlices labelled ``kubernetes.io/service-name``, those whose ``conditions.ready`` is not
false, ports matched by name. The jumps from the built-in chains are the applier's job
(:mod:`dockyard.agent.kubelet.proxy`): ``iptables-restore --noflush`` does not flush built-in chains.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MASQ_MARK = "0x4000"
PROTOCOLS = {"TCP": "tcp", "UDP": "udp"}


def _hash(text: str, length: int) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:length]


def chain_prefix(cluster: str) -> str:
    """``DYKP-<6 base32 characters of the cluster's hash>-``: every chain of this cluster starts with it."""
    return f"DYKP-{_hash(cluster, 6)}-"


@dataclass(frozen=True)
class Chains:
    """The fixed chains of one cluster."""

    prefix: str

    @property
    def services(self) -> str:
        return self.prefix + "SERVICES"

    @property
    def mark_masq(self) -> str:
        return self.prefix + "MARK-MASQ"

    @property
    def postrouting(self) -> str:
        return self.prefix + "POSTROUTING"

    def service(self, port_name: str, protocol: str) -> str:
        return f"{self.prefix}SVC-{_hash(self.prefix + port_name + protocol, 12)}"

    def endpoint(self, port_name: str, protocol: str, endpoint: str) -> str:
        return f"{self.prefix}SEP-{_hash(self.prefix + port_name + protocol + endpoint, 12)}"


def chains_for(cluster: str) -> Chains:
    return Chains(chain_prefix(cluster))


@dataclass(frozen=True)
class Rendered:
    """The two tables' chain declarations and rules (without COMMIT), and every chain they declare."""

    nat: list[str]
    filter: list[str]
    nat_chains: list[str]
    filter_chains: list[str]

    def text(self) -> str:
        return "\n".join(["*nat", *self.nat, "COMMIT", "*filter", *self.filter, "COMMIT"]) + "\n"


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _cluster_ips(spec: Mapping[str, Any]) -> list[str]:
    ips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
    return [ip for ip in (_ipv4(i) for i in ips if i != "None") if ip is not None]


def _endpoints(
    service: Mapping[str, Any], port_name: str, protocol: str, slices: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """Ready ``(address, port)`` pairs of this Service port from its slices, sorted and unique."""
    metadata = service.get("metadata") or {}
    found: set[tuple[str, int]] = set()
    for slice_ in slices:
        slice_meta = slice_.get("metadata") or {}
        if slice_meta.get("namespace") != metadata.get("namespace"):
            continue
        if (slice_meta.get("labels") or {}).get(SERVICE_NAME_LABEL) != metadata.get("name"):
            continue
        if slice_.get("addressType", "IPv4") != "IPv4":
            continue
        number = None
        for port in slice_.get("ports") or []:
            if (port.get("name") or "") == port_name and port.get("protocol", "TCP") == protocol:
                number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
            continue
        for endpoint in slice_.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                ip = _ipv4(address)
                if ip is not None:
                    found.add((ip, number))
    return sorted(found, key=lambda e: (ipaddress.IPv4Address(e[0]), e[1]))


def render(
    cluster: str, services: Sequence[Mapping[str, Any]], slices: Sequence[Mapping[str, Any]]
) -> Rendered:
    """This cluster's rules for ``services`` and their ``slices`` (deterministic: same input, same text)."""
    chains = chains_for(cluster)
    nat_chains = [chains.services, chains.mark_masq, chains.postrouting]
    filter_chains = [chains.services]
    nat_rules = [
        f"-A {chains.mark_masq} -j MARK --or-mark {MASQ_MARK}",
        f"-A {chains.postrouting} -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A {chains.postrouting} -j MARK --xor-mark {MASQ_MARK}",
        f'-A {chains.postrouting} -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
    ]
    filter_rules: list[str] = []
    ordered = sorted(
        services,
        key=lambda s: (
            (s.get("metadata") or {}).get("namespace", ""),
            (s.get("metadata") or {}).get("name", ""),
        ),
    )
    for service in ordered:
        metadata, spec = service.get("metadata") or {}, service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        ips = _cluster_ips(spec)
        if not ips:
            continue  # headless, or not allocated yet
        for port in spec.get("ports") or []:
            protocol = port.get("protocol", "TCP")
            proto = PROTOCOLS.get(protocol)
            number = port.get("port")
            if proto is None or not isinstance(number, int) or not 0 < number < 65536:
                continue
            name = port.get("name") or ""
            port_name = f"{metadata.get('namespace')}/{metadata.get('name')}" + (f":{name}" if name else "")
            endpoints = _endpoints(service, name, protocol, slices)
            match = f"-m {proto} -p {proto}"
            if not endpoints:
                for ip in ips:
                    filter_rules.append(
                        f'-A {chains.services} -m comment --comment "{port_name} has no endpoints" '
                        f"{match} -d {ip}/32 --dport {number} -j REJECT --reject-with icmp-port-unreachable"
                    )
                continue
            svc_chain = chains.service(port_name, proto)
            nat_chains.append(svc_chain)
            for ip in ips:
                nat_rules.append(
                    f'-A {chains.services} -m comment --comment "{port_name} cluster IP" '
                    f"{match} -d {ip}/32 --dport {number} -j {svc_chain}"
                )
            count = len(endpoints)
            for index, (address, target) in enumerate(endpoints):
                destination = f"{address}:{target}"
                sep_chain = chains.endpoint(port_name, proto, destination)
                nat_chains.append(sep_chain)
                remaining = count - index
                chooser = (
                    ""
                    if remaining == 1
                    else f" -m statistic --mode random --probability {1 / remaining:.10f}"
                )
                nat_rules.append(
                    f'-A {svc_chain} -m comment --comment "{port_name} -> {destination}"'
                    f"{chooser} -j {sep_chain}"
                )
                nat_rules.append(
                    f'-A {sep_chain} -m comment --comment "{port_name}" -s {address}/32 -j {chains.mark_masq}'
                )
                nat_rules.append(
                    f'-A {sep_chain} -m comment --comment "{port_name}" {match} '
                    f"-j DNAT --to-destination {destination}"
                )
    nat = [f":{c} - [0:0]" for c in nat_chains] + nat_rules
    filter_ = [f":{c} - [0:0]" for c in filter_chains] + filter_rules
    return Rendered(nat, filter_, nat_chains, filter_chains)
