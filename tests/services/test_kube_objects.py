"""The Kubernetes object verbs over a real SQLite store: metadata, conflicts, patches, apply, deletion,
listing pages and selectors, with kube-apiserver's Status reasons and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.kube.catalog import require
from dockyard.control.kube.errors import KubeError
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions
from dockyard.store import kube as store
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database
from tests.eks_clusters import insert_active_cluster

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PODS = require("", "v1", "pods")
DEPLOYMENTS = require("apps", "v1", "deployments")
NAMESPACES = require("", "v1", "namespaces")
CONFIGMAPS = require("", "v1", "configmaps")
USER = WriteOptions("kubectl-create")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'kube.db'}")
    yield database
    database.close()


@pytest.fixture
def cluster(db: Database) -> int:
    return make_cluster(db, T0)


def make_cluster(db: Database, now: datetime) -> int:
    """An ACTIVE EKS cluster row (the owner of Kubernetes objects), its id."""
    root = CredentialStore(db).ensure_root_key(now, None, None)
    with db.write() as tx:
        return insert_active_cluster(tx, root, name="one", port=41001, now=now).id


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def objects(db: Database, cluster: int, clock: Clock) -> KubeObjects:
    uids = count(1)
    suffixes = count(1)
    service = KubeObjects(
        db, clock=clock, new_uid=lambda: f"uid-{next(uids)}", name_suffix=lambda: f"x{next(suffixes):04d}"
    )
    service.bootstrap(cluster)
    service.bootstrap(cluster)  # idempotent
    return service


def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "httpd", "image": "busybox"}], **spec},
    }


def deployment(name: str = "web", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "httpd", "image": "busybox"}]},
            },
        },
    }


def error_of(call: Any) -> KubeError:
    with pytest.raises(KubeError) as caught:
        call()
    return caught.value


def test_bootstrap_gives_the_system_namespaces(objects: KubeObjects, cluster: int) -> None:
    names = [ns["metadata"]["name"] for ns in objects.list_objects(cluster, NAMESPACES, None).items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    default = objects.get(cluster, NAMESPACES, "", "default")
    assert default["status"] == {"phase": "Active"}
    assert default["spec"] == {"finalizers": ["kubernetes"]}
    assert default["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}


def test_create_sets_metadata_and_store_revision(objects: KubeObjects, cluster: int) -> None:
    written = objects.create(cluster, PODS, "default", pod(), USER)
    meta = written.obj["metadata"]
    assert meta["uid"].startswith("uid-")
    assert meta["creationTimestamp"] == "2026-12-07T12:00:00Z"
    assert meta["generation"] == 1
    assert meta["namespace"] == "default"
    assert int(meta["resourceVersion"]) == objects.revision(cluster)
    assert written.obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert meta["managedFields"][0]["manager"] == "kubectl-create"
    assert objects.get(cluster, PODS, "default", "web") == written.obj


def test_generate_name(objects: KubeObjects, cluster: int) -> None:
    body = pod()
    body["metadata"] = {"generateName": "web-"}
    assert objects.create(cluster, PODS, "default", body, USER).obj["metadata"]["name"] == "web-x0001"


def test_create_errors_in_kube_apiserver_words(objects: KubeObjects, cluster: int) -> None:
    objects.create(cluster, PODS, "default", pod(), USER)
    again = error_of(lambda: objects.create(cluster, PODS, "default", pod(), USER))
    assert (again.code, again.reason, again.message) == (409, "AlreadyExists", 'pods "web" already exists')
    assert again.details == {"name": "web", "kind": "pods"}
    missing = error_of(lambda: objects.create(cluster, PODS, "nowhere", pod(), USER))
    assert (missing.code, missing.message) == (404, 'namespaces "nowhere" not found')
    bad = error_of(lambda: objects.create(cluster, PODS, "default", pod("Web_1"), USER))
    assert (bad.code, bad.reason) == (422, "Invalid")
    assert bad.message.startswith(
        'Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1": a lowercase RFC'
    )
    no_image = pod("x")
    del no_image["spec"]["containers"][0]["image"]
    invalid = error_of(lambda: objects.create(cluster, PODS, "default", no_image, USER))
    assert invalid.message == 'Pod "x" is invalid: spec.containers[0].image: Required value'
    assert invalid.causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}
    ]
    kind = error_of(lambda: objects.create(cluster, PODS, "default", {**pod("y"), "kind": "Service"}, USER))
    assert (kind.code, kind.reason) == (400, "BadRequest")


def test_unknown_fields_are_dropped_warned_or_refused(objects: KubeObjects, cluster: int) -> None:
    body = pod("a")
    body["spec"]["bogus"] = 1
    warned = objects.create(cluster, PODS, "default", body, USER)
    assert warned.warnings == ('unknown field "spec.bogus"',)
    assert "bogus" not in warned.obj["spec"]
    strict = WriteOptions("kubectl", field_validation="Strict")
    refused = error_of(
        lambda: objects.create(cluster, PODS, "default", {**body, "metadata": {"name": "b"}}, strict)
    )
    assert (refused.code, refused.message) == (400, 'strict decoding error: unknown field "spec.bogus"')
    typed = deployment("c")
    typed["spec"]["replicas"] = "three"
    wrong = error_of(lambda: objects.create(cluster, DEPLOYMENTS, "default", typed, USER))
    assert wrong.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go '
        "struct field spec.replicas of type int32"
    )


def test_update_conflicts_generation_and_status(objects: KubeObjects, cluster: int) -> None:
    created = objects.create(cluster, DEPLOYMENTS, "default", deployment(), USER).obj
    stale = created["metadata"]["resourceVersion"]
    changed = {**created, "spec": {**created["spec"], "replicas": 3}}
    updated = objects.update(cluster, DEPLOYMENTS, "default", "web", changed, USER).obj
    assert updated["metadata"]["generation"] == 2
    labels_only = {**updated, "metadata": {**updated["metadata"], "labels": {"a": "b"}}}
    relabelled = objects.update(cluster, DEPLOYMENTS, "default", "web", labels_only, USER).obj
    assert relabelled["metadata"]["generation"] == 2
    again = {**changed, "metadata": {**changed["metadata"], "resourceVersion": stale}}
    error = error_of(lambda: objects.update(cluster, DEPLOYMENTS, "default", "web", again, USER))
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply '
        "your changes to the latest version and try again"
    )
    # the main resource ignores status; the status subresource changes only status
    with_status = {**relabelled, "status": {"replicas": 3}}
    assert (
        "replicas"
        not in objects.update(cluster, DEPLOYMENTS, "default", "web", with_status, USER).obj["status"]
    )
    status_write = {**relabelled, "spec": {**relabelled["spec"], "replicas": 9}, "status": {"replicas": 3}}
    status_write["metadata"] = {k: v for k, v in relabelled["metadata"].items() if k != "resourceVersion"}
    after = objects.update(
        cluster, DEPLOYMENTS, "default", "web", status_write, USER, subresource="status"
    ).obj
    assert after["status"] == {"replicas": 3}
    assert after["spec"]["replicas"] == 3


def test_a_no_op_update_writes_nothing(objects: KubeObjects, cluster: int) -> None:
    created = objects.create(
        cluster,
        CONFIGMAPS,
        "default",
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "1"}},
        USER,
    ).obj
    before = objects.revision(cluster)
    same = objects.update(cluster, CONFIGMAPS, "default", "c", created, USER).obj
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert objects.revision(cluster) == before


def test_patches(objects: KubeObjects, cluster: int) -> None:
    objects.create(cluster, DEPLOYMENTS, "default", deployment(), USER)
    merged = objects.patch(
        cluster,
        DEPLOYMENTS,
        "default",
        "web",
        "application/merge-patch+json",
        b'{"spec": {"replicas": 2}}',
        USER,
    ).obj
    assert merged["spec"]["replicas"] == 2
    strategic = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    patched = objects.patch(
        cluster,
        DEPLOYMENTS,
        "default",
        "web",
        "application/strategic-merge-patch+json",
        json.dumps(strategic).encode(),
        USER,
    ).obj
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["sidecar", "httpd"]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 5}]
    assert (
        objects.patch(
            cluster,
            DEPLOYMENTS,
            "default",
            "web",
            "application/json-patch+json",
            json.dumps(ops).encode(),
            USER,
        ).obj["spec"]["replicas"]
        == 5
    )
    missing = error_of(
        lambda: objects.patch(
            cluster, DEPLOYMENTS, "default", "none", "application/merge-patch+json", b"{}", USER
        )
    )
    assert missing.code == 404


def test_server_side_apply_creates_and_reports_conflicts(objects: KubeObjects, cluster: int) -> None:
    alice = WriteOptions("alice")
    created = objects.patch(
        cluster,
        DEPLOYMENTS,
        "default",
        "web",
        "application/apply-patch+yaml",
        json.dumps(deployment()).encode(),
        alice,
    )
    assert created.created
    assert [m["manager"] for m in created.obj["metadata"]["managedFields"]] == ["alice"]
    bob = WriteOptions("bob")
    change = deployment(replicas=4)
    error = error_of(
        lambda: objects.patch(
            cluster,
            DEPLOYMENTS,
            "default",
            "web",
            "application/apply-patch+yaml",
            json.dumps(change).encode(),
            bob,
        )
    )
    assert (error.code, error.reason) == (409, "Conflict")
    assert 'conflict with "alice"' in error.message
    forced = objects.patch(
        cluster,
        DEPLOYMENTS,
        "default",
        "web",
        "application/apply-patch+yaml",
        json.dumps(change).encode(),
        WriteOptions("bob", force=True),
    )
    assert forced.obj["spec"]["replicas"] == 4


def test_delete_with_finalizers_marks_then_removes(objects: KubeObjects, cluster: int, clock: Clock) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["example.com/keep"]},
    }
    objects.create(cluster, CONFIGMAPS, "default", body, USER)
    clock.now = T0 + timedelta(seconds=5)
    marked, removed = objects.delete(cluster, CONFIGMAPS, "default", "c", DeleteOptions())
    assert not removed
    assert marked["metadata"]["deletionTimestamp"] == "2026-12-07T12:00:05Z"
    adding = {**marked, "metadata": {**marked["metadata"], "finalizers": ["example.com/keep", "another"]}}
    assert error_of(lambda: objects.update(cluster, CONFIGMAPS, "default", "c", adding, USER)).code == 403
    emptied = {**marked, "metadata": {**marked["metadata"], "finalizers": []}}
    objects.update(cluster, CONFIGMAPS, "default", "c", emptied, USER)
    assert error_of(lambda: objects.get(cluster, CONFIGMAPS, "default", "c")).code == 404


def test_a_bound_pod_is_deleted_gracefully(objects: KubeObjects, cluster: int) -> None:
    objects.create(cluster, PODS, "default", pod("free"), USER)
    _, removed = objects.delete(cluster, PODS, "default", "free", DeleteOptions())
    assert removed  # never scheduled: nothing to stop
    objects.create(cluster, PODS, "default", pod("bound", nodeName="node-1"), USER)
    marked, removed = objects.delete(cluster, PODS, "default", "bound", DeleteOptions())
    assert not removed
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    _, removed = objects.delete(cluster, PODS, "default", "bound", DeleteOptions(grace_period_seconds=0))
    assert removed


def test_preconditions_and_system_namespaces(objects: KubeObjects, cluster: int) -> None:
    objects.create(cluster, PODS, "default", pod(), USER)
    wrong = error_of(lambda: objects.delete(cluster, PODS, "default", "web", DeleteOptions(uid="other")))
    assert wrong.code == 409 and "Precondition failed: UID in precondition: other" in wrong.message
    system = error_of(lambda: objects.delete(cluster, NAMESPACES, "", "kube-system", DeleteOptions()))
    assert (system.code, system.message) == (
        403,
        'namespaces "kube-system" is forbidden: this namespace may not be deleted',
    )


def test_a_terminating_namespace_refuses_new_content(objects: KubeObjects, cluster: int) -> None:
    objects.create(
        cluster, NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}, USER
    )
    marked, removed = objects.delete(cluster, NAMESPACES, "", "team", DeleteOptions())
    assert not removed and marked["status"]["phase"] == "Terminating"
    refused = error_of(lambda: objects.create(cluster, PODS, "team", pod(), USER))
    assert (refused.code, refused.message) == (
        403,
        'pods "web" is forbidden: unable to create new content in namespace team '
        "because it is being terminated",
    )


def test_dry_run_changes_nothing(objects: KubeObjects, cluster: int) -> None:
    before = objects.revision(cluster)
    written = objects.create(cluster, PODS, "default", pod(), WriteOptions("k", dry_run=True))
    assert written.obj["metadata"]["name"] == "web"
    assert objects.revision(cluster) == before
    assert error_of(lambda: objects.get(cluster, PODS, "default", "web")).code == 404


def test_listing_pages_are_one_snapshot_and_selectors_filter(
    objects: KubeObjects, cluster: int, db: Database
) -> None:
    for index in range(7):
        body = pod(f"p{index}")
        body["metadata"]["labels"] = {"app": "web", "tier": "a" if index % 2 else "b"}
        objects.create(cluster, PODS, "default", body, USER)
    first = objects.list_objects(cluster, PODS, "default", limit=3)
    assert [p["metadata"]["name"] for p in first.items] == ["p0", "p1", "p2"]
    objects.create(cluster, PODS, "default", pod("p00"), USER)  # after the snapshot: not in its pages
    names = [p["metadata"]["name"] for p in first.items]
    token = first.continue_token
    while token:
        page = objects.list_objects(cluster, PODS, "default", limit=3, continue_token=token)
        assert page.resource_version == first.resource_version
        names += [p["metadata"]["name"] for p in page.items]
        token = page.continue_token
    assert names == [f"p{i}" for i in range(7)]
    selected = objects.list_objects(cluster, PODS, "default", label_selector="tier=a", limit=2)
    assert [p["metadata"]["name"] for p in selected.items] == ["p1", "p3"]
    rest = objects.list_objects(
        cluster, PODS, "default", label_selector="tier=a", limit=2, continue_token=selected.continue_token
    )
    assert [p["metadata"]["name"] for p in rest.items] == ["p5"] and rest.continue_token == ""
    by_field = objects.list_objects(cluster, PODS, None, field_selector="metadata.name=p4")
    assert [p["metadata"]["name"] for p in by_field.items] == ["p4"]
    with db.write() as tx:
        store.compact(tx, cluster, objects.revision(cluster))
    expired = error_of(
        lambda: objects.list_objects(cluster, PODS, "default", limit=3, continue_token=first.continue_token)
    )
    assert (expired.code, expired.reason) == (410, "Expired")


def test_changes_feed_and_wake_ups(objects: KubeObjects, cluster: int) -> None:
    woken: list[int] = []
    objects.notifier.subscribe(str(cluster), lambda: woken.append(1))
    start = objects.revision(cluster)
    objects.create(cluster, PODS, "default", pod(), USER)
    objects.delete(cluster, PODS, "default", "web", DeleteOptions())
    changes = objects.changes(cluster, PODS, "default", start)
    assert [c.type for c in changes] == ["ADDED", "DELETED"]
    assert len(woken) == 2
