"""The endpoints and EndpointSlice controllers: a selector Service's pods as addresses. Pure.

::

    Service (with spec.selector) + pods in its namespace ─▶ addresses per resolved port set
        ├─▶ Endpoints <service>      (v1: subsets of ready ``addresses`` / ``notReadyAddresses``)
        └─▶ EndpointSlice <service>-xxxxx (discovery.k8s.io/v1, one per port set, ≤ 100 endpoints)

As kube-controller-manager v1.33 does it:

- a Service without a selector is not managed (its Endpoints and slices are the user's); once the
  Service is gone, its Endpoints go (slices go with the garbage collector, they are owned);
- a pod counts when it has a ``podIP``, is not terminal (``Failed``/``Succeeded`` for restartPolicy
  Never, ``Succeeded`` for OnFailure) and, for Endpoints, is not being deleted unless the Service sets
  ``publishNotReadyAddresses``; EndpointSlices keep terminating pods with ``terminating: true``;
- ready means the pod's ``Ready`` condition is True (or ``publishNotReadyAddresses``); a slice endpoint
  has ``serving`` = pod ready, ``terminating`` = being deleted, ``ready`` = publishNotReady or
  (serving and not terminating);
- a port's ``targetPort`` is a number, a container port name (looked up in the pod's containers with
  the same protocol; a pod without it has no address for that port), or unset (= ``port``);
- Endpoints carry the Service's labels (plus ``service.kubernetes.io/headless`` for clusterIP None) and
  hold at most 1000 addresses (then ``endpoints.kubernetes.io/over-capacity: truncated``); slices carry
  the Service's labels plus ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``
  and a controller ownerReference to the Service.

Not matched: dual-stack slices (IPv6 pods are left out), topology hints, ``trafficDistribution``, the
``last-change-trigger-time`` annotation, and kube's slice packing across port sets (each port set gets
its own slices here, which is what kube ends with on a fresh sync).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from dockyard.control.kube.controllers.actions import (
    Actions,
    Create,
    Obj,
    Patch,
    condition_true,
    controller_reference,
    delete_of,
    fresh_names,
    meta,
    ref_of,
)
from dockyard.control.kube.selectors import from_map

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_ENDPOINTS_ADDRESSES = 1000
SLICE_VERSION = "discovery.k8s.io/v1"
MAX_ENDPOINTS_PER_SLICE = 100  # kube-controller-manager's --max-endpoints-per-slice default

PortSet = tuple[tuple[str, int, str, str | None], ...]  # (name, port, protocol, appProtocol)


def include_pod(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """``endpointsliceutil.ShouldPodBeInEndpoints``."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    phase, restart = status.get("phase"), (pod.get("spec") or {}).get("restartPolicy", "Always")
    if phase == "Succeeded" and restart != "Always":
        return False
    if phase == "Failed" and restart == "Never":
        return False
    return include_terminating or meta(pod).get("deletionTimestamp") is None


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """``podutil.FindPort``: the container port a Service port's ``targetPort`` means in this pod."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _port_set(service: Mapping[str, Any], pod: Mapping[str, Any]) -> PortSet:
    resolved = []
    for port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, port)
        if number is not None:
            resolved.append(
                (port.get("name", ""), number, port.get("protocol", "TCP"), port.get("appProtocol"))
            )
    return tuple(resolved)


def _wire_ports(ports: PortSet) -> list[Obj]:
    result = []
    for name, number, protocol, app in ports:
        entry: Obj = {"port": number, "protocol": protocol}
        if name:
            entry["name"] = name
        if app:
            entry["appProtocol"] = app
        result.append(entry)
    return result


def _target_ref(pod: Mapping[str, Any]) -> Obj:
    metadata = meta(pod)
    return {
        "kind": "Pod",
        "namespace": metadata.get("namespace"),
        "name": metadata["name"],
        "uid": metadata.get("uid"),
    }


def _hostname(service: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == meta(service)["name"]:
        return str(spec["hostname"])
    return None


def _selected(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    selector = from_map((service.get("spec") or {}).get("selector"))
    namespace = meta(service).get("namespace")
    chosen = [
        p for p in pods if meta(p).get("namespace") == namespace and selector.matches(meta(p).get("labels"))
    ]
    return sorted(chosen, key=lambda p: str(meta(p)["name"]))


def _managed(service: Mapping[str, Any]) -> bool:
    return bool((service.get("spec") or {}).get("selector"))


def _headless(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


# ── Endpoints (v1) ──────────────────────────────────────────────────────────────────────────────────


def desired_endpoints(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Obj:
    """The Endpoints object kube's endpoints controller writes for ``service``."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[PortSet, tuple[list[Obj], list[Obj]]] = {}
    for pod in _selected(service, pods):
        if not include_pod(pod, include_terminating=publish):
            continue
        ports = _port_set(service, pod)
        if spec.get("ports") and not ports:
            continue
        address: Obj = {"ip": pod["status"]["podIP"], "targetRef": _target_ref(pod)}
        if node := (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = node
        if hostname := _hostname(service, pod):
            address["hostname"] = hostname
        ready, not_ready = groups.setdefault(ports, ([], []))
        (ready if publish or condition_true(pod, "Ready") else not_ready).append(address)
    subsets, total, truncated = [], 0, False
    for ports, (ready_group, not_ready_group) in sorted(groups.items(), key=lambda item: repr(item[0])):
        room = MAX_ENDPOINTS_ADDRESSES - total
        ready = _by_ip(ready_group)[:room]
        not_ready = _by_ip(not_ready_group)[: room - len(ready)]
        truncated = truncated or len(ready) + len(not_ready) < len(ready_group) + len(not_ready_group)
        total += len(ready) + len(not_ready)
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = _wire_ports(ports)
        if ready or not_ready:
            subsets.append(subset)
    metadata: Obj = {
        "name": meta(service)["name"],
        "namespace": meta(service).get("namespace"),
        "labels": _labels(service),
    }
    if truncated:
        metadata["annotations"] = {OVER_CAPACITY: "truncated"}
    endpoints: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        endpoints["subsets"] = subsets
    return endpoints


def _by_ip(addresses: list[Obj]) -> list[Obj]:
    return sorted(addresses, key=lambda a: (ipaddress.ip_address(a["ip"]).packed, a["targetRef"]["name"]))


def _labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = dict(meta(service).get("labels") or {})
    if _headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def decide_endpoints(
    service: Mapping[str, Any] | None,
    pods: Iterable[Mapping[str, Any]],
    existing: Mapping[str, Any] | None,
) -> Actions:
    """Create, patch (subsets, labels, annotations; guarded by resourceVersion) or delete the Endpoints."""
    if service is None or being_gone(service):
        return Actions(deletes=(delete_of(existing),)) if existing is not None else Actions()
    if not _managed(service):
        return Actions()
    wanted = desired_endpoints(service, pods)
    if existing is None:
        return Actions(creates=(Create(wanted),))
    current_meta = meta(existing)
    wanted_capacity = (wanted["metadata"].get("annotations") or {}).get(OVER_CAPACITY)
    same = (
        (existing.get("subsets") or []) == (wanted.get("subsets") or [])
        and (current_meta.get("labels") or {}) == wanted["metadata"]["labels"]
        and (current_meta.get("annotations") or {}).get(OVER_CAPACITY) == wanted_capacity
    )
    if same:
        return Actions()
    annotations = {OVER_CAPACITY: wanted_capacity}
    patch: Obj = {
        "metadata": {
            "labels": _label_patch(current_meta.get("labels"), wanted["metadata"]["labels"]),
            "annotations": annotations,
        },
        "subsets": wanted.get("subsets"),
    }
    return Actions(patches=(Patch(ref_of(existing, with_version=True), patch),))


def being_gone(service: Mapping[str, Any]) -> bool:
    return meta(service).get("deletionTimestamp") is not None


def _label_patch(current: Mapping[str, str] | None, wanted: Mapping[str, str]) -> dict[str, str | None]:
    """A merge patch turning label map ``current`` into ``wanted`` (None removes a key)."""
    patch: dict[str, str | None] = {key: None for key in current or {} if key not in wanted}
    patch.update(wanted)
    return patch


# ── EndpointSlices (discovery.k8s.io/v1) ─────────────────────────────────────────────────────────────


def _slice_endpoints(
    service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], zones: Mapping[str, str]
) -> dict[PortSet, list[Obj]]:
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[PortSet, list[Obj]] = {}
    for pod in _selected(service, pods):
        if not include_pod(pod, include_terminating=True):
            continue
        ip = pod["status"]["podIP"]
        if ipaddress.ip_address(ip).version != 4:
            continue
        ports = _port_set(service, pod)
        if (service.get("spec") or {}).get("ports") and not ports:
            continue
        serving = condition_true(pod, "Ready")
        terminating = meta(pod).get("deletionTimestamp") is not None
        endpoint: Obj = {
            "addresses": [ip],
            "conditions": {
                "ready": publish or (serving and not terminating),
                "serving": serving,
                "terminating": terminating,
            },
            "targetRef": _target_ref(pod),
        }
        if node := (pod.get("spec") or {}).get("nodeName"):
            endpoint["nodeName"] = node
            if zone := zones.get(node):
                endpoint["zone"] = zone
        if hostname := _hostname(service, pod):
            endpoint["hostname"] = hostname
        groups.setdefault(ports, []).append(endpoint)
    return groups


