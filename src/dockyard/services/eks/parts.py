"""Node groups and Fargate profiles: Create/Describe/List/Delete (the nodes themselves come later; the
configuration is stored)."""

from __future__ import annotations

import uuid

from sqlalchemy import Table

from dockyard.core.context import RequestContext
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
from dockyard.store.eks import FARGATE_PROFILES, NODEGROUPS


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
        with self._db.write() as tx:
            cluster = active_cluster(tx, ctx, params["clusterName"])
            version = config["version"] or cluster.version
            config.update(version=version, releaseVersion=f"{version}.0-20251201")
            arn = rules.part_arn(
                "nodegroup", ctx.region, ctx.account_id, cluster.name, name, str(uuid.uuid4())
            )
            part = store.insert_part(
                tx,
                NODEGROUPS,
                cluster=cluster,
                name=name,
                arn=arn,
                status="CREATING",
                config=config,
                now=ctx.now,
            )
            if part is None:
                raise ResourceInUseException(
                    f"NodeGroup already exists with name {name} and cluster name {cluster.name}"
                )
            put_tags(tx, ctx.account_id, arn, params.get("tags"))
            view = nodegroup_view(cluster.name, part, tag_map(tx, ctx.account_id, arn))
        self._wake(cluster)
        return {"nodegroup": view}

    def describe_nodegroup(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = store.find_part(tx, NODEGROUPS, cluster.id, params["nodegroupName"])
            if part is None:
                raise ResourceNotFoundException(f"No node group found for name: {params['nodegroupName']}.")
            return {"nodegroup": nodegroup_view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))}

    def list_nodegroups(self, ctx: RequestContext, params: Params) -> Result:
        return self._list(ctx, params, NODEGROUPS, "nodegroups")

    def delete_nodegroup(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = store.find_part(tx, NODEGROUPS, cluster.id, params["nodegroupName"])
            if part is None:
                raise ResourceNotFoundException(f"No node group found for name: {params['nodegroupName']}.")
            if part.status != "DELETING":
                store.save_part(tx, NODEGROUPS, part.id, now=ctx.now, status="DELETING")
                part = store.find_part(tx, NODEGROUPS, cluster.id, part.name) or part
            view = nodegroup_view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))
        self._wake(cluster)
        return {"nodegroup": view}

    def create_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        name = params["fargateProfileName"]
        config = {
            "podExecutionRoleArn": params["podExecutionRoleArn"],
            "subnets": list(params.get("subnets") or []),
            "selectors": rules.check_selectors(params.get("selectors")),
        }
        with self._db.write() as tx:
            cluster = active_cluster(tx, ctx, params["clusterName"])
            arn = rules.part_arn(
                "fargateprofile", ctx.region, ctx.account_id, cluster.name, name, str(uuid.uuid4())
            )
            part = store.insert_part(
                tx,
                FARGATE_PROFILES,
                cluster=cluster,
                name=name,
                arn=arn,
                status="CREATING",
                config=config,
                now=ctx.now,
            )
            if part is None:
                raise InvalidParameterException(
                    "A Fargate Profile already exists with this name in this cluster."
                )
            put_tags(tx, ctx.account_id, arn, params.get("tags"))
            view = fargate_profile_view(cluster.name, part, tag_map(tx, ctx.account_id, arn))
        self._wake(cluster)
        return {"fargateProfile": view}

    def describe_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = store.find_part(tx, FARGATE_PROFILES, cluster.id, params["fargateProfileName"])
            if part is None:
                raise ResourceNotFoundException(
                    f"No Fargate Profile found with name: {params['fargateProfileName']}."
                )
            view = fargate_profile_view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))
            return {"fargateProfile": view}

    def list_fargate_profiles(self, ctx: RequestContext, params: Params) -> Result:
        return self._list(ctx, params, FARGATE_PROFILES, "fargateProfileNames")

    def delete_fargate_profile(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = store.find_part(tx, FARGATE_PROFILES, cluster.id, params["fargateProfileName"])
            if part is None:
                raise ResourceNotFoundException(
                    f"No Fargate Profile found with name: {params['fargateProfileName']}."
                )
            if part.status != "DELETING":
                store.save_part(tx, FARGATE_PROFILES, part.id, now=ctx.now, status="DELETING")
                part = store.find_part(tx, FARGATE_PROFILES, cluster.id, part.name) or part
            view = fargate_profile_view(cluster.name, part, tag_map(tx, ctx.account_id, part.arn))
        self._wake(cluster)
        return {"fargateProfile": view}

    def _list(self, ctx: RequestContext, params: Params, table: Table, key: str) -> Result:
        after, size = page_after(params)
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            names = store.list_part_names(tx, table, cluster.id, after=after, limit=size + 1)
        return {key: names[:size], "nextToken": next_token(names, size)}
