"""A pod as the scheduler reads it (``framework.PodInfo``): parsed once, used for every node.

Parsing turns the JSON dict into what the plugins ask of it: requests (``requests.pod_requests``),
host ports, tolerations, node affinity and required inter-pod (anti-)affinity terms, image names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.control.kube.selectors import NOTHING, LabelSelector, from_structured

from .matching import NodeSelector, PreferredTerm, Toleration, parse_preferred
from .requests import PodRequests, pod_requests

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"  # noqa: S104 — kube's name for "every address", not a bind here

HostPort = tuple[str, str, int]
"""(host IP, protocol, port), sanitised as ``HostPortInfo`` does (empty IP = 0.0.0.0, protocol TCP)."""


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A required ``PodAffinityTerm`` (``framework.AffinityTerm``).

    ``namespaces`` is the term's list, or the pod's own namespace when neither a list nor a
    ``namespaceSelector`` is given; ``namespace_selector`` is ``NOTHING`` when absent.
    """

    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector
    topology_key: str

    def matches(self, namespace: str, labels: Mapping[str, str], namespace_labels: Mapping[str, str]) -> bool:
        """``AffinityTerm.Matches``: the namespace is in scope and the labels match the selector."""
        in_scope = namespace in self.namespaces or self.namespace_selector.matches(namespace_labels)
        return in_scope and self.selector.matches(labels)

    @property
    def identity(self) -> tuple[str, str, frozenset[str], str]:
        """Equal for equal terms, so the snapshot can count replicas' identical terms once."""
        return (
            str(self.selector) + ("!" if self.selector.nothing else ""),
            self.topology_key,
            self.namespaces,
            str(self.namespace_selector) + ("!" if self.namespace_selector.nothing else ""),
        )


def _affinity_terms(raw: Any, namespace: str) -> tuple[AffinityTerm, ...]:
    terms = []
    for term in raw or ():
        namespaces = frozenset(term.get("namespaces") or ())
        selector_raw = term.get("namespaceSelector")
        if not namespaces and selector_raw is None:
            namespaces = frozenset({namespace})
        namespace_selector = NOTHING if selector_raw is None else from_structured(selector_raw)
        terms.append(
            AffinityTerm(
                from_structured(term.get("labelSelector")),
                namespaces,
                namespace_selector,
                str(term.get("topologyKey") or ""),
            )
        )
    return tuple(terms)


def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    """NodePorts' ``getContainerPorts``: regular containers' ports with a hostPort above 0."""
    ports = []
    for container in spec.get("containers") or ():
        for port in container.get("ports") or ():
            number = int(port.get("hostPort") or 0)
            if number > 0:
                ip = str(port.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP)
                ports.append((ip, str(port.get("protocol") or "TCP"), number))
    return tuple(ports)


def normalized_image_name(name: str) -> str:
    """ImageLocality's ``normalizedImageName``: ``:latest`` added when no tag is given."""
    return name if name.rfind(":") > name.rfind("/") else name + ":latest"


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What the plugins read of one pod."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    node_name: str
    priority: int
    preemption_policy: str
    requests: PodRequests
    host_ports: tuple[HostPort, ...]
    tolerations: tuple[Toleration, ...]
    node_selector: Mapping[str, str]
    required_node_affinity: NodeSelector | None
    preferred_node_affinity: tuple[PreferredTerm, ...]
    affinity_terms: tuple[AffinityTerm, ...]
    anti_affinity_terms: tuple[AffinityTerm, ...]
    images: tuple[str, ...]
    container_count: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def has_node_affinity(self) -> bool:
        return bool(self.node_selector) or self.required_node_affinity is not None


def parse_pod(pod: Mapping[str, Any]) -> PodInfo:
    """A Pod object (as the API returns it) → :class:`PodInfo`."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = str(metadata.get("namespace") or "default")
    affinity = spec.get("affinity") or {}
    node_affinity = affinity.get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    return PodInfo(
        namespace=namespace,
        name=str(metadata.get("name") or ""),
        labels=dict(metadata.get("labels") or {}),
        node_name=str(spec.get("nodeName") or ""),
        priority=int(spec.get("priority") or 0),
        preemption_policy=str(spec.get("preemptionPolicy") or "PreemptLowerPriority"),
        requests=pod_requests(spec),
        host_ports=_host_ports(spec),
        tolerations=tuple(Toleration.parse(t) for t in spec.get("tolerations") or ()),
        node_selector=dict(spec.get("nodeSelector") or {}),
        required_node_affinity=None if required is None else NodeSelector.parse(required),
        preferred_node_affinity=parse_preferred(
            node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        ),
        affinity_terms=_affinity_terms(
            (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"),
            namespace,
        ),
        anti_affinity_terms=_affinity_terms(
            (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"),
            namespace,
        ),
        images=tuple(normalized_image_name(str(c.get("image") or "")) for c in containers),
        container_count=len(containers),
    )
