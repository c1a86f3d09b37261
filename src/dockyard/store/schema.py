"""The relational schema, declared once with SQLAlchemy Core; Alembic migrations create it.

Every resource row carries ``account_id`` and ``region``: queries always filter on both, so no request
ever sees another account's resources.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("secret_access_key", String(128), nullable=False),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("user_name", String(64), nullable=True),
    Column("user_id", String(64), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("is_root", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("settings", Text, nullable=False),
    Column("configuration", Text, nullable=True),
    Column("service_connect_defaults", Text, nullable=True),
    Column("capacity_providers", Text, nullable=False),
    Column("default_capacity_provider_strategy", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("account_id", "region", "name", name="uq_clusters_account_region_name"),
)

resource_tags = Table(
    "resource_tags",
    metadata,
    Column("resource_arn", String(2048), nullable=False),
    Column("tag_key", String(128), nullable=False),
    Column("tag_value", String(256), nullable=False),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("resource_arn", "tag_key"),
)

# --- ECR: repositories, images, tags, and the blobs each repository may read ---

ecr_repositories = Table(
    "ecr_repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("tag_mutability", String(32), nullable=False),
    Column("mutability_exclusions", Text, nullable=False),
    Column("scan_on_push", Integer, nullable=False),
    Column("encryption", Text, nullable=False),
    Column("policy_text", Text, nullable=True),
    Column("lifecycle_policy_text", Text, nullable=True),
    Column("lifecycle_updated_at", UtcDateTime(), nullable=True),
    Column("lifecycle_preview_text", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_ecr_repositories_account_region_name"),
)

ecr_images = Table(
    "ecr_images",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(160), nullable=False),
    Column("media_type", String(256), nullable=False),
    Column("artifact_type", String(256), nullable=True),
    Column("subject_digest", String(160), nullable=True),
    Column("manifest", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("pushed_at", UtcDateTime(), nullable=False),
    Column("last_pulled_at", UtcDateTime(), nullable=True),
    PrimaryKeyConstraint("repository_id", "digest", name="pk_ecr_images"),
)

ecr_tags = Table(
    "ecr_tags",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(128), nullable=False),
    Column("digest", String(160), nullable=False),
    Column("tagged_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("repository_id", "tag", name="pk_ecr_tags"),
)

# What each image's manifest references: blobs (config, layers) and, for indexes, child manifests.
ecr_image_refs = Table(
    "ecr_image_refs",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"), nullable=False),
    Column("image_digest", String(160), nullable=False),
    Column("ref_digest", String(160), nullable=False),
    Column("kind", String(8), nullable=False),
    PrimaryKeyConstraint("repository_id", "image_digest", "ref_digest", name="pk_ecr_image_refs"),
)

# A blob is readable through a repository only once linked to it (uploaded or mounted there).
ecr_blob_links = Table(
    "ecr_blob_links",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(160), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("linked_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("repository_id", "digest", name="pk_ecr_blob_links"),
)

ecr_uploads = Table(
    "ecr_uploads",
    metadata,
    Column("upload_id", String(128), primary_key=True),
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# --- ECS task definitions ---

# One row per revision. ``body`` is the definition as registered (JSON): containers, volumes, task-level
# settings, with ECS's defaults filled in. Rows leave only once deleted (DELETE_IN_PROGRESS) and purged.
ecs_task_definitions = Table(
    "ecs_task_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("family", String(255), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("status", String(24), nullable=False),
    Column("body", Text, nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("registered_by", String(2048), nullable=False),
    Column("deregistered_at", UtcDateTime(), nullable=True),
    Column("delete_requested_at", UtcDateTime(), nullable=True),
    UniqueConstraint(
        "account_id", "region", "family", "revision", name="uq_ecs_task_definitions_family_revision"
    ),
)

# The last revision handed out per family: revisions are never reused, even once rows are purged.
ecs_task_definition_families = Table(
    "ecs_task_definition_families",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("family", String(255), nullable=False),
    Column("last_revision", Integer, nullable=False),
    PrimaryKeyConstraint("account_id", "region", "family", name="pk_ecs_task_definition_families"),
)

# --- ECS container instances ---

# One row per registration (re-registration after an agent restart keeps the row and its ARN). Ports are
# JSON lists of numbers; ``remaining_*`` is the ledger tasks debit (registered minus what tasks reserve;
# for ports, the reserved ports plus the tasks' host ports). ``version`` is ECS's: bumped on every change.
ecs_container_instances = Table(
    "ecs_container_instances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster_name", String(255), nullable=False),
    Column("instance_id", String(64), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("status", String(24), nullable=False),
    Column("ec2_instance_id", String(64), nullable=False),
    Column("agent_connected", Boolean, nullable=False, default=False),
    Column("agent_last_seen_at", UtcDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    Column("registered_cpu", Integer, nullable=False),
    Column("registered_memory", Integer, nullable=False),
    Column("remaining_cpu", Integer, nullable=False),
    Column("remaining_memory", Integer, nullable=False),
    Column("registered_ports_tcp", Text, nullable=False),
    Column("registered_ports_udp", Text, nullable=False),
    Column("remaining_ports_tcp", Text, nullable=False),
    Column("remaining_ports_udp", Text, nullable=False),
    Column("version_info", Text, nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint(
        "account_id", "region", "cluster_name", "instance_id", name="uq_ecs_container_instances_id"
    ),
)

# Attributes of container instances (built-in, capability and custom); ``value`` may be absent.
ecs_instance_attributes = Table(
    "ecs_instance_attributes",
    metadata,
    Column(
        "instance_pk",
        Integer,
        ForeignKey("ecs_container_instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(128), nullable=False),
    Column("value", String(128), nullable=True),
    PrimaryKeyConstraint("instance_pk", "name", name="pk_ecs_instance_attributes"),
)

# --- ECS tasks ---

# One row per task. The columns are what queries filter on and what changes; ``overrides``,
# ``containers`` and ``attributes`` are JSON. ``reserved_*`` is what the task debited from its container
# instance's ``remaining_*`` at placement; ``resources_released`` flips once, when the task is STOPPED and
# that reservation has been credited back, so the credit happens exactly once. ``version`` is ECS's.
ecs_tasks = Table(
    "ecs_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster_name", String(255), nullable=False),
    Column("task_id", String(64), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("cluster_arn", String(2048), nullable=False),
    Column("task_definition_arn", String(2048), nullable=False),
    Column("family", String(255), nullable=False),
    Column("container_instance_arn", String(2048), nullable=True, index=True),
    Column("last_status", String(24), nullable=False),
    Column("desired_status", String(24), nullable=False),
    Column("launch_type", String(24), nullable=False),
    Column("task_group", String(255), nullable=True),
    Column("started_by", String(128), nullable=True),
    Column("cpu", String(32), nullable=True),
    Column("memory", String(32), nullable=True),
    Column("reserved_cpu", Integer, nullable=False),
    Column("reserved_memory", Integer, nullable=False),
    Column("reserved_ports_tcp", Text, nullable=False),
    Column("reserved_ports_udp", Text, nullable=False),
    Column("resources_released", Boolean, nullable=False, default=False),
    Column("overrides", Text, nullable=False),
    Column("containers", Text, nullable=False),
    Column("attributes", Text, nullable=False),
    Column("availability_zone", String(64), nullable=True),
    Column("connectivity", String(24), nullable=True),
    Column("stopped_reason", String(1024), nullable=True),
    Column("stop_code", String(64), nullable=True),
    Column("health_status", String(24), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("connectivity_at", UtcDateTime(), nullable=True),
    Column("pull_started_at", UtcDateTime(), nullable=True),
    Column("pull_stopped_at", UtcDateTime(), nullable=True),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("stopping_at", UtcDateTime(), nullable=True),
    Column("stopped_at", UtcDateTime(), nullable=True),
    Column("execution_stopped_at", UtcDateTime(), nullable=True),
    # Fargate (and awsvpc): the capacity provider, platform version, the ENI attachment (ECS's shape,
    # JSON), the interface to release at the end, and when a Spot interruption was announced.
    Column("capacity_provider_name", String(255), nullable=True),
    Column("platform_version", String(32), nullable=True),
    Column("cpu_architecture", String(16), nullable=True),
    Column("attachments", Text, nullable=False, server_default="[]"),
    Column("eni_id", String(32), nullable=True),
    Column("interrupt_at", UtcDateTime(), nullable=True),
    UniqueConstraint("account_id", "region", "cluster_name", "task_id", name="uq_ecs_tasks_id"),
    # A service's tasks are read by their group ("service:<name>") on every controller sync.
    Index("ix_ecs_tasks_group", "account_id", "region", "cluster_name", "task_group"),
    # The Fargate pool controller looks for tasks waiting for a host, or for their interface's release.
    Index("ix_ecs_tasks_unplaced", "launch_type", "last_status"),
)


# The usage ledger metering reads (Cost Explorer): one row per task from the moment billing starts (its
# image pull, else its start), closed at STOPPED in the same transaction that records the stop, so a
# restart neither loses nor double-counts a task. Rows outlive the tasks (which are purged after an hour).
task_usage = Table(
    "task_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("task_arn", String(2048), nullable=False, unique=True),
    Column("cluster_name", String(255), nullable=False),
    Column("launch_type", String(24), nullable=False),
    Column("capacity_provider", String(255), nullable=True),
    Column("cpu", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("architecture", String(16), nullable=False),
    Column("tags", Text, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("stopped_at", UtcDateTime(), nullable=True),
    Index("ix_task_usage_scope", "account_id", "region", "started_at"),
)


ecs_services = Table(
    "ecs_services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster_name", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("cluster_arn", String(2048), nullable=False),
    Column("status", String(24), nullable=False),
    Column("launch_type", String(24), nullable=True),
    Column("scheduling_strategy", String(24), nullable=False),
    Column("desired_count", Integer, nullable=False),
    Column("task_definition_arn", String(2048), nullable=False),
    Column("config", Text, nullable=False),
    Column("deployments", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("scheduler_state", Text, nullable=False),
    Column("created_by", String(2048), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("account_id", "region", "cluster_name", "name", name="uq_ecs_services_name"),
)


# --- EC2: the VPC subset Fargate users touch ------------------------------------------------------------
# Addresses are real (each subnet is a bridge on the hosts that run awsvpc tasks), so VPC and subnet CIDRs
# are unique server-wide, not per account.

ec2_vpcs = Table(
    "ec2_vpcs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("vpc_id", String(32), nullable=False, unique=True),
    Column("cidr", String(43), nullable=False, unique=True),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_ec2_vpcs_scope", "account_id", "region"),
)

ec2_subnets = Table(
    "ec2_subnets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("subnet_id", String(32), nullable=False, unique=True),
    Column("vpc_id", String(32), nullable=False),
    Column("cidr", String(43), nullable=False, unique=True),
    Column("availability_zone", String(64), nullable=False),
    Column("default_for_az", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_ec2_subnets_scope", "account_id", "region"),
)

ec2_security_groups = Table(
    "ec2_security_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("group_id", String(32), nullable=False, unique=True),
    Column("vpc_id", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", String(255), nullable=False),
    Column("ingress", Text, nullable=False),
    Column("egress", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("vpc_id", "name", name="uq_ec2_security_groups_name"),
    Index("ix_ec2_security_groups_scope", "account_id", "region"),
)

ec2_network_interfaces = Table(
    "ec2_network_interfaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("eni_id", String(32), nullable=False, unique=True),
    Column("subnet_id", String(32), nullable=False),
    Column("vpc_id", String(32), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    Column("private_ip", String(45), nullable=False),
    Column("mac", String(17), nullable=False),
    Column("group_ids", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", String(255), nullable=False),
    Column("interface_type", String(32), nullable=False),
    Column("attachment", String(2048), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("subnet_id", "private_ip", name="uq_ec2_network_interfaces_address"),
    Index("ix_ec2_network_interfaces_scope", "account_id", "region"),
)


# --- CloudWatch Logs: groups, streams and their events ---------------------------------------------------
# Times are epoch milliseconds (CloudWatch's own unit, exact, cheap to index). Names sort and compare
# byte-wise on both engines (collation "C" on PostgreSQL), as AWS sorts them. Events carry no foreign key:
# deleting a group or stream removes its events in the same transaction, and the retention sweep removes
# old ones in chunks.

LogName = String(512).with_variant(String(512, collation="C"), "postgresql")
EventId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid

log_groups = Table(
    "log_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", LogName, nullable=False),
    Column("kms_key_id", String(256), nullable=True),
    Column("retention_days", Integer, nullable=True),
    Column("log_group_class", String(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_log_groups_name"),
)

log_streams = Table(
    "log_streams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("log_groups.id"), nullable=False),
    Column("name", LogName, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("first_event_ms", BigInteger, nullable=True),
    Column("last_event_ms", BigInteger, nullable=True),
    Column("last_ingestion_ms", BigInteger, nullable=True),
    Column("upload_sequence", BigInteger, nullable=False),
    # The last line an agent's shipper stored here: its Docker timestamp (ns) and its ordinal among the
    # lines of that timestamp. Lines at or before it are duplicates of a resend (store/logs.append_shipped).
    Column("shipped_ns", BigInteger, nullable=True),
    Column("shipped_ordinal", BigInteger, nullable=True),
    UniqueConstraint("group_id", "name", name="uq_log_streams_name"),
)

log_events = Table(
    "log_events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("stream_id", Integer, nullable=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("ingestion_ms", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_log_events_stream", "stream_id", "event_ms", "id"),
    Index("ix_log_events_group", "group_id", "event_ms", "id"),
)


# --- EKS: clusters, their PKI and endpoint port, node groups, Fargate profiles, updates, access entries --
# Documents the API answers with (VPC config, logging, scaling config, selectors…) are JSON text, read and
# written whole. A cluster's endpoint port is unique server-wide (each cluster's Kubernetes API listens on
# its own 127.0.0.1 port). eks_cluster_pki holds the cluster's CA and serving certificate WITH THEIR
# PRIVATE KEYS (PEM): whoever can read the store can impersonate the cluster's API server.

eks_clusters = Table(
    "eks_clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("version", String(16), nullable=False),
    Column("platform_version", String(16), nullable=False),
    Column("role_arn", String(2048), nullable=False),
    Column("config", Text, nullable=False),
    Column("client_request_token", String(128), nullable=True),
    Column("endpoint_port", Integer, nullable=False),
    Column("creator_arn", String(2048), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_eks_clusters_name"),
    UniqueConstraint("endpoint_port", name="uq_eks_clusters_endpoint_port"),
)

eks_cluster_pki = Table(
    "eks_cluster_pki",
    metadata,
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), primary_key=True),
    Column("ca_cert_pem", Text, nullable=False),
    Column("ca_key_pem", Text, nullable=False),
    Column("serving_cert_pem", Text, nullable=False),
    Column("serving_key_pem", Text, nullable=False),
)


def _cluster_part_table(name: str) -> Table:
    """Node groups and Fargate profiles: the named parts of a cluster, each with its configuration."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), nullable=False),
        Column("account_id", String(12), nullable=False),
        Column("region", String(32), nullable=False),
        Column("name", String(255), nullable=False),
        Column("arn", String(2048), nullable=False, unique=True),
        Column("status", String(16), nullable=False),
        Column("config", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("modified_at", UtcDateTime(), nullable=False),
        UniqueConstraint("cluster_id", "name", name=f"uq_{name}_name"),
    )


