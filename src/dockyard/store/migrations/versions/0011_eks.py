"""EKS: clusters (with their PKI and endpoint port), node groups, Fargate profiles, updates, access entries

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _cluster_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["cluster_id"], ["eks_clusters.id"], name=f"fk_{table}_cluster_id_eks_clusters"
    )


def _part(table: str) -> None:
    """A node group or Fargate profile table: one row per named part of a cluster."""
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("modified_at", _stamp(), nullable=False),
        _cluster_fk(table),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("arn", name=f"uq_{table}_arn"),
        sa.UniqueConstraint("cluster_id", "name", name=f"uq_{table}_name"),
    )


def upgrade() -> None:
    op.create_table(
        "eks_clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("platform_version", sa.String(length=16), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("client_request_token", sa.String(length=128), nullable=True),
        sa.Column("endpoint_port", sa.Integer(), nullable=False),
        sa.Column("creator_arn", sa.String(length=2048), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name="fk_eks_clusters_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_eks_clusters"),
        sa.UniqueConstraint("arn", name="uq_eks_clusters_arn"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_eks_clusters_name"),
        sa.UniqueConstraint("endpoint_port", name="uq_eks_clusters_endpoint_port"),
    )
    op.create_table(
        "eks_cluster_pki",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("ca_cert_pem", sa.Text(), nullable=False),
        sa.Column("ca_key_pem", sa.Text(), nullable=False),
        sa.Column("serving_cert_pem", sa.Text(), nullable=False),
        sa.Column("serving_key_pem", sa.Text(), nullable=False),
        _cluster_fk("eks_cluster_pki"),
        sa.PrimaryKeyConstraint("cluster_id", name="pk_eks_cluster_pki"),
    )
    _part("eks_nodegroups")
    _part("eks_fargate_profiles")
    op.create_table(
        "eks_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.String(length=36), nullable=False),
        sa.Column("nodegroup_name", sa.String(length=255), nullable=True),
        sa.Column("update_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        _cluster_fk("eks_updates"),
        sa.PrimaryKeyConstraint("id", name="pk_eks_updates"),
        sa.UniqueConstraint("update_id", name="uq_eks_updates_update_id"),
    )
    op.create_index("ix_eks_updates_cluster", "eks_updates", ["cluster_id", "nodegroup_name"], unique=False)
    op.create_table(
        "eks_access_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("entry_type", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=2048), nullable=False),
        sa.Column("kubernetes_groups", sa.Text(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("modified_at", _stamp(), nullable=False),
        _cluster_fk("eks_access_entries"),
        sa.PrimaryKeyConstraint("id", name="pk_eks_access_entries"),
        sa.UniqueConstraint("arn", name="uq_eks_access_entries_arn"),
        sa.UniqueConstraint("cluster_id", "principal_arn", name="uq_eks_access_entries_principal"),
    )
    op.create_table(
        "eks_access_policies",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("policy_arn", sa.String(length=2048), nullable=False),
        sa.Column("access_scope", sa.Text(), nullable=False),
        sa.Column("associated_at", _stamp(), nullable=False),
        sa.Column("modified_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["eks_access_entries.id"], name="fk_eks_access_policies_entry_id_eks_access_entries"
        ),
        sa.PrimaryKeyConstraint("entry_id", "policy_arn", name="pk_eks_access_policies"),
    )


def downgrade() -> None:
    op.drop_table("eks_access_policies")
    op.drop_table("eks_access_entries")
    op.drop_index("ix_eks_updates_cluster", table_name="eks_updates")
    op.drop_table("eks_updates")
    op.drop_table("eks_fargate_profiles")
    op.drop_table("eks_nodegroups")
    op.drop_table("eks_cluster_pki")
    op.drop_table("eks_clusters")
