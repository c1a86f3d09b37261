"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) as kube-apiserver applies them (kube/patch.py).

Cases are the RFCs' own examples (RFC 6902 appendix A, RFC 7386 appendix A) and kube-apiserver's answers:
a failed ``test`` is a 422 ``Invalid`` with the generic message, a body that is no list of operations a
400, an unknown content type a 415.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.control.kube.errors import PatchError
from dockyard.control.kube.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    json_equal,
    parse_pointer,
)

REJECTED = "the server rejected our request due to an error in our request"


def failure(document: Any, operations: Any) -> PatchError:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(document, operations)
    return caught.value


# ── RFC 6902, appendix A ────────────────────────────────────────────────────────────────────────────


def test_adding_an_object_member() -> None:
    assert apply_json_patch({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}]) == {
        "foo": "bar",
        "baz": "qux",
    }


def test_adding_an_array_element() -> None:
    result = apply_json_patch({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}])
    assert result == {"foo": ["bar", "qux", "baz"]}


def test_removing_an_object_member_and_an_array_element() -> None:
    assert apply_json_patch({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}]) == {
        "foo": "bar"
    }
    assert apply_json_patch({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}]) == {
        "foo": ["bar", "baz"]
    }


def test_replacing_a_value() -> None:
    result = apply_json_patch(
        {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}]
    )
    assert result == {"baz": "boo", "foo": "bar"}


def test_moving_a_value_and_an_array_element() -> None:
    document = {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}
    result = apply_json_patch(document, [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])
    assert result == {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}
    result = apply_json_patch(
        {"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}]
    )
    assert result == {"foo": ["all", "cows", "eat", "grass"]}


def test_testing_a_value_success() -> None:
    document = {"baz": "qux", "foo": ["a", 2, "c"]}
    operations = [
        {"op": "test", "path": "/baz", "value": "qux"},
        {"op": "test", "path": "/foo/1", "value": 2},
    ]
    assert apply_json_patch(document, operations) == document


def test_testing_a_value_error_is_kube_apiservers_422() -> None:
    error = failure({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}])
    assert (error.code, error.reason, error.message) == (422, "Invalid", REJECTED)
    assert error.detail == "testing value /baz failed: test failed"


def test_adding_a_nested_member_object() -> None:
    result = apply_json_patch({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}])
    assert result == {"foo": "bar", "child": {"grandchild": {}}}


def test_ignoring_unrecognized_elements() -> None:
    result = apply_json_patch({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}])
    assert result == {"foo": "bar", "baz": "qux"}


def test_adding_to_a_nonexistent_target() -> None:
    error = failure({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}])
    assert error.code == 422


def test_tilde_escape_ordering() -> None:
    document = {"/": 9, "~1": 10}
    assert apply_json_patch(document, [{"op": "test", "path": "/~01", "value": 10}]) == document


def test_comparing_strings_and_numbers() -> None:
    assert failure({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}]).code == 422


def test_adding_an_array_value() -> None:
    result = apply_json_patch({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}])
    assert result == {"foo": ["bar", ["abc", "def"]]}


# ── Kubernetes' use and the library's rules ─────────────────────────────────────────────────────────


def test_scale_a_deployment_after_testing_its_resource_version() -> None:
    live = {"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 1}}
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
    ]
    assert apply_json_patch(live, operations)["spec"]["replicas"] == 3
    assert failure(live, [{**operations[0], "value": "6"}, operations[1]]).code == 422


def test_a_label_key_with_a_slash_is_escaped() -> None:
    live: dict[str, Any] = {"metadata": {"labels": {}}}
    operations = [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}]
    assert apply_json_patch(live, operations)["metadata"]["labels"] == {"app.kubernetes.io/name": "web"}


def test_removing_a_missing_member_fails() -> None:
    # kubectl patch --type=json -p '[{"op":"remove","path":"/spec/affinity"}]' on a pod without one
    assert failure({"spec": {}}, [{"op": "remove", "path": "/spec/affinity"}]).message == REJECTED


def test_replacing_a_missing_member_fails() -> None:
    assert failure({"spec": {}}, [{"op": "replace", "path": "/spec/x", "value": 1}]).code == 422


def test_add_replaces_an_existing_member() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "add", "path": "/a", "value": 2}]) == {"a": 2}


def test_copy_duplicates_a_value() -> None:
    result = apply_json_patch({"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}])
    assert result == {"a": {"b": [1]}, "c": {"b": [1]}}
    assert result["a"] is not result["c"]


def test_negative_indices_count_from_the_end() -> None:
    assert apply_json_patch({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}]) == {"a": [1, 2]}
    assert apply_json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-1", "value": 9}]) == {"a": [1, 2, 9]}


def test_an_index_past_the_end_fails() -> None:
    assert failure({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 9}]).code == 422
    assert failure({"a": [1]}, [{"op": "replace", "path": "/a/1", "value": 9}]).code == 422
    assert failure({"a": [1]}, [{"op": "remove", "path": "/a/x"}]).code == 422


