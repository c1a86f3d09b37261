"""UpdateClusterVersion, DescribeUpdate and ListUpdates (InProgress → Successful by the controller)."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.eks import rules
from dockyard.services.eks.base import EksBase, cluster_or_404, offset_token, page_offset
from dockyard.services.eks.errors import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from dockyard.services.eks.views import update_view
from dockyard.store import eks as store
from dockyard.store.eks import NODEGROUPS, UpdateRecord


class UpdateOperations(EksBase):
    def update_cluster_version(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, params["name"])
            if cluster.status == "UPDATING":
                raise ResourceInUseException(f"An update is already in progress for cluster {cluster.name}.")
            if cluster.status != "ACTIVE":
                raise InvalidRequestException(f"Cluster '{cluster.name}' is not in ACTIVE status")
            rules.check_version_upgrade(cluster.version, params["version"])
            record = UpdateRecord(
                cluster_id=cluster.id,
                update_id=str(uuid.uuid4()),
                nodegroup_name=None,
                update_type="VersionUpdate",
                status="InProgress",
                params=[
                    {"type": "Version", "value": params["version"]},
                    {"type": "PlatformVersion", "value": rules.PLATFORM_VERSION},
                ],
                created_at=ctx.now,
            )
            store.insert_update(tx, record)
            store.save_cluster(tx, cluster.id, now=ctx.now, status="UPDATING")
        self._wake(cluster)
        return {"update": update_view(record)}

    def update_nodegroup_config(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, params["clusterName"])
            part = store.find_part(tx, NODEGROUPS, cluster.id, params["nodegroupName"])
            if part is None:
                raise ResourceNotFoundException(f"No node group found for name: {params['nodegroupName']}.")
            if part.status != "ACTIVE":
                raise ResourceInUseException(
                    "Nodegroup cannot be updated as it is currently not in Active State"
                )
            config = dict(part.config)
            before = config["scalingConfig"]
            scaling = rules.check_scaling(params.get("scalingConfig"), before)
            changes = rules.scaling_params(before, scaling)
            config["scalingConfig"] = scaling.as_config()
            if params.get("updateConfig") is not None:
                config["updateConfig"] = rules.check_update_config(params["updateConfig"], scaling.max_size)
                changes += [
                    {"type": "MaxUnavailable", "value": str(v)}
                    for v in [config["updateConfig"].get("maxUnavailable")]
                    if v is not None
                ]
            if params.get("labels") is not None:
                config["labels"] = rules.apply_labels(config.get("labels") or {}, params["labels"])
                changes.append(
                    {"type": "LabelsToAdd", "value": str(params["labels"].get("addOrUpdateLabels"))}
                )
            if params.get("taints") is not None:
                config["taints"] = rules.apply_taints(config.get("taints") or [], params["taints"])
                changes.append(
                    {"type": "TaintsToAdd", "value": str(params["taints"].get("addOrUpdateTaints"))}
                )
            if not changes:
                raise InvalidParameterException("No changes needed")
            record = UpdateRecord(
                cluster_id=cluster.id,
                update_id=str(uuid.uuid4()),
                nodegroup_name=part.name,
                update_type="ConfigUpdate",
                status="InProgress",
                params=changes,
                created_at=ctx.now,
            )
            store.insert_update(tx, record)
            store.save_part(tx, NODEGROUPS, part.id, now=ctx.now, status="UPDATING", config=config)
        self._wake(cluster)
        return {"update": update_view(record)}

    def describe_update(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["name"])
            nodegroup = self._nodegroup_name(tx, cluster.id, params)
            found = store.find_update(tx, cluster.id, params["updateId"], nodegroup)
        if found is None:
            raise ResourceNotFoundException(f"No update found for ID: {params['updateId']}")
        return {"update": update_view(found)}

    def list_updates(self, ctx: RequestContext, params: Params) -> Result:
        start, size = page_offset(params)
        with self._db.read() as tx:
            cluster = cluster_or_404(tx, ctx, params["name"])
            nodegroup = self._nodegroup_name(tx, cluster.id, params)
            ids = [u.update_id for u in store.list_updates(tx, cluster.id, nodegroup)]
        return {"updateIds": ids[start : start + size], "nextToken": offset_token(start, size, len(ids))}

    @staticmethod
    def _nodegroup_name(tx: Connection, cluster_id: int, params: Params) -> str | None:
        name = params.get("nodegroupName")
        if name is None:
            return None
        if store.find_part(tx, NODEGROUPS, cluster_id, name) is None:
            raise ResourceNotFoundException(f"No node group found for name: {name}.")
        return str(name)
