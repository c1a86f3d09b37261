"""Node groups and Fargate profiles: Create/Describe/List/Delete (the nodes themselves come later; the
configuration is stored)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table

from dockyard.core.context import RequestContext
from dockyard.core.errors import ApiError
from dockyard.services.base import Params, Result
from dockyard.services.eks import rules
from dockyard.services.eks.base import (
    EksBase,
    active_cluster,
    cluster_or_404,
    next_token,
    page_after,
    put_tags,
    tag_map,
)
from dockyard.services.eks.errors import (
    InvalidParameterException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from dockyard.services.eks.views import fargate_profile_view, nodegroup_view
from dockyard.store import eks as store
from dockyard.store.eks import FARGATE_PROFILES, NODEGROUPS, ClusterPartRecord, EksClusterRecord


@dataclass(frozen=True, slots=True)
class _PartKind:
    """What differs between node groups and Fargate profiles in their Create/Describe/Delete."""

    table: Table
    arn_kind: str
    """The ARN's resource type: ``nodegroup`` or ``fargateprofile``."""
    name_param: str
    reply_key: str
    not_found: str
    """EKS's ResourceNotFoundException message, ``{name}`` standing for the part's name."""
    view: Callable[[str, ClusterPartRecord, Mapping[str, str]], dict[str, Any]]


NODEGROUP = _PartKind(
    NODEGROUPS,
    "nodegroup",
    "nodegroupName",
    "nodegroup",
    "No node group found for name: {name}.",
    nodegroup_view,
)
FARGATE_PROFILE = _PartKind(
    FARGATE_PROFILES,
    "fargateprofile",
    "fargateProfileName",
    "fargateProfile",
    "No Fargate Profile found with name: {name}.",
    fargate_profile_view,
)


class PartOperations(EksBase):
    def create_nodegroup(self, ctx: RequestContext, params: Params) -> Result:
        name = params["nodegroupName"]
        scaling = rules.check_scaling(params.get("scalingConfig"))
        config = {
            "version": params.get("version"),
            "capacityType": params.get("capacityType") or "ON_DEMAND",
            "scalingConfig": scaling.as_config(),
            "instanceTypes": list(params.get("instanceTypes") or rules.DEFAULT_INSTANCE_TYPES),
            "subnets": list(params["subnets"]),
            "remoteAccess": params.get("remoteAccess"),
            "amiType": params.get("amiType") or rules.DEFAULT_AMI_TYPE,
            "nodeRole": params["nodeRole"],
            "labels": dict(params.get("labels") or {}),
            "taints": list(params.get("taints") or []),
            "diskSize": None
            if params.get("launchTemplate")
            else params.get("diskSize", rules.DEFAULT_DISK_SIZE),
            "updateConfig": rules.check_update_config(params.get("updateConfig"), scaling.max_size),
            "launchTemplate": params.get("launchTemplate"),
        }

        def complete(cluster: EksClusterRecord) -> None:
            version = config["version"] or cluster.version
            config.update(version=version, releaseVersion=f"{version}.0-20251201")

        return self._create(
            ctx,
            NODEGROUP,
            params,
            config,
            exists=lambda cluster: ResourceInUseException(
                f"NodeGroup already exists with name {name} and cluster name {cluster.name}"
            ),
            complete=complete,
        )

    def describe_nodegroup(self, ctx: RequestContext, params: Params) -> Result:
        return self._describe(ctx, NODEGROUP, params)

    def list_nodegroups(self, ctx: RequestContext, params: Params) -> Result:
        return self._list(ctx, params, NODEGROUPS, "nodegroups")

    def delete_nodegroup(self, ctx: RequestContext, params: Params) -> Result:
        return self._delete(ctx, NODEGROUP, params)

    def create_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        config = {
            "podExecutionRoleArn": params["podExecutionRoleArn"],
            "subnets": list(params.get("subnets") or []),
            "selectors": rules.check_selectors(params.get("selectors")),
        }
        return self._create(
            ctx,
            FARGATE_PROFILE,
            params,
            config,
            exists=lambda _cluster: InvalidParameterException(
                "A Fargate Profile already exists with this name in this cluster."
            ),
        )

    def describe_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._describe(ctx, FARGATE_PROFILE, params)

    def list_fargate_profiles(self, ctx: RequestContext, params: Params) -> Result:
        return self._list(ctx, params, FARGATE_PROFILES, "fargateProfileNames")

    def delete_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._delete(ctx, FARGATE_PROFILE, params)

    # --- shared by both kinds -----------------------------------------------------------------------------

    def _create(
        self,
        ctx: RequestContext,
        kind: _PartKind,
        params: Params,
        config: dict[str, Any],
        *,
        exists: Callable[[EksClusterRecord], ApiError],
        complete: Callable[[EksClusterRecord], None] | None = None,
    ) -> Result:
        """Store a new part of an ACTIVE cluster (``complete`` fills in what depends on the cluster)."""
        name = params[kind.name_param]
        with self._db.write() as tx:
            cluster = active_cluster(tx, ctx, params["clusterName"])
            if complete is not None:
                complete(cluster)
            arn = rules.part_arn(
                kind.arn_kind, ctx.region, ctx.account_id, cluster.name, name, str(uuid.uuid4())
            )
            part = store.insert_part(
                tx,
                kind.table,
                cluster=cluster,
                name=name,
                arn=arn,
                status="CREATING",
                config=config,
                now=ctx.now,
            )
            if part is None:
                raise exists(cluster)
            put_tags(tx, ctx.account_id, arn, params.get("tags"))
            view = kind.view(cluster.name, part, tag_map(tx, ctx.account_id, arn))
        self._wake(cluster)
        return {kind.reply_key: view}

    def _describe(self, ctx: RequestContext, kind: _PartKind, params: Params) -> Result:
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = self._part_or_404(tx, kind, cluster, params)
            return {kind.reply_key: kind.view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))}

    def _delete(self, ctx: RequestContext, kind: _PartKind, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = self._part_or_404(tx, kind, cluster, params)
            if part.status != "DELETING":
                store.save_part(tx, kind.table, part.id, now=ctx.now, status="DELETING")
                part = store.find_part(tx, kind.table, cluster.id, part.name) or part
            view = kind.view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))
        self._wake(cluster)
        return {kind.reply_key: view}

    @staticmethod
    def _part_or_404(
        tx: Connection, kind: _PartKind, cluster: EksClusterRecord, params: Params
    ) -> ClusterPartRecord:
        part = store.find_part(tx, kind.table, cluster.id, params[kind.name_param])
        if part is None:
            raise ResourceNotFoundException(kind.not_found.format(name=params[kind.name_param]))
        return part

    def _list(self, ctx: RequestContext, params: Params, table: Table, key: str) -> Result:
        after, size = page_after(params)
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            names = store.list_part_names(tx, table, cluster.id, after=after, limit=size + 1)
        return {key: names[:size], "nextToken": next_token(names, size)}
