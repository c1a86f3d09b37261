"""ECR lifecycle policy operations and the sweep that applies the policies.

The preview and the sweep both call :func:`~dockyard.services.ecr.lifecycle.evaluate` on the same image
facts, so the preview lists exactly the images the sweep expires.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Result
from dockyard.services.ecr import errors as ecr_errors
from dockyard.services.ecr.images import ecr_exceptions, registry_scope
from dockyard.services.ecr.lifecycle import Expiration, ImageFacts, evaluate, parse_lifecycle_policy, preview
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.repositories import decode_token, encode_token
from dockyard.services.paging import page_size
from dockyard.store import ecr as store
from dockyard.store.ecr import RepositoryRecord

log = logging.getLogger(__name__)
PREVIEW_PAGE_DEFAULT = 100
PREVIEW_PAGE_MAX = 100


class LifecycleOperations:
    """Mixed into the ECR provider; needs ``_registry``."""

    _registry: RegistryService

    def put_lifecycle_policy(self, ctx: RequestContext, params: Params) -> Result:
        text = params["lifecyclePolicyText"]
        parse_lifecycle_policy(text)
        with self._registry.db.write() as tx:
            repo = self._lifecycle_repository(tx, ctx, params)
            store.update_repository(tx, repo.id, lifecycle_policy_text=text)
        return {"registryId": ctx.account_id, "repositoryName": repo.name, "lifecyclePolicyText": text}

    def get_lifecycle_policy(self, ctx: RequestContext, params: Params) -> Result:
        with self._registry.db.read() as tx:
            repo = self._lifecycle_repository(tx, ctx, params)
        return _policy_view(repo, _policy_text(repo, ctx))

    def delete_lifecycle_policy(self, ctx: RequestContext, params: Params) -> Result:
        with self._registry.db.write() as tx:
            repo = self._lifecycle_repository(tx, ctx, params)
            text = _policy_text(repo, ctx)
            store.update_repository(tx, repo.id, lifecycle_policy_text=None)
        return _policy_view(repo, text)

    def start_lifecycle_policy_preview(self, ctx: RequestContext, params: Params) -> Result:
        with self._registry.db.write() as tx:
            repo = self._lifecycle_repository(tx, ctx, params)
            text = params.get("lifecyclePolicyText") or _policy_text(repo, ctx)
            parse_lifecycle_policy(text)
            store.update_repository(tx, repo.id, lifecycle_preview_text=text)
        return {
            "registryId": ctx.account_id,
            "repositoryName": repo.name,
            "lifecyclePolicyText": text,
            "status": "IN_PROGRESS",
        }

    def get_lifecycle_policy_preview(self, ctx: RequestContext, params: Params) -> Result:
        with self._registry.db.read() as tx:
            repo = self._lifecycle_repository(tx, ctx, params)
            if repo.lifecycle_preview_text is None:
                raise ecr_errors.LifecyclePolicyPreviewNotFoundException(
                    f"There is no dry run for the repository with name '{repo.name}' in the registry "
                    f"with id '{ctx.account_id}'"
                )
            facts = image_facts(tx, repo)
        policy = parse_lifecycle_policy(repo.lifecycle_preview_text)
        expirations = preview(policy, list(facts.values()), ctx.now)
        results = [_preview_result(facts[e.digest], e) for e in expirations]
        results = _filter_preview(results, params)
        limit = page_size(params.get("maxResults"), default=PREVIEW_PAGE_DEFAULT, maximum=PREVIEW_PAGE_MAX)
        after = decode_token(params.get("nextToken"))
        start = int(after) if after is not None and after.isdigit() else 0
        page: Result = {
            "registryId": ctx.account_id,
            "repositoryName": repo.name,
            "lifecyclePolicyText": repo.lifecycle_preview_text,
            "status": "COMPLETE",
            "previewResults": results[start : start + limit],
            "summary": {"expiringImageTotalCount": len(expirations)},
        }
        if start + limit < len(results):
            page["nextToken"] = encode_token(str(start + limit))
        return page

    def _lifecycle_repository(self, tx: Connection, ctx: RequestContext, params: Params) -> RepositoryRecord:
        with ecr_exceptions():
            return self._registry.repository(tx, registry_scope(ctx, params), params["repositoryName"])


def image_facts(tx: Connection, repo: RepositoryRecord) -> dict[str, ImageFacts]:
    """What lifecycle rules look at for each image of the repository, keyed by digest."""
    tags = store.tags_by_digest(tx, repo.id)
    return {
        image.digest: ImageFacts(image.digest, tuple(tags.get(image.digest, [])), image.pushed_at)
        for image in store.list_images(tx, repo.id)
    }


def apply_lifecycle_policies(registry: RegistryService, now: datetime) -> int:
    """Expire the images each repository's lifecycle policy selects; returns how many were expired."""
    with registry.db.read() as tx:
        repos = store.repositories_with_lifecycle_policy(tx)
    expired = 0
    for repo in repos:
        expired += _apply_one(registry, repo, now)
    return expired