eks_nodegroups = _cluster_part_table("eks_nodegroups")
eks_fargate_profiles = _cluster_part_table("eks_fargate_profiles")

eks_updates = Table(
    "eks_updates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), nullable=False),
    Column("update_id", String(36), nullable=False, unique=True),
    Column("nodegroup_name", String(255), nullable=True),
    Column("update_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("params", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_eks_updates_cluster", "cluster_id", "nodegroup_name"),
)

eks_access_entries = Table(
    "eks_access_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("principal_arn", String(2048), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("entry_type", String(32), nullable=False),
    Column("username", String(2048), nullable=False),
    Column("kubernetes_groups", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
    UniqueConstraint("cluster_id", "principal_arn", name="uq_eks_access_entries_principal"),
)

eks_access_policies = Table(
    "eks_access_policies",
    metadata,
    Column("entry_id", Integer, ForeignKey("eks_access_entries.id"), nullable=False),
    Column("policy_arn", String(2048), nullable=False),
    Column("access_scope", Text, nullable=False),
    Column("associated_at", UtcDateTime(), nullable=False),
    Column("modified_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("entry_id", "policy_arn"),
)


# --- Kubernetes objects of EKS clusters: the kine model -------------------------------------------------
# Each cluster has one revision counter (kube_revisions); every create, update and delete of any of its
# objects takes the next revision, which becomes the object's resourceVersion. kube_objects holds each
# object's current state; kube_changes is the revision log the watches read and the consistent listings
# at a past revision are answered from. Compaction up to a revision drops the log rows a later row of the
# same object supersedes (and deleted objects' rows), never the latest row of a live object, so a listing
# at any revision from the compacted one on stays answerable. Values are the objects' JSON text.

kube_revisions = Table(
    "kube_revisions",
    metadata,
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("compacted", BigInteger, nullable=False),
)

kube_objects = Table(
    "kube_objects",
    metadata,
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), nullable=False),
    Column("api_group", String(253), nullable=False),
    Column("resource", String(63), nullable=False),
    Column("namespace", String(63), nullable=False),
    Column("name", String(253), nullable=False),
    Column("created_revision", BigInteger, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("cluster_id", "api_group", "resource", "namespace", "name"),
)

kube_changes = Table(
    "kube_changes",
    metadata,
    Column("cluster_id", Integer, ForeignKey("eks_clusters.id"), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("change", String(8), nullable=False),
    Column("api_group", String(253), nullable=False),
    Column("resource", String(63), nullable=False),
    Column("namespace", String(63), nullable=False),
    Column("name", String(253), nullable=False),
    Column("created_revision", BigInteger, nullable=False),
    Column("prev_revision", BigInteger, nullable=True),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("cluster_id", "revision"),
    Index("ix_kube_changes_object", "cluster_id", "api_group", "resource", "namespace", "name", "revision"),
)
