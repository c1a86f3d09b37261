"""Strategic merge patch (control/kube/strategic.py) with the strategies of the real v1.33 schemas.

Cases are Kubernetes' documented behaviour: the "Update API Objects in Place Using kubectl patch" task
(containers merged by name with the new one first, tolerations replaced, ``retainKeys`` on a Deployment's
strategy) and the strategic-merge-patch design document (``$patch``, ``$deleteFromPrimitiveList``,
``$setElementOrder``, ``$retainKeys``, null).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.control.kube.errors import PatchError
from dockyard.control.kube.patch import STRATEGIC_MERGE_PATCH, apply_patch
from dockyard.control.kube.schema import Field, TypeInfo, type_for_kind
from dockyard.control.kube.strategic import strategic_merge


def deployment(**spec: Any) -> dict[str, Any]:
    template_spec = {
        "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
        "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patch-demo", "labels": {"app": "nginx", "tier": "web"}},
        "spec": {"replicas": 2, "template": {"spec": template_spec}, **spec},
    }


def patched(live: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(
        STRATEGIC_MERGE_PATCH, live, json.dumps(patch), api_version=live["apiVersion"], kind=live["kind"]
    )


def pod_spec(live: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = live["spec"]["template"]["spec"]
    return spec


def template(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


# ── The kubectl patch task ──────────────────────────────────────────────────────────────────────────


def test_a_new_container_is_merged_in_by_name_and_comes_first() -> None:
    result = patched(deployment(), template(containers=[{"name": "patch-demo-ctr-2", "image": "redis"}]))
    assert pod_spec(result)["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]


def test_tolerations_have_no_strategy_and_are_replaced() -> None:
    result = patched(
        deployment(), template(tolerations=[{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}])
    )
    assert pod_spec(result)["tolerations"] == [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]


def test_without_retain_keys_the_old_rolling_update_stays() -> None:
    live = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%"}})
    result = patched(live, {"spec": {"strategy": {"type": "Recreate"}}})
    assert result["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": "30%"}}


def test_retain_keys_clears_what_it_does_not_list() -> None:
    live = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%"}})
    result = patched(live, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_keeps_listed_keys_the_patch_does_not_set() -> None:
    live = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%"}})
    patch = {
        "spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"], "rollingUpdate": {"maxSurge": 1}}}
    }
    assert patched(live, patch)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1},
    }


def test_the_live_object_is_not_modified() -> None:
    live = deployment()
    before = json.dumps(live, sort_keys=True)
    patched(
        live, {"metadata": {"labels": {"app": None}}, **template(containers=[{"name": "x", "image": "y"}])}
    )
    assert json.dumps(live, sort_keys=True) == before


# ── Lists merged by their merge key ─────────────────────────────────────────────────────────────────


def test_an_existing_container_is_merged_field_by_field() -> None:
    result = patched(deployment(), template(containers=[{"name": "patch-demo-ctr", "image": "nginx:1.27"}]))
    assert pod_spec(result)["containers"] == [{"name": "patch-demo-ctr", "image": "nginx:1.27"}]


def test_patch_delete_removes_a_container() -> None:
    live = deployment()
    pod_spec(live)["containers"].append({"name": "sidecar", "image": "busybox"})
    result = patched(live, template(containers=[{"name": "sidecar", "$patch": "delete"}]))
    assert pod_spec(result)["containers"] == [{"name": "patch-demo-ctr", "image": "nginx"}]


def test_patch_delete_of_an_absent_element_is_a_no_op() -> None:
    result = patched(deployment(), template(containers=[{"name": "ghost", "$patch": "delete"}]))
    assert pod_spec(result)["containers"] == [{"name": "patch-demo-ctr", "image": "nginx"}]


def test_patch_replace_in_a_list_makes_the_patch_the_list() -> None:
    live = deployment()
    pod_spec(live)["containers"].append({"name": "sidecar", "image": "busybox"})
    patch = template(containers=[{"$patch": "replace"}, {"name": "only", "image": "alpine"}])
    assert pod_spec(patched(live, patch))["containers"] == [{"name": "only", "image": "alpine"}]


def test_ports_merge_by_container_port() -> None:
    live = deployment()
    pod_spec(live)["containers"][0]["ports"] = [{"containerPort": 80, "name": "http"}]
    patch = template(
        containers=[{"name": "patch-demo-ctr", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]
    )
    assert pod_spec(patched(live, patch))["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"}
    ]


def test_env_merges_by_name_and_null_removes_a_value() -> None:
    live = deployment()
    pod_spec(live)["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    patch = template(
        containers=[
            {"name": "patch-demo-ctr", "env": [{"name": "B", "value": None}, {"name": "C", "value": "3"}]}
        ]
    )
    assert pod_spec(patched(live, patch))["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B"},
        {"name": "C", "value": "3"},
    ]


def test_volume_mounts_merge_by_mount_path() -> None:
    live = deployment()
    pod_spec(live)["containers"][0]["volumeMounts"] = [{"mountPath": "/data", "name": "data"}]
    patch = template(
        containers=[{"name": "patch-demo-ctr", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]
    )
    assert pod_spec(patched(live, patch))["containers"][0]["volumeMounts"] == [
        {"mountPath": "/data", "name": "data", "readOnly": True}
    ]


def test_volumes_merge_by_name_and_retain_keys_switches_the_source() -> None:
    live = deployment()
    pod_spec(live)["volumes"] = [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]
    patch = template(
        volumes=[{"name": "v", "$retainKeys": ["name", "configMap"], "configMap": {"name": "cm"}}]
    )
    assert pod_spec(patched(live, patch))["volumes"] == [
        {"name": "v", "configMap": {"name": "cm"}},
        {"name": "w", "emptyDir": {}},
    ]


def test_a_list_without_strategy_is_replaced() -> None:
    live = deployment()
    pod_spec(live)["containers"][0]["args"] = ["a", "b"]
    patch = template(containers=[{"name": "patch-demo-ctr", "args": ["c"]}])
    assert pod_spec(patched(live, patch))["containers"][0]["args"] == ["c"]


def test_an_element_without_its_merge_key_is_an_error() -> None:
    with pytest.raises(PatchError) as caught:
        patched(deployment(), template(containers=[{"image": "redis"}]))
    assert caught.value.code == 500
    assert caught.value.detail == "map: map[image:redis] does not contain declared merge key: name"


def test_merge_directive_in_a_list_is_refused() -> None:
    with pytest.raises(PatchError) as caught:
        patched(deployment(), template(containers=[{"$patch": "merge"}]))
    assert caught.value.detail == "merging lists cannot yet be specified in the patch"


def test_a_whole_new_list_is_taken_with_its_directives_carried_out() -> None:
    live = deployment()
    patch = template(initContainers=[{"name": "init", "image": "busybox", "ghost": None}])
    assert pod_spec(patched(live, patch))["initContainers"] == [{"name": "init", "image": "busybox"}]


# ── Primitive lists ─────────────────────────────────────────────────────────────────────────────────


def test_finalizers_merge_as_a_set() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b"]
    result = patched(live, {"metadata": {"finalizers": ["b", "c"]}})
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["a", "b", "c", "b"]
    result = patched(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert result["metadata"]["finalizers"] == ["a", "c"]


def test_delete_from_an_absent_primitive_list_does_nothing() -> None:
    result = patched(deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert "finalizers" not in result["metadata"]


# ── Maps ────────────────────────────────────────────────────────────────────────────────────────────


def test_labels_merge_and_null_deletes_one() -> None:
    result = patched(deployment(), {"metadata": {"labels": {"tier": None, "release": "1"}}})
    assert result["metadata"]["labels"] == {"app": "nginx", "release": "1"}


def test_null_removes_a_field() -> None:
    assert "replicas" not in patched(deployment(), {"spec": {"replicas": None}})["spec"]


def test_null_for_an_absent_field_is_ignored() -> None:
    assert "paused" not in patched(deployment(), {"spec": {"paused": None}})["spec"]


def test_patch_replace_on_a_map_replaces_it() -> None:
    result = patched(deployment(), {"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
    assert result["metadata"]["labels"] == {"only": "this"}


def test_patch_delete_on_a_map_empties_it() -> None:
    live = deployment(strategy={"type": "Recreate"})
    assert patched(live, {"spec": {"strategy": {"$patch": "delete"}}})["spec"]["strategy"] == {}


def test_an_unknown_map_directive_is_refused() -> None:
    with pytest.raises(PatchError) as caught:
        patched(deployment(), {"metadata": {"labels": {"$patch": "merge"}}})
    assert caught.value.detail == "unknown patch type: merge in map: map[$patch:merge]"


def test_a_value_of_another_type_replaces() -> None:
    assert patched(deployment(), {"spec": {"replicas": "3"}})["spec"]["replicas"] == "3"
    assert patched(deployment(), {"metadata": {"labels": ["x"]}})["metadata"]["labels"] == ["x"]


def test_booleans_and_numbers_are_different_types() -> None:
    live = deployment(paused=False)
    assert patched(live, {"spec": {"paused": 1}})["spec"]["paused"] == 1


# ── $setElementOrder ────────────────────────────────────────────────────────────────────────────────


def test_set_element_order_orders_the_merged_list() -> None:
    live = deployment()
    pod_spec(live)["containers"] = [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]
    patch = template(
        **{
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "3"}],
        }
    )
    assert pod_spec(patched(live, patch))["containers"] == [
        {"name": "b", "image": "2"},
        {"name": "a", "image": "3"},
    ]


def test_set_element_order_alone_reorders() -> None:
    live = deployment()
    pod_spec(live)["containers"] = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    patch = template(**{"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}]})
    assert [c["name"] for c in pod_spec(patched(live, patch))["containers"]] == ["c", "b", "a"]


def test_set_element_order_for_a_primitive_list() -> None:
    live = deployment()
    live["metadata"]["finalizers"] = ["x", "y"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["y", "z", "x"], "finalizers": ["z"]}}
    assert patched(live, patch)["metadata"]["finalizers"] == ["y", "z", "x"]


def test_kubectl_apply_style_patch_adds_in_place() -> None:
    """kubectl's client-side apply sends the full order, so a container added in the middle stays there."""
    live = deployment()
    pod_spec(live)["containers"] = [{"name": "a"}, {"name": "c"}]
    patch = template(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "containers": [{"name": "b"}],
        }
    )
    assert [c["name"] for c in pod_spec(patched(live, patch))["containers"]] == ["a", "b", "c"]


