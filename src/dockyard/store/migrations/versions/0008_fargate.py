"""Fargate: task columns (capacity provider, platform version, attachments, interface, architecture) and
the usage ledger

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ecs_tasks") as batch:
        batch.add_column(sa.Column("capacity_provider_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("platform_version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("cpu_architecture", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("attachments", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("eni_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("interrupt_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_ecs_tasks_unplaced", "ecs_tasks", ["launch_type", "last_status"], unique=False)
    op.create_table(
        "task_usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("task_arn", sa.String(length=2048), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("launch_type", sa.String(length=24), nullable=False),
        sa.Column("capacity_provider", sa.String(length=255), nullable=True),
        sa.Column("cpu", sa.Integer(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("architecture", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name="fk_task_usage_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_usage"),
        sa.UniqueConstraint("task_arn", name="uq_task_usage_task_arn"),
    )
    op.create_index("ix_task_usage_scope", "task_usage", ["account_id", "region", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_usage_scope", table_name="task_usage")
    op.drop_table("task_usage")
    op.drop_index("ix_ecs_tasks_unplaced", table_name="ecs_tasks")
    with op.batch_alter_table("ecs_tasks") as batch:
        for column in (
            "interrupt_at",
            "eni_id",
            "attachments",
            "cpu_architecture",
            "platform_version",
            "capacity_provider_name",
        ):
            batch.drop_column(column)
