"""An ACTIVE EKS cluster row straight in the store: the owner every Kubernetes object needs in tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from dockyard.store import eks
from dockyard.store.credentials import AccessKey

REGION = "us-east-1"
PLACEHOLDER_PKI = eks.ClusterPki("ca", "ca-key", "cert", "key")


def insert_active_cluster(
    tx: Connection,
    root: AccessKey,
    *,
    name: str,
    port: int,
    now: datetime,
    pki: eks.ClusterPki = PLACEHOLDER_PKI,
) -> eks.EksClusterRecord:
    """The cluster ``name`` of ``root``'s account, created by ``root``, on ``port``."""
    account = root.principal.account_id
    record = eks.insert_cluster(
        tx,
        account_id=account,
        region=REGION,
        name=name,
        arn=f"arn:aws:eks:{REGION}:{account}:cluster/{name}",
        status="ACTIVE",
        version="1.33",
        platform_version="eks.1",
        role_arn=f"arn:aws:iam::{account}:role/eks",
        config={},
        client_request_token=None,
        endpoint_port=port,
        creator_arn=root.principal.arn,
        pki=pki,
        now=now,
    )
    assert record is not None
    return record