def _chunks(items: Sequence[Obj], size: int) -> Iterator[list[Obj]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def decide_endpoint_slices(
    service: Mapping[str, Any] | None,
    pods: Iterable[Mapping[str, Any]],
    existing: Sequence[Mapping[str, Any]],
    *,
    seed: int | str,
    nodes: Iterable[Mapping[str, Any]] = (),
) -> Actions:
    """Make the Service's managed slices (``existing``: those labelled with its name and our
    managed-by) hold exactly its endpoints: reuse a slice per port set (patched when it differs),
    create what is missing (named ``<service>-`` + 5 characters drawn from ``seed``), delete the rest.

    A Service with a selector and no matching pods still gets one empty slice, as kube keeps one.
    """
    mine = [s for s in existing if (meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY]
    if service is None or being_gone(service):
        return Actions(deletes=tuple(delete_of(s) for s in mine))
    if not _managed(service):
        return Actions()
    zones: dict[str, str] = {}
    for node in nodes:
        if zone := (meta(node).get("labels") or {}).get("topology.kubernetes.io/zone"):
            zones[meta(node)["name"]] = zone
    wanted: list[tuple[PortSet, list[Obj]]] = []
    for ports, endpoints in sorted(
        _slice_endpoints(service, pods, zones).items(), key=lambda item: repr(item[0])
    ):
        wanted.extend((ports, chunk) for chunk in _chunks(endpoints, MAX_ENDPOINTS_PER_SLICE))
    if not wanted:
        wanted.append(((), []))  # kube's placeholder: a Service with no endpoints keeps one empty slice
    labels = {**_labels(service), SERVICE_NAME_LABEL: meta(service)["name"], MANAGED_BY_LABEL: MANAGED_BY}
    unused = sorted(mine, key=lambda s: str(meta(s)["name"]))
    names = fresh_names(f"{meta(service)['name']}-", seed, [str(meta(s)["name"]) for s in existing])
    creates: list[Create] = []
    patches: list[Patch] = []
    for ports, endpoints in wanted:
        body: Obj = {"endpoints": endpoints, "ports": _wire_ports(ports)}
        match = next((s for s in unused if _same_ports(s, body["ports"])), unused[0] if unused else None)
        if match is None:
            metadata: Obj = {
                "name": next(names),
                "namespace": meta(service).get("namespace"),
                "labels": labels,
                "ownerReferences": [controller_reference(service)],
            }
            creates.append(
                Create(
                    {
                        "apiVersion": SLICE_VERSION,
                        "kind": "EndpointSlice",
                        "metadata": metadata,
                        "addressType": "IPv4",
                        **body,
                    }
                )
            )
            continue
        unused.remove(match)
        current = {"endpoints": match.get("endpoints") or [], "ports": match.get("ports") or []}
        if current != body or (meta(match).get("labels") or {}) != labels:
            body["metadata"] = {"labels": _label_patch(meta(match).get("labels"), labels)}
            patches.append(Patch(ref_of(match, with_version=True), body))
    return Actions(
        creates=tuple(creates), patches=tuple(patches), deletes=tuple(delete_of(s) for s in unused)
    )


def _same_ports(slice_: Mapping[str, Any], ports: list[Obj]) -> bool:
    return (slice_.get("ports") or []) == ports
