"""Finding what an ECS call names, with ECS's errors: the cluster, the task definition. Shared by the
task, container instance and service operations."""

from __future__ import annotations

from sqlalchemy import Connection

from dockyard.control.changes import ClusterRef
from dockyard.core.context import RequestContext
from dockyard.services.ecs import naming
from dockyard.services.ecs import task_definition_rules as definition_rules
from dockyard.services.ecs.errors import ClientException, ClusterNotFoundException, InvalidParameterException
from dockyard.store import clusters as cluster_store
from dockyard.store import task_definitions as definition_store
from dockyard.store.clusters import ClusterRecord
from dockyard.store.task_definitions import TaskDefinitionRecord

DEFINITION_NOT_FOUND = "TaskDefinition not found."


def visible_cluster(
    ctx: RequestContext, tx: Connection, reference: str | None, *, active: bool
) -> ClusterRecord:
    """The caller's cluster ``reference`` names (``default`` when absent); ClusterNotFoundException if
    there is none, or (with ``active``) it is INACTIVE."""
    name = naming.cluster_name_from_reference(reference, region=ctx.region, account_id=ctx.account_id)
    record = cluster_store.find_cluster(tx, ctx.account_id, ctx.region, name) if name else None
    if record is None or (active and record.status != cluster_store.ACTIVE):
        raise ClusterNotFoundException()
    return record


def active_definition(ctx: RequestContext, tx: Connection, reference: str) -> TaskDefinitionRecord:
    """The ACTIVE task definition ``reference`` names (family = its latest ACTIVE revision)."""
    ref = definition_rules.parse_reference(reference, region=ctx.region, account_id=ctx.account_id)
    record = None
    if ref is not None and ref.revision is None:
        record = definition_store.find_latest_active(tx, ctx.account_id, ctx.region, ref.family)
    elif ref is not None and ref.revision is not None:
        record = definition_store.find_task_definition(
            tx, ctx.account_id, ctx.region, ref.family, ref.revision
        )
    if record is None or record.status == definition_store.DELETE_IN_PROGRESS:
        raise InvalidParameterException(DEFINITION_NOT_FOUND)
    if record.status != definition_store.ACTIVE:
        raise ClientException("TaskDefinition is inactive")
    return record


def cluster_ref(cluster: ClusterRecord) -> ClusterRef:
    """Where a change happened, for the change feed."""
    return ClusterRef(cluster.account_id, cluster.region, cluster.name)
