"""The EKS provider: clusters (here), node groups and Fargate profiles (``parts.py``), cluster version
updates (``updates.py``), tags (``tagging.py``), access entries and policies
(``access.py``), UpdateNodegroupConfig (``updates.py``).

A cluster is stored CREATING with its own CA, serving certificate and endpoint port
(:mod:`dockyard.services.eks.certificates`, ``eks_api_port_range``); the cluster controller
(:mod:`dockyard.control.controllers.eks`) makes it ACTIVE, and removes it once DELETING.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.eks import rules
from dockyard.services.eks.access import AccessOperations
from dockyard.services.eks.base import EksBase, cluster_or_404, next_token, page_after, put_tags, tag_map
from dockyard.services.eks.certificates import issue_cluster_pki
from dockyard.services.eks.errors import ResourceInUseException
from dockyard.services.eks.parts import PartOperations
from dockyard.services.eks.tagging import TagOperations
from dockyard.services.eks.updates import UpdateOperations
from dockyard.services.eks.views import cluster_view
from dockyard.store import eks as store
from dockyard.store.eks import FARGATE_PROFILES, NODEGROUPS, EksClusterRecord

_PORT_ATTEMPTS = 3


class EksProvider(PartOperations, UpdateOperations, TagOperations, AccessOperations, EksBase):
    store_read_operations = frozenset({"DescribeCluster", "ListClusters"})

    def create_cluster(self, ctx: RequestContext, params: Params) -> Result:
        name = params["name"]
        version = rules.check_version(params.get("version"))
        token = params.get("clientRequestToken")
        pki = issue_cluster_pki(name, ctx.now)  # before the transaction: key generation costs a few ms
        config = rules.cluster_config(
            params,
            cluster_security_group=f"sg-{secrets.token_hex(9)[:17]}",
            oidc_id=uuid.uuid4().hex.upper(),
            region=ctx.region,
        )
        with self._db.write() as tx:
            existing = store.find_cluster(tx, ctx.account_id, ctx.region, name)
            if existing is not None:
                if token is not None and existing.client_request_token == token:
                    return {"cluster": self._view(tx, existing)}  # an idempotent retry
                raise ResourceInUseException(f"Cluster already exists with name: {name}")
            cluster = None
            for _ in range(_PORT_ATTEMPTS):  # another server sharing PostgreSQL may take the same port
                port = rules.allocate_port(store.used_ports(tx), self._port_range)
                cluster = store.insert_cluster(
                    tx,
                    account_id=ctx.account_id,
                    region=ctx.region,
                    name=name,
                    arn=rules.cluster_arn(ctx.region, ctx.account_id, name),
                    status="CREATING",
                    version=version,
                    platform_version=rules.PLATFORM_VERSION,
                    role_arn=params["roleArn"],
                    config=config,
                    client_request_token=token,
                    endpoint_port=port,
                    creator_arn=ctx.principal.arn,
                    pki=pki,
                    now=ctx.now,
                )
                if cluster is not None or store.find_cluster(tx, ctx.account_id, ctx.region, name):
                    break
            if cluster is None:
                raise ResourceInUseException(f"Cluster already exists with name: {name}")
            put_tags(tx, ctx.account_id, cluster.arn, params.get("tags"))
            if config["accessConfig"]["bootstrapClusterCreatorAdminPermissions"]:
                self._bootstrap_creator(tx, ctx, cluster)
            view = self._view(tx, cluster)
        self._wake(cluster)
        return {"cluster": view}

    def describe_cluster(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            return {"cluster": self._view(tx, cluster_or_404(tx, ctx, params["name"]))}

    def list_clusters(self, ctx: RequestContext, params: Params) -> Result:
        after, size = page_after(params)
        with self._db.read() as tx:
            names = store.list_cluster_names(tx, ctx.account_id, ctx.region, after=after, limit=size + 1)
        return {"clusters": names[:size], "nextToken": next_token(names, size)}

    def delete_cluster(self, ctx: RequestContext, params: Params) -> Result:
        name = params["name"]
        with self._db.write() as tx:
            cluster = cluster_or_404(tx, ctx, name)
            if store.list_parts(tx, NODEGROUPS, cluster.id):
                raise ResourceInUseException("Cluster has nodegroups attached")
            if store.list_parts(tx, FARGATE_PROFILES, cluster.id):
                raise ResourceInUseException("Cluster has fargate profiles attached")
            if cluster.status != "DELETING":
                store.save_cluster(tx, cluster.id, now=ctx.now, status="DELETING")
                cluster = store.find_cluster(tx, ctx.account_id, ctx.region, name) or cluster
            view = self._view(tx, cluster)
        self._wake(cluster)
        return {"cluster": view}

    def _view(self, tx: Connection, cluster: EksClusterRecord) -> Result:
        ca = store.ca_certificates(tx, [cluster.id]).get(cluster.id)
        return cluster_view(cluster, tag_map(tx, cluster.account_id, cluster.arn), ca)

    def _bootstrap_creator(self, tx: Connection, ctx: RequestContext, cluster: EksClusterRecord) -> None:
        """The creator's access entry, with AmazonEKSClusterAdminPolicy over the whole cluster."""
        principal = ctx.principal.arn
        entry = store.insert_access_entry(
            tx,
            cluster=cluster,
            principal_arn=principal,
            arn=rules.access_entry_arn(
                ctx.region, ctx.account_id, cluster.name, principal, str(uuid.uuid4())
            ),
            entry_type="STANDARD",
            username=rules.default_username(principal),
            kubernetes_groups=[],
            now=ctx.now,
        )
        if entry is not None:
            store.put_access_policy(
                tx,
                entry.id,
                rules.access_policy_arn(rules.CLUSTER_ADMIN_POLICY),
                {"type": "cluster", "namespaces": []},
                ctx.now,
            )
