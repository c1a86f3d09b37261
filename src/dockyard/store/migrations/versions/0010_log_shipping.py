"""CloudWatch Logs: how far an agent's log shipper got in each stream (exactly-once shipping)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_streams") as batch:
        batch.add_column(sa.Column("shipped_ns", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("shipped_ordinal", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_streams") as batch:
        batch.drop_column("shipped_ordinal")
        batch.drop_column("shipped_ns")
