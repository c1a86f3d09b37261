"""Pod predicates, kube's deletion order and claiming (control/kube/workloads/pods.py, ownership.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dockyard.control.kube.selectors import from_structured
from dockyard.control.kube.workloads import ownership, pods

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "uid": "rs-uid"}}


def pod(
    name: str,
    *,
    node: str = "n1",
    phase: str = "Running",
    ready_at: str | None = "2026-12-07T11:00:00Z",
    created: str = "2026-12-07T10:00:00Z",
    labels: dict[str, str] | None = None,
    owner: str | None = None,
    restarts: int = 0,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "uid": f"{name}-uid",
        "resourceVersion": "7",
        "creationTimestamp": created,
        "labels": labels if labels is not None else {"app": "web"},
    }
    if owner:
        metadata["ownerReferences"] = [{"kind": "ReplicaSet", "uid": owner, "controller": True}]
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T11:59:00Z"
    conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}] if ready_at else []
    return {
        "metadata": metadata,
        "spec": {"nodeName": node},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }


def names(objects: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def test_terminal_and_deleting_pods_are_not_active() -> None:
    assert pods.is_active(pod("a"))
    assert not pods.is_active(pod("b", phase="Succeeded"))
    assert not pods.is_active(pod("c", phase="Failed"))
    assert not pods.is_active(pod("d", deleting=True))


def test_available_needs_more_than_min_ready_seconds_of_readiness() -> None:
    ready = pod("a", ready_at="2026-12-07T11:59:30Z")
    assert pods.is_available(ready, 0, NOW)
    assert not pods.is_available(ready, 30, NOW)  # exactly 30 s: kube's Before is strict
    assert pods.is_available(ready, 29, NOW)
    assert pods.available_in(ready, 40, NOW) == 11.0
    assert not pods.is_available(pod("b", ready_at=None), 0, NOW)


def test_deletion_order_follows_kubes_ranking() -> None:
    candidates = [
        pod("ready-old"),
        pod("ready-new", ready_at="2026-12-07T11:59:59Z", created="2026-12-07T11:59:00Z"),
        pod("not-ready", ready_at=None),
        pod("pending", phase="Pending", ready_at=None),
        pod("unassigned", node="", phase="Pending", ready_at=None),
        pod("restarts", restarts=5),
    ]
    order = names(pods.deletion_order(candidates, candidates, NOW))
    assert order == ["unassigned", "pending", "not-ready", "ready-new", "restarts", "ready-old"]


def test_pods_doubled_up_on_a_node_go_first() -> None:
    alone, crowded = pod("alone", node="n1"), pod("crowded", node="n2")
    related = [alone, crowded, pod("other", node="n2")]
    assert names(pods.deletion_order([alone, crowded], related, NOW)) == ["crowded", "alone"]


def test_claim_adopts_matching_orphans_and_releases_owned_pods_that_no_longer_match() -> None:
    selector = from_structured({"matchLabels": {"app": "web"}})
    observed = [
        pod("mine", owner="rs-uid"),
        pod("orphan"),
        pod("strayed", owner="rs-uid", labels={"app": "db"}),
        pod("theirs", owner="other-uid"),
        pod("orphan-deleting", deleting=True),
    ]
    result = ownership.claim(RS, selector, observed)
    assert names(list(result.owned)) == ["mine", "orphan"]
    adopt, release = result.patches
    assert adopt.ref.name == "orphan" and adopt.ref.resource_version == "7"
    assert adopt.patch["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": "rs-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert release.ref.name == "strayed"
    assert release.patch == {"metadata": {"ownerReferences": None}}


def test_an_owner_being_deleted_neither_adopts_nor_releases() -> None:
    deleting = {**RS, "metadata": {**RS["metadata"], "deletionTimestamp": "2026-12-07T11:00:00Z"}}
    selector = from_structured({"matchLabels": {"app": "web"}})
    result = ownership.claim(deleting, selector, [pod("orphan"), pod("strayed", owner="rs-uid", labels={})])
    assert result.owned == () and result.patches == ()
