"""EKS storage: clusters with their PKI and endpoint port, node groups, Fargate profiles, updates and
access entries, inside the caller's transaction.

Layout (``schema.py``, EKS section)::

    eks_clusters          (account_id, region, name) unique · status, version, config (JSON), endpoint_port
                          (unique server-wide), creator_arn
    eks_cluster_pki       cluster_id → CA certificate + key, serving certificate + key (PEM)
    eks_nodegroups        (cluster_id, name) unique · status, config (JSON)
    eks_fargate_profiles  (cluster_id, name) unique · status, config (JSON)
    eks_updates           update_id unique · cluster_id, nodegroup_name (NULL: the cluster's), type, status,
                          params (JSON)
    eks_access_entries    (cluster_id, principal_arn) unique · type, username, kubernetes groups
    eks_access_policies   (entry_id, policy_arn) · access scope (JSON)

Children carry the cluster's row id, so a cluster deleted and made again under the same name starts empty.
Lists are ordered by name (principal ARN for access entries) and paged after the last name returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.store import kube
from dockyard.store.schema import (
    eks_access_entries,
    eks_access_policies,
    eks_cluster_pki,
    eks_clusters,
    eks_fargate_profiles,
    eks_nodegroups,
    eks_updates,
)


@dataclass(frozen=True, slots=True)
class EksClusterRecord:
    id: int
    account_id: str
    region: str
    name: str
    arn: str
    status: str
    version: str
    platform_version: str
    role_arn: str
    config: dict[str, Any]
    """The documents DescribeCluster answers with besides the columns (resourcesVpcConfig, logging…)."""
    client_request_token: str | None
    endpoint_port: int
    creator_arn: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClusterPki:
    """A cluster's certificate authority and the serving certificate it signed, PEM-encoded."""

    ca_cert_pem: str
    ca_key_pem: str
    serving_cert_pem: str
    serving_key_pem: str


@dataclass(frozen=True, slots=True)
class ClusterPartRecord:
    """A node group or a Fargate profile."""

    id: int
    cluster_id: int
    account_id: str
    region: str
    name: str
    arn: str
    status: str
    config: dict[str, Any]
    created_at: datetime
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    cluster_id: int
    update_id: str
    nodegroup_name: str | None
    update_type: str
    status: str
    params: list[dict[str, str]]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessEntryRecord:
    id: int
    cluster_id: int
    account_id: str
    region: str
    principal_arn: str
    arn: str
    entry_type: str
    username: str
    kubernetes_groups: list[str]
    created_at: datetime
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class AccessPolicyRecord:
    entry_id: int
    policy_arn: str
    access_scope: dict[str, Any]
    associated_at: datetime
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class ClusterWork:
    """Where a cluster's controller has something to do (the keys of its resync)."""

    account_id: str
    region: str
    name: str


NODEGROUPS = eks_nodegroups
FARGATE_PROFILES = eks_fargate_profiles
_SETTLED = "ACTIVE"


# --- clusters --------------------------------------------------------------------------------------------


