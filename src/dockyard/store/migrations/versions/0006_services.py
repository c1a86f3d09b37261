"""ECS services

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ecs_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("cluster_arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("launch_type", sa.String(length=24), nullable=True),
        sa.Column("scheduling_strategy", sa.String(length=24), nullable=False),
        sa.Column("desired_count", sa.Integer(), nullable=False),
        sa.Column("task_definition_arn", sa.String(length=2048), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("deployments", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("scheduler_state", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_ecs_services_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecs_services")),
        sa.UniqueConstraint("account_id", "region", "cluster_name", "name", name="uq_ecs_services_name"),
        sa.UniqueConstraint("arn", name=op.f("uq_ecs_services_arn")),
    )
    op.create_index(
        "ix_ecs_tasks_group",
        "ecs_tasks",
        ["account_id", "region", "cluster_name", "task_group"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_ecs_tasks_group", table_name="ecs_tasks")
    op.drop_table("ecs_services")
