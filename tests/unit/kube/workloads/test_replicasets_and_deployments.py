"""The ReplicaSet and Deployment controllers' decisions (control/kube/workloads/replicasets.py,
deployments.py): counts, rolling-update arithmetic, revisions, status conditions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.control.kube.controllers.actions import timestamp
from dockyard.control.kube.workloads import deployments, replicasets

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "busybox:1"}]},
}


def replica_set(name: str = "web-abc", *, replicas: int = 3, owner: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"{name}-uid",
        "resourceVersion": "5",
        "generation": 2,
        "creationTimestamp": "2026-12-07T10:00:00Z",
    }
    if owner:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner, "controller": True}
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata,
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
    }


def pod(
    name: str, *, owner: str | None = "web-abc-uid", ready: bool = True, node: str = "n1"
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"{name}-uid",
        "resourceVersion": "9",
        "creationTimestamp": "2026-12-07T11:00:00Z",
        "labels": {"app": "web"},
    }
    if owner:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": owner, "controller": True}
        ]
    status = {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": "2026-12-07T11:30:00Z",
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": node},
        "status": status,
    }


def test_a_replica_set_creates_the_missing_pods_from_its_template() -> None:
    actions = replicasets.decide(replica_set(), [pod("web-abc-1")], NOW, seed=1)
    assert len(actions.creates) == 2
    created = actions.creates[0].obj
    assert created["metadata"]["generateName"] == "web-abc-"
    assert created["metadata"]["labels"] == {"app": "web"}
    assert created["metadata"]["ownerReferences"][0]["uid"] == "web-abc-uid"
    assert created["spec"] == TEMPLATE["spec"]
    assert actions.status == {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 2,
    }


def test_a_replica_set_deletes_the_surplus_not_ready_first() -> None:
    pods = [pod("web-abc-1"), pod("web-abc-2", ready=False), pod("web-abc-3")]
    actions = replicasets.decide(replica_set(replicas=2), pods, NOW, seed=1)
    assert [d.ref.name for d in actions.deletes] == ["web-abc-2"]
    assert not actions.creates


def test_a_replica_set_adopts_a_matching_orphan_and_ignores_others_pods() -> None:
    pods = [pod("orphan", owner=None), pod("theirs", owner="other-uid")]
    actions = replicasets.decide(replica_set(replicas=1), pods, NOW, seed=1)
    assert [p.ref.name for p in actions.patches] == ["orphan"]
    assert not actions.creates and not actions.deletes


def test_a_ready_pod_not_yet_available_brings_the_replica_set_back() -> None:
    rs = replica_set(replicas=1)
    rs["spec"]["minReadySeconds"] = 3600
    actions = replicasets.decide(rs, [pod("web-abc-1")], NOW, seed=1)
    assert actions.status is not None and "availableReplicas" not in actions.status
    assert actions.requeue_after is not None and 1790 < actions.requeue_after < 1811


def deployment(replicas: int = 4, *, image: str = "busybox:1", **strategy: Any) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["containers"][0]["image"] = image
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template,
    }
    if strategy:
        spec["strategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "d-uid",
            "generation": 1,
            "resourceVersion": "3",
        },
        "spec": spec,
    }


def owned_set(
    d: dict[str, Any], name: str, replicas: int, available: int, revision: int, *, image: str | None = None
) -> dict[str, Any]:
    rs = replica_set(name, replicas=replicas, owner="d-uid")
    template = copy.deepcopy(d["spec"]["template"])
    if image is not None:
        template["spec"]["containers"][0]["image"] = image
    template["metadata"]["labels"]["pod-template-hash"] = name.rpartition("-")[2]
    rs["spec"]["template"] = template
    rs["metadata"]["labels"] = dict(template["metadata"]["labels"])
    rs["metadata"]["annotations"] = {deployments.REVISION: str(revision)}
    rs["status"] = {"replicas": replicas, "readyReplicas": available, "availableReplicas": available}
    rs["metadata"]["creationTimestamp"] = f"2026-12-07T10:0{revision}:00Z"
    return rs


def test_a_new_deployment_creates_its_replica_set_with_the_hash_and_revision_1() -> None:
    actions = deployments.decide(deployment(), [], [], NOW)
    (create,) = actions.creates
    rs = create.obj
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["replicas"] == 4
    assert rs["metadata"]["annotations"][deployments.REVISION] == "1"
    assert rs["metadata"]["annotations"][deployments.MAX_REPLICAS] == "5"
    progressing = next(c for c in actions.status["conditions"] if c["type"] == "Progressing")  # type: ignore[index]
    assert progressing["reason"] == "NewReplicaSetCreated"
    assert progressing["message"] == f'Created new replica set "web-{pod_hash}"'


def test_a_rolling_update_surges_by_max_surge_then_scales_old_down_within_max_unavailable() -> None:
    d = deployment(image="busybox:2")  # 4 replicas: maxSurge 1, maxUnavailable 1
    old = owned_set(d, "web-old", 4, 4, 1, image="busybox:1")
    first = deployments.decide(d, [old], [], NOW)
    (create,) = first.creates
    assert create.obj["spec"]["replicas"] == 1  # 4 + 1 surge - 4 running
    assert create.obj["metadata"]["annotations"][deployments.REVISION] == "2"

    new = owned_set(d, "web-new", 1, 0, 2)
    second = deployments.decide(d, [old, new], [], NOW)
    scaled = {p.ref.name: p.patch["spec"]["replicas"] for p in second.patches if "spec" in p.patch}
    assert scaled == {"web-old": 3}  # 5 pods, 3 must stay available: one old may go

    old = owned_set(d, "web-old", 3, 3, 1, image="busybox:1")
    new = owned_set(d, "web-new", 1, 1, 2)
    third = deployments.decide(d, [old, new], [], NOW)
    scaled = {p.ref.name: p.patch["spec"]["replicas"] for p in third.patches if "spec" in p.patch}
    assert scaled == {"web-new": 2}


def test_a_finished_rollout_reports_success_and_keeps_revision_history() -> None:
    d = deployment(image="busybox:2")
    old = owned_set(d, "web-old", 0, 0, 1, image="busybox:1")
    new = owned_set(d, "web-new", 4, 4, 2)
    actions = deployments.decide(d, [old, new], [], NOW)
    assert not actions.deletes
    status = actions.status
    assert status is not None
    assert {k: status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} == {
        "replicas": 4,
        "updatedReplicas": 4,
        "readyReplicas": 4,
        "availableReplicas": 4,
    }
    assert status["observedGeneration"] == 1
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["message"] == 'ReplicaSet "web-new" has successfully progressed.'
    annotation = [p for p in actions.patches if p.ref.kind == "Deployment"]
    assert annotation[0].patch == {"metadata": {"annotations": {deployments.REVISION: "2"}}}


def test_rolling_back_to_an_old_template_gives_its_replica_set_the_next_revision() -> None:
    d = deployment(image="busybox:1")  # the template of revision 1 again
    first = owned_set(d, "web-one", 0, 0, 1)
    second = owned_set(d, "web-two", 4, 4, 2, image="busybox:2")
    actions = deployments.decide(d, [first, second], [], NOW)
    assert not actions.creates
    annotations = next(p.patch for p in actions.patches if p.ref.name == "web-one" and "metadata" in p.patch)
    assert annotations["metadata"]["annotations"][deployments.REVISION] == "3"
    assert annotations["metadata"]["annotations"][deployments.REVISION_HISTORY] == "1"
    scaled = {p.ref.name: p.patch["spec"]["replicas"] for p in actions.patches if "spec" in p.patch}
    assert scaled == {"web-one": 1}


def test_recreate_scales_old_to_zero_and_waits_for_their_pods() -> None:
    d = deployment(image="busybox:2", type="Recreate")
    old = owned_set(d, "web-old", 4, 4, 1, image="busybox:1")
    first = deployments.decide(d, [old], [], NOW)
    assert first.creates[0].obj["spec"]["replicas"] == 0
    new = owned_set(d, "web-new", 0, 0, 2)
    second = deployments.decide(d, [old, new], [], NOW)
    assert {p.ref.name: p.patch["spec"]["replicas"] for p in second.patches if "spec" in p.patch} == {
        "web-old": 0
    }
    old = owned_set(d, "web-old", 0, 0, 1, image="busybox:1")
    lingering = pod("web-old-1", owner="web-old-uid")
    waiting = deployments.decide(d, [old, new], [lingering], NOW)
    assert not [p for p in waiting.patches if "spec" in p.patch]
    assert waiting.requeue_after == 1.0
    done = deployments.decide(d, [old, new], [], NOW)
    assert {p.ref.name: p.patch["spec"]["replicas"] for p in done.patches if "spec" in p.patch} == {
        "web-new": 4
    }


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded() -> None:
    d = deployment(image="busybox:2")
    d["spec"]["progressDeadlineSeconds"] = 60
    stale = timestamp(NOW - timedelta(seconds=61))
    d["status"] = {
        "replicas": 4,
        "updatedReplicas": 1,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": "x",
                "lastUpdateTime": stale,
                "lastTransitionTime": stale,
            }
        ],
    }
    old = owned_set(d, "web-old", 3, 3, 1, image="busybox:1")
    new = owned_set(d, "web-new", 1, 0, 2)
    new["status"]["replicas"] = 1
    actions = deployments.decide(d, [old, new], [], NOW)
    assert actions.status is not None
    progressing = next(c for c in actions.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == 'ReplicaSet "web-new" has timed out progressing.'


def test_old_replica_sets_beyond_the_history_limit_are_deleted_oldest_first() -> None:
    d = deployment(image="busybox:9")
    d["spec"]["revisionHistoryLimit"] = 1
    sets = [owned_set(d, f"web-r{n}", 0, 0, n, image=f"busybox:{n}") for n in (1, 2, 3)]
    sets.append(owned_set(d, "web-new", 4, 4, 4))
    actions = deployments.decide(d, sets, [], NOW)
    assert [x.ref.name for x in actions.deletes] == ["web-r1", "web-r2"]