def insert_cluster(
    conn: Connection,
    *,
    account_id: str,
    region: str,
    name: str,
    arn: str,
    status: str,
    version: str,
    platform_version: str,
    role_arn: str,
    config: dict[str, Any],
    client_request_token: str | None,
    endpoint_port: int,
    creator_arn: str,
    pki: ClusterPki,
    now: datetime,
) -> EksClusterRecord | None:
    """Store a new cluster with its PKI; None if the account has one of that name in the region, or the
    port was taken meanwhile (the caller's transaction is then unusable only on PostgreSQL: a savepoint
    keeps it usable)."""
    values = {
        "account_id": account_id,
        "region": region,
        "name": name,
        "arn": arn,
        "status": status,
        "version": version,
        "platform_version": platform_version,
        "role_arn": role_arn,
        "config": _dump(config),
        "client_request_token": client_request_token,
        "endpoint_port": endpoint_port,
        "creator_arn": creator_arn,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            row = conn.execute(insert(eks_clusters).values(**values).returning(*eks_clusters.c)).one()
    except IntegrityError:
        return None
    record = _cluster(row._mapping)
    conn.execute(
        insert(eks_cluster_pki).values(
            cluster_id=record.id,
            ca_cert_pem=pki.ca_cert_pem,
            ca_key_pem=pki.ca_key_pem,
            serving_cert_pem=pki.serving_cert_pem,
            serving_key_pem=pki.serving_key_pem,
        )
    )
    return record


def find_cluster(conn: Connection, account_id: str, region: str, name: str) -> EksClusterRecord | None:
    row = conn.execute(
        select(eks_clusters).where(
            eks_clusters.c.account_id == account_id,
            eks_clusters.c.region == region,
            eks_clusters.c.name == name,
        )
    ).first()
    return None if row is None else _cluster(row._mapping)


def find_cluster_by_arn(conn: Connection, account_id: str, arn: str) -> EksClusterRecord | None:
    row = conn.execute(
        select(eks_clusters).where(eks_clusters.c.account_id == account_id, eks_clusters.c.arn == arn)
    ).first()
    return None if row is None else _cluster(row._mapping)


def list_cluster_names(
    conn: Connection, account_id: str, region: str, *, after: str | None, limit: int
) -> list[str]:
    query = select(eks_clusters.c.name).where(
        eks_clusters.c.account_id == account_id, eks_clusters.c.region == region
    )
    if after is not None:
        query = query.where(eks_clusters.c.name > after)
    return [str(n) for n in conn.execute(query.order_by(eks_clusters.c.name).limit(limit)).scalars()]


def save_cluster(
    conn: Connection, cluster_id: int, *, now: datetime, status: str | None = None, version: str | None = None
) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if status is not None:
        values["status"] = status
    if version is not None:
        values["version"] = version
    conn.execute(update(eks_clusters).where(eks_clusters.c.id == cluster_id).values(**values))


def used_ports(conn: Connection) -> set[int]:
    """Every endpoint port held by a cluster of any account (ports are a server-wide resource)."""
    return {int(p) for p in conn.execute(select(eks_clusters.c.endpoint_port)).scalars()}


def cluster_pki(conn: Connection, cluster_id: int) -> ClusterPki | None:
    row = conn.execute(select(eks_cluster_pki).where(eks_cluster_pki.c.cluster_id == cluster_id)).first()
    if row is None:
        return None
    m = row._mapping
    return ClusterPki(m["ca_cert_pem"], m["ca_key_pem"], m["serving_cert_pem"], m["serving_key_pem"])


def ca_certificates(conn: Connection, cluster_ids: Iterable[int]) -> dict[int, str]:
    """The CA certificate (PEM) of each of ``cluster_ids`` that has one; no private key is read."""
    wanted = list(set(cluster_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(eks_cluster_pki.c.cluster_id, eks_cluster_pki.c.ca_cert_pem).where(
            eks_cluster_pki.c.cluster_id.in_(wanted)
        )
    )
    return {int(cid): str(pem) for cid, pem in rows}


def delete_cluster(conn: Connection, cluster_id: int) -> None:
    """Remove the cluster and everything that belongs to it (its parts must be gone or go with it),
    its Kubernetes objects included."""
    kube.forget_cluster(conn, cluster_id)
    entry_ids = select(eks_access_entries.c.id).where(eks_access_entries.c.cluster_id == cluster_id)
    conn.execute(delete(eks_access_policies).where(eks_access_policies.c.entry_id.in_(entry_ids)))
    for table in (eks_access_entries, eks_updates, eks_nodegroups, eks_fargate_profiles, eks_cluster_pki):
        conn.execute(delete(table).where(table.c.cluster_id == cluster_id))
    conn.execute(delete(eks_clusters).where(eks_clusters.c.id == cluster_id))


def clusters_with_work(conn: Connection) -> list[ClusterWork]:
    """Clusters, node groups or Fargate profiles not ACTIVE, and clusters with an update in progress."""
    clusters = eks_clusters.c
    unsettled = select(clusters.account_id, clusters.region, clusters.name).where(clusters.status != _SETTLED)
    queries = [unsettled]
    for table in (eks_nodegroups, eks_fargate_profiles):
        queries.append(
            select(clusters.account_id, clusters.region, clusters.name)
            .join(table, table.c.cluster_id == clusters.id)
            .where(table.c.status != _SETTLED)
        )
    queries.append(
        select(clusters.account_id, clusters.region, clusters.name)
        .join(eks_updates, eks_updates.c.cluster_id == clusters.id)
        .where(eks_updates.c.status == "InProgress")
    )
    found: set[ClusterWork] = set()
    for query in queries:
        found.update(ClusterWork(str(a), str(r), str(n)) for a, r, n in conn.execute(query))
    return sorted(found, key=lambda w: (w.account_id, w.region, w.name))


# --- node groups and Fargate profiles -------------------------------------------------------------------


def insert_part(
    conn: Connection,
    table: Table,
    *,
    cluster: EksClusterRecord,
    name: str,
    arn: str,
    status: str,
    config: dict[str, Any],
    now: datetime,
) -> ClusterPartRecord | None:
    """Store a node group (``NODEGROUPS``) or Fargate profile (``FARGATE_PROFILES``); None if the cluster
    has one of that name."""
    values = {
        "cluster_id": cluster.id,
        "account_id": cluster.account_id,
        "region": cluster.region,
        "name": name,
        "arn": arn,
        "status": status,
        "config": _dump(config),
        "created_at": now,
        "modified_at": now,
    }
    try:
        with conn.begin_nested():
            row = conn.execute(insert(table).values(**values).returning(*table.c)).one()
    except IntegrityError:
        return None
    return _part(row._mapping)


def find_part(conn: Connection, table: Table, cluster_id: int, name: str) -> ClusterPartRecord | None:
    row = conn.execute(select(table).where(table.c.cluster_id == cluster_id, table.c.name == name)).first()
    return None if row is None else _part(row._mapping)


def find_part_by_arn(conn: Connection, table: Table, account_id: str, arn: str) -> ClusterPartRecord | None:
    row = conn.execute(select(table).where(table.c.account_id == account_id, table.c.arn == arn)).first()
    return None if row is None else _part(row._mapping)


def list_parts(conn: Connection, table: Table, cluster_id: int) -> list[ClusterPartRecord]:
    rows = conn.execute(select(table).where(table.c.cluster_id == cluster_id).order_by(table.c.name))
    return [_part(r._mapping) for r in rows]


def list_part_names(
    conn: Connection, table: Table, cluster_id: int, *, after: str | None, limit: int
) -> list[str]:
    query = select(table.c.name).where(table.c.cluster_id == cluster_id)
    if after is not None:
        query = query.where(table.c.name > after)
    return [str(n) for n in conn.execute(query.order_by(table.c.name).limit(limit)).scalars()]


def save_part(
    conn: Connection,
    table: Table,
    part_id: int,
    *,
    now: datetime,
    status: str | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"modified_at": now}
    if status is not None:
        values["status"] = status
    if config is not None:
        values["config"] = _dump(config)
    conn.execute(update(table).where(table.c.id == part_id).values(**values))


def delete_part(conn: Connection, table: Table, part_id: int) -> None:
    conn.execute(delete(table).where(table.c.id == part_id))


# --- updates ---------------------------------------------------------------------------------------------


def insert_update(conn: Connection, record: UpdateRecord) -> None:
    conn.execute(
        insert(eks_updates).values(
            cluster_id=record.cluster_id,
            update_id=record.update_id,
            nodegroup_name=record.nodegroup_name,
            update_type=record.update_type,
            status=record.status,
            params=_dump(record.params),
            created_at=record.created_at,
        )
    )


def find_update(
    conn: Connection, cluster_id: int, update_id: str, nodegroup_name: str | None
) -> UpdateRecord | None:
    row = conn.execute(
        select(eks_updates).where(
            eks_updates.c.cluster_id == cluster_id,
            eks_updates.c.update_id == update_id,
            _nodegroup_is(nodegroup_name),
        )
    ).first()
    return None if row is None else _update(row._mapping)


def list_updates(
    conn: Connection, cluster_id: int, nodegroup_name: str | None, *, in_progress_only: bool = False
) -> list[UpdateRecord]:
    """The cluster's own updates (``nodegroup_name`` None) or a node group's, oldest first."""
    query = select(eks_updates).where(eks_updates.c.cluster_id == cluster_id, _nodegroup_is(nodegroup_name))
    if in_progress_only:
        query = query.where(eks_updates.c.status == "InProgress")
    rows = conn.execute(query.order_by(eks_updates.c.created_at, eks_updates.c.id))
    return [_update(r._mapping) for r in rows]


def list_all_updates(conn: Connection, cluster_id: int, *, in_progress_only: bool) -> list[UpdateRecord]:
    """Every update of the cluster and of its node groups, oldest first."""
    query = select(eks_updates).where(eks_updates.c.cluster_id == cluster_id)
    if in_progress_only:
        query = query.where(eks_updates.c.status == "InProgress")
    rows = conn.execute(query.order_by(eks_updates.c.created_at, eks_updates.c.id))
    return [_update(r._mapping) for r in rows]


def set_update_status(conn: Connection, update_id: str, status: str) -> None:
    conn.execute(update(eks_updates).where(eks_updates.c.update_id == update_id).values(status=status))


def delete_nodegroup_updates(conn: Connection, cluster_id: int, nodegroup_name: str) -> None:
    conn.execute(
        delete(eks_updates).where(
            eks_updates.c.cluster_id == cluster_id, eks_updates.c.nodegroup_name == nodegroup_name
        )
    )


def _nodegroup_is(nodegroup_name: str | None) -> Any:
    column = eks_updates.c.nodegroup_name
    return column.is_(None) if nodegroup_name is None else column == nodegroup_name


# --- access entries and their policies ------------------------------------------------------------------


def insert_access_entry(
    conn: Connection,
    *,
    cluster: EksClusterRecord,
    principal_arn: str,
    arn: str,
    entry_type: str,
    username: str,
    kubernetes_groups: Sequence[str],
    now: datetime,
) -> AccessEntryRecord | None:
    """Store an access entry; None if the cluster has one for that principal."""
    values = {
        "cluster_id": cluster.id,
        "account_id": cluster.account_id,
        "region": cluster.region,
        "principal_arn": principal_arn,
        "arn": arn,
        "entry_type": entry_type,
        "username": username,
        "kubernetes_groups": _dump(list(kubernetes_groups)),
        "created_at": now,
        "modified_at": now,
    }
    try:
        with conn.begin_nested():
            row = conn.execute(
                insert(eks_access_entries).values(**values).returning(*eks_access_entries.c)
            ).one()
    except IntegrityError:
        return None
    return _entry(row._mapping)


def find_access_entry(conn: Connection, cluster_id: int, principal_arn: str) -> AccessEntryRecord | None:
    row = conn.execute(
        select(eks_access_entries).where(
            eks_access_entries.c.cluster_id == cluster_id, eks_access_entries.c.principal_arn == principal_arn
        )
    ).first()
    return None if row is None else _entry(row._mapping)


def find_access_entry_by_arn(conn: Connection, account_id: str, arn: str) -> AccessEntryRecord | None:
    row = conn.execute(
        select(eks_access_entries).where(
            eks_access_entries.c.account_id == account_id, eks_access_entries.c.arn == arn
        )
    ).first()
    return None if row is None else _entry(row._mapping)


def list_access_entry_principals(
    conn: Connection, cluster_id: int, *, after: str | None, limit: int
) -> list[str]:
    column = eks_access_entries.c.principal_arn
    query = select(column).where(eks_access_entries.c.cluster_id == cluster_id)
    if after is not None:
        query = query.where(column > after)
    return [str(p) for p in conn.execute(query.order_by(column).limit(limit)).scalars()]


def access_entry_arns(conn: Connection, cluster_id: int) -> list[str]:
    rows = conn.execute(select(eks_access_entries.c.arn).where(eks_access_entries.c.cluster_id == cluster_id))
    return [str(a) for a in rows.scalars()]


def delete_access_entry(conn: Connection, entry_id: int) -> None:
    conn.execute(delete(eks_access_policies).where(eks_access_policies.c.entry_id == entry_id))
    conn.execute(delete(eks_access_entries).where(eks_access_entries.c.id == entry_id))


def put_access_policy(
    conn: Connection, entry_id: int, policy_arn: str, access_scope: dict[str, Any], now: datetime
) -> AccessPolicyRecord:
    """Associate the policy with the entry, or replace its scope if it already is (``associatedAt`` kept)."""
    current = find_access_policy(conn, entry_id, policy_arn)
    if current is None:
        conn.execute(
            insert(eks_access_policies).values(
                entry_id=entry_id,
                policy_arn=policy_arn,
                access_scope=_dump(access_scope),
                associated_at=now,
                modified_at=now,
            )
        )
        return AccessPolicyRecord(entry_id, policy_arn, access_scope, now, now)
    conn.execute(
        update(eks_access_policies)
        .where(eks_access_policies.c.entry_id == entry_id, eks_access_policies.c.policy_arn == policy_arn)
        .values(access_scope=_dump(access_scope), modified_at=now)
    )
    return AccessPolicyRecord(entry_id, policy_arn, access_scope, current.associated_at, now)


def find_access_policy(conn: Connection, entry_id: int, policy_arn: str) -> AccessPolicyRecord | None:
    row = conn.execute(
        select(eks_access_policies).where(
            eks_access_policies.c.entry_id == entry_id, eks_access_policies.c.policy_arn == policy_arn
        )
    ).first()
    return None if row is None else _policy(row._mapping)


def list_access_policies(conn: Connection, entry_id: int) -> list[AccessPolicyRecord]:
    rows = conn.execute(
        select(eks_access_policies)
        .where(eks_access_policies.c.entry_id == entry_id)
        .order_by(eks_access_policies.c.policy_arn)
    )
    return [_policy(r._mapping) for r in rows]


def delete_access_policy(conn: Connection, entry_id: int, policy_arn: str) -> bool:
    """Disassociate the policy; False if it was not associated."""
    result = conn.execute(
        delete(eks_access_policies).where(
            eks_access_policies.c.entry_id == entry_id, eks_access_policies.c.policy_arn == policy_arn
        )
    )
    return bool(result.rowcount)


# --- rows ------------------------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _cluster(m: RowMapping) -> EksClusterRecord:
    return EksClusterRecord(
        id=int(m["id"]),
        account_id=m["account_id"],
        region=m["region"],
        name=m["name"],
        arn=m["arn"],
        status=m["status"],
        version=m["version"],
        platform_version=m["platform_version"],
        role_arn=m["role_arn"],
        config=orjson.loads(m["config"]),
        client_request_token=m["client_request_token"],
        endpoint_port=int(m["endpoint_port"]),
        creator_arn=m["creator_arn"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _part(m: RowMapping) -> ClusterPartRecord:
    return ClusterPartRecord(
        id=int(m["id"]),
        cluster_id=int(m["cluster_id"]),
        account_id=m["account_id"],
        region=m["region"],
        name=m["name"],
        arn=m["arn"],
        status=m["status"],
        config=orjson.loads(m["config"]),
        created_at=m["created_at"],
        modified_at=m["modified_at"],
    )


def _update(m: RowMapping) -> UpdateRecord:
    return UpdateRecord(
        cluster_id=int(m["cluster_id"]),
        update_id=m["update_id"],
        nodegroup_name=m["nodegroup_name"],
        update_type=m["update_type"],
        status=m["status"],
        params=orjson.loads(m["params"]),
        created_at=m["created_at"],
    )


def _entry(m: RowMapping) -> AccessEntryRecord:
    return AccessEntryRecord(
        id=int(m["id"]),
        cluster_id=int(m["cluster_id"]),
        account_id=m["account_id"],
        region=m["region"],
        principal_arn=m["principal_arn"],
        arn=m["arn"],
        entry_type=m["entry_type"],
        username=m["username"],
        kubernetes_groups=orjson.loads(m["kubernetes_groups"]),
        created_at=m["created_at"],
        modified_at=m["modified_at"],
    )


def _policy(m: RowMapping) -> AccessPolicyRecord:
    return AccessPolicyRecord(
        entry_id=int(m["entry_id"]),
        policy_arn=m["policy_arn"],
        access_scope=orjson.loads(m["access_scope"]),
        associated_at=m["associated_at"],
        modified_at=m["modified_at"],
    )
