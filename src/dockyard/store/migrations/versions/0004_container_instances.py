"""ECS container instances and their attributes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ecs_container_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("ec2_instance_id", sa.String(length=64), nullable=False),
        sa.Column("agent_connected", sa.Boolean(), nullable=False),
        sa.Column("agent_last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("registered_cpu", sa.Integer(), nullable=False),
        sa.Column("registered_memory", sa.Integer(), nullable=False),
        sa.Column("remaining_cpu", sa.Integer(), nullable=False),
        sa.Column("remaining_memory", sa.Integer(), nullable=False),
        sa.Column("registered_ports_tcp", sa.Text(), nullable=False),
        sa.Column("registered_ports_udp", sa.Text(), nullable=False),
        sa.Column("remaining_ports_tcp", sa.Text(), nullable=False),
        sa.Column("remaining_ports_udp", sa.Text(), nullable=False),
        sa.Column("version_info", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_ecs_container_instances_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecs_container_instances")),
        sa.UniqueConstraint(
            "account_id", "region", "cluster_name", "instance_id", name="uq_ecs_container_instances_id"
        ),
        sa.UniqueConstraint("arn", name=op.f("uq_ecs_container_instances_arn")),
    )
    op.create_table(
        "ecs_instance_attributes",
        sa.Column("instance_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_pk"],
            ["ecs_container_instances.id"],
            name=op.f("fk_ecs_instance_attributes_instance_pk_ecs_container_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_pk", "name", name="pk_ecs_instance_attributes"),
    )


def downgrade() -> None:
    op.drop_table("ecs_instance_attributes")
    op.drop_table("ecs_container_instances")
