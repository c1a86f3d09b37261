"""Namespace deletion and NamespaceLifecycle admission (control/kube/controllers/namespaces.py).

Messages as ``kubectl describe namespace`` shows them on a namespace stuck in Terminating, and as
kubectl prints the API's refusals after ``Error from server (Forbidden)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.control.kube.controllers import namespaces
from dockyard.control.kube.controllers.actions import Actions
from dockyard.control.kube.errors import KubeError

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def namespace(*, deleting: bool = True, finalizers: list[str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "shop", "uid": "ns-uid", "resourceVersion": "3"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T11:59:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata,
        "spec": {"finalizers": ["kubernetes"] if finalizers is None else finalizers},
        "status": {"phase": "Terminating" if deleting else "Active"},
    }


def item(
    kind: str, name: str, *, finalizers: list[str] | None = None, deleting: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop", "uid": f"{name}-uid"}
    if finalizers:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T11:59:30Z"
        metadata["deletionGracePeriodSeconds"] = 30
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata}


def conditions(actions: Actions) -> dict[str, tuple[str, str, str]]:
    assert actions.status is not None
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in actions.status["conditions"]}


def test_an_active_namespace_needs_nothing() -> None:
    assert namespaces.decide(namespace(deleting=False), {"pods.": [item("Pod", "a")]}, NOW).empty


def test_content_is_deleted_and_reported() -> None:
    contents = {
        "pods.": [item("Pod", "a"), item("Pod", "b", deleting=True)],
        "configmaps.": [item("ConfigMap", "c", finalizers=["example.com/keep"])],
        "deployments.apps": [],
    }
    actions = namespaces.decide(namespace(), contents, NOW)
    assert sorted(d.ref.name for d in actions.deletes) == ["a", "c"]
    assert actions.patches == ()
    assert actions.requeue_after == 30
    assert actions.status is not None and actions.status["phase"] == "Terminating"
    found = conditions(actions)
    assert found["NamespaceContentRemaining"] == (
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances",
    )
    assert found["NamespaceFinalizersRemaining"] == (
        "True",
        "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances",
    )
    assert found["NamespaceDeletionDiscoveryFailure"] == (
        "False",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    )
    assert found["NamespaceDeletionContentFailure"][1] == "ContentDeleted"


def test_an_empty_namespace_is_finalized_then_deleted() -> None:
    actions = namespaces.decide(namespace(), {"pods.": []}, NOW)
    (patch,) = actions.patches
    assert patch.subresource == "finalize" and patch.patch == {"spec": {"finalizers": []}}
    assert patch.ref.resource_version == "3"
    assert conditions(actions)["NamespaceContentRemaining"] == (
        "False",
        "ContentRemoved",
        "All content successfully removed",
    )
    (delete,) = namespaces.decide(namespace(finalizers=[]), {}, NOW).deletes
    assert (delete.ref.name, delete.ref.uid) == ("shop", "ns-uid")
    assert namespaces.decide(namespace(finalizers=["example.com/x"]), {}, NOW).deletes == ()


def test_discovery_failures_keep_the_finalizer() -> None:
    actions = namespaces.decide(namespace(), {}, NOW, discovery_failures=["metrics.k8s.io/v1beta1"])
    assert actions.patches == ()
    assert conditions(actions)["NamespaceDeletionDiscoveryFailure"] == (
        "True",
        "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: metrics.k8s.io/v1beta1",
    )


def test_the_status_is_not_rewritten_when_unchanged() -> None:
    first = namespaces.decide(namespace(), {"pods.": [item("Pod", "a")]}, NOW)
    again = namespace()
    again["status"] = first.status
    later = datetime(2026, 12, 7, 12, 5, tzinfo=UTC)
    assert namespaces.decide(again, {"pods.": [item("Pod", "a", deleting=True)]}, later).status is None


def test_no_create_in_a_terminating_or_missing_namespace() -> None:
    with pytest.raises(KubeError) as caught:
        namespaces.check_create("shop", namespace(), resource="deployments", group="apps", name="web")
    assert (caught.value.reason, caught.value.code) == ("Forbidden", 403)
    assert caught.value.message == (
        'deployments.apps "web" is forbidden: unable to create new content in namespace shop because it is '
        "being terminated"
    )
    assert caught.value.causes[0]["reason"] == "NamespaceTerminating"
    with pytest.raises(KubeError) as caught:
        namespaces.check_create("nope", None, resource="pods", name="p")
    assert (caught.value.code, caught.value.message) == (404, 'namespaces "nope" not found')
    namespaces.check_create("shop", namespace(deleting=False), resource="pods", name="p")


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_the_system_namespaces_cannot_be_deleted(name: str) -> None:
    with pytest.raises(KubeError) as caught:
        namespaces.check_delete(name)
    assert caught.value.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert caught.value.code == 403


def test_other_namespaces_can_be_deleted() -> None:
    namespaces.check_delete("shop")
