"""The official kubernetes Python client, unchanged, against a real dockyard server's EKS cluster.

The cluster is created with boto3 and waited ACTIVE; ``aws eks update-kubeconfig`` writes the kubeconfig,
whose exec plugin runs the real ``aws eks get-token``; ``kubernetes.config.load_kube_config`` loads it as
it would for any EKS cluster. So this is the path a user's Python program takes, end to end: the EKS API,
the cluster's HTTPS listener with its own CA, SigV4-verified ``k8s-aws-v1`` tokens, the client's own
models (de)serializing every answer, and its ``ApiException`` carrying kube's ``Status`` bodies.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.integration.conftest import REGION, Keys, ServerProcess, make_client, run_aws, unique_name
from tests.polling import wait_until

ROLE = "arn:aws:iam::123456789012:role/eks"
VPC = {"subnetIds": ["subnet-1", "subnet-2"]}
ACTIVE_DEADLINE_S = 10.0
NAMESPACE = "default"
WATCH_TIMEOUT_S = 30
T = TypeVar("T")


@dataclass
class PythonClient:
    """The client configuration ``load_kube_config`` made from ``aws eks update-kubeconfig``'s file."""

    configuration: client.Configuration
    kubeconfig: Path
    other_account_token: str
    """A valid ``aws eks get-token`` token of a key in another account (no access entry here)."""

    def api(self) -> client.ApiClient:
        return client.ApiClient(self.configuration)

    def with_token(self, token: str | None) -> client.ApiClient:
        """The same endpoint and CA, with ``token`` as the bearer token (none at all if None)."""
        configuration = copy.copy(self.configuration)
        configuration.refresh_api_key_hook = None
        configuration.api_key = {} if token is None else {"authorization": f"Bearer {token}"}
        configuration.api_key_prefix = {}
        return client.ApiClient(configuration)


def _aws_env(keys: Keys, home: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "HOME": str(home),
    }


@pytest.fixture(scope="module")
def kube(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PythonClient]:
    home = tmp_path_factory.mktemp("kube-python")
    keys = server.create_key(unique_name("kpy"))
    eks = make_client(server, "eks", keys)
    name = unique_name("kpy")
    eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig=VPC)
    wait_until(
        lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE",
        deadline_s=ACTIVE_DEADLINE_S,
        what=f"cluster {name} ACTIVE",
    )
    kubeconfig = home / "kubeconfig"
    env = _aws_env(keys, home)
    run_aws(
        env,
        "eks",
        "update-kubeconfig",
        "--name",
        name,
        "--region",
        REGION,
        "--kubeconfig",
        str(kubeconfig),
        "--endpoint-url",
        server.endpoint,
    )
    other = server.create_key(unique_name("other"))
    other_token = json.loads(
        run_aws(_aws_env(other, home), "eks", "get-token", "--cluster-name", name, "--region", REGION).stdout
    )["status"]["token"]

    # The exec plugin runs `aws` from PATH with this process's environment (plus the kubeconfig's env).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        for key, value in env.items():
            patch.setenv(key, value)
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        yield PythonClient(configuration, kubeconfig, other_token)
    eks.delete_cluster(name=name)


@pytest.fixture
def core(kube: PythonClient) -> Iterator[client.CoreV1Api]:
    with kube.api() as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def apps(kube: PythonClient) -> Iterator[client.AppsV1Api]:
    with kube.api() as api:
        yield client.AppsV1Api(api)


def _status(error: ApiException) -> dict[str, Any]:
    """The ``Status`` object an ApiException carries as its body."""
    assert error.body, f"no body in {error}"
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    return body


