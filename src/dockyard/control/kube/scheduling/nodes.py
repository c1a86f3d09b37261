"""A node as the scheduler sees it (``framework.NodeInfo``): the Node plus what its pods take.

Built once per node; :meth:`NodeInfo.add_pod` / :meth:`NodeInfo.remove_pod` keep the sums current
(requested, non-zero requested, pod count, host ports), so binding a pod costs O(its size).

Taints from conditions: kube-scheduler does not look at the Ready condition; the node lifecycle
controller turns it into a ``NoSchedule`` taint (``node.kubernetes.io/not-ready`` when Ready is False,
``node.kubernetes.io/unreachable`` when it is Unknown or missing) that TaintToleration then enforces.
dockyard has no such controller yet, so :func:`parse_node` adds the taint the controller would have
added (``condition_taints=True``, the default), and a not-ready node is rejected with kube's text
``node(s) had untolerated taint {node.kubernetes.io/not-ready: }``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from . import quantity
from .matching import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, Taint
from .pods import DEFAULT_BIND_ALL_HOST_IP, HostPort, PodInfo
from .requests import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, is_scalar_resource

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


def zone_key(labels: Mapping[str, str]) -> str:
    """``utilnode.GetZoneKey``: region and zone ("" when the node has neither)."""
    zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
    region = next((labels[k] for k in REGION_LABELS if labels.get(k)), "")
    return f"{region}:\x00:{zone}" if zone or region else ""


def _condition_taint(node: Mapping[str, Any]) -> Taint | None:
    conditions = (node.get("status") or {}).get("conditions") or ()
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), "Unknown")
    if ready == "True":
        return None
    key = NOT_READY_TAINT if ready == "False" else UNREACHABLE_TAINT
    return Taint(key, "", NO_SCHEDULE)


class NodeInfo:
    """One node and the running sums of its pods. Mutated only through add_pod / remove_pod."""

    __slots__ = (
        "allocatable_ephemeral_storage",
        "allocatable_memory",
        "allocatable_milli_cpu",
        "allocatable_scalar",
        "allowed_pods",
        "hard_taints",
        "images",
        "labels",
        "name",
        "non_zero_memory",
        "non_zero_milli_cpu",
        "pods",
        "prefer_taints",
        "requested_ephemeral_storage",
        "requested_memory",
        "requested_milli_cpu",
        "requested_scalar",
        "taint_signature",
        "unschedulable",
        "used_ports",
        "zone",
    )

    def __init__(
        self,
        name: str,
        labels: Mapping[str, str],
        allocatable: Mapping[str, str],
        taints: tuple[Taint, ...] = (),
        *,
        unschedulable: bool = False,
        images: Mapping[str, int] | None = None,
    ) -> None:
        self.name = name
        self.labels = dict(labels)
        self.zone = zone_key(self.labels)
        self.unschedulable = unschedulable
        self.hard_taints = tuple(t for t in taints if t.effect in (NO_SCHEDULE, NO_EXECUTE))
        self.prefer_taints = tuple(t for t in taints if t.effect == PREFER_NO_SCHEDULE)
        # Nodes with the same taints share one toleration verdict per pod (see filters.TaintToleration).
        self.taint_signature = (self.hard_taints, self.prefer_taints)
        self.allocatable_milli_cpu = quantity.milli_value(str(allocatable.get(CPU, "0")))
        self.allocatable_memory = quantity.value(str(allocatable.get(MEMORY, "0")))
        self.allocatable_ephemeral_storage = quantity.value(str(allocatable.get(EPHEMERAL_STORAGE, "0")))
        self.allowed_pods = quantity.value(str(allocatable.get(PODS, "0")))
        self.allocatable_scalar = {
            name: quantity.value(str(text)) for name, text in allocatable.items() if is_scalar_resource(name)
        }
        self.images: dict[str, int] = dict(images or {})
        self.requested_milli_cpu = 0
        self.requested_memory = 0
        self.requested_ephemeral_storage = 0
        self.requested_scalar: dict[str, int] = {}
        self.non_zero_milli_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.used_ports: Counter[HostPort] = Counter()

    def _account(self, pod: PodInfo, sign: int) -> None:
        requests = pod.requests
        self.requested_milli_cpu += sign * requests.milli_cpu
        self.requested_memory += sign * requests.memory
        self.requested_ephemeral_storage += sign * requests.ephemeral_storage
        self.non_zero_milli_cpu += sign * requests.non_zero_milli_cpu
        self.non_zero_memory += sign * requests.non_zero_memory
        for name, amount in requests.scalar.items():
            self.requested_scalar[name] = self.requested_scalar.get(name, 0) + sign * amount
        for port in pod.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]

    def add_pod(self, pod: PodInfo) -> None:
        """``NodeInfo.AddPod``; a pod already here (same namespace/name) is replaced."""
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.pods[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._account(pod, -1)
        return pod

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """``HostPortInfo.CheckConflict``: 0.0.0.0 clashes with every address, others with their own
        and with 0.0.0.0."""
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(p == port and proto == protocol for _, proto, p in self.used_ports)
        return (DEFAULT_BIND_ALL_HOST_IP, protocol, port) in self.used_ports or (
            ip,
            protocol,
            port,
        ) in self.used_ports


def parse_node(node: Mapping[str, Any], *, condition_taints: bool = True) -> NodeInfo:
    """A Node object (as the API returns it) → :class:`NodeInfo` with no pods."""
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    taints = tuple(
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in spec.get("taints") or ()
    )
    extra = _condition_taint(node) if condition_taints else None
    if extra is not None and all(t.key not in (NOT_READY_TAINT, UNREACHABLE_TAINT) for t in taints):
        taints = (*taints, extra)
    images = {
        # Keys as the node reports them; ImageLocality looks them up by the normalised container image.
        str(name): int(image.get("sizeBytes") or 0)
        for image in status.get("images") or ()
        for name in image.get("names") or ()
    }
    return NodeInfo(
        str(metadata.get("name") or ""),
        metadata.get("labels") or {},
        status.get("allocatable") or {},
        taints,
        unschedulable=bool(spec.get("unschedulable")),
        images=images,
    )
