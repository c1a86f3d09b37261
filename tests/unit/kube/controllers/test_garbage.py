"""The garbage collector's decisions (control/kube/controllers/garbage.py).

Scenarios from the Kubernetes documentation ("Garbage Collection", "Use Cascading Deletion"): a
Deployment → ReplicaSet → Pod chain deleted in the background, the foreground and with orphaning.
"""

from __future__ import annotations

from typing import Any

from dockyard.control.kube.controllers import garbage
from dockyard.control.kube.controllers.actions import BACKGROUND, FOREGROUND, ORPHAN


def obj(
    kind: str,
    name: str,
    *,
    namespace: str | None = "default",
    owners: list[tuple[str, str, bool]] = (),  # type: ignore[assignment]
    deleting: bool = False,
    finalizers: list[str] | None = None,
    api_version: str = "apps/v1",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": f"{name}-uid", "resourceVersion": "5"}
    if namespace:
        metadata["namespace"] = namespace
    if owners:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner_kind,
                "name": owner,
                "uid": f"{owner}-uid",
                "controller": True,
                "blockOwnerDeletion": block,
            }
            for owner_kind, owner, block in owners
        ]
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T10:00:00Z"
    if finalizers:
        metadata["finalizers"] = finalizers
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def chain(**deployment: Any) -> list[dict[str, Any]]:
    return [
        obj("Deployment", "web", **deployment),
        obj("ReplicaSet", "web-6f7", owners=[("Deployment", "web", True)]),
        obj("Pod", "web-6f7-abcde", owners=[("ReplicaSet", "web-6f7", True)], api_version="v1"),
    ]


def test_a_live_chain_needs_nothing() -> None:
    assert garbage.decide(chain()).empty


def test_background_deletion_deletes_dependents_whose_owners_are_all_gone() -> None:
    objects = chain()[1:]  # the Deployment was deleted
    actions = garbage.decide(objects)
    (delete,) = actions.deletes
    assert (delete.ref.kind, delete.ref.name, delete.ref.uid) == ("ReplicaSet", "web-6f7", "web-6f7-uid")
    assert delete.propagation == BACKGROUND
    assert garbage.decide(objects[1:]).deletes[0].ref.name == "web-6f7-abcde"


def test_an_owner_with_the_same_name_but_another_uid_is_absent() -> None:
    objects = chain()
    objects[0]["metadata"]["uid"] = "recreated"
    assert [d.ref.name for d in garbage.decide(objects).deletes] == ["web-6f7"]


def test_a_solid_owner_keeps_the_dependent_and_dangling_references_are_removed() -> None:
    config = obj(
        "ConfigMap",
        "cfg",
        owners=[("Deployment", "web", False), ("Deployment", "gone", False)],
        api_version="v1",
    )
    actions = garbage.decide([obj("Deployment", "web"), config])
    assert actions.deletes == ()
    (patch,) = actions.patches
    assert patch.ref.resource_version == "5"
    assert [r["name"] for r in patch.patch["metadata"]["ownerReferences"]] == ["web"]


def test_an_owner_in_another_namespace_counts_as_absent_but_a_cluster_scoped_owner_is_fine() -> None:
    elsewhere = obj("Deployment", "web", namespace="other")
    dependent = obj("ReplicaSet", "web-6f7", owners=[("Deployment", "web", True)])
    assert [d.ref.name for d in garbage.decide([elsewhere, dependent]).deletes] == ["web-6f7"]
    node = obj("Node", "n1", namespace=None, api_version="v1")
    lease = obj("Lease", "n1-lease", namespace="kube-node-lease", owners=[("Node", "n1", False)])
    assert garbage.decide([node, lease]).empty


def test_a_cluster_scoped_dependent_of_a_namespaced_kind_is_never_collected() -> None:
    dependent = obj("ClusterRole", "r", namespace=None, owners=[("Deployment", "web", False)])
    assert garbage.decide([obj("Deployment", "other"), dependent]).empty


def test_foreground_deletion_deletes_dependents_then_drops_the_finalizer() -> None:
    objects = chain(deleting=True, finalizers=["foregroundDeletion"])
    actions = garbage.decide(objects)
    (delete,) = actions.deletes
    # The ReplicaSet has dependents of its own, so it goes in the foreground too.
    assert (delete.ref.name, delete.propagation) == ("web-6f7", FOREGROUND)
    assert actions.patches == ()
    # While the ReplicaSet is being deleted it still blocks the Deployment.
    objects[1]["metadata"].update(deletionTimestamp="2026-12-07T10:00:01Z", finalizers=["foregroundDeletion"])
    actions = garbage.decide(objects)
    assert actions.patches == ()  # the pod blocks the ReplicaSet, the ReplicaSet the Deployment
    assert [(d.ref.name, d.propagation) for d in actions.deletes] == [("web-6f7-abcde", BACKGROUND)]
    (patch,) = garbage.decide(objects[:2]).patches
    assert patch.ref.name == "web-6f7"
    (patch,) = garbage.decide([objects[0]]).patches
    assert patch.ref.name == "web" and patch.patch == {"metadata": {"finalizers": None}}


def test_a_dependent_without_block_owner_deletion_is_deleted_but_does_not_block() -> None:
    owner = obj("Deployment", "web", deleting=True, finalizers=["foregroundDeletion", "example.com/keep"])
    dependent = obj("ConfigMap", "cfg", owners=[("Deployment", "web", False)], api_version="v1")
    actions = garbage.decide([owner, dependent])
    assert [d.ref.name for d in actions.deletes] == ["cfg"]
    assert actions.patches[0].patch == {"metadata": {"finalizers": ["example.com/keep"]}}


def test_orphan_removes_the_references_then_the_finalizer() -> None:
    objects = chain(deleting=True, finalizers=["orphan"])
    actions = garbage.decide(objects)
    assert actions.deletes == ()
    (patch,) = actions.patches
    assert patch.ref.name == "web-6f7" and patch.patch == {"metadata": {"ownerReferences": None}}
    del objects[1]["metadata"]["ownerReferences"]
    (patch,) = garbage.decide(objects).patches
    assert patch.ref.name == "web" and patch.patch == {"metadata": {"finalizers": None}}


def test_a_dependent_asks_for_its_own_policy() -> None:
    dependent = obj("ReplicaSet", "rs", owners=[("Deployment", "gone", True)], finalizers=["orphan"])
    assert garbage.decide([dependent]).deletes[0].propagation == ORPHAN