def _config_map(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def test_the_kubeconfig_is_the_eks_one_with_the_aws_exec_plugin(kube: PythonClient) -> None:
    written = config.kube_config.KubeConfigLoader(
        config_dict=__import__("yaml").safe_load(kube.kubeconfig.read_text())
    )
    user = written.current_context["context"]["user"]
    users = {u["name"]: u["user"] for u in written._config["users"]}
    assert users[user]["exec"]["command"] == "aws"
    assert "get-token" in users[user]["exec"]["args"]
    assert kube.configuration.host.startswith("https://127.0.0.1:")
    assert kube.configuration.verify_ssl
    # The token came from the exec plugin: the real `aws eks get-token`.
    assert kube.configuration.api_key["authorization"].startswith("Bearer k8s-aws-v1.")


def test_list_namespace_has_default(core: client.CoreV1Api) -> None:
    namespaces = core.list_namespace()
    assert isinstance(namespaces, client.V1NamespaceList)
    names = {item.metadata.name for item in namespaces.items}
    assert {"default", "kube-system"} <= names
    assert namespaces.metadata.resource_version
    default = core.read_namespace("default")
    assert default.status.phase == "Active"


def test_config_map_create_read_replace_patch_delete(core: client.CoreV1Api) -> None:
    name = unique_name("cm")
    created = core.create_namespaced_config_map(NAMESPACE, _config_map(name, {"a": "1"}))
    assert isinstance(created, client.V1ConfigMap)
    assert created.metadata.name == name
    assert created.metadata.namespace == NAMESPACE
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.data == {"a": "1"}

    read = core.read_namespaced_config_map(name, NAMESPACE)
    assert read.metadata.resource_version == created.metadata.resource_version
    assert read.metadata.uid == created.metadata.uid

    read.data = {"a": "2", "b": "x"}
    replaced = core.replace_namespaced_config_map(name, NAMESPACE, read)
    assert replaced.data == {"a": "2", "b": "x"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    # The client sends a dict body of a patch as a strategic merge patch for core kinds.
    patched = core.patch_namespaced_config_map(name, NAMESPACE, {"data": {"b": None, "c": "3"}})
    assert patched.data == {"a": "2", "c": "3"}
    assert int(patched.metadata.resource_version) > int(replaced.metadata.resource_version)

    deleted = core.delete_namespaced_config_map(name, NAMESPACE)
    assert isinstance(deleted, client.V1Status)
    assert deleted.status == "Success"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map(name, NAMESPACE)
    assert missing.value.status == 404
    status = _status(missing.value)
    assert status["reason"] == "NotFound"
    assert status["message"] == f'configmaps "{name}" not found'
    assert status["details"] == {"name": name, "kind": "configmaps"}

    with pytest.raises(ApiException) as again:
        core.create_namespaced_config_map(NAMESPACE, _config_map("dup-" + name, {}))
        core.create_namespaced_config_map(NAMESPACE, _config_map("dup-" + name, {}))
    assert again.value.status == 409
    assert _status(again.value)["reason"] == "AlreadyExists"
    assert _status(again.value)["message"] == f'configmaps "dup-{name}" already exists'
    core.delete_namespaced_config_map("dup-" + name, NAMESPACE)


def test_stale_replace_is_a_409_conflict(core: client.CoreV1Api) -> None:
    name = unique_name("stale")
    created = core.create_namespaced_config_map(NAMESPACE, _config_map(name, {"v": "1"}))
    core.patch_namespaced_config_map(name, NAMESPACE, {"data": {"v": "2"}})
    created.data = {"v": "stale"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map(name, NAMESPACE, created)
    assert conflict.value.status == 409
    status = _status(conflict.value)
    assert status["reason"] == "Conflict"
    assert status["code"] == 409
    assert status["message"] == (
        f'Operation cannot be fulfilled on configmaps "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert status["details"] == {"name": name, "kind": "configmaps"}
    assert core.read_namespaced_config_map(name, NAMESPACE).data == {"v": "2"}
    core.delete_namespaced_config_map(name, NAMESPACE)


def test_list_with_label_selector_in_pages(core: client.CoreV1Api) -> None:
    run = unique_name("run")
    names = sorted(f"{run}-{i:02d}" for i in range(7))
    for index, name in enumerate(names):
        labels = {"run": run, "parity": "even" if index % 2 == 0 else "odd"}
        core.create_namespaced_config_map(NAMESPACE, _config_map(name, {"i": str(index)}, labels))
    core.create_namespaced_config_map(NAMESPACE, _config_map(unique_name("unlabelled"), {}))

    even = core.list_namespaced_config_map(NAMESPACE, label_selector=f"run={run},parity=even")
    assert [item.metadata.name for item in even.items] == names[0::2]

    # With a selector kube-apiserver cannot count what is left (etcd's count includes objects the
    # selector drops), so remainingItemCount is absent; without one it is exact (below).
    assert _pages(core, NAMESPACE, label_selector=f"run={run}") == (
        [names[0:3], names[3:6], names[6:]],
        [None] * 3,
    )
    everything = core.list_namespaced_config_map(NAMESPACE, label_selector=f"run in ({run}),parity!=even")
    assert [item.metadata.name for item in everything.items] == names[1::2]
    core.delete_collection_namespaced_config_map(NAMESPACE, label_selector=f"run={run}")
    assert core.list_namespaced_config_map(NAMESPACE, label_selector=f"run={run}").items == []


def _pages(
    core: client.CoreV1Api, namespace: str, **selectors: str
) -> tuple[list[list[str]], list[int | None]]:
    """Every page of a list of ``limit=3``: the names on each, and each page's remainingItemCount."""
    pages: list[list[str]] = []
    remaining: list[int | None] = []
    token: str | None = None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token, **selectors)
        pages.append([item.metadata.name for item in page.items])
        remaining.append(page.metadata.remaining_item_count)
        token = page.metadata._continue
        if not token:
            return pages, remaining


def _namespace_of_configmaps(core: client.CoreV1Api, names: list[str]) -> str:
    namespace = unique_name("pages")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    for name in names:
        core.create_namespaced_config_map(namespace, _config_map(name, {}))
    return namespace


def test_list_pages_without_a_selector_are_one_snapshot(core: client.CoreV1Api) -> None:
    names = [f"cm-{i}" for i in range(7)]
    namespace = _namespace_of_configmaps(core, names)
    first = core.list_namespaced_config_map(namespace, limit=3)
    # A write after the first page: the next pages still come from the first page's snapshot.
    core.create_namespaced_config_map(namespace, _config_map("cm-late", {}))
    rest = core.list_namespaced_config_map(namespace, limit=10, _continue=first.metadata._continue)
    assert [item.metadata.name for item in first.items + rest.items] == names
    assert rest.metadata.resource_version == first.metadata.resource_version
    assert rest.metadata._continue is None
    pages, _ = _pages(core, namespace)
    assert pages == [names[0:3], names[3:6], [names[6], "cm-late"]]
    core.delete_namespace(namespace)


def test_list_pages_count_what_remains_without_a_selector(core: client.CoreV1Api) -> None:
    names = [f"cm-{i}" for i in range(7)]
    namespace = _namespace_of_configmaps(core, names)
    try:
        # kube-apiserver (etcd3 store, RemainingItemCount GA) gives the exact count on every page but the
        # last when the list has no label or field selector.
        assert _pages(core, namespace)[1] == [4, 1, None]
    finally:
        core.delete_namespace(namespace)


def test_watch_stream_sees_added_modified_deleted(core: client.CoreV1Api) -> None:
    run = unique_name("watch")
    name = f"{run}-cm"
    start = core.list_namespaced_config_map(NAMESPACE, label_selector=f"run={run}")
    assert start.items == []

    def changes() -> None:
        core.create_namespaced_config_map(NAMESPACE, _config_map(name, {"n": "0"}, {"run": run}))
        core.patch_namespaced_config_map(name, NAMESPACE, {"data": {"n": "1"}})
        core.delete_namespaced_config_map(name, NAMESPACE)

    watcher = watch.Watch()
    events: list[tuple[str, str, str]] = []
    writer = threading.Thread(target=changes)
    stream = watcher.stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        label_selector=f"run={run}",
        resource_version=start.metadata.resource_version,
        timeout_seconds=WATCH_TIMEOUT_S,
    )
    writer.start()
    try:
        for event in stream:
            obj = event["object"]
            assert isinstance(obj, client.V1ConfigMap)  # the client decoded it into its own model
            events.append((event["type"], obj.metadata.name, (obj.data or {}).get("n", "")))
            if event["type"] == "DELETED":
                watcher.stop()
    finally:
        writer.join(timeout=30)
    assert events == [("ADDED", name, "0"), ("MODIFIED", name, "1"), ("DELETED", name, "1")]
    # The watch moved its resourceVersion along with the events it saw.
    assert int(watcher.resource_version) > int(start.metadata.resource_version)


def _deployment(
    name: str, replicas: int, template_labels: dict[str, str] | None = None
) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=template_labels or labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="httpd", image="busybox:1")],
                ),
            ),
        ),
    )


