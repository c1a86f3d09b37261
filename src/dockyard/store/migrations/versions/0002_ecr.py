"""ECR repositories, images, tags, blob links, uploads, server secrets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "ecr_repositories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("tag_mutability", sa.String(length=32), nullable=False),
        sa.Column("mutability_exclusions", sa.Text(), nullable=False),
        sa.Column("scan_on_push", sa.Integer(), nullable=False),
        sa.Column("encryption", sa.Text(), nullable=False),
        sa.Column("policy_text", sa.Text(), nullable=True),
        sa.Column("lifecycle_policy_text", sa.Text(), nullable=True),
        sa.Column("lifecycle_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifecycle_preview_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_ecr_repositories_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecr_repositories")),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_ecr_repositories_account_region_name"),
        sa.UniqueConstraint("arn", name=op.f("uq_ecr_repositories_arn")),
    )
    op.create_table(
        "ecr_blob_links",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["ecr_repositories.id"],
            name=op.f("fk_ecr_blob_links_repository_id_ecr_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "digest", name="pk_ecr_blob_links"),
    )
    op.create_table(
        "ecr_image_refs",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("image_digest", sa.String(length=160), nullable=False),
        sa.Column("ref_digest", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["ecr_repositories.id"],
            name=op.f("fk_ecr_image_refs_repository_id_ecr_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "image_digest", "ref_digest", name="pk_ecr_image_refs"),
    )
    op.create_table(
        "ecr_images",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("media_type", sa.String(length=256), nullable=False),
        sa.Column("artifact_type", sa.String(length=256), nullable=True),
        sa.Column("subject_digest", sa.String(length=160), nullable=True),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["ecr_repositories.id"],
            name=op.f("fk_ecr_images_repository_id_ecr_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "digest", name="pk_ecr_images"),
    )
    op.create_table(
        "ecr_tags",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("tagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["ecr_repositories.id"],
            name=op.f("fk_ecr_tags_repository_id_ecr_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "tag", name="pk_ecr_tags"),
    )
    op.create_table(
        "ecr_uploads",
        sa.Column("upload_id", sa.String(length=128), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["ecr_repositories.id"],
            name=op.f("fk_ecr_uploads_repository_id_ecr_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_ecr_uploads")),
    )


def downgrade() -> None:
    op.drop_table("ecr_uploads")
    op.drop_table("ecr_tags")
    op.drop_table("ecr_images")
    op.drop_table("ecr_image_refs")
    op.drop_table("ecr_blob_links")
    op.drop_table("ecr_repositories")
    op.drop_table("server_secrets")
