"""EKS's rules that need no store: Kubernetes versions, ARNs, defaults, node group scaling, Fargate
selectors, access policies and scopes, endpoint ports. Pure functions; errors as EKS reports them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.core.arn import parse_arn
from dockyard.services.eks.errors import (
    InvalidParameterException,
    ResourceLimitExceededException,
)

SUPPORTED_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
DEFAULT_VERSION = "1.33"
PLATFORM_VERSION = "eks.1"
DEFAULT_SERVICE_CIDR = "10.100.0.0/16"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
DEFAULT_AUTHENTICATION_MODE = "API_AND_CONFIG_MAP"
"""EKS's API defaults to CONFIG_MAP; dockyard has no aws-auth ConfigMap, so access entries are how anyone
but the creator gets in, and they need API or API_AND_CONFIG_MAP."""
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")

MAX_FARGATE_SELECTORS = 5
MAX_SELECTOR_LABELS = 5
DEFAULT_SCALING = {"minSize": 1, "maxSize": 2, "desiredSize": 2}
DEFAULT_INSTANCE_TYPES = ["t3.medium"]
DEFAULT_DISK_SIZE = 20
DEFAULT_AMI_TYPE = "AL2023_x86_64_STANDARD"
ENTRY_TYPES = (
    "STANDARD",
    "FARGATE_LINUX",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
)

ACCESS_POLICY_NAMES = (
    "AmazonEKSAdminPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
)
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


def access_policy_arn(name: str) -> str:
    return f"arn:aws:eks::aws:cluster-access-policy/{name}"


ACCESS_POLICY_ARNS = frozenset(access_policy_arn(name) for name in ACCESS_POLICY_NAMES)


# --- names and ARNs --------------------------------------------------------------------------------------


def cluster_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:eks:{region}:{account_id}:cluster/{name}"


def part_arn(kind: str, region: str, account_id: str, cluster: str, name: str, uid: str) -> str:
    """A node group's (``nodegroup``) or Fargate profile's (``fargateprofile``) ARN."""
    return f"arn:aws:eks:{region}:{account_id}:{kind}/{cluster}/{name}/{uid}"


def access_entry_arn(region: str, account_id: str, cluster: str, principal_arn: str, uid: str) -> str:
    """``…:access-entry/<cluster>/<user|role>/<account>/<name>/<uid>`` (``root`` for an account's root)."""
    principal = parse_arn(principal_arn)
    kind, name = "user", "root"
    if principal is not None and "/" in principal.resource:
        kind, _, name = principal.resource.partition("/")
        name = name.rsplit("/", 1)[-1]
    owner = principal.account_id if principal is not None else account_id
    return f"arn:aws:eks:{region}:{account_id}:access-entry/{cluster}/{kind}/{owner}/{name}/{uid}"


def check_principal_arn(principal_arn: str) -> None:
    """An access entry's principal: an IAM user or role ARN (or an account's root)."""
    arn = parse_arn(principal_arn)
    valid = (
        arn is not None
        and arn.service in ("iam", "sts")
        and arn.account_id.isdigit()
        and (arn.resource == "root" or arn.resource_type in ("user", "role", "assumed-role"))
    )
    if not valid:
        raise InvalidParameterException("The specified principalArn is invalid: invalid ARN")


def default_username(principal_arn: str) -> str:
    """The Kubernetes user name EKS gives an entry that names none: a role's assumed-role session
    pattern, any other principal's ARN."""
    arn = parse_arn(principal_arn)
    if arn is not None and arn.service == "iam" and arn.resource_type == "role":
        role = arn.resource.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{arn.account_id}:assumed-role/{role}/{{{{SessionName}}}}"
    return principal_arn


# --- clusters --------------------------------------------------------------------------------------------


def check_version(version: str | None) -> str:
    """The Kubernetes version asked for (the default when none); InvalidParameterException otherwise."""
    if version is None:
        return DEFAULT_VERSION
    if version not in SUPPORTED_VERSIONS:
        raise InvalidParameterException(f"unsupported Kubernetes version {version}")
    return version


def check_version_upgrade(current: str, target: str) -> None:
    """EKS upgrades one minor version at a time, never down."""
    check_version(target)
    cur, new = _minor(current), _minor(target)
    if new == cur:
        raise InvalidParameterException(f"Cluster is already at the desired configuration: version {target}")
    if new != cur + 1:
        raise InvalidParameterException(
            f"Unsupported Kubernetes minor version update from {current} to {target}"
        )


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def allocate_port(used: Iterable[int], port_range: tuple[int, int]) -> int:
    """The lowest port of the range no cluster holds; ResourceLimitExceededException when all are."""
    taken = set(used)
    for port in range(port_range[0], port_range[1] + 1):
        if port not in taken:
            return port
    raise ResourceLimitExceededException(
        "No endpoint port is free for a new cluster (all of eks_api_port_range are in use)."
    )


def cluster_config(
    params: Mapping[str, Any], *, cluster_security_group: str, oidc_id: str, region: str
) -> dict[str, Any]:
    """The documents DescribeCluster answers with, from CreateCluster's parameters and EKS's defaults."""
    vpc = params.get("resourcesVpcConfig") or {}
    network = params.get("kubernetesNetworkConfig") or {}
    access = params.get("accessConfig") or {}
    config: dict[str, Any] = {
        "resourcesVpcConfig": {
            "subnetIds": list(vpc.get("subnetIds") or []),
            "securityGroupIds": list(vpc.get("securityGroupIds") or []),
            "clusterSecurityGroupId": cluster_security_group,
            "endpointPublicAccess": vpc.get("endpointPublicAccess", True),
            "endpointPrivateAccess": vpc.get("endpointPrivateAccess", False),
            "publicAccessCidrs": list(vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]),
        },
        "kubernetesNetworkConfig": {
            "serviceIpv4Cidr": network.get("serviceIpv4Cidr") or DEFAULT_SERVICE_CIDR,
            "ipFamily": network.get("ipFamily") or "ipv4",
            "elasticLoadBalancing": network.get("elasticLoadBalancing") or {"enabled": False},
        },
        "logging": params.get("logging") or {"clusterLogging": [{"types": LOG_TYPES, "enabled": False}]},
        "identity": {"oidc": {"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}},
        "accessConfig": {
            "bootstrapClusterCreatorAdminPermissions": access.get(
                "bootstrapClusterCreatorAdminPermissions", True
            ),
            "authenticationMode": access.get("authenticationMode") or DEFAULT_AUTHENTICATION_MODE,
        },
        "upgradePolicy": params.get("upgradePolicy") or {"supportType": "EXTENDED"},
        "deletionProtection": bool(params.get("deletionProtection", False)),
    }
    for key in ("encryptionConfig", "zonalShiftConfig", "computeConfig", "storageConfig"):
        if params.get(key) is not None:
            config[key] = params[key]
    return config


# --- node groups -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scaling:
    min_size: int
    max_size: int
    desired_size: int

    def as_config(self) -> dict[str, int]:
        return {"minSize": self.min_size, "maxSize": self.max_size, "desiredSize": self.desired_size}


def check_scaling(requested: Mapping[str, Any] | None, current: Mapping[str, int] | None = None) -> Scaling:
    """A node group's scaling config: what is asked over the current one (CreateNodegroup: the
    defaults). The model bounds each value (min, desired ≥ 0; max ≥ 1); EKS also wants
    min ≤ desired ≤ max, with its own messages at creation and at update."""
    base = dict(current or DEFAULT_SCALING)
    base.update({k: v for k, v in (requested or {}).items() if v is not None})
    scaling = Scaling(int(base["minSize"]), int(base["maxSize"]), int(base["desiredSize"]))
    creating = current is None
    if scaling.min_size > scaling.desired_size:
        raise InvalidParameterException(
            "minSize can't be greater than desiredSize"
            if creating
            else f"Minimum capacity {scaling.min_size} can't be greater than desired size "
            f"{scaling.desired_size}"
        )
    if scaling.desired_size > scaling.max_size:
        raise InvalidParameterException(
            "desiredSize can't be greater than maxSize"
            if creating
            else f"Desired capacity {scaling.desired_size} can't be greater than max size {scaling.max_size}"
        )
    return scaling


def check_update_config(requested: Mapping[str, Any] | None, max_size: int) -> dict[str, Any]:
    """A node group's update config (default ``maxUnavailable: 1``): one of the two limits, within size."""
    config = dict(requested or {"maxUnavailable": 1})
    count, percent = config.get("maxUnavailable"), config.get("maxUnavailablePercentage")
    if count is not None and percent is not None:
        raise InvalidParameterException(
            "Only one of maxUnavailable or maxUnavailablePercentage may be specified"
        )
    if count is None and percent is None:
        config["maxUnavailable"] = 1
    elif count is not None and count > max_size:
        raise InvalidParameterException(
            "max-unavailable must be within the range 1 and max size of the node group"
        )
    return config


def apply_labels(labels: Mapping[str, str], change: Mapping[str, Any] | None) -> dict[str, str]:
    """UpdateNodegroupConfig's ``labels``: added or updated, then removed."""
    result = dict(labels)
    if not change:
        return result
    result.update(change.get("addOrUpdateLabels") or {})
    for key in change.get("removeLabels") or []:
        result.pop(key, None)
    return result


def apply_taints(
    taints: Sequence[Mapping[str, Any]], change: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """UpdateNodegroupConfig's ``taints``: a taint is identified by key and effect."""
    result = {(t["key"], t.get("effect")): dict(t) for t in taints}
    if change:
        for taint in change.get("addOrUpdateTaints") or []:
            result[(taint["key"], taint.get("effect"))] = dict(taint)
        for taint in change.get("removeTaints") or []:
            result.pop((taint["key"], taint.get("effect")), None)
    return list(result.values())


def scaling_params(before: Mapping[str, int], after: Scaling) -> list[dict[str, str]]:
    """The update's params for the sizes that change (MinSize, MaxSize, DesiredSize)."""
    names = {"minSize": "MinSize", "maxSize": "MaxSize", "desiredSize": "DesiredSize"}
    new = after.as_config()
    return [{"type": names[k], "value": str(new[k])} for k in names if before.get(k) != new[k]]


# --- Fargate profiles ------------------------------------------------------------------------------------


def check_selectors(selectors: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """A Fargate profile's selectors: one to five, each with a namespace and at most five labels."""
    if not selectors:
        raise InvalidParameterException("Fargate Profile requires at least one selector.")
    if len(selectors) > MAX_FARGATE_SELECTORS:
        raise InvalidParameterException(
            f"Fargate Profile can have at most {MAX_FARGATE_SELECTORS} selectors; {len(selectors)} given."
        )
    checked = []
    for selector in selectors:
        if not selector.get("namespace"):
            raise InvalidParameterException(
                "Fargate Profile must have at least one selector with at least one namespace value."
            )
        labels = dict(selector.get("labels") or {})
        if len(labels) > MAX_SELECTOR_LABELS:
            raise InvalidParameterException("Request contains Selector with more than 5 Label pairs")
        checked.append({"namespace": selector["namespace"], "labels": labels})
    return checked


# --- access policies -------------------------------------------------------------------------------------


def check_access_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """``cluster`` takes no namespaces; ``namespace`` needs at least one."""
    kind = scope.get("type")
    namespaces = list(scope.get("namespaces") or [])
    if kind == "cluster" and namespaces:
        raise InvalidParameterException(
            "Namespaces cannot be specified when the access scope type is cluster."
        )
    if kind == "namespace" and not namespaces:
        raise InvalidParameterException(
            "At least one namespace is required when the access scope type is namespace."
        )
    return {"type": kind, "namespaces": namespaces}


def check_policy_arn(policy_arn: str) -> None:
    if policy_arn not in ACCESS_POLICY_ARNS:
        raise InvalidParameterException(f"The specified policyArn {policy_arn} is not a valid access policy.")
