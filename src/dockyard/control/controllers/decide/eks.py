"""What an EKS cluster's controller does next: a pure function of the cluster's stored state.

```
cluster   CREATING ──endpoint ready──▶ ACTIVE ──UpdateClusterVersion──▶ UPDATING ──update done──▶ ACTIVE
          DELETING ──no node group or Fargate profile left──▶ removed
node group / Fargate profile   CREATING ──cluster ACTIVE or UPDATING──▶ ACTIVE · DELETING ──▶ removed
node group   UPDATING ──its updates done (in the same pass)──▶ ACTIVE
update   InProgress ──▶ Successful (a version update sets the cluster's version then)
```

"Endpoint ready" is the controller's input: today the cluster's CA and port exist; once the Kubernetes
API is served, it means that the cluster's listener answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

CREATING, ACTIVE, UPDATING, DELETING = "CREATING", "ACTIVE", "UPDATING", "DELETING"
IN_PROGRESS, SUCCESSFUL = "InProgress", "Successful"
VERSION_UPDATE = "VersionUpdate"


@dataclass(frozen=True, slots=True)
class PartState:
    """A node group or a Fargate profile: its name and status."""

    name: str
    status: str


@dataclass(frozen=True, slots=True)
class UpdateState:
    update_id: str
    nodegroup_name: str | None
    update_type: str
    params: Mapping[str, str]
    """The update's params by type (``Version`` → ``1.33``)."""


@dataclass(frozen=True, slots=True)
class ClusterState:
    status: str
    endpoint_ready: bool
    nodegroups: Sequence[PartState] = ()
    fargate_profiles: Sequence[PartState] = ()
    updates_in_progress: Sequence[UpdateState] = ()


@dataclass(frozen=True, slots=True)
class ClusterActions:
    cluster_status: str | None = None
    cluster_version: str | None = None
    remove_cluster: bool = False
    nodegroup_status: Mapping[str, str] = field(default_factory=dict)
    remove_nodegroups: tuple[str, ...] = ()
    profile_status: Mapping[str, str] = field(default_factory=dict)
    remove_profiles: tuple[str, ...] = ()
    completed_updates: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == ClusterActions()


def decide(state: ClusterState) -> ClusterActions:
    """The transitions due now. Idempotent: applying them and deciding again gives no action."""
    cluster_status: str | None = None
    version: str | None = None
    completed: list[str] = []
    serving = state.status in (ACTIVE, UPDATING)
    if serving:
        for update in state.updates_in_progress:
            completed.append(update.update_id)
            if update.nodegroup_name is None and update.update_type == VERSION_UPDATE:
                version = update.params.get("Version", version)
        if state.status == UPDATING:
            cluster_status = ACTIVE
    elif state.status == CREATING and state.endpoint_ready:
        cluster_status = ACTIVE
        serving = True
    nodegroup_status, remove_nodegroups = _parts(state.nodegroups, serving)
    profile_status, remove_profiles = _parts(state.fargate_profiles, serving)
    remaining = len(state.nodegroups) - len(remove_nodegroups) + len(state.fargate_profiles)
    remaining -= len(remove_profiles)
    return ClusterActions(
        cluster_status=cluster_status,
        cluster_version=version,
        remove_cluster=state.status == DELETING and remaining == 0,
        nodegroup_status=nodegroup_status,
        remove_nodegroups=remove_nodegroups,
        profile_status=profile_status,
        remove_profiles=remove_profiles,
        completed_updates=tuple(completed),
    )


def _parts(parts: Sequence[PartState], cluster_serving: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """New statuses and removals of a cluster's node groups or Fargate profiles: CREATING and UPDATING
    ones settle once the cluster serves (their updates complete in the same pass)."""
    status: dict[str, str] = {}
    removed: list[str] = []
    for part in parts:
        if part.status == DELETING:
            removed.append(part.name)
        elif part.status in (CREATING, UPDATING) and cluster_serving:
            status[part.name] = ACTIVE
    return status, tuple(removed)
