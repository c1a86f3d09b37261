"""What a pod requests, as the scheduler computes it (``resourcehelper.PodRequests``, v1.33).

Per resource::

    containers   = Σ regular containers + Σ restartable init containers (sidecars, restartPolicy Always)
    init peak    = max over init containers i of (its request + the sidecars declared before it)
    effective    = max(containers, init peak) + spec.overhead

Quantities are summed exactly (in nanounits) and rounded once, as kube adds ``Quantity`` values before
taking ``MilliValue``/``Value``. The *non-zero* variant (``NodeInfo.NonZeroRequested``, used by the
LeastAllocated score) counts a container that requests no cpu as 100m and no memory as 200Mi.

A container's missing request falls back to its limit, which is what API defaulting writes; objects
read back from the API already carry it. Pod-level ``spec.resources`` (alpha in v1.33, gate off) is
ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import quantity

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_MILLI_CPU_REQUEST = 100
"""``schedutil.DefaultMilliCPURequest``: a container without a cpu request counts as 0.1 core."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""``schedutil.DefaultMemoryRequest``: a container without a memory request counts as 200 MiB."""
_NON_ZERO_NANO = {
    CPU: DEFAULT_MILLI_CPU_REQUEST * quantity.NANO // 1000,
    MEMORY: DEFAULT_MEMORY_REQUEST * quantity.NANO,
}


def is_scalar_resource(name: str) -> bool:
    """``IsScalarResourceName``: extended (``example.com/gpu``), ``hugepages-*``, ``attachable-volumes-*``."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


@dataclass(frozen=True, slots=True)
class PodRequests:
    """A pod's effective requests: cpu in millicores, the rest in whole units (bytes, devices)."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    scalar: Mapping[str, int] = field(default_factory=dict)
    non_zero_milli_cpu: int = 0
    non_zero_memory: int = 0

    @property
    def empty(self) -> bool:
        """Nothing requested at all: NodeResourcesFit then checks only the pod count."""
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    merged = {**limits, **(resources.get("requests") or {})}
    return {name: quantity.parse_nano(str(text)) for name, text in merged.items()}


def _add(total: dict[str, int], part: Mapping[str, int]) -> None:
    for name, amount in part.items():
        total[name] = total.get(name, 0) + amount


def _raise_to(total: dict[str, int], part: Mapping[str, int]) -> None:
    for name, amount in part.items():
        if amount > total.get(name, 0):
            total[name] = amount


def _with_defaults(requests: dict[str, int], non_zero: bool) -> dict[str, int]:
    if not non_zero:
        return requests
    return {**{k: v for k, v in _NON_ZERO_NANO.items() if k not in requests}, **requests}


def aggregate_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> dict[str, int]:
    """``PodRequests``: each resource's effective request in nanounits (overhead included)."""
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        _add(total, _with_defaults(_container_requests(container), non_zero))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in spec.get("initContainers") or ():
        own = _with_defaults(_container_requests(container), non_zero)
        if container.get("restartPolicy") == "Always":
            _add(total, own)
            _add(sidecars, own)
            _raise_to(init_peak, sidecars)
        else:
            running = dict(own)
            _add(running, sidecars)
            _raise_to(init_peak, running)
    _raise_to(total, init_peak)
    overhead = spec.get("overhead") or {}
    _add(total, {name: quantity.parse_nano(str(text)) for name, text in overhead.items()})
    return total


def _scalars(names: Iterable[str], requested: Mapping[str, int]) -> dict[str, int]:
    return {name: quantity.nano_to_value(requested[name]) for name in names if is_scalar_resource(name)}


def pod_requests(spec: Mapping[str, Any]) -> PodRequests:
    """The requests NodeResourcesFit checks and the scorers weigh, from a pod's ``spec``."""
    requested = aggregate_requests(spec)
    non_zero = aggregate_requests(spec, non_zero=True)
    return PodRequests(
        milli_cpu=quantity.nano_to_milli(requested.get(CPU, 0)),
        memory=quantity.nano_to_value(requested.get(MEMORY, 0)),
        ephemeral_storage=quantity.nano_to_value(requested.get(EPHEMERAL_STORAGE, 0)),
        scalar=_scalars(requested, requested),
        non_zero_milli_cpu=quantity.nano_to_milli(non_zero.get(CPU, 0)),
        non_zero_memory=quantity.nano_to_value(non_zero.get(MEMORY, 0)),
    )
