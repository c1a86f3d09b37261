"""EKS access policies as Kubernetes RBAC decisions, and kube-apiserver's 403 wording."""

from __future__ import annotations

import pytest

from dockyard.control.kube.authz import (
    PolicyGrant,
    allowed,
    allowed_path,
    forbidden_message,
    forbidden_path_message,
    grants_of,
)

ARN = "arn:aws:eks::aws:cluster-access-policy/"
CLUSTER_ADMIN = [PolicyGrant(ARN + "AmazonEKSClusterAdminPolicy")]
ADMIN = [PolicyGrant(ARN + "AmazonEKSAdminPolicy")]
EDIT = [PolicyGrant(ARN + "AmazonEKSEditPolicy")]
VIEW = [PolicyGrant(ARN + "AmazonEKSViewPolicy")]

# (verb, group, resource, subresource, namespace)
Request = tuple[str, str, str, str | None, str | None]
LIST_PODS: Request = ("list", "", "pods", None, "default")
CREATE_DEPLOYMENT: Request = ("create", "apps", "deployments", None, "default")
GET_SECRET: Request = ("get", "", "secrets", None, "default")
CREATE_ROLEBINDING: Request = ("create", "rbac.authorization.k8s.io", "rolebindings", None, "default")
CREATE_NAMESPACE: Request = ("create", "", "namespaces", None, None)
LIST_NODES: Request = ("list", "", "nodes", None, None)
EXEC: Request = ("create", "", "pods", "exec", "default")
LOGS: Request = ("get", "", "pods", "log", "default")
PATCH_STATUS: Request = ("patch", "apps", "deployments", "status", "default")
DELETE_POD: Request = ("delete", "", "pods", None, "default")
LIST_NAMESPACES: Request = ("list", "", "namespaces", None, None)

DECISIONS = {
    # request: (cluster-admin, admin, edit, view)
    LIST_PODS: (True, True, True, True),
    LOGS: (True, True, True, True),
    LIST_NAMESPACES: (True, True, True, True),
    CREATE_DEPLOYMENT: (True, True, True, False),
    DELETE_POD: (True, True, True, False),
    EXEC: (True, True, True, False),
    GET_SECRET: (True, True, True, False),
    CREATE_ROLEBINDING: (True, True, False, False),
    CREATE_NAMESPACE: (True, False, False, False),
    LIST_NODES: (True, False, False, False),
    PATCH_STATUS: (True, False, False, False),
}


@pytest.mark.parametrize(("request_", "expected"), DECISIONS.items())
def test_each_policy_allows_what_its_kubernetes_role_allows(
    request_: Request, expected: tuple[bool, bool, bool, bool]
) -> None:
    decisions = tuple(allowed(grants, *request_) for grants in (CLUSTER_ADMIN, ADMIN, EDIT, VIEW))
    assert decisions == expected


def test_no_grants_allow_nothing_and_unknown_policies_grant_nothing() -> None:
    assert not allowed([], *LIST_PODS)
    assert not allowed([PolicyGrant(ARN + "AmazonEKSSomethingPolicy")], *LIST_PODS)


def test_a_namespace_scope_reaches_only_its_namespaces() -> None:
    grants = [PolicyGrant(ARN + "AmazonEKSEditPolicy", frozenset({"team-a", "team-b"}))]
    assert allowed(grants, "create", "apps", "deployments", None, "team-a")
    assert allowed(grants, "get", "", "secrets", None, "team-b")
    assert not allowed(grants, "create", "apps", "deployments", None, "default")
    assert not allowed(grants, "list", "", "pods", None, None)  # across all namespaces
    assert not allowed(grants, *LIST_NAMESPACES)
    assert allowed(grants, "get", "", "namespaces", None, "team-a")  # its own Namespace object


def test_a_namespaced_cluster_admin_policy_is_cluster_admin_only_there() -> None:
    grants = [PolicyGrant(ARN + "AmazonEKSClusterAdminPolicy", frozenset({"ops"}))]
    assert allowed(grants, "delete", "", "secrets", None, "ops")
    assert not allowed(grants, *LIST_NODES)
    assert not allowed_path(grants, "/metrics")


def test_grants_come_from_stored_scopes_and_system_masters() -> None:
    grants = grants_of(
        [
            (ARN + "AmazonEKSViewPolicy", {"type": "cluster", "namespaces": []}),
            (ARN + "AmazonEKSEditPolicy", {"type": "namespace", "namespaces": ["dev"]}),
        ]
    )
    assert allowed(grants, "list", "", "pods", None, "prod")
    assert not allowed(grants, "delete", "", "pods", None, "prod")
    assert allowed(grants, "delete", "", "pods", None, "dev")
    masters = grants_of([], ["system:masters"])
    assert allowed(masters, *CREATE_NAMESPACE)
    assert allowed(masters, "escalate", "rbac.authorization.k8s.io", "clusterroles", None, None)
    assert not allowed(grants_of([], ["developers"]), *LIST_PODS)


@pytest.mark.parametrize("path", ["/version", "/api", "/api/v1", "/apis/apps/v1", "/openapi/v3", "/healthz"])
def test_discovery_urls_are_open_to_any_authenticated_user(path: str) -> None:
    assert allowed_path([], path)


def test_other_urls_need_cluster_admin() -> None:
    assert not allowed_path(VIEW, "/metrics")
    assert not allowed_path([], "/logs")
    assert allowed_path(CLUSTER_ADMIN, "/metrics")


def test_the_403_message_is_kube_apiservers() -> None:
    user = "arn:aws:iam::123456789012:user/bob"
    assert forbidden_message(user=user, verb="list", api_group="", resource="pods", namespace="default") == (
        'pods is forbidden: User "arn:aws:iam::123456789012:user/bob" cannot list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    assert forbidden_message(
        user=user, verb="get", api_group="apps", resource="deployments", name="web", namespace="prod"
    ) == (
        'deployments.apps "web" is forbidden: User "arn:aws:iam::123456789012:user/bob" cannot get '
        'resource "deployments" in API group "apps" in the namespace "prod"'
    )
    assert forbidden_message(user=user, verb="create", api_group="", resource="namespaces", name="x") == (
        'namespaces "x" is forbidden: User "arn:aws:iam::123456789012:user/bob" cannot create resource '
        '"namespaces" in API group "" at the cluster scope'
    )
    assert forbidden_message(
        user="u", verb="create", api_group="", resource="pods", subresource="exec", name="p", namespace="d"
    ) == (
        'pods "p" is forbidden: User "u" cannot create resource "pods/exec" in API group "" '
        'in the namespace "d"'
    )
    assert forbidden_path_message(user="u", verb="get", path="/metrics") == (
        'forbidden: User "u" cannot get path "/metrics"'
    )
