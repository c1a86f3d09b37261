"""STS: who am I. Only ``GetCallerIdentity`` is served; the credentials come from dockyard's own keys."""

from __future__ import annotations

from dockyard.core.context import RequestContext
from dockyard.services.base import Params, Provider, Result


class StsProvider(Provider):
    service_name = "sts"
    cpu_only_operations = frozenset({"GetCallerIdentity"})

    def get_caller_identity(self, ctx: RequestContext, params: Params) -> Result:
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}
