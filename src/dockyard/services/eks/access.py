"""Access entries and access policies: Create/Describe/List/DeleteAccessEntry, ListAccessPolicies,
Associate/DisassociateAccessPolicy, ListAssociatedAccessPolicies."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.eks import rules
from dockyard.services.eks.base import (
    EksBase,
    cluster_or_404,
    next_token,
    offset_token,
    page_after,
    page_offset,
    put_tags,
    tag_map,
)
from dockyard.services.eks.errors import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from dockyard.services.eks.views import access_entry_view, associated_policy_view
from dockyard.store import eks as store
from dockyard.store import tags as tag_store
from dockyard.store.eks import AccessEntryRecord, EksClusterRecord

_NO_ENTRY = (
    "The specified principalArn could not be found. You can view your available access entries with "
    "'list-access-entries'."
)


class AccessOperations(EksBase):
    def create_access_entry(self, ctx: RequestContext, params: Params) -> Result:
        principal = params["principalArn"]
        rules.check_principal_arn(principal)
        entry_type = params.get("type") or "STANDARD"
        if entry_type not in rules.ENTRY_TYPES:
            raise InvalidParameterException(f"The access entry type {entry_type} is not valid.")
        groups = list(params.get("kubernetesGroups") or [])
        if entry_type != "STANDARD" and (groups or params.get("username")):
            raise InvalidParameterException(
                f"Kubernetes groups and username cannot be specified for access entries of type {entry_type}"
            )
        for group in groups:
            if group.startswith("system:"):
                raise InvalidParameterException(
                    f"The kubernetes group name {group} is invalid, it cannot start with system:"
                )
        with self._db.write() as tx:
            cluster = _api_mode_cluster(tx, ctx, params["clusterName"])
            arn = rules.access_entry_arn(
                ctx.region, ctx.account_id, cluster.name, principal, str(uuid.uuid4())
            )
            entry = store.insert_access_entry(
                tx,
                cluster=cluster,
                principal_arn=principal,
                arn=arn,
                entry_type=entry_type,
                username=params.get("username") or rules.default_username(principal),
                kubernetes_groups=groups,
                now=ctx.now,
            )
            if entry is None:
                raise ResourceInUseException(
                    "The specified access entry resource is already in use on this cluster."
                )
            put_tags(tx, ctx.account_id, arn, params.get("tags"))
            return {"accessEntry": access_entry_view(cluster.name, entry, tag_map(tx, ctx.account_id, arn))}

    def describe_access_entry(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            cluster, entry = _entry(tx, ctx, params)
            view = access_entry_view(cluster.name, entry, tag_map(tx, ctx.account_id, entry.arn))
        return {"accessEntry": view}

    def list_access_entries(self, ctx: RequestContext, params: Params) -> Result:
        after, size = page_after(params)
        with self._db.read() as tx:
            cluster = _api_mode_cluster(tx, ctx, params["clusterName"])
            arns = store.list_access_entry_principals(tx, cluster.id, after=after, limit=size + 1)
        return {"accessEntries": arns[:size], "nextToken": next_token(arns, size)}

    def delete_access_entry(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            _, entry = _entry(tx, ctx, params)
            tag_store.remove_all_tags(tx, ctx.account_id, entry.arn)
            store.delete_access_entry(tx, entry.id)
        return {}

    def list_access_policies(self, ctx: RequestContext, params: Params) -> Result:
        start, size = page_offset(params)
        names = rules.ACCESS_POLICY_NAMES
        policies = [{"name": n, "arn": rules.access_policy_arn(n)} for n in names[start : start + size]]
        return {"accessPolicies": policies, "nextToken": offset_token(start, size, len(names))}

    def associate_access_policy(self, ctx: RequestContext, params: Params) -> Result:
        rules.check_policy_arn(params["policyArn"])
        scope = rules.check_access_scope(params["accessScope"])
        with self._db.write() as tx:
            cluster, entry = _entry(tx, ctx, params)
            if entry.entry_type != "STANDARD":
                raise InvalidRequestException("The access entry type does not support access policies.")
            policy = store.put_access_policy(tx, entry.id, params["policyArn"], scope, ctx.now)
        return {
            "clusterName": cluster.name,
            "principalArn": entry.principal_arn,
            "associatedAccessPolicy": associated_policy_view(policy),
        }

    def disassociate_access_policy(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            _, entry = _entry(tx, ctx, params)
            if not store.delete_access_policy(tx, entry.id, params["policyArn"]):
                raise ResourceNotFoundException(
                    f"The specified policyArn {params['policyArn']} is not associated with the principalArn."
                )
        return {}

    def list_associated_access_policies(self, ctx: RequestContext, params: Params) -> Result:
        start, size = page_offset(params)
        with self._db.read() as tx:
            cluster, entry = _entry(tx, ctx, params)
            policies = store.list_access_policies(tx, entry.id)
        return {
            "clusterName": cluster.name,
            "principalArn": entry.principal_arn,
            "associatedAccessPolicies": [associated_policy_view(p) for p in policies[start : start + size]],
            "nextToken": offset_token(start, size, len(policies)),
        }


def _api_mode_cluster(tx: Connection, ctx: RequestContext, name: str) -> EksClusterRecord:
    """The cluster, whose authentication mode must allow access entries."""
    cluster = cluster_or_404(tx, ctx, name)
    mode = cluster.config.get("accessConfig", {}).get("authenticationMode")
    if mode not in rules.ACCESS_ENTRY_MODES:
        raise InvalidRequestException(
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform "
            "this operation."
        )
    return cluster


def _entry(tx: Connection, ctx: RequestContext, params: Params) -> tuple[EksClusterRecord, AccessEntryRecord]:
    cluster = _api_mode_cluster(tx, ctx, params["clusterName"])
    entry = store.find_access_entry(tx, cluster.id, params["principalArn"])
    if entry is None:
        raise ResourceNotFoundException(_NO_ENTRY)
    return cluster, entry
