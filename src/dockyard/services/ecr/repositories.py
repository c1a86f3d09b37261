"""ECR repository operations: create, describe, delete, policies, tag mutability, scanning, tags.

Rules that need no I/O (names, mutability, policy documents) are plain functions at the bottom.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from dockyard.core.arn import build_arn, parse_arn
from dockyard.core.context import RequestContext
from dockyard.services import paging
from dockyard.services.base import Params, Result
from dockyard.services.ecr.errors import (
    InvalidParameterException,
    InvalidTagParameterException,
    RepositoryAlreadyExistsException,
    RepositoryNotEmptyException,
    RepositoryNotFoundException,
    RepositoryPolicyNotFoundException,
    TooManyTagsException,
)
from dockyard.services.paging import page_size
from dockyard.store import ecr as store
from dockyard.store import tags as tag_store
from dockyard.store.database import Database
from dockyard.store.ecr import RepositoryRecord

MAX_TAGS = 50
DESCRIBE_PAGE_DEFAULT = 100
DESCRIBE_PAGE_MAX = 1000
MUTABLE_MODES = frozenset({"MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"})
MAX_EXCLUSION_FILTERS = 5


class RepositoryOperations:
    """Mixed into the ECR provider; needs ``_db`` and ``_registry_host``."""

    _db: Database
    _registry_host: str

    def create_repository(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        name = params["repositoryName"]
        mode = params.get("imageTagMutability", "MUTABLE")
        exclusions = _exclusion_filters(mode, params.get("imageTagMutabilityExclusionFilters"))
        tags = _tag_pairs(params.get("tags", []))
        record = RepositoryRecord(
            id=0,
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            arn=repository_arn(ctx, name),
            tag_mutability=mode,
            mutability_exclusions=exclusions,
            scan_on_push=bool(params.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
            encryption=_encryption(params.get("encryptionConfiguration")),
            policy_text=None,
            lifecycle_policy_text=None,
            lifecycle_updated_at=None,
            created_at=ctx.now,
        )
        try:
            with self._db.write() as tx:
                if store.find_repository(tx, ctx.account_id, ctx.region, name) is not None:
                    raise _already_exists(name, ctx)
                created = store.insert_repository(tx, record)
                if tags:
                    tag_store.put_tags(tx, ctx.account_id, created.arn, tags)
        except IntegrityError as exc:  # a concurrent create won the race
            raise _already_exists(name, ctx) from exc
        return {"repository": self._repository_view(created)}

    def describe_repositories(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        names: list[str] | None = params.get("repositoryNames")
        if names is not None:
            if params.get("nextToken") or params.get("maxResults"):
                raise InvalidParameterException(
                    "Cannot specify repositoryNames with nextToken or maxResults."
                )
            with self._db.read() as tx:
                found = [self._repository(tx, ctx, name) for name in dict.fromkeys(names)]
            return {"repositories": [self._repository_view(r) for r in found]}
        limit = page_size(params.get("maxResults"), default=DESCRIBE_PAGE_DEFAULT, maximum=DESCRIBE_PAGE_MAX)
        after = decode_token(params.get("nextToken"))
        with self._db.read() as tx:
            page = store.list_repositories(tx, ctx.account_id, ctx.region, after_name=after, limit=limit + 1)
        result: Result = {"repositories": [self._repository_view(r) for r in page[:limit]]}
        if len(page) > limit:
            result["nextToken"] = encode_token(page[limit - 1].name)
        return result

    def delete_repository(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        name = params["repositoryName"]
        with self._db.write() as tx:
            record = self._repository(tx, ctx, name)
            if not params.get("force") and store.count_images(tx, record.id) > 0:
                raise RepositoryNotEmptyException(
                    f"The repository with name '{name}' in registry with id '{ctx.account_id}' "
                    "cannot be deleted because it still contains images"
                )
            store.delete_repository(tx, record.id)
            tag_store.remove_all_tags(tx, ctx.account_id, record.arn)
        return {"repository": self._repository_view(record)}

    def put_image_tag_mutability(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        mode = params["imageTagMutability"]
        exclusions = _exclusion_filters(mode, params.get("imageTagMutabilityExclusionFilters"))
        with self._db.write() as tx:
            record = self._repository(tx, ctx, params["repositoryName"])
            store.update_repository(tx, record.id, tag_mutability=mode, mutability_exclusions=exclusions)
        result: Result = {
            "registryId": ctx.account_id,
            "repositoryName": record.name,
            "imageTagMutability": mode,
        }
        if exclusions:
            result["imageTagMutabilityExclusionFilters"] = exclusions
        return result

    def put_image_scanning_configuration(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        scan = bool(params["imageScanningConfiguration"].get("scanOnPush", False))
        with self._db.write() as tx:
            record = self._repository(tx, ctx, params["repositoryName"])
            store.update_repository(tx, record.id, scan_on_push=scan)
        return {
            "registryId": ctx.account_id,
            "repositoryName": record.name,
            "imageScanningConfiguration": {"scanOnPush": scan},
        }

    # --- repository policies ---------------------------------------------------------------------------

    def set_repository_policy(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        text = params["policyText"]
        validate_repository_policy(text)
        with self._db.write() as tx:
            record = self._repository(tx, ctx, params["repositoryName"])
            store.update_repository(tx, record.id, policy_text=text)
        return {"registryId": ctx.account_id, "repositoryName": record.name, "policyText": text}

    def get_repository_policy(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        with self._db.read() as tx:
            record = self._repository(tx, ctx, params["repositoryName"])
        if record.policy_text is None:
            raise _policy_not_found(record, ctx)
        return {"registryId": ctx.account_id, "repositoryName": record.name, "policyText": record.policy_text}

    def delete_repository_policy(self, ctx: RequestContext, params: Params) -> Result:
        _check_registry_id(ctx, params)
        with self._db.write() as tx:
            record = self._repository(tx, ctx, params["repositoryName"])
            if record.policy_text is None:
                raise _policy_not_found(record, ctx)
            store.update_repository(tx, record.id, policy_text=None)
        return {"registryId": ctx.account_id, "repositoryName": record.name, "policyText": record.policy_text}

    # --- resource tags ---------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, params: Params) -> Result:
        tags = _tag_pairs(params["tags"])
        with self._db.write() as tx:
            arn = self._tagged_repository(tx, ctx, params["resourceArn"]).arn
            current = dict(tag_store.list_tags(tx, ctx.account_id, arn))
            if len(current.keys() | {key for key, _ in tags}) > MAX_TAGS:
                raise TooManyTagsException(f"A repository can have at most {MAX_TAGS} tags.")
            tag_store.put_tags(tx, ctx.account_id, arn, tags)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.write() as tx:
            arn = self._tagged_repository(tx, ctx, params["resourceArn"]).arn
            tag_store.remove_tags(tx, ctx.account_id, arn, params["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Result:
        with self._db.read() as tx:
            arn = self._tagged_repository(tx, ctx, params["resourceArn"]).arn
            tags = tag_store.list_tags(tx, ctx.account_id, arn)
        return {"tags": [{"Key": key, "Value": value} for key, value in tags]}

    # --- helpers ---------------------------------------------------------------------------------------

    def _repository(self, tx: Connection, ctx: RequestContext, name: str) -> RepositoryRecord:
        record = store.find_repository(tx, ctx.account_id, ctx.region, name)
        if record is None:
            raise RepositoryNotFoundException.named(name, ctx.account_id)
        return record

    def _tagged_repository(self, tx: Connection, ctx: RequestContext, resource_arn: str) -> RepositoryRecord:
        arn = parse_arn(resource_arn)
        if (
            arn is None
            or arn.service != "ecr"
            or arn.resource_type != "repository"
            or "/" not in arn.resource
        ):
            raise InvalidParameterException(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: '{resource_arn}'"
            )
        name = arn.resource.split("/", 1)[1]
        if arn.account_id != ctx.account_id or arn.region != ctx.region:
            raise RepositoryNotFoundException.named(name, ctx.account_id)
        return self._repository(tx, ctx, name)

    def _repository_view(self, record: RepositoryRecord) -> dict[str, Any]:
        view: dict[str, Any] = {
            "repositoryArn": record.arn,
            "registryId": record.account_id,
            "repositoryName": record.name,
            "repositoryUri": f"{self._registry_host}/{record.name}",
            "createdAt": record.created_at,
            "imageTagMutability": record.tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": record.scan_on_push},
            "encryptionConfiguration": record.encryption,
        }
        if record.mutability_exclusions:
            view["imageTagMutabilityExclusionFilters"] = record.mutability_exclusions
        return view


def repository_arn(ctx: RequestContext, name: str) -> str:
    return build_arn("ecr", ctx.region, ctx.account_id, f"repository/{name}")


def tag_is_immutable(record: RepositoryRecord, tag: str) -> bool:
    """Whether ``tag`` may not be moved to another image in this repository."""
    excluded = any(fnmatch.fnmatchcase(tag, f["filter"]) for f in record.mutability_exclusions)
    mode = record.tag_mutability
    if mode == "IMMUTABLE_WITH_EXCLUSION":
        return not excluded
    if mode == "MUTABLE_WITH_EXCLUSION":
        return excluded
    return mode == "IMMUTABLE"


def validate_repository_policy(text: str) -> None:
    """Accept an IAM-style policy document: Statement(s) with Effect, Action and Principal."""
    invalid = InvalidParameterException(
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
    )
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise invalid from exc
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise invalid
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in {"Allow", "Deny"}:
            raise invalid
        if "Action" not in statement and "NotAction" not in statement:
            raise invalid
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise invalid


INVALID_TOKEN_MESSAGE = "Invalid parameter at 'nextToken' failed to satisfy constraint."  # noqa: S105


def encode_token(after: str) -> str:
    return paging.encode_token((after,))


def decode_token(token: str | None) -> str | None:
    """The position in an ECR page token (ECR words a bad token its own way)."""
    position = paging.decode_token(token, (str,), message=INVALID_TOKEN_MESSAGE)
    return None if position is None else str(position[0])


def _check_registry_id(ctx: RequestContext, params: Params) -> None:
    registry_id = params.get("registryId")
    if registry_id is not None and registry_id != ctx.account_id:
        # Cross-account registries are not shared: they look exactly like registries that do not exist.
        raise RepositoryNotFoundException(
            f"The repository with name '{params.get('repositoryName', '')}' does not exist in the registry "
            f"with id '{registry_id}'"
        )


def _exclusion_filters(mode: str, filters: Sequence[Mapping[str, str]] | None) -> list[dict[str, str]]:
    with_exclusion = mode.endswith("_WITH_EXCLUSION")
    if with_exclusion and not filters:
        raise InvalidParameterException(f"imageTagMutabilityExclusionFilters are required with {mode}.")
    if not with_exclusion and filters:
        raise InvalidParameterException(f"imageTagMutabilityExclusionFilters are not allowed with {mode}.")
    if filters and len(filters) > MAX_EXCLUSION_FILTERS:
        raise InvalidParameterException(f"At most {MAX_EXCLUSION_FILTERS} exclusion filters are allowed.")
    return [{"filterType": f["filterType"], "filter": f["filter"]} for f in filters or []]


def _encryption(config: Mapping[str, str] | None) -> dict[str, str]:
    if not config:
        return {"encryptionType": "AES256"}
    result = {"encryptionType": config["encryptionType"]}
    if config.get("kmsKey"):
        result["kmsKey"] = config["kmsKey"]
    return result


def _tag_pairs(tags: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    if len(tags) > MAX_TAGS:
        raise TooManyTagsException(f"A repository can have at most {MAX_TAGS} tags.")
    pairs: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key")
        if not key or key.lower().startswith("aws:"):
            raise InvalidTagParameterException("Tag keys must be non-empty and must not start with 'aws:'.")
        pairs[key] = tag.get("Value", "")
    return list(pairs.items())


def _already_exists(name: str, ctx: RequestContext) -> RepositoryAlreadyExistsException:
    return RepositoryAlreadyExistsException(
        f"The repository with name '{name}' already exists in the registry with id '{ctx.account_id}'"
    )


def _policy_not_found(record: RepositoryRecord, ctx: RequestContext) -> RepositoryPolicyNotFoundException:
    return RepositoryPolicyNotFoundException(
        f"Repository policy does not exist for the repository with name '{record.name}' in the registry "
        f"with id '{ctx.account_id}'"
    )
