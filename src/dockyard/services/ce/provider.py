"""Cost Explorer over the Fargate usage ledger: GetCostAndUsage, GetDimensionValues and GetTags.

Cost Explorer is account-scoped: a call sees the caller's account in every region, whatever region it is
signed for (AWS signs ``ce`` for us-east-1). The ledger (:mod:`dockyard.store.usage`) holds every task
whose billing started; :mod:`dockyard.control.metering` prices it and shapes the answers.

Billing views pick what is priced (``BillingViewArn``, a member of all three operations):

- none, or ``arn:aws:billing::<account>:billingview/primary``: the bill, the account's Fargate tasks
  (FARGATE on demand, FARGATE_SPOT at its discount);
- ``arn:aws:billing::<account>:billingview/dockyard-ec2-as-fargate`` (dockyard's extension): the account's
  EC2-launch tasks, which Fargate does not bill, priced as Fargate on demand would have priced their task
  size for the same seconds, with the same usage types, filters and groups;
- any other ARN, or one of another account: ResourceNotFoundException.

Answers are never paged (no NextPageToken is handed out, so any token given is invalid); SortBy is not
supported. GetCostAndUsage refuses an End past the first day of next month, as AWS does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dockyard.control.metering import cost_explorer
from dockyard.control.metering.cost_explorer import check_metrics
from dockyard.control.metering.periods import HOURLY, check_granularity, parse_period
from dockyard.control.metering.rates import FargateRates
from dockyard.control.metering.usage import FARGATE, FARGATE_SPOT, TaskUsage
from dockyard.core.context import RequestContext
from dockyard.core.errors import ApiError, ValidationError
from dockyard.core.settings import ServerSettings
from dockyard.services.base import Params, Provider, Result
from dockyard.services.ce.errors import InvalidNextTokenException, ResourceNotFoundException
from dockyard.store import usage as ledger
from dockyard.store.database import Database
from dockyard.store.usage import UsageRecord

PRIMARY_VIEW = "primary"
EC2_VIEW = "dockyard-ec2-as-fargate"
"""The billing view of EC2-launch tasks priced as Fargate on demand (dockyard's extension)."""
FARGATE_LAUNCH = "FARGATE"


def fargate_rates(settings: ServerSettings) -> FargateRates:
    """The metering rates the settings configure; ValueError naming the setting when one is out of range."""
    try:
        return FargateRates(
            x86_vcpu_hour=settings.fargate_x86_vcpu_hour,
            x86_gb_hour=settings.fargate_x86_gb_hour,
            arm_vcpu_hour=settings.fargate_arm_vcpu_hour,
            arm_gb_hour=settings.fargate_arm_gb_hour,
            spot_discount=settings.fargate_spot_discount,
        )
    except ApiError as exc:
        raise ValueError(f"fargate rate settings: {exc.message}") from None


def billing_view_arn(account_id: str, view: str) -> str:
    return f"arn:aws:billing::{account_id}:billingview/{view}"


def task_usage(record: UsageRecord) -> TaskUsage:
    """A ledger row as metering sees it: on Fargate (FARGATE or FARGATE_SPOT) when launched there or
    through a Fargate capacity provider; otherwise its EC2 capacity provider's name, or None."""
    provider = record.capacity_provider
    if provider not in (FARGATE, FARGATE_SPOT) and record.launch_type == FARGATE_LAUNCH:
        provider = FARGATE
    return TaskUsage(
        account=record.account_id,
        region=record.region,
        task_arn=record.task_arn,
        cpu=record.cpu,
        memory=record.memory,
        start=record.started_at,
        stop=record.stopped_at,
        architecture=record.architecture,
        capacity_provider=provider,
        tags=record.tags,
    )


class CeProvider(Provider):
    service_name = "ce"

    def __init__(self, db: Database, rates: FargateRates | None = None) -> None:
        self._db = db
        self._rates = rates or FargateRates()

    def get_cost_and_usage(self, ctx: RequestContext, params: Params) -> Result:
        ec2 = self._ec2_view(ctx, params)
        _no_page_token(params)
        granularity = check_granularity(params.get("Granularity"))
        check_metrics(params.get("Metrics"))
        start, end = parse_period(params.get("TimePeriod"), granularity)
        limit = _first_of_next_month(ctx.now)
        if end > limit:
            raise ValidationError("end date past the beginning of next month")
        return cost_explorer.get_cost_and_usage(
            self._usages(ctx, ec2, start, end),
            time_period=params["TimePeriod"],
            granularity=granularity,
            metrics=params["Metrics"],
            now=ctx.now,
            rates=self._rates,
            group_by=params.get("GroupBy"),
            filter=params.get("Filter"),
            include_ec2=ec2,
        )

    def get_dimension_values(self, ctx: RequestContext, params: Params) -> Result:
        ec2 = self._ec2_view(ctx, params)
        _no_page_token(params)
        _no_sort(params)
        dimension = params.get("Dimension")
        if params.get("DimensionKey"):
            raise ValidationError("DimensionKey can be specified only when Dimension is PRODUCT_ATTRIBUTE.")
        start, end = parse_period(params.get("TimePeriod"), HOURLY)
        return cost_explorer.get_dimension_values(
            self._usages(ctx, ec2, start, end),
            time_period=params["TimePeriod"],
            dimension=str(dimension),
            now=ctx.now,
            rates=self._rates,
            search_string=params.get("SearchString"),
            filter=params.get("Filter"),
            context=params.get("Context"),
            include_ec2=ec2,
        )

    def get_tags(self, ctx: RequestContext, params: Params) -> Result:
        ec2 = self._ec2_view(ctx, params)
        _no_page_token(params)
        _no_sort(params)
        start, end = parse_period(params.get("TimePeriod"), HOURLY)
        return cost_explorer.get_tags(
            self._usages(ctx, ec2, start, end),
            time_period=params["TimePeriod"],
            now=ctx.now,
            rates=self._rates,
            tag_key=params.get("TagKey") or None,
            search_string=params.get("SearchString"),
            filter=params.get("Filter"),
            include_ec2=ec2,
        )

    def _ec2_view(self, ctx: RequestContext, params: Params) -> bool:
        """Whether the request asks for the EC2-as-Fargate view (else the bill); unknown views refused."""
        arn = params.get("BillingViewArn")
        if arn is None:
            return False
        if arn == billing_view_arn(ctx.account_id, PRIMARY_VIEW):
            return False
        if arn == billing_view_arn(ctx.account_id, EC2_VIEW):
            return True
        raise ResourceNotFoundException(f"Billing view {arn} does not exist.")

    def _usages(self, ctx: RequestContext, ec2: bool, start: datetime, end: datetime) -> Iterable[TaskUsage]:
        """The account's tasks (every region) that may have usage in ``[start, end)``: its Fargate tasks,
        or with ``ec2`` its tasks not on Fargate."""
        with self._db.read() as tx:
            records = ledger.list_usage(tx, ctx.account_id, None, start, end)
        usages = [task_usage(record) for record in records]
        return [usage for usage in usages if usage.on_fargate != ec2]


def _no_page_token(params: Params) -> None:
    token: Any = params.get("NextPageToken")
    if token:
        raise InvalidNextTokenException("The NextPageToken is not valid; dockyard answers in one page.")


def _no_sort(params: Params) -> None:
    if params.get("SortBy"):
        raise ValidationError("SortBy is not supported by dockyard's Cost Explorer.")


def _first_of_next_month(now: datetime) -> datetime:
    now = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)