# ── Errors and other inputs ─────────────────────────────────────────────────────────────────────────


def test_a_patch_that_is_not_an_object_is_a_bad_request() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch(STRATEGIC_MERGE_PATCH, deployment(), "[1]", api_version="apps/v1", kind="Deployment")
    assert (caught.value.code, caught.value.message) == (400, "invalid JSON document")
    with pytest.raises(PatchError):
        apply_patch(STRATEGIC_MERGE_PATCH, deployment(), "{", api_version="apps/v1", kind="Deployment")


def test_a_malformed_retain_keys_is_a_bad_request() -> None:
    with pytest.raises(PatchError) as caught:
        patched(deployment(), {"spec": {"strategy": {"$retainKeys": "type"}}})
    assert (caught.value.code, caught.value.message) == (400, "invalid patch format of retainKeys")


def test_lists_of_lists_are_not_supported() -> None:
    schema = TypeInfo("T", {"grid": Field(shape="list", patch_strategies=("merge",))})
    with pytest.raises(PatchError) as caught:
        strategic_merge({"grid": [[1]]}, {"grid": [[2]]}, schema)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        422,
        "Invalid",
        "lists of lists are not supported",
    )


def test_a_kind_without_schema_merges_maps_and_replaces_lists() -> None:
    live = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"a": 1, "items": [{"name": "x"}]}}
    patch = {"spec": {"b": 2, "items": [{"name": "y"}]}}
    assert strategic_merge(live, patch, type_for_kind("example.com/v1", "Widget"))["spec"] == {
        "a": 1,
        "b": 2,
        "items": [{"name": "y"}],
    }


def test_owner_references_merge_by_uid() -> None:
    live = deployment()
    live["metadata"]["ownerReferences"] = [{"uid": "1", "name": "a"}]
    result = patched(live, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}})
    assert [ref["uid"] for ref in result["metadata"]["ownerReferences"]] == ["2", "1"]
