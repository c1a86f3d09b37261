"""The built-in Kubernetes resources dockyard serves, as kube-apiserver 1.33 describes them.

One :class:`Resource` per (group, version, plural): its kind, scope, verbs, short names, categories and
subresources, exactly as discovery (``/api/v1``, ``/apis/<g>/<v>``, aggregated discovery) reports them,
because kubectl resolves ``kubectl get po`` and ``kubectl get all`` from those documents. The lookups
follow kubectl's resolution order: plural, then singular, then short name, each case-insensitive, with
an optional ``.group`` suffix (``deployments.apps``).
"""

from __future__ import annotations

from dataclasses import dataclass

_CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    """A subresource such as ``status`` or ``scale``; its kind is what its endpoint returns."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    """The response kind's group when it differs from the parent's (``autoscaling`` for scale)."""
    version: str = ""


@dataclass(frozen=True)
class Resource:
    """One served resource of one group version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = _CRUD
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()

    @property
    def group_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, _STATUS_VERBS)


_SCALE = Subresource("scale", "Scale", _STATUS_VERBS, group="autoscaling", version="v1")

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        ("ns",),
        subresources=(
            Subresource("finalize", "Namespace", ("update",)),
            _status("Namespace"),
        ),
    ),
    Resource("", "v1", "nodes", "node", "Node", False, short_names=("no",), subresources=(_status("Node"),)),
    Resource(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        short_names=("po",),
        categories=("all",),
        subresources=(
            Subresource("binding", "Binding", ("create",)),
            Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("log", "Pod", ("get",)),
            _status("Pod"),
        ),
    ),
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, short_names=("cm",)),
    Resource("", "v1", "secrets", "secret", "Secret", True),
    Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, short_names=("sa",)),
    Resource("", "v1", "events", "event", "Event", True, short_names=("ev",)),
    Resource(
        "",
        "v1",
        "services",
        "service",
        "Service",
        True,
        ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        ("svc",),
        ("all",),
        (_status("Service"),),
    ),
    Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, short_names=("ep",)),
    Resource(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        True,
        short_names=("ds",),
        categories=("all",),
        subresources=(_status("DaemonSet"),),
    ),
    Resource(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        True,
        short_names=("deploy",),
        categories=("all",),
        subresources=(_SCALE, _status("Deployment")),
    ),
    Resource(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        True,
        short_names=("rs",),
        categories=("all",),
        subresources=(_SCALE, _status("ReplicaSet")),
    ),
    Resource("batch", "v1", "jobs", "job", "Job", True, categories=("all",), subresources=(_status("Job"),)),
    Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
    Resource("events.k8s.io", "v1", "events", "event", "Event", True, short_names=("ev",)),
)
"""Every served resource, core first, then groups in the order ``/apis`` lists them."""

GROUP_ORDER: tuple[str, ...] = ("apps", "events.k8s.io", "batch", "coordination.k8s.io", "discovery.k8s.io")
"""API groups in kube-apiserver's priority order (the order of ``/apis``)."""


def group_versions() -> list[tuple[str, str]]:
    """The served (group, version) pairs, core first, then ``/apis`` order."""
    pairs: list[tuple[str, str]] = [("", "v1")]
    for group in GROUP_ORDER:
        for version in dict.fromkeys(r.version for r in RESOURCES if r.group == group):
            pairs.append((group, version))
    return pairs


def resources_of(group: str, version: str) -> list[Resource]:
    """The resources of one group version, sorted by plural as discovery lists them."""
    return sorted((r for r in RESOURCES if r.group == group and r.version == version), key=lambda r: r.plural)


def by_gvr(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``/apis/<group>/<version>/.../<plural>``, if any."""
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def require(group: str, version: str, plural: str) -> Resource:
    """A resource the code itself names (a KeyError if it is not served: a bug, not user input)."""
    resource = by_gvr(group, version, plural)
    if resource is None:
        raise KeyError(f"{group}/{version}/{plural} is not served")
    return resource


def by_kind(kind: str, group: str | None = None) -> Resource | None:
    """The resource of a kind; without a group, the core one wins (``Event`` → core v1 events)."""
    for resource in RESOURCES:
        if resource.kind == kind and (group is None or resource.group == group):
            return resource
    return None


def resolve(name: str) -> Resource | None:
    """What kubectl means by ``name`` (``po``, ``pods``, ``Pod``, ``deployments.apps``, ``deploy.apps``).

    Plurals first, then singulars, then short names, as kubectl's RESTMapper tries them; without a
    group suffix the first match in served order wins (core before groups).
    """
    lowered = name.lower()
    candidates: list[tuple[str, str | None]] = [(lowered, None)]
    if "." in lowered:
        head, _, suffix = lowered.partition(".")
        candidates.append((head, suffix))
    for word, group in candidates:
        pool = [r for r in RESOURCES if group is None or r.group == group]
        for attribute in ("plural", "singular", "kind"):
            for resource in pool:
                if getattr(resource, attribute).lower() == word:
                    return resource
        for resource in pool:
            if word in resource.short_names:
                return resource
    return None


def in_category(category: str) -> list[Resource]:
    """The resources ``kubectl get <category>`` expands to (``all``)."""
    return [r for r in RESOURCES if category in r.categories]
