"""CloudWatch Logs: log groups, log streams and their events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _name() -> sa.types.TypeEngine[str]:
    return sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "log_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("kms_key_id", sa.String(length=256), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("log_group_class", sa.String(length=32), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name="fk_log_groups_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_log_groups"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_log_groups_name"),
    )
    op.create_table(
        "log_streams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_ingestion_ms", sa.BigInteger(), nullable=True),
        sa.Column("upload_sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["log_groups.id"], name="fk_log_streams_group_id_log_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_log_streams"),
        sa.UniqueConstraint("group_id", "name", name="uq_log_streams_name"),
    )
    op.create_table(
        "log_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("ingestion_ms", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_events"),
    )
    op.create_index("ix_log_events_stream", "log_events", ["stream_id", "event_ms", "id"], unique=False)
    op.create_index("ix_log_events_group", "log_events", ["group_id", "event_ms", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_log_events_group", table_name="log_events")
    op.drop_index("ix_log_events_stream", table_name="log_events")
    op.drop_table("log_events")
    op.drop_table("log_streams")
    op.drop_table("log_groups")
