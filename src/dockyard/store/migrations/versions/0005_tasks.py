"""ECS tasks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ecs_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("cluster_arn", sa.String(length=2048), nullable=False),
        sa.Column("task_definition_arn", sa.String(length=2048), nullable=False),
        sa.Column("family", sa.String(length=255), nullable=False),
        sa.Column("container_instance_arn", sa.String(length=2048), nullable=True),
        sa.Column("last_status", sa.String(length=24), nullable=False),
        sa.Column("desired_status", sa.String(length=24), nullable=False),
        sa.Column("launch_type", sa.String(length=24), nullable=False),
        sa.Column("task_group", sa.String(length=255), nullable=True),
        sa.Column("started_by", sa.String(length=128), nullable=True),
        sa.Column("cpu", sa.String(length=32), nullable=True),
        sa.Column("memory", sa.String(length=32), nullable=True),
        sa.Column("reserved_cpu", sa.Integer(), nullable=False),
        sa.Column("reserved_memory", sa.Integer(), nullable=False),
        sa.Column("reserved_ports_tcp", sa.Text(), nullable=False),
        sa.Column("reserved_ports_udp", sa.Text(), nullable=False),
        sa.Column("resources_released", sa.Boolean(), nullable=False),
        sa.Column("overrides", sa.Text(), nullable=False),
        sa.Column("containers", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("availability_zone", sa.String(length=64), nullable=True),
        sa.Column("connectivity", sa.String(length=24), nullable=True),
        sa.Column("stopped_reason", sa.String(length=1024), nullable=True),
        sa.Column("stop_code", sa.String(length=64), nullable=True),
        sa.Column("health_status", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connectivity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pull_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pull_stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopping_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_ecs_tasks_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecs_tasks")),
        sa.UniqueConstraint("account_id", "region", "cluster_name", "task_id", name="uq_ecs_tasks_id"),
        sa.UniqueConstraint("arn", name=op.f("uq_ecs_tasks_arn")),
    )
    op.create_index(
        op.f("ix_ecs_tasks_container_instance_arn"), "ecs_tasks", ["container_instance_arn"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ecs_tasks_container_instance_arn"), table_name="ecs_tasks")
    op.drop_table("ecs_tasks")