def test_dash_appends_only_for_add() -> None:
    assert failure({"a": [1]}, [{"op": "replace", "path": "/a/-", "value": 2}]).code == 422


def test_a_null_test_passes_on_a_missing_member() -> None:
    assert apply_json_patch({"a": {}}, [{"op": "test", "path": "/a/b", "value": None}]) == {"a": {}}


def test_test_compares_json_values() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}]) == {"a": 1}
    assert failure({"a": True}, [{"op": "test", "path": "/a", "value": 1}]).code == 422
    assert failure({"a": [1, 2]}, [{"op": "test", "path": "/a", "value": [2, 1]}]).code == 422


def test_operations_are_all_or_nothing() -> None:
    live = {"a": 1}
    failure(live, [{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 1}])
    assert live == {"a": 1}


def test_an_unknown_operation() -> None:
    assert failure({}, [{"op": "frobnicate", "path": "/a"}]).detail == "Unexpected kind: frobnicate"


def test_missing_members_of_an_operation() -> None:
    assert failure({}, [{"op": "add", "path": "/a"}]).code == 422
    assert failure({}, [{"op": "remove"}]).code == 422


def test_a_pointer_must_start_with_a_slash() -> None:
    assert failure({"a": 1}, [{"op": "remove", "path": "a"}]).code == 422
    assert (
        parse_pointer("") == [] and parse_pointer("/") == [""] and parse_pointer("/a~1b/~0c") == ["a/b", "~c"]
    )


def test_a_body_that_is_no_list_of_operations_is_a_bad_request() -> None:
    error = failure({}, {"op": "add"})
    assert (error.code, error.message) == (
        400,
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    )
    assert failure({}, ["add"]).code == 400


def test_too_many_operations() -> None:
    error = failure({}, [{"op": "test", "path": "/a", "value": None}] * 10_001)
    assert (error.code, error.reason) == (413, "RequestEntityTooLarge")
    assert error.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_json_equal_keeps_booleans_apart() -> None:
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert (
        not json_equal(0, False)
        and not json_equal({"a": 1}, {"a": 1, "b": 2})
        and not json_equal([1], {"1": 1})
    )


# ── RFC 7386, appendix A ────────────────────────────────────────────────────────────────────────────

MERGE_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("document", "patch", "expected"), MERGE_EXAMPLES)
def test_rfc_7386_examples(document: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_merge_patch(document, patch) == expected


def test_merge_patch_replaces_lists_whole() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "3"}]}}
    assert apply_merge_patch(live, patch) == patch


def test_merge_patch_null_removes_a_label() -> None:
    live = {"metadata": {"labels": {"app": "web", "tier": "front"}}}
    assert apply_merge_patch(live, {"metadata": {"labels": {"tier": None}}}) == {
        "metadata": {"labels": {"app": "web"}}
    }


def test_merge_patch_keeps_null_elements_of_new_arrays() -> None:
    assert apply_merge_patch({}, {"a": [None, {"b": None, "c": 1}]}) == {"a": [None, {"c": 1}]}


def test_a_merge_patch_must_be_an_object() -> None:
    with pytest.raises(PatchError) as caught:
        apply_merge_patch({}, None)
    assert (caught.value.code, caught.value.message) == (400, "Invalid JSON Patch")


# ── The entry point ─────────────────────────────────────────────────────────────────────────────────


def test_apply_patch_dispatches_on_the_content_type() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}
    merged = apply_patch(
        f"{MERGE_PATCH}; charset=utf-8", live, b'{"data": {"b": "2"}}', api_version="v1", kind="ConfigMap"
    )
    assert merged["data"] == {"a": "1", "b": "2"}
    body = json.dumps([{"op": "remove", "path": "/data/a"}])
    assert apply_patch(JSON_PATCH, live, body, api_version="v1", kind="ConfigMap")["data"] == {}


def test_an_unknown_content_type_is_415() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch("application/xml", {}, b"", api_version="v1", kind="ConfigMap")
    assert (caught.value.code, caught.value.reason) == (415, "UnsupportedMediaType")


def test_a_body_that_is_not_json_is_a_bad_request() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch(MERGE_PATCH, {}, b"{nope", api_version="v1", kind="ConfigMap")
    assert (caught.value.code, caught.value.message) == (400, "Invalid JSON Patch")


def test_a_json_patch_must_leave_an_object() -> None:
    with pytest.raises(PatchError) as caught:
        apply_patch(
            JSON_PATCH, {}, b'[{"op": "replace", "path": "", "value": 1}]', api_version="v1", kind="ConfigMap"
        )
    assert caught.value.code == 400
