"""May this caller do this? EKS access policies and Kubernetes groups as RBAC-style rules. Pure.

An access entry's policies map to Kubernetes' built-in ClusterRoles, as AWS documents them::

    AmazonEKSClusterAdminPolicy ─▶ cluster-admin   (everything, non-resource URLs included)
    AmazonEKSAdminPolicy        ─▶ admin            (edit + roles/rolebindings, local access reviews)
    AmazonEKSEditPolicy         ─▶ edit             (view + writes of most namespaced objects, secrets)
    AmazonEKSViewPolicy         ─▶ view             (reads of most namespaced objects, not secrets)

A ``cluster`` access scope binds the role cluster-wide (a ClusterRoleBinding), a ``namespace`` scope binds it
in each listed namespace (a RoleBinding each), which never reaches cluster-scoped resources. The group
``system:masters`` is cluster-admin whatever the policies. Every authenticated user may read the
discovery and health URLs (``system:discovery``, ``system:public-info-viewer``).

The rules are those of kube-apiserver's bootstrap policy (``plugin/pkg/auth/authorizer/rbac/
bootstrappolicy/policy.go``) as of 1.33, for the groups and resources dockyard serves or may serve; like
1.22+ clusters, ``edit`` does not write Endpoints/EndpointSlices (CVE-2021-25740).

For a Namespace object itself the namespace of a request is the object's name (kube-apiserver's
RequestInfo does the same), so a namespace-scoped view may get its own Namespace but not list them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
ADMIN_POLICY = "AmazonEKSAdminPolicy"
EDIT_POLICY = "AmazonEKSEditPolicy"
VIEW_POLICY = "AmazonEKSViewPolicy"
MASTERS_GROUP = "system:masters"

READ = frozenset({"get", "list", "watch"})
WRITE = frozenset({"create", "update", "patch", "delete", "deletecollection"})
ALL_VERBS = frozenset({"*"})


@dataclass(frozen=True, slots=True)
class Rule:
    """A PolicyRule: ``verbs`` on ``resources`` (``resource`` or ``resource/subresource``) of ``group``."""

    group: str
    resources: frozenset[str]
    verbs: frozenset[str]

    def matches(self, verb: str, group: str, resource: str) -> bool:
        return (
            self.group in (group, "*")
            and (resource in self.resources or "*" in self.resources)
            and (verb in self.verbs or "*" in self.verbs)
        )


@dataclass(frozen=True, slots=True)
class PolicyGrant:
    """One associated access policy: its name (or ARN) and where it applies.

    ``namespaces`` is ``None`` for a ``cluster`` scope, else the namespaces of a ``namespace`` scope.
    """

    policy: str
    namespaces: frozenset[str] | None = None

    @property
    def policy_name(self) -> str:
        return self.policy.rsplit("/", 1)[-1]


def _rule(group: str, resources: str, verbs: Iterable[str]) -> Rule:
    return Rule(group, frozenset(resources.split()), frozenset(verbs))


# --- the built-in ClusterRoles (bootstrappolicy/policy.go) ------------------------------------------------

_VIEW = (
    _rule(
        "",
        "pods replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"
        " endpoints persistentvolumeclaims persistentvolumeclaims/status configmaps",
        READ,
    ),
    _rule(
        "",
        "limitranges resourcequotas bindings events pods/status resourcequotas/status namespaces/status"
        " replicationcontrollers/status pods/log",
        READ,
    ),
    _rule("", "namespaces", READ),
    _rule("discovery.k8s.io", "endpointslices", READ),
    _rule(
        "apps",
        "controllerrevisions statefulsets statefulsets/status statefulsets/scale deployments"
        " deployments/status deployments/scale replicasets replicasets/status replicasets/scale daemonsets"
        " daemonsets/status",
        READ,
    ),
    _rule("autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status", READ),
    _rule("batch", "jobs jobs/status cronjobs cronjobs/status", READ),
    _rule(
        "extensions",
        "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses"
        " ingresses/status replicasets replicasets/scale replicasets/status replicationcontrollers/scale"
        " networkpolicies",
        READ,
    ),
    _rule("policy", "poddisruptionbudgets poddisruptionbudgets/status", READ),
    _rule("networking.k8s.io", "ingresses ingresses/status networkpolicies", READ),
)

_EDIT = (
    *_VIEW,
    _rule("", "serviceaccounts", {"impersonate"}),
    _rule("", "pods pods/attach pods/proxy pods/exec pods/portforward", WRITE),
    _rule("", "pods/eviction", {"create"}),
    _rule(
        "",
        "replicationcontrollers replicationcontrollers/scale serviceaccounts services services/proxy"
        " persistentvolumeclaims configmaps secrets events",
        WRITE,
    ),
    _rule("", "serviceaccounts/token", {"create"}),
    _rule(
        "apps",
        "statefulsets statefulsets/scale daemonsets deployments deployments/rollback deployments/scale"
        " replicasets replicasets/scale",
        WRITE,
    ),
    _rule("autoscaling", "horizontalpodautoscalers", WRITE),
    _rule("batch", "jobs cronjobs", WRITE),
    _rule(
        "extensions",
        "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale"
        " replicationcontrollers/scale networkpolicies ingresses",
        WRITE,
    ),
    _rule("policy", "poddisruptionbudgets", WRITE),
    _rule("networking.k8s.io", "ingresses networkpolicies", WRITE),
    _rule("coordination.k8s.io", "leases", READ | WRITE),
    _rule("", "pods/attach pods/proxy pods/exec pods/portforward secrets services/proxy", READ),
)

_ADMIN = (
    *_EDIT,
    _rule("authorization.k8s.io", "localsubjectaccessreviews", {"create"}),
    _rule("rbac.authorization.k8s.io", "roles rolebindings", READ | WRITE),
)

_CLUSTER_ADMIN = (Rule("*", frozenset({"*"}), ALL_VERBS),)

ROLES: Mapping[str, tuple[Rule, ...]] = {
    CLUSTER_ADMIN_POLICY: _CLUSTER_ADMIN,
    ADMIN_POLICY: _ADMIN,
    EDIT_POLICY: _EDIT,
    VIEW_POLICY: _VIEW,
}

# system:discovery and system:public-info-viewer, bound to system:authenticated.
_DISCOVERY_PATHS = ("/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi")


# --- decisions -------------------------------------------------------------------------------------------


def grants_of(
    policies: Iterable[tuple[str, Mapping[str, Any]]], groups: Iterable[str] = ()
) -> list[PolicyGrant]:
    """Grants from ``(policy ARN, accessScope)`` pairs as EKS stores them, plus the entry's Kubernetes
    groups (``system:masters`` is a cluster-wide cluster-admin grant; other groups bind nothing here)."""
    grants = [
        PolicyGrant(
            arn,
            None if scope.get("type", "cluster") == "cluster" else frozenset(scope.get("namespaces") or ()),
        )
        for arn, scope in policies
    ]
    if MASTERS_GROUP in groups:
        grants.append(PolicyGrant(CLUSTER_ADMIN_POLICY))
    return grants


def allowed(
    policies: Sequence[PolicyGrant],
    verb: str,
    api_group: str,
    resource: str,
    subresource: str | None,
    namespace: str | None,
) -> bool:
    """Whether any grant allows ``verb`` on ``resource[/subresource]`` of ``api_group`` in ``namespace``
    (``None`` or empty: cluster scope, or across all namespaces for a list/watch). Unknown policies grant
    nothing."""
    target = f"{resource}/{subresource}" if subresource else resource
    for grant in policies:
        if grant.namespaces is not None and (not namespace or namespace not in grant.namespaces):
            continue
        rules = ROLES.get(grant.policy_name, ())
        if any(rule.matches(verb, api_group, target) for rule in rules):
            return True
    return False


def allowed_path(policies: Sequence[PolicyGrant], path: str) -> bool:
    """Whether a non-resource URL (``/version``, ``/openapi/v3``...) may be read: discovery and health for
    every authenticated user, anything for a cluster-wide cluster-admin."""
    if any(grant.namespaces is None and grant.policy_name == CLUSTER_ADMIN_POLICY for grant in policies):
        return True
    path = path.rstrip("/") or "/"
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _DISCOVERY_PATHS)


def forbidden_message(
    *,
    user: str,
    verb: str,
    api_group: str,
    resource: str,
    subresource: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
) -> str:
    """The message of kube-apiserver's 403 Status for a resource request (``ForbiddenStatusError``)."""
    qualified = f"{resource}.{api_group}" if api_group else resource
    target = f"{resource}/{subresource}" if subresource else resource
    reason = f"User {_quote(user)} cannot {verb} resource {_quote(target)} in API group {_quote(api_group)}"
    reason += f" in the namespace {_quote(namespace)}" if namespace else " at the cluster scope"
    subject = f"{qualified} {_quote(name)}" if name else qualified
    return f"{subject} is forbidden: {reason}"


def forbidden_path_message(*, user: str, verb: str, path: str) -> str:
    """The message of kube-apiserver's 403 Status for a non-resource URL."""
    return f"forbidden: User {_quote(user)} cannot {verb} path {_quote(path)}"


def _quote(text: str) -> str:
    """Go's ``%q`` for the printable ASCII that names carry (backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