def run_registry_maintenance(registry: RegistryService, now: datetime) -> None:
    """One maintenance pass: lifecycle policies first, so what they expire is collected in the same pass
    once its grace period is over."""
    apply_lifecycle_policies(registry, now)
    registry.collect_garbage(now)


def _apply_one(registry: RegistryService, repo: RepositoryRecord, now: datetime) -> int:
    assert repo.lifecycle_policy_text is not None
    policy = parse_lifecycle_policy(repo.lifecycle_policy_text)
    with registry.db.write() as tx:
        facts = image_facts(tx, repo)
        expirations = evaluate(policy, list(facts.values()), now)
        for expiration in expirations:
            store.delete_image(tx, repo.id, expiration.digest)
        store.update_repository(tx, repo.id, lifecycle_updated_at=now)
    if expirations:
        log.info("lifecycle policy expired images", extra={"repository": repo.arn, "count": len(expirations)})
    return len(expirations)


def _policy_text(repo: RepositoryRecord, ctx: RequestContext) -> str:
    if repo.lifecycle_policy_text is None:
        raise ecr_errors.LifecyclePolicyNotFoundException(
            f"Lifecycle policy does not exist for the repository with name '{repo.name}' in the registry "
            f"with id '{ctx.account_id}'"
        )
    return repo.lifecycle_policy_text


def _policy_view(repo: RepositoryRecord, text: str) -> Result:
    view: Result = {"registryId": repo.account_id, "repositoryName": repo.name, "lifecyclePolicyText": text}
    if repo.lifecycle_updated_at is not None:
        view["lastEvaluatedAt"] = repo.lifecycle_updated_at
    return view


def _preview_result(facts: ImageFacts, expiration: Expiration) -> dict[str, Any]:
    result: dict[str, Any] = {
        "imageDigest": facts.digest,
        "imagePushedAt": facts.pushed_at,
        "action": {"type": "EXPIRE"},
        "appliedRulePriority": expiration.rule_priority,
    }
    if facts.tags:
        result["imageTags"] = list(facts.tags)
    return result


def _filter_preview(results: Sequence[dict[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    wanted_ids = params.get("imageIds") or []
    tag_status = params.get("filter", {}).get("tagStatus", "ANY")
    selected = []
    for result in results:
        tagged = bool(result.get("imageTags"))
        if tag_status != "ANY" and (tag_status == "TAGGED") != tagged:
            continue
        if wanted_ids and not any(_id_matches(result, image_id) for image_id in wanted_ids):
            continue
        selected.append(result)
    return selected


def _id_matches(result: Mapping[str, Any], image_id: Mapping[str, str]) -> bool:
    if image_id.get("imageDigest") and image_id["imageDigest"] != result["imageDigest"]:
        return False
    return not image_id.get("imageTag") or image_id["imageTag"] in result.get("imageTags", [])
