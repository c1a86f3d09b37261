"""ECS task definitions and the per-family revision counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ecs_task_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=2048), nullable=False),
        sa.Column("deregistered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_ecs_task_definitions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecs_task_definitions")),
        sa.UniqueConstraint(
            "account_id", "region", "family", "revision", name="uq_ecs_task_definitions_family_revision"
        ),
        sa.UniqueConstraint("arn", name=op.f("uq_ecs_task_definitions_arn")),
    )
    op.create_table(
        "ecs_task_definition_families",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=255), nullable=False),
        sa.Column("last_revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_ecs_task_definition_families_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "region", "family", name="pk_ecs_task_definition_families"),
    )


def downgrade() -> None:
    op.drop_table("ecs_task_definition_families")
    op.drop_table("ecs_task_definitions")
