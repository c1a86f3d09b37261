"""EC2 VPC subset: VPCs, subnets, security groups, network interfaces

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _common(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=f"fk_{table}_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    op.create_table(
        "ec2_vpcs",
        *_common("ec2_vpcs"),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("cidr", sa.String(length=43), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("vpc_id", name="uq_ec2_vpcs_vpc_id"),
        sa.UniqueConstraint("cidr", name="uq_ec2_vpcs_cidr"),
    )
    op.create_index("ix_ec2_vpcs_scope", "ec2_vpcs", ["account_id", "region"])
    op.create_table(
        "ec2_subnets",
        *_common("ec2_subnets"),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("cidr", sa.String(length=43), nullable=False),
        sa.Column("availability_zone", sa.String(length=64), nullable=False),
        sa.Column("default_for_az", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subnet_id", name="uq_ec2_subnets_subnet_id"),
        sa.UniqueConstraint("cidr", name="uq_ec2_subnets_cidr"),
    )
    op.create_index("ix_ec2_subnets_scope", "ec2_subnets", ["account_id", "region"])
    op.create_table(
        "ec2_security_groups",
        *_common("ec2_security_groups"),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("ingress", sa.Text(), nullable=False),
        sa.Column("egress", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("group_id", name="uq_ec2_security_groups_group_id"),
        sa.UniqueConstraint("vpc_id", "name", name="uq_ec2_security_groups_name"),
    )
    op.create_index("ix_ec2_security_groups_scope", "ec2_security_groups", ["account_id", "region"])
    op.create_table(
        "ec2_network_interfaces",
        *_common("ec2_network_interfaces"),
        sa.Column("eni_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("availability_zone", sa.String(length=64), nullable=False),
        sa.Column("private_ip", sa.String(length=45), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("group_ids", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("interface_type", sa.String(length=32), nullable=False),
        sa.Column("attachment", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("eni_id", name="uq_ec2_network_interfaces_eni_id"),
        sa.UniqueConstraint("subnet_id", "private_ip", name="uq_ec2_network_interfaces_address"),
    )
    op.create_index("ix_ec2_network_interfaces_scope", "ec2_network_interfaces", ["account_id", "region"])


def downgrade() -> None:
    for table in ("ec2_network_interfaces", "ec2_security_groups", "ec2_subnets", "ec2_vpcs"):
        op.drop_index(f"ix_{table}_scope", table_name=table)
        op.drop_table(table)
