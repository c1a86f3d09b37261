"""The cluster-wide kube controllers driven step by step over a real SQLite store: namespace deletion,
garbage collection, default service accounts, endpoints following ready pods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.kube.catalog import require
from dockyard.control.kube.errors import KubeError
from dockyard.core.clock import system_clock
from dockyard.services.kube.controllers.cluster import (
    EndpointsController,
    GarbageCollector,
    NamespaceController,
    ServiceAccountController,
)
from dockyard.services.kube.controllers.framework import KubeControllerManager
from dockyard.services.kube.controllers.scheduler import SchedulerController
from dockyard.services.kube.objects import DeleteOptions, KubeObjects, WriteOptions
from dockyard.store.database import Database, open_database
from tests.services.test_kube_objects import T0, make_cluster

NAMESPACES = require("", "v1", "namespaces")
PODS = require("", "v1", "pods")
CONFIGMAPS = require("", "v1", "configmaps")
SERVICES = require("", "v1", "services")
ENDPOINTS = require("", "v1", "endpoints")
SLICES = require("discovery.k8s.io", "v1", "endpointslices")
ACCOUNTS = require("", "v1", "serviceaccounts")
USER = WriteOptions("test")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'kube.db'}")
    yield database
    database.close()


@pytest.fixture
def setup(db: Database) -> tuple[KubeObjects, KubeControllerManager, int]:
    cluster = make_cluster(db, T0)
    objects = KubeObjects(db, clock=system_clock)
    objects.bootstrap(cluster)
    controllers = [
        c(objects, clock=system_clock)
        for c in (NamespaceController, GarbageCollector, ServiceAccountController, EndpointsController)
    ]
    manager = KubeControllerManager(db, objects, controllers)
    manager.settle()
    return objects, manager, cluster


def missing(call: Any) -> bool:
    try:
        call()
    except KubeError as error:
        return error.code == 404
    return False


def pod(name: str, *, ip: str | None = None, ready: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]},
    }
    return body


def test_every_namespace_gets_a_default_service_account(
    setup: tuple[KubeObjects, KubeControllerManager, int],
) -> None:
    objects, manager, cluster = setup
    for name in ("default", "kube-system"):
        assert objects.get(cluster, ACCOUNTS, name, "default")["metadata"]["name"] == "default"
    objects.create(
        cluster, NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}, USER
    )
    manager.settle()
    assert objects.get(cluster, ACCOUNTS, "team", "default")


def test_deleting_a_namespace_deletes_its_content_then_itself(
    setup: tuple[KubeObjects, KubeControllerManager, int],
) -> None:
    objects, manager, cluster = setup
    objects.create(
        cluster, NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}, USER
    )
    objects.create(
        cluster,
        CONFIGMAPS,
        "team",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        USER,
    )
    objects.create(cluster, PODS, "team", pod("p"), USER)
    manager.settle()
    _, removed = objects.delete(cluster, NAMESPACES, "", "team", DeleteOptions())
    assert not removed
    manager.settle()
    assert missing(lambda: objects.get(cluster, NAMESPACES, "", "team"))
    assert objects.list_objects(cluster, CONFIGMAPS, "team").items == []


def test_the_garbage_collector_deletes_dependents_of_a_deleted_owner(
    setup: tuple[KubeObjects, KubeControllerManager, int],
) -> None:
    objects, manager, cluster = setup
    owner = objects.create(
        cluster,
        CONFIGMAPS,
        "default",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
        USER,
    ).obj
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dependent", "ownerReferences": [reference]},
    }
    objects.create(cluster, CONFIGMAPS, "default", dependent, USER)
    manager.settle()
    assert objects.get(cluster, CONFIGMAPS, "default", "dependent")
    objects.delete(cluster, CONFIGMAPS, "default", "owner", DeleteOptions())
    manager.settle()
    assert missing(lambda: objects.get(cluster, CONFIGMAPS, "default", "dependent"))


def test_endpoints_follow_ready_pods(setup: tuple[KubeObjects, KubeControllerManager, int]) -> None:
    objects, manager, cluster = setup
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]},
    }
    created = objects.create(cluster, SERVICES, "default", service, USER).obj
    assert created["spec"]["clusterIP"].startswith("10.100.")
    assert created["spec"]["clusterIP"] != "10.100.0.1"  # the kubernetes Service's
    assert objects.get(cluster, SERVICES, "default", "kubernetes")["spec"]["clusterIP"] == "10.100.0.1"
    written = objects.create(cluster, PODS, "default", pod("web-1"), USER).obj
    running = {
        **written,
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    running["spec"] = {**written["spec"], "nodeName": "node-1"}
    objects.write_raw(cluster, PODS, running, manager="kubelet")
    manager.settle()
    subsets = objects.get(cluster, ENDPOINTS, "default", "web")["subsets"]
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.5"]
    slices = objects.list_objects(
        cluster, SLICES, "default", label_selector="kubernetes.io/service-name=web"
    ).items
    assert [e["addresses"] for e in slices[0]["endpoints"]] == [["10.0.0.5"]]
    objects.delete(cluster, PODS, "default", "web-1", DeleteOptions(grace_period_seconds=0))
    manager.settle()
    assert not objects.get(cluster, ENDPOINTS, "default", "web").get("subsets")


def node(name: str, cpu: str = "2") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"},
            "capacity": {"cpu": cpu, "memory": "4Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def test_the_scheduler_binds_pods_and_explains_what_does_not_fit(db: Database) -> None:
    cluster = make_cluster(db, T0)
    objects = KubeObjects(db, clock=system_clock)
    objects.bootstrap(cluster)
    manager = KubeControllerManager(db, objects, [SchedulerController(objects, clock=system_clock)])
    nodes = require("", "v1", "nodes")
    for name in ("node-a", "node-b"):
        objects.create(cluster, nodes, "", node(name), USER)
    for index in range(4):
        objects.create(cluster, PODS, "default", pod(f"p{index}"), USER)
    big = pod("big")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "3"}}
    objects.create(cluster, PODS, "default", big, USER)
    manager.settle()
    placed = {
        p["metadata"]["name"]: p["spec"].get("nodeName")
        for p in objects.list_objects(cluster, PODS, "default").items
    }
    assert {placed[f"p{i}"] for i in range(4)} <= {"node-a", "node-b"}
    assert placed["big"] is None
    scheduled = next(
        c
        for c in objects.get(cluster, PODS, "default", "p0")["status"]["conditions"]
        if c["type"] == "PodScheduled"
    )
    assert scheduled["status"] == "True"
    condition = next(
        c
        for c in objects.get(cluster, PODS, "default", "big")["status"]["conditions"]
        if c["type"] == "PodScheduled"
    )
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"].startswith("0/2 nodes are available: 2 Insufficient cpu.")
    objects.create(cluster, nodes, "", node("node-c", cpu="4"), USER)  # room appears: the pod is retried
    manager.settle()
    assert objects.get(cluster, PODS, "default", "big")["spec"]["nodeName"] == "node-c"