def _retry_on_conflict(write: Callable[[], T], attempts: int = 10) -> T:
    """``write`` (a read-modify-write), again while it meets kube's 409 Conflict (client-go's
    ``retry.RetryOnConflict``, without the backoff: the conflicting writer is a controller that is done)."""
    for _ in range(attempts - 1):
        try:
            return write()
        except ApiException as error:
            if error.status != 409 or _status(error)["reason"] != "Conflict":
                raise
    return write()


def test_deployment_create_and_scale_subresource(apps: client.AppsV1Api) -> None:
    name = unique_name("web")
    created = apps.create_namespaced_deployment(NAMESPACE, _deployment(name, 2))
    assert isinstance(created, client.V1Deployment)
    assert created.spec.replicas == 2
    assert created.metadata.generation == 1

    scale = apps.read_namespaced_deployment_scale(name, NAMESPACE)
    assert isinstance(scale, client.V1Scale)
    assert scale.spec.replicas == 2
    assert scale.metadata.name == name
    assert scale.status.selector == f"app={name}"

    # A patch has no resourceVersion precondition, so it never answers 409 (test_scale_patch_never_conflicts).
    patched = apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": 5}})
    assert patched.spec.replicas == 5
    deployment = apps.read_namespaced_deployment(name, NAMESPACE)
    assert deployment.spec.replicas == 5
    assert deployment.metadata.generation == 2

    def scale_to_one() -> client.V1Scale:
        scale = apps.read_namespaced_deployment_scale(name, NAMESPACE)
        scale.spec.replicas = 1
        replaced: client.V1Scale = apps.replace_namespaced_deployment_scale(name, NAMESPACE, scale)
        return replaced

    # The scale carries the Deployment's resourceVersion, and the deployment controller writes the
    # Deployment's status meanwhile: a read-modify-write retries on 409, as client-go's RetryOnConflict.
    replaced = _retry_on_conflict(scale_to_one)
    assert replaced.spec.replicas == 1
    assert apps.read_namespaced_deployment(name, NAMESPACE).spec.replicas == 1

    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": -1}})
    assert negative.value.status == 422
    status = _status(negative.value)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert apps.read_namespaced_deployment(name, NAMESPACE).spec.replicas == 1
    apps.delete_namespaced_deployment(name, NAMESPACE)


