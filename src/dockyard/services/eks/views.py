"""Stored EKS records as the API's documents (Cluster, Nodegroup, FargateProfile, Update, AccessEntry…)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.services.eks.certificates import certificate_authority_data
from dockyard.store.eks import (
    AccessEntryRecord,
    AccessPolicyRecord,
    ClusterPartRecord,
    EksClusterRecord,
    UpdateRecord,
)

ENDPOINT_HOST = "127.0.0.1"
SERVING_STATUSES = ("ACTIVE", "UPDATING")
"""A cluster shows its endpoint and CA only once it serves (never while CREATING)."""


def endpoint_url(port: int) -> str:
    return f"https://{ENDPOINT_HOST}:{port}"


def cluster_view(
    cluster: EksClusterRecord, tags: Mapping[str, str], ca_cert_pem: str | None
) -> dict[str, Any]:
    serving = cluster.status in SERVING_STATUSES
    view: dict[str, Any] = {
        "name": cluster.name,
        "arn": cluster.arn,
        "createdAt": cluster.created_at,
        "version": cluster.version,
        "roleArn": cluster.role_arn,
        "status": cluster.status,
        "platformVersion": cluster.platform_version,
        "clientRequestToken": cluster.client_request_token,
        "tags": dict(tags),
        "health": {"issues": []},
        **cluster.config,
    }
    if serving:
        view["endpoint"] = endpoint_url(cluster.endpoint_port)
        if ca_cert_pem is not None:
            view["certificateAuthority"] = {"data": certificate_authority_data(ca_cert_pem)}
    else:
        view["certificateAuthority"] = {}
    return view


def nodegroup_view(cluster_name: str, part: ClusterPartRecord, tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "nodegroupName": part.name,
        "nodegroupArn": part.arn,
        "clusterName": cluster_name,
        "createdAt": part.created_at,
        "modifiedAt": part.modified_at,
        "status": part.status,
        "health": {"issues": []},
        "tags": dict(tags),
        **part.config,
    }


def fargate_profile_view(
    cluster_name: str, part: ClusterPartRecord, tags: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "fargateProfileName": part.name,
        "fargateProfileArn": part.arn,
        "clusterName": cluster_name,
        "createdAt": part.created_at,
        "status": part.status,
        "health": {"issues": []},
        "tags": dict(tags),
        **part.config,
    }


def update_view(update: UpdateRecord) -> dict[str, Any]:
    return {
        "id": update.update_id,
        "status": update.status,
        "type": update.update_type,
        "params": update.params,
        "createdAt": update.created_at,
        "errors": [],
    }


def access_entry_view(cluster_name: str, entry: AccessEntryRecord, tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "clusterName": cluster_name,
        "principalArn": entry.principal_arn,
        "kubernetesGroups": entry.kubernetes_groups,
        "accessEntryArn": entry.arn,
        "createdAt": entry.created_at,
        "modifiedAt": entry.modified_at,
        "tags": dict(tags),
        "username": entry.username,
        "type": entry.entry_type,
    }


def associated_policy_view(policy: AccessPolicyRecord) -> dict[str, Any]:
    return {
        "policyArn": policy.policy_arn,
        "accessScope": policy.access_scope,
        "associatedAt": policy.associated_at,
        "modifiedAt": policy.modified_at,
    }
