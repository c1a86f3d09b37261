"""Server-side apply ownership (control/kube/managed_fields.py): fieldsV1, conflicts, force, pruning."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.control.kube.errors import ConflictError
from dockyard.control.kube.fieldset import FieldSet
from dockyard.control.kube.managed_fields import apply, update


def config(replicas: int = 3, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx", **container}]}},
        },
    }


def test_fields_v1_of_an_apply_is_kube_apiservers() -> None:
    applied = apply(None, config(ports=[{"containerPort": 80}]), manager="kubectl", now="t0")
    (entry,) = applied["metadata"]["managedFields"]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {
        'k:{"name":"nginx"}': {
            ".": {},
            "f:image": {},
            "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
        }
    }
    assert "f:name" not in entry["fieldsV1"].get("f:metadata", {})


def test_fields_v1_round_trips() -> None:
    tree = {"f:a": {".": {}, "f:b": {}}, "f:c": {'v:"x"': {}}}
    assert FieldSet.from_fields_v1(tree).to_fields_v1() == tree


def test_a_changed_field_owned_by_another_manager_conflicts() -> None:
    live = apply(None, config(), manager="kubectl", now="t0")
    scaled = update(
        live, {**live, "spec": {**live["spec"], "replicas": 5}}, manager="kubectl-scale", now="t1"
    )
    with pytest.raises(ConflictError) as caught:
        apply(scaled, config(), manager="kubectl", now="t2")
    assert caught.value.code == 409
    assert caught.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert caught.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-scale" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_force_takes_ownership() -> None:
    live = apply(None, config(), manager="kubectl", now="t0")
    scaled = update(
        live, {**live, "spec": {**live["spec"], "replicas": 5}}, manager="kubectl-scale", now="t1"
    )
    forced = apply(scaled, config(), manager="kubectl", now="t2", force=True)
    assert forced["spec"]["replicas"] == 3
    assert [m["manager"] for m in forced["metadata"]["managedFields"]] == ["kubectl"]


def test_the_same_value_is_shared_without_conflict() -> None:
    live = apply(None, config(), manager="a", now="t0")
    both = apply(live, config(), manager="b", now="t1")
    assert [m["manager"] for m in both["metadata"]["managedFields"]] == ["a", "b"]


def test_apply_removes_what_the_manager_no_longer_names() -> None:
    live = apply(None, config(args=["x"]), manager="kubectl", now="t0")
    reapplied = apply(live, config(), manager="kubectl", now="t1")
    assert "args" not in reapplied["spec"]["template"]["spec"]["containers"][0]


def test_apply_keeps_what_another_manager_owns() -> None:
    live = apply(None, config(args=["x"]), manager="kubectl", now="t0")
    live = apply(live, config(args=["x"]), manager="other", now="t1")
    reapplied = apply(live, config(), manager="kubectl", now="t2")
    assert reapplied["spec"]["template"]["spec"]["containers"][0]["args"] == ["x"]


def test_a_container_added_by_apply_merges_by_name() -> None:
    live = apply(None, config(), manager="kubectl", now="t0")
    second = config()
    second["spec"]["template"]["spec"]["containers"] = [{"name": "sidecar", "image": "busybox"}]
    merged = apply(live, second, manager="other", now="t1")
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["nginx", "sidecar"]
