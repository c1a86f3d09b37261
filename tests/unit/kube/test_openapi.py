"""The /openapi/v3 documents: what kubectl apply and kubectl explain look for."""

from __future__ import annotations

from dockyard.control.kube import openapi


def test_index_lists_served_group_versions_with_hashes() -> None:
    paths = openapi.index()["paths"]
    assert set(paths) >= {"api/v1", "apis/apps/v1", "apis/batch/v1"}
    assert paths["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")


def test_every_patch_operation_has_field_validation_and_gvk() -> None:
    for path in ("api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"):
        doc = openapi.document_for_path(path)
        assert doc is not None
        patches = [item["patch"] for item in doc["paths"].values() if "patch" in item]
        assert patches
        for patch in patches:
            assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
            assert set(patch["x-kubernetes-group-version-kind"]) == {"group", "version", "kind"}


def test_deployment_patch_path() -> None:
    doc = openapi.document("apps", "v1")
    assert doc is not None
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "application/apply-patch+yaml" in patch["requestBody"]["content"]


def test_component_schemas_carry_kubernetes_extensions() -> None:
    doc = openapi.document("", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["items"]["$ref"] == "#/components/schemas/io.k8s.api.core.v1.Container"
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["type"] == "object"
    assert "enum" not in pod["properties"]["kind"]


def test_resolved_schema_of_deployment() -> None:
    schema = openapi.resolved_schema("apps", "v1", "Deployment")
    assert schema is not None
    spec = schema["properties"]["spec"]
    assert spec["properties"]["replicas"]["type"] == "integer"
    containers = spec["properties"]["template"]["properties"]["spec"]["properties"]["containers"]
    assert "image" in containers["items"]["properties"]
    assert openapi.resolved_schema("apps", "v1", "Widget") is None
