"""Who is calling, where, and when: the context every provider operation receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the account it belongs to and its ARN."""

    account_id: str
    arn: str
    user_id: str
    access_key_id: str


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything a provider needs to know about one request besides its parameters.

    ``region`` comes from the SigV4 credential scope; ``now`` is the request's clock reading, passed in so
    that providers stay deterministic under test.
    """

    principal: Principal
    region: str
    request_id: str
    now: datetime

    @property
    def account_id(self) -> str:
        return self.principal.account_id