def test_scale_patch_never_conflicts(apps: client.AppsV1Api) -> None:
    name = unique_name("race")
    apps.create_namespaced_deployment(NAMESPACE, _deployment(name, 1))
    try:
        for replicas in range(2, 8):
            apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": replicas}})
        assert apps.read_namespaced_deployment(name, NAMESPACE).spec.replicas == 7
    finally:
        apps.delete_namespaced_deployment(name, NAMESPACE)


def test_negative_scale_status_details_name_the_scale_and_its_field(apps: client.AppsV1Api) -> None:
    name = unique_name("neg")
    apps.create_namespaced_deployment(NAMESPACE, _deployment(name, 1))
    try:
        with pytest.raises(ApiException) as negative:
            apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": -1}})
        assert _status(negative.value).get("details") == {
            "name": name,
            "group": "autoscaling",
            "kind": "Scale",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: -1: must be greater than or equal to 0",
                    "field": "spec.replicas",
                }
            ],
        }
    finally:
        apps.delete_namespaced_deployment(name, NAMESPACE)


def test_invalid_objects_are_422_with_field_causes(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_config_map(NAMESPACE, _config_map("Bad_Name", {}))
    assert bad_name.value.status == 422
    status = _status(bad_name.value)
    assert status["reason"] == "Invalid"
    assert status["code"] == 422
    problem = (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
        r"is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert (
        status["message"]
        == f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {problem}'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Bad_Name": {problem}',
            "field": "metadata.name",
        }
    ]

    name = unique_name("mismatch")
    with pytest.raises(ApiException) as mismatch:
        apps.create_namespaced_deployment(NAMESPACE, _deployment(name, 1, template_labels={"app": "other"}))
    assert mismatch.value.status == 422
    status = _status(mismatch.value)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`'
    )
    assert [(c["reason"], c["field"]) for c in status["details"]["causes"]] == [
        ("FieldValueInvalid", "spec.template.metadata.labels")
    ]
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment(name, NAMESPACE)


def test_invalid_status_details_name_the_object(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_config_map(NAMESPACE, _config_map("Bad_Name", {}))
    details = _status(bad_name.value)["details"]
    # kube's errors.NewInvalid: group omitted when empty (the core group).
    assert (details.get("name"), details.get("kind"), "group" in details) == ("Bad_Name", "ConfigMap", False)

    name = unique_name("mismatch")
    with pytest.raises(ApiException) as mismatch:
        apps.create_namespaced_deployment(NAMESPACE, _deployment(name, 1, template_labels={"app": "other"}))
    details = _status(mismatch.value)["details"]
    assert (details.get("name"), details.get("group"), details.get("kind")) == (name, "apps", "Deployment")


@pytest.mark.parametrize("whose", ["another account", "none"])
def test_a_token_of_another_account_or_none_is_401(kube: PythonClient, whose: str) -> None:
    token = kube.other_account_token if whose == "another account" else None
    with kube.with_token(token) as api, pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).list_namespace()
    assert refused.value.status == 401
    status = _status(refused.value)
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
