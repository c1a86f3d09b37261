"""CeProvider on a real SQLite store with a fixed clock: configured rates, running tasks billed to now, the
ledger replayed as after a restart, and the settings that feed the rates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dockyard.control.metering.rates import FargateRates
from dockyard.core.context import Principal, RequestContext
from dockyard.core.settings import load_settings
from dockyard.services.ce.provider import CeProvider, fargate_rates
from dockyard.store import usage as ledger
from dockyard.store.credentials import CredentialStore
from dockyard.store.database import Database, open_database

NOW = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)
TODAY = {"Start": "2026-11-27", "End": "2026-11-28"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'ce.db'}")
    yield database
    database.close()


@pytest.fixture
def ctx(db: Database) -> RequestContext:
    account = CredentialStore(db).ensure_root_key(NOW, None, None).principal.account_id
    principal = Principal(account, f"arn:aws:iam::{account}:root", account, "AKIA")
    return RequestContext(principal=principal, region="us-east-1", request_id="r", now=NOW)


def open_task(db: Database, ctx: RequestContext, name: str, started_at: datetime, **row: Any) -> str:
    task_arn = f"arn:aws:ecs:us-east-1:{ctx.account_id}:task/default/{name}"
    values: dict[str, Any] = {
        "account_id": ctx.account_id,
        "region": "us-east-1",
        "task_arn": task_arn,
        "cluster_name": "default",
        "launch_type": "FARGATE",
        "capacity_provider": None,
        "cpu": 1024,
        "memory": 2048,
        "architecture": "X86_64",
        "tags": [],
        "started_at": started_at,
    }
    values.update(row)
    with db.write() as tx:
        ledger.open_usage(tx, **values)
    return task_arn


def cost(provider: CeProvider, ctx: RequestContext, **extra: Any) -> list[str]:
    answer = provider.get_cost_and_usage(
        ctx, {"TimePeriod": TODAY, "Granularity": "DAILY", "Metrics": ["UnblendedCost"], **extra}
    )
    return [result["Total"]["UnblendedCost"]["Amount"] for result in answer["ResultsByTime"]]


def test_configured_rates_price_the_usage(db: Database, ctx: RequestContext) -> None:
    open_task(db, ctx, "a", NOW - timedelta(hours=1))  # running: one hour so far
    rates = FargateRates(x86_vcpu_hour=Decimal("1"), x86_gb_hour=Decimal("0.5"), spot_discount=Decimal("0.5"))
    assert cost(CeProvider(db, rates), ctx) == ["2"]  # 1 vCPU x $1 + 2 GB x $0.50
    assert cost(CeProvider(db), ctx) == ["0.04937"]  # the defaults: $0.04048 + 2 x $0.004445


def test_a_running_task_is_billed_to_now_and_the_month_is_estimated(
    db: Database, ctx: RequestContext
) -> None:
    open_task(db, ctx, "a", NOW - timedelta(seconds=10))
    provider = CeProvider(db, FargateRates(x86_vcpu_hour=Decimal("3600"), x86_gb_hour=Decimal("0")))
    answer = provider.get_cost_and_usage(
        ctx, {"TimePeriod": TODAY, "Granularity": "DAILY", "Metrics": ["UnblendedCost"]}
    )
    assert answer["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "60"  # 10 s so far: the minimum
    assert answer["ResultsByTime"][0]["Estimated"] is True
    later = CeProvider(db, FargateRates(x86_vcpu_hour=Decimal("3600"), x86_gb_hour=Decimal("0")))
    two_minutes_on = RequestContext(
        principal=ctx.principal, region="eu-west-1", request_id="r", now=NOW + timedelta(minutes=2)
    )
    assert cost(later, two_minutes_on) == ["130"]  # 130 s; the signing region does not matter


def test_a_replayed_ledger_counts_each_task_once(db: Database, ctx: RequestContext) -> None:
    """What a restart replays (the same RUNNING, then the same STOPPED, reported again) changes nothing."""
    rates = FargateRates(x86_vcpu_hour=Decimal("3600"), x86_gb_hour=Decimal("0"))
    start = NOW - timedelta(minutes=10)
    task_arn = open_task(db, ctx, "a", start)
    open_task(db, ctx, "a", start + timedelta(minutes=1))
    with db.write() as tx:
        ledger.close_usage(tx, task_arn, start + timedelta(minutes=5))
    with db.write() as tx:
        ledger.close_usage(tx, task_arn, start + timedelta(minutes=9))
    open_task(db, ctx, "a", start + timedelta(minutes=2))
    assert cost(CeProvider(db, rates), ctx) == ["300"]


def test_ec2_launch_tasks_are_priced_only_in_their_view(db: Database, ctx: RequestContext) -> None:
    open_task(db, ctx, "ec2", NOW - timedelta(hours=1), launch_type="EC2")
    open_task(db, ctx, "spot", NOW - timedelta(hours=1), capacity_provider="FARGATE_SPOT")
    provider = CeProvider(db, FargateRates(x86_vcpu_hour=Decimal("1"), x86_gb_hour=Decimal("0")))
    view = f"arn:aws:billing::{ctx.account_id}:billingview/dockyard-ec2-as-fargate"
    assert cost(provider, ctx) == ["0.3"]  # the Spot task at 70 % off
    assert cost(provider, ctx, BillingViewArn=view) == ["1"]  # the EC2 task, on demand


def test_rate_settings_come_from_the_environment_and_files(tmp_path: Path) -> None:
    assert fargate_rates(load_settings()) == FargateRates()
    config = tmp_path / "dockyard.toml"
    config.write_text("fargate_x86_vcpu_hour = 0.05\nfargate_spot_discount = 0.5\n")
    settings = load_settings(
        config_file=config,
        environ={"DOCKYARD_FARGATE_ARM_GB_HOUR": "0.004", "DOCKYARD_FARGATE_SPOT_DISCOUNT": "0.6"},
    )
    assert fargate_rates(settings) == FargateRates(
        x86_vcpu_hour=Decimal("0.05"), arm_gb_hour=Decimal("0.004"), spot_discount=Decimal("0.6")
    )
    with pytest.raises(ValueError, match="fargate_x86_gb_hour"):
        load_settings(environ={"DOCKYARD_FARGATE_X86_GB_HOUR": "cheap"})
    with pytest.raises(ValueError, match="fargate_arm_vcpu_hour"):
        load_settings(environ={"DOCKYARD_FARGATE_ARM_VCPU_HOUR": "-1"})
    with pytest.raises(ValueError, match="discount"):
        fargate_rates(load_settings(environ={"DOCKYARD_FARGATE_SPOT_DISCOUNT": "1.5"}))
