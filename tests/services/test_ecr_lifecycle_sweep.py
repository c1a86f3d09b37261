"""Lifecycle policies applied for real: a repository of 10 images, an injected clock, the preview agrees.

Runs the ECR provider and the registry service on a real SQLite store; only the blob bytes are in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.core.context import RequestContext
from dockyard.registry.digest import digest_of
from dockyard.registry.memory import MemoryBlobDriver
from dockyard.services.ecr.blobs import RegistryScope
from dockyard.services.ecr.lifecycle_ops import apply_lifecycle_policies
from dockyard.services.ecr.provider import EcrProvider
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.tokens import RegistryTokens
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import open_database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the 3 newest v* images",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["v*"],
                "countType": "imageCountMoreThan",
                "countNumber": 3,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "expire untagged images older than a day",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
    ]
}


@pytest.fixture
def ecr(tmp_path: Path) -> Iterator[tuple[EcrProvider, RequestContext]]:
    db = open_database(f"sqlite:///{tmp_path / 'ecr.db'}")
    root = CredentialStore(db).ensure_root_key(NOW, None, None)
    registry = RegistryService(db, MemoryBlobDriver())
    provider = EcrProvider(
        registry,
        registry_host="localhost:1",
        endpoint_url="http://localhost:1",
        tokens=RegistryTokens(db, NOW),
    )
    ctx = RequestContext(principal=root.principal, region="us-east-1", request_id="r", now=NOW)
    provider.create_repository(ctx, {"repositoryName": "app"})
    yield provider, ctx
    db.close()


def push(provider: EcrProvider, ctx: RequestContext, tag: str | None, pushed_at: datetime, seed: str) -> str:
    registry = provider._registry
    scope = RegistryScope(ctx.account_id, ctx.region)
    layer = f"layer {seed}".encode()
    upload = registry.start_upload(scope, "app", pushed_at)
    registry.complete_upload(
        scope, "app", upload, digest=str(digest_of(layer)), final_chunks=[layer], now=pushed_at
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": len(layer),
                "digest": str(digest_of(layer)),
            },
            "layers": [],
        }
    ).encode()
    reference = tag if tag is not None else str(digest_of(manifest))
    registry.put_manifest(scope, "app", reference, content_type=None, body=manifest, now=pushed_at)
    return str(digest_of(manifest))


def test_policy_expires_exactly_the_right_images_and_the_preview_agrees(
    ecr: tuple[EcrProvider, RequestContext],
) -> None:
    provider, ctx = ecr
    day = timedelta(days=1)
    digests = {f"v{i}": push(provider, ctx, f"v{i}", NOW - (10 - i) * day, f"v{i}") for i in range(1, 7)}
    digests["prod-a"] = push(provider, ctx, "prod-a", NOW - 20 * day, "prod-a")
    digests["prod-b"] = push(provider, ctx, "prod-b", NOW - 19 * day, "prod-b")
    digests["old-untagged"] = push(provider, ctx, None, NOW - 3 * day, "old")
    digests["new-untagged"] = push(provider, ctx, None, NOW - timedelta(hours=2), "new")
    assert len(provider.list_images(ctx, {"repositoryName": "app"})["imageIds"]) == 10

    provider.put_lifecycle_policy(ctx, {"repositoryName": "app", "lifecyclePolicyText": json.dumps(POLICY)})
    provider.start_lifecycle_policy_preview(ctx, {"repositoryName": "app"})
    preview = provider.get_lifecycle_policy_preview(ctx, {"repositoryName": "app"})
    expected = {
        digests[k]: priority for k, priority in (("v1", 1), ("v2", 1), ("v3", 1), ("old-untagged", 2))
    }
    assert preview["status"] == "COMPLETE"
    assert {r["imageDigest"]: r["appliedRulePriority"] for r in preview["previewResults"]} == expected
    assert preview["summary"] == {"expiringImageTotalCount": 4}

    assert apply_lifecycle_policies(provider._registry, NOW) == 4
    remaining = {i["imageDigest"] for i in provider.list_images(ctx, {"repositoryName": "app"})["imageIds"]}
    assert remaining == set(digests.values()) - set(expected)
    assert provider.get_lifecycle_policy(ctx, {"repositoryName": "app"})["lastEvaluatedAt"] == NOW
    # A second sweep finds nothing more to expire.
    assert apply_lifecycle_policies(provider._registry, NOW) == 0
