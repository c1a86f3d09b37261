"""Kubernetes objects of EKS clusters: a revision per cluster, current objects and the revision log

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _cluster_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["cluster_id"], ["eks_clusters.id"], name=f"fk_{table}_cluster_id_eks_clusters"
    )


def _object_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("api_group", sa.String(length=253), nullable=False),
        sa.Column("resource", sa.String(length=63), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("created_revision", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "kube_revisions",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("compacted", sa.BigInteger(), nullable=False),
        _cluster_fk("kube_revisions"),
        sa.PrimaryKeyConstraint("cluster_id", name="pk_kube_revisions"),
    )
    op.create_table(
        "kube_objects",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        *_object_columns(),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _cluster_fk("kube_objects"),
        sa.PrimaryKeyConstraint(
            "cluster_id", "api_group", "resource", "namespace", "name", name="pk_kube_objects"
        ),
    )
    op.create_table(
        "kube_changes",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        *_object_columns(),
        sa.Column("prev_revision", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        _cluster_fk("kube_changes"),
        sa.PrimaryKeyConstraint("cluster_id", "revision", name="pk_kube_changes"),
    )
    op.create_index(
        "ix_kube_changes_object",
        "kube_changes",
        ["cluster_id", "api_group", "resource", "namespace", "name", "revision"],
    )


def downgrade() -> None:
    op.drop_index("ix_kube_changes_object", table_name="kube_changes")
    op.drop_table("kube_changes")
    op.drop_table("kube_objects")
    op.drop_table("kube_revisions")
