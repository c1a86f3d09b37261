"""The server's whole kube controller manager (server/compose.kube_controller_manager) over a real SQLite
store, with a stand-in kubelet that marks bound pods Running and Ready and finishes graceful deletions:
a Deployment rolls out, rolls to a new image, rolls back the way ``kubectl rollout undo`` does, replaces
a deleted pod; a Job runs to completion; a DaemonSet follows the nodes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.kube.catalog import require
from dockyard.core.clock import system_clock
from dockyard.server.compose import kube_controller_manager
from dockyard.services.kube.controllers.framework import KubeControllerManager
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions, rfc3339
from dockyard.store.database import Database, open_database
from tests.services.test_kube_controllers import node
from tests.services.test_kube_objects import T0, make_cluster

PODS = require("", "v1", "pods")
NODES = require("", "v1", "nodes")
DEPLOYMENTS = require("apps", "v1", "deployments")
REPLICA_SETS = require("apps", "v1", "replicasets")
DAEMON_SETS = require("apps", "v1", "daemonsets")
JOBS = require("batch", "v1", "jobs")
USER = WriteOptions("kubectl")
KUBELET = WriteOptions("kubelet")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'kube.db'}")
    yield database
    database.close()


@pytest.fixture
def cluster(db: Database) -> tuple[KubeObjects, KubeControllerManager, int]:
    cluster_id = make_cluster(db, T0)
    objects = KubeObjects(db, clock=system_clock)
    objects.bootstrap(cluster_id)
    manager = kube_controller_manager(db, objects, system_clock)
    for name in ("node-a", "node-b"):
        objects.create(cluster_id, NODES, "", node(name, cpu="8"), USER)
    manager.settle()
    return objects, manager, cluster_id


def kubelet(objects: KubeObjects, cluster_id: int, *, exit_code: int | None = None) -> bool:
    """One pass of a stand-in kubelet over every bound pod; whether it changed anything."""
    changed = False
    now = rfc3339(objects.clock())
    for pod in objects.list_objects(cluster_id, PODS, None).items:
        metadata, spec = pod["metadata"], pod["spec"]
        if not spec.get("nodeName"):
            continue
        if metadata.get("deletionTimestamp"):
            objects.delete(
                cluster_id,
                PODS,
                metadata["namespace"],
                metadata["name"],
                DeleteOptions(grace_period_seconds=0),
            )
            changed = True
            continue
        if (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
            continue
        if exit_code is None:
            status: dict[str, Any] = {
                "phase": "Running",
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                ],
            }
        else:
            status = {"phase": "Succeeded" if exit_code == 0 else "Failed"}
        patch = {"status": status}
        objects.patch(
            cluster_id,
            PODS,
            metadata["namespace"],
            metadata["name"],
            "application/merge-patch+json",
            json.dumps(patch).encode(),
            KUBELET,
            subresource="status",
        )
        changed = True
    return changed


def converge(
    objects: KubeObjects, manager: KubeControllerManager, cluster_id: int, **kubelet_args: Any
) -> None:
    for _ in range(60):
        manager.settle()
        if not kubelet(objects, cluster_id, **kubelet_args):
            manager.settle()
            return
    raise AssertionError("the controllers and the kubelet did not settle")


def deployment(image: str, replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def rollout_done(obj: dict[str, Any]) -> bool:
    """``kubectl rollout status``'s test of a Deployment."""
    status, replicas = obj.get("status") or {}, obj["spec"]["replicas"]
    return (
        status.get("observedGeneration", 0) >= obj["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
    )


def images(objects: KubeObjects, cluster_id: int) -> list[str]:
    return sorted(
        p["spec"]["containers"][0]["image"]
        for p in objects.list_objects(cluster_id, PODS, "default", label_selector="app=web").items
    )


def test_a_deployment_rolls_out_rolls_on_and_rolls_back(
    cluster: tuple[KubeObjects, KubeControllerManager, int],
) -> None:
    objects, manager, cluster_id = cluster
    objects.create(cluster_id, DEPLOYMENTS, "default", deployment("busybox:1"), USER)
    converge(objects, manager, cluster_id)
    web = objects.get(cluster_id, DEPLOYMENTS, "default", "web")
    assert rollout_done(web)
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    conditions = {c["type"]: c["reason"] for c in web["status"]["conditions"]}
    assert conditions == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    assert images(objects, cluster_id) == ["busybox:1"] * 3
    (first,) = objects.list_objects(cluster_id, REPLICA_SETS, "default").items
    pod_hash = first["metadata"]["labels"]["pod-template-hash"]
    assert first["metadata"]["name"] == f"web-{pod_hash}"
    assert all(
        p["spec"]["nodeName"] in ("node-a", "node-b")
        for p in objects.list_objects(cluster_id, PODS, "default").items
    )

    changed = deployment("busybox:2")
    changed["metadata"]["resourceVersion"] = web["metadata"]["resourceVersion"]
    changed["metadata"]["annotations"] = web["metadata"]["annotations"]
    objects.update(cluster_id, DEPLOYMENTS, "default", "web", changed, USER)
    converge(objects, manager, cluster_id)
    web = objects.get(cluster_id, DEPLOYMENTS, "default", "web")
    assert rollout_done(web)
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert images(objects, cluster_id) == ["busybox:2"] * 3
    sets = {s["metadata"]["name"]: s for s in objects.list_objects(cluster_id, REPLICA_SETS, "default").items}
    assert sets[first["metadata"]["name"]]["spec"]["replicas"] == 0

    # kubectl rollout undo: the previous revision's template (its hash label dropped) back in the spec.
    template = json.loads(json.dumps(sets[first["metadata"]["name"]]["spec"]["template"]))
    del template["metadata"]["labels"]["pod-template-hash"]
    undo = [{"op": "replace", "path": "/spec/template", "value": template}]
    objects.patch(
        cluster_id,
        DEPLOYMENTS,
        "default",
        "web",
        "application/json-patch+json",
        json.dumps(undo).encode(),
        USER,
    )
    converge(objects, manager, cluster_id)
    web = objects.get(cluster_id, DEPLOYMENTS, "default", "web")
    assert rollout_done(web)
    assert images(objects, cluster_id) == ["busybox:1"] * 3
    back = objects.get(cluster_id, REPLICA_SETS, "default", first["metadata"]["name"])
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert len(objects.list_objects(cluster_id, REPLICA_SETS, "default").items) == 2

    victim = objects.list_objects(cluster_id, PODS, "default").items[0]["metadata"]["name"]
    objects.delete(cluster_id, PODS, "default", victim, DeleteOptions())
    converge(objects, manager, cluster_id)
    names = [p["metadata"]["name"] for p in objects.list_objects(cluster_id, PODS, "default").items]
    assert len(names) == 3 and victim not in names

    scaled = {"spec": {"replicas": 1}}
    objects.patch(
        cluster_id,
        DEPLOYMENTS,
        "default",
        "web",
        "application/merge-patch+json",
        json.dumps(scaled).encode(),
        USER,
    )
    converge(objects, manager, cluster_id)
    assert len(objects.list_objects(cluster_id, PODS, "default").items) == 1
    assert rollout_done(objects.get(cluster_id, DEPLOYMENTS, "default", "web"))

    objects.delete(cluster_id, DEPLOYMENTS, "default", "web", DeleteOptions())
    converge(objects, manager, cluster_id)
    assert not objects.list_objects(cluster_id, REPLICA_SETS, "default").items
    assert not objects.list_objects(cluster_id, PODS, "default").items


def test_a_job_runs_its_completions(cluster: tuple[KubeObjects, KubeControllerManager, int]) -> None:
    objects, manager, cluster_id = cluster
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "completions": 2,
            "parallelism": 1,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            },
        },
    }
    objects.create(cluster_id, JOBS, "default", job, USER)
    converge(objects, manager, cluster_id, exit_code=0)
    done = objects.get(cluster_id, JOBS, "default", "once")
    assert done["status"]["succeeded"] == 2
    assert [c["type"] for c in done["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]


def test_a_daemon_set_runs_a_pod_on_every_node_and_follows_new_ones(
    cluster: tuple[KubeObjects, KubeControllerManager, int],
) -> None:
    objects, manager, cluster_id = cluster
    daemon = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "busybox"}]},
            },
        },
    }
    objects.create(cluster_id, DAEMON_SETS, "kube-system", daemon, USER)
    converge(objects, manager, cluster_id)
    placed = sorted(
        p["spec"]["nodeName"] for p in objects.list_objects(cluster_id, PODS, "kube-system").items
    )
    assert placed == ["node-a", "node-b"]
    objects.create(cluster_id, NODES, "", node("node-c", cpu="8"), USER)
    converge(objects, manager, cluster_id)
    placed = sorted(
        p["spec"]["nodeName"] for p in objects.list_objects(cluster_id, PODS, "kube-system").items
    )
    assert placed == ["node-a", "node-b", "node-c"]
    status = objects.get(cluster_id, DAEMON_SETS, "kube-system", "agent")["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"]) == (3, 3)
