"""The ECR API: one provider assembled from one mixin per area (repositories, images, layers, lifecycle)."""

from __future__ import annotations

import secrets
from datetime import datetime

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Provider, Result
from dockyard.services.ecr.repositories import RepositoryOperations
from dockyard.services.ecr.tokens import (
    TOKEN_LIFETIME,
    RegistryGrant,
    authorization_token,
    issue_password,
    verify_password,
)
from dockyard.store import ecr as store
from dockyard.store.database import Database

TOKEN_SECRET_NAME = "registry-token-key"  # noqa: S105 - the name of the secret, not a secret


class RegistryTokens:
    """Issues and checks registry passwords with a key kept in the store (so restarts keep tokens valid)."""

    def __init__(self, db: Database, now: datetime) -> None:
        with db.write() as tx:
            self._key = store.get_or_create_secret(
                tx, TOKEN_SECRET_NAME, secrets.token_urlsafe(32), now
            ).encode()

    def issue(self, grant: RegistryGrant) -> str:
        return issue_password(self._key, grant)

    def verify(self, password: str, now: datetime) -> RegistryGrant | None:
        return verify_password(self._key, password, now)


class EcrProvider(RepositoryOperations, Provider):
    service_name = "ecr"

    def __init__(
        self, db: Database, *, registry_host: str, endpoint_url: str, tokens: RegistryTokens
    ) -> None:
        self._db = db
        self._registry_host = registry_host
        self._endpoint_url = endpoint_url
        self._tokens = tokens

    def get_authorization_token(self, ctx: RequestContext, params: Params) -> Result:
        expires_at = ctx.now + TOKEN_LIFETIME
        password = self._tokens.issue(
            RegistryGrant(ctx.account_id, ctx.region, ctx.principal.arn, expires_at)
        )
        return {
            "authorizationData": [
                {
                    "authorizationToken": authorization_token(password),
                    "expiresAt": expires_at,
                    "proxyEndpoint": self._endpoint_url,
                }
            ]
        }

    def describe_registry(self, ctx: RequestContext, params: Params) -> Result:
        return {"registryId": ctx.account_id, "replicationConfiguration": {"rules": []}}
