"""A pure Kubernetes pod scheduler: kube-scheduler v1.33's default profile, as far as dockyard needs.

::

    Node and Pod objects (JSON dicts)
        │ ClusterSnapshot.build            nodes (nodeTree order), requested sums, affinity indexes
        ▼
    schedule(pod, snapshot, rng=…, start=…) -> ScheduleResult
        │ filters   NodeUnschedulable · NodeName · TaintToleration · NodeAffinity · NodePorts ·
        │           NodeResourcesFit · InterPodAffinity (required terms)      (first rejection = reason)
        │ scorers   TaintToleration 3 · NodeAffinity 2 · NodeResourcesFit 1 · BalancedAllocation 1 ·
        │           ImageLocality 1
        ▼
    node name → binding(pod, node) posted, then snapshot.add_pod(pod, node)   (incremental: O(pod))
    none      → result.message (FailedScheduling) → unschedulable_condition(message, now)

Modules: ``quantity`` (resource.Quantity), ``requests`` (effective pod requests), ``matching``
(tolerations, node selector terms), ``pods`` / ``nodes`` (PodInfo / NodeInfo), ``snapshot``, ``filters``,
``scorers``, ``diagnosis`` (FitError wording), ``schedule`` (the cycle), ``binding`` (what is written).

Not implemented (kube plugins of the default profile, or behaviour, left out): volume plugins
(VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone), PodTopologySpread (including its
system default constraints), InterPodAffinity *scoring* (preferred terms, existing pods' terms),
SchedulingGates, preemption itself (the message is computed, no victim is chosen), extenders,
nominated pods, DRA, pod-level resources.
"""

from __future__ import annotations

from .binding import binding, scheduled_message, unschedulable_condition
from .diagnosis import Diagnosis, fit_error_message
from .filters import Rejection
from .nodes import NodeInfo, parse_node
from .pods import PodInfo, parse_pod
from .quantity import QuantityError, milli_value, parse_nano, value
from .requests import PodRequests, pod_requests
from .schedule import ScheduleResult, num_feasible_nodes_to_find, schedule
from .snapshot import ClusterSnapshot

__all__ = [
    "ClusterSnapshot",
    "Diagnosis",
    "NodeInfo",
    "PodInfo",
    "PodRequests",
    "QuantityError",
    "Rejection",
    "ScheduleResult",
    "binding",
    "fit_error_message",
    "milli_value",
    "num_feasible_nodes_to_find",
    "parse_nano",
    "parse_node",
    "parse_pod",
    "pod_requests",
    "schedule",
    "scheduled_message",
    "unschedulable_condition",
    "value",
]
