"""The ECR API: one provider assembled from one mixin per area (repositories, images, layers, lifecycle)."""

from __future__ import annotations

from dockyard.core.context import RequestContext
from dockyard.services.base import Operation, Params, Provider, Result
from dockyard.services.ecr.images import ImageOperations, ecr_exceptions
from dockyard.services.ecr.layers import LayerOperations
from dockyard.services.ecr.lifecycle_ops import LifecycleOperations
from dockyard.services.ecr.registry import RegistryService
from dockyard.services.ecr.repositories import RepositoryOperations
from dockyard.services.ecr.tokens import TOKEN_LIFETIME, RegistryGrant, RegistryTokens, authorization_token


class EcrProvider(RepositoryOperations, ImageOperations, LayerOperations, LifecycleOperations, Provider):
    service_name = "ecr"
    cpu_only_operations = frozenset({"GetAuthorizationToken", "DescribeRegistry"})
    # Not BatchGetImage: it records pull times.
    store_read_operations = frozenset(
        {
            "DescribeRepositories",
            "ListImages",
            "DescribeImages",
            "GetRepositoryPolicy",
            "GetLifecyclePolicy",
            "GetLifecyclePolicyPreview",
            "ListTagsForResource",
        }
    )

    def __init__(
        self, registry: RegistryService, *, registry_host: str, endpoint_url: str, tokens: RegistryTokens
    ) -> None:
        self._registry = registry
        self._db = registry.db
        self._registry_host = registry_host
        self._endpoint_url = endpoint_url
        self._tokens = tokens

    def find_operation(self, operation_name: str) -> Operation | None:
        """The operation, with any registry (OCI) error it lets escape turned into the ECR API's error."""
        method = super().find_operation(operation_name)
        if method is None:
            return None

        def translated(ctx: RequestContext, params: Params) -> Result:
            with ecr_exceptions():
                return method(ctx, params)

        return translated

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
