"""Fargate metering and Cost Explorer answers (control/metering), amounts checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dockyard.control.metering.cost_explorer import (
    format_amount,
    get_cost_and_usage,
    get_dimension_values,
    get_tags,
)
from dockyard.control.metering.periods import buckets, parse_period
from dockyard.control.metering.rates import ARM64, FargateRates, region_code, usage_type
from dockyard.control.metering.usage import (
    FARGATE_SPOT,
    TaskUsage,
    billed_seconds,
    billing_start,
    line_items,
    seconds_within,
)
from dockyard.core.errors import ValidationError

ACCOUNT = "123456789012"
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 3, 20, tzinfo=UTC)
DAY = {"Start": "2024-03-10", "End": "2024-03-11"}
ALL = ["UnblendedCost", "UsageQuantity"]


def task(
    name: str,
    seconds: float | None,
    *,
    start: datetime = T0,
    cpu: int = 256,
    memory: int = 512,
    tags: dict[str, str] | None = None,
    **extra: Any,
) -> TaskUsage:
    return TaskUsage(
        account=extra.pop("account", ACCOUNT),
        region=extra.pop("region", "us-east-1"),
        task_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/default/{name}",
        cpu=cpu,
        memory=memory,
        start=start,
        stop=None if seconds is None else start + timedelta(seconds=seconds),
        tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        **extra,
    )


def total(answer: dict[str, Any], metric: str = "UnblendedCost") -> list[str]:
    return [result["Total"][metric]["Amount"] for result in answer["ResultsByTime"]]


# --- the acceptance figure ----------------------------------------------------------------------


def test_thirty_seconds_bill_a_minute_and_ninety_bill_ninety_grouped_by_tag() -> None:
    short, long = task("short", 30, tags={"team": "a"}), task("long", 90)
    assert billed_seconds(short, NOW) == 60
    assert billed_seconds(long, NOW) == 90

    answer = get_cost_and_usage([short, long], time_period=DAY, granularity="DAILY", metrics=ALL, now=NOW)
    # (0.25 vCPU * $0.04048 + 0.5 GB * $0.004445) = $0.0123425 an hour; 150 s = 1.851375 / 3600.
    assert answer["ResultsByTime"] == [
        {
            "TimePeriod": {"Start": "2024-03-10", "End": "2024-03-11"},
            "Total": {
                "UnblendedCost": {"Amount": "0.0005142708", "Unit": "USD"},
                "UsageQuantity": {"Amount": "0.03125", "Unit": "Hrs"},  # 0.75 * 150 / 3600
            },
            "Groups": [],
            "Estimated": True,
        }
    ]
    assert answer["DimensionValueAttributes"] == []
    assert "GroupDefinitions" not in answer

    grouped = get_cost_and_usage(
        [short, long],
        time_period=DAY,
        granularity="DAILY",
        metrics=ALL,
        now=NOW,
        group_by=[{"Type": "TAG", "Key": "team"}],
    )
    assert grouped["GroupDefinitions"] == [{"Type": "TAG", "Key": "team"}]
    (result,) = grouped["ResultsByTime"]
    assert result["Total"] == {}
    assert result["Groups"] == [
        # 90 s: 0.0123425 / 40 exactly; 0.75 * 90 / 3600
        {
            "Keys": ["team$"],
            "Metrics": {
                "UnblendedCost": {"Amount": "0.0003085625", "Unit": "USD"},
                "UsageQuantity": {"Amount": "0.01875", "Unit": "Hrs"},
            },
        },
        # 60 s: 0.0123425 / 60 = 0.00020570833…
        {
            "Keys": ["team$a"],
            "Metrics": {
                "UnblendedCost": {"Amount": "0.0002057083", "Unit": "USD"},
                "UsageQuantity": {"Amount": "0.0125", "Unit": "Hrs"},
            },
        },
    ]


def test_all_cost_metrics_are_equal_and_in_request_order() -> None:
    metrics = ["NetUnblendedCost", "BlendedCost", "AmortizedCost", "UnblendedCost", "NetAmortizedCost"]
    answer = get_cost_and_usage(
        [task("t", 90)], time_period=DAY, granularity="DAILY", metrics=metrics, now=NOW
    )
    values = answer["ResultsByTime"][0]["Total"]
    assert list(values) == metrics
    assert {value["Amount"] for value in values.values()} == {"0.0003085625"}


# --- durations -------------------------------------------------------------------------------------------


def test_fractional_seconds_round_up_and_a_running_task_bills_until_now() -> None:
    fractional = task("f", 89.2, start=T0 + timedelta(milliseconds=500))
    assert billed_seconds(fractional, NOW) == 90
    running = task("r", None)
    assert billed_seconds(running, T0 + timedelta(minutes=10)) == 600
    assert billed_seconds(running, T0 + timedelta(seconds=5)) == 60
    assert billing_start(T0, T0 + timedelta(seconds=9)) == T0
    assert billing_start(None, T0) == T0
    assert billing_start(None, None) is None


def test_seconds_split_across_a_day_boundary_sum_to_the_billed_total() -> None:
    midnight = datetime(2024, 3, 11, tzinfo=UTC)
    across = task("x", 75, start=midnight - timedelta(seconds=30), cpu=1024, memory=1024)
    short = task("y", 20, start=midnight - timedelta(seconds=10), cpu=1024, memory=1024)
    period = {"Start": "2024-03-10", "End": "2024-03-12"}
    answer = get_cost_and_usage([across], time_period=period, granularity="DAILY", metrics=ALL, now=NOW)
    # 1 vCPU + 1 GB = $0.044925 an hour: 30 s then 45 s.
    assert total(answer, "UsageQuantity") == [
        format_amount(Decimal(2 * 30) / 3600),
        format_amount(Decimal(2 * 45) / 3600),
    ]
    assert total(answer) == [
        format_amount(Decimal("0.044925") * 30 / 3600),
        format_amount(Decimal("0.044925") * 45 / 3600),
    ]
    # The one-minute top-up stays where the task started: 10 + 40 s, then 10 s.
    assert seconds_within(short, midnight - timedelta(days=1), midnight, NOW) == 50
    assert seconds_within(short, midnight, midnight + timedelta(days=1), NOW) == 10


def test_hourly_buckets_sum_to_the_daily_total() -> None:
    tasks = [
        task("a", 3 * 3600 + 17, start=T0 - timedelta(minutes=7), cpu=2048, memory=4096),
        task("b", 30, start=T0 + timedelta(minutes=59, seconds=50)),
        task("c", None, start=T0 + timedelta(hours=5)),
    ]
    now = T0 + timedelta(hours=6, seconds=1)
    hourly = get_cost_and_usage(
        tasks,
        time_period={"Start": "2024-03-10T00:00:00Z", "End": "2024-03-11T00:00:00Z"},
        granularity="HOURLY",
        metrics=ALL,
        now=now,
    )
    assert len(hourly["ResultsByTime"]) == 24
    assert hourly["ResultsByTime"][12]["TimePeriod"] == {
        "Start": "2024-03-10T12:00:00Z",
        "End": "2024-03-10T13:00:00Z",
    }
    daily = get_cost_and_usage(tasks, time_period=DAY, granularity="DAILY", metrics=ALL, now=now)
    # Each task's seconds over the hours sum exactly to its billed seconds...
    hours_of_day = buckets(*parse_period(DAY, "HOURLY"), "HOURLY")
    for usage in tasks:
        split = [seconds_within(usage, b.start, b.end, now) for b in hours_of_day]
        assert sum(split) == billed_seconds(usage, now)
    # ...and the printed amounts agree up to each hour's rounding.
    (day,) = total(daily, "UsageQuantity")
    hours = sum(Decimal(amount) for amount in total(hourly, "UsageQuantity"))
    assert abs(hours - Decimal(day)) <= Decimal("1E-9")
    # Whole-task figure: a 2 vCPU + 4 GB * (3 h 17 s), 0.75 * 60 s, 0.75 * 3601 s.
    expected = (Decimal(6) * (3 * 3600 + 17) + Decimal("0.75") * 60 + Decimal("0.75") * 3601) / 3600
    assert Decimal(day) == Decimal(format_amount(expected))
    cost_hours = sum(Decimal(amount) for amount in total(hourly))
    assert abs(cost_hours - Decimal(total(daily)[0])) <= Decimal("1E-9")  # each hour rounds once


def test_monthly_buckets_follow_calendar_months() -> None:
    start, end = parse_period({"Start": "2024-01-15", "End": "2024-03-02"}, "MONTHLY")
    assert [b.time_period("MONTHLY") for b in buckets(start, end, "MONTHLY")] == [
        {"Start": "2024-01-15", "End": "2024-02-01"},
        {"Start": "2024-02-01", "End": "2024-03-01"},
        {"Start": "2024-03-01", "End": "2024-03-02"},
    ]


def test_estimated_is_false_for_months_before_now() -> None:
    answer = get_cost_and_usage(
        [task("t", 90)],
        time_period={"Start": "2024-02-28", "End": "2024-03-02"},
        granularity="DAILY",
        metrics=["UnblendedCost"],
        now=NOW,
    )
    assert [r["Estimated"] for r in answer["ResultsByTime"]] == [False, False, True]
    assert total(answer) == ["0", "0", "0"]


# --- rates and usage types ------------------------------------------------------------------------------


def test_spot_is_discounted_and_uses_spot_usage_types() -> None:
    spot = task("s", 3600, cpu=1024, memory=2048, capacity_provider=FARGATE_SPOT)
    answer = get_cost_and_usage(
        [spot],
        time_period=DAY,
        granularity="DAILY",
        metrics=["UnblendedCost"],
        now=NOW,
        group_by=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}, {"Type": "DIMENSION", "Key": "PURCHASE_TYPE"}],
    )
    groups = {
        tuple(g["Keys"]): g["Metrics"]["UnblendedCost"]["Amount"]
        for g in answer["ResultsByTime"][0]["Groups"]
    }
    # 70 % off: 0.04048 * 0.3 = 0.012144 per vCPU-hour; 0.004445 * 0.3 * 2 GB = 0.002667.
    assert groups == {
        ("USE1-SpotUsage-Fargate-GB-Hours", "Spot Instances"): "0.002667",
        ("USE1-SpotUsage-Fargate-vCPU-Hours:perCPU", "Spot Instances"): "0.012144",
    }
    half = FargateRates(spot_discount=Decimal("0.5"))
    (vcpu, _) = line_items([spot], half)
    assert vcpu.rate == Decimal("0.02024")
    with pytest.raises(ValidationError):
        FargateRates(spot_discount=Decimal("1.5"))


def test_arm_rates_and_usage_types() -> None:
    arm = task("arm", 3600, cpu=1024, memory=2048, architecture=ARM64, region="eu-west-1")
    arm_spot = task("arm-spot", 60, architecture=ARM64, capacity_provider=FARGATE_SPOT)
    assert [item.usage_type for item in line_items([arm, arm_spot], FargateRates())] == [
        "EU-Fargate-ARM-vCPU-Hours:perCPU",
        "EU-Fargate-ARM-GB-Hours",
        "USE1-SpotUsage-Fargate-ARM-vCPU-Hours:perCPU",
        "USE1-SpotUsage-Fargate-ARM-GB-Hours",
    ]
    answer = get_cost_and_usage(
        [arm], time_period=DAY, granularity="DAILY", metrics=["UnblendedCost"], now=NOW
    )
    assert total(answer) == ["0.0395"]  # 0.03238 + 2 * 0.00356


def test_region_codes_from_the_table_or_the_pattern() -> None:
    assert [region_code(r) for r in ("us-east-1", "us-east-2", "us-west-1", "us-west-2")] == [
        "USE1",
        "USE2",
        "USW1",
        "USW2",
    ]
    assert region_code("eu-west-1") == "EU"
    assert region_code("eu-central-1") == "EUC1"
    assert region_code("ap-northeast-1") == "APN1"
    assert region_code("me-central-1") == "MEC1"  # not in the table: the pattern
    assert region_code("local") == "LOCAL"
    assert usage_type("us-west-2", "vCPU", "X86_64", spot=False) == "USW2-Fargate-vCPU-Hours:perCPU"
    assert usage_type("us-east-1", "GB", "X86_64", spot=False) == "USE1-Fargate-GB-Hours"


def test_ec2_launch_tasks_are_left_out_unless_asked_what_fargate_would_cost() -> None:
    ec2 = task("ec2", 90, capacity_provider=None)
    args: dict[str, Any] = {
        "time_period": DAY,
        "granularity": "DAILY",
        "metrics": ["UnblendedCost"],
        "now": NOW,
    }
    assert total(get_cost_and_usage([ec2], **args)) == ["0"]
    assert total(get_cost_and_usage([ec2], include_ec2=True, **args)) == ["0.0003085625"]
    assert get_dimension_values([ec2], time_period=DAY, dimension="SERVICE", now=NOW)["TotalSize"] == 0


# --- filters and groups ---------------------------------------------------------------------------------


def fleet() -> list[TaskUsage]:
    return [
        task("a", 90, tags={"team": "red", "env": "prod"}),
        task("b", 90, tags={"team": "blue"}, region="us-west-2"),
        task("c", 90, account="210987654321", capacity_provider=FARGATE_SPOT),
    ]


def keys(answer: dict[str, Any]) -> list[list[str]]:
    return [group["Keys"] for group in answer["ResultsByTime"][0]["Groups"]]


def grouped(group_by: list[dict[str, str]], expression: dict[str, Any] | None = None) -> list[list[str]]:
    return keys(
        get_cost_and_usage(
            fleet(),
            time_period=DAY,
            granularity="DAILY",
            metrics=["UnblendedCost"],
            now=NOW,
            group_by=group_by,
            filter=expression,
        )
    )


def test_group_keys_of_dimensions_and_tags() -> None:
    assert grouped([{"Type": "DIMENSION", "Key": "SERVICE"}]) == [["Amazon Elastic Container Service"]]
    assert grouped(
        [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "REGION"}]
    ) == [
        ["123456789012", "us-east-1"],
        ["123456789012", "us-west-2"],
        ["210987654321", "us-east-1"],
    ]
    assert grouped([{"Type": "TAG", "Key": "team"}]) == [["team$"], ["team$blue"], ["team$red"]]
    assert grouped([{"Type": "DIMENSION", "Key": "PURCHASE_TYPE"}]) == [
        ["On Demand Instances"],
        ["Spot Instances"],
    ]


def test_filters_of_dimensions_tags_and_logic() -> None:
    region = [{"Type": "DIMENSION", "Key": "REGION"}]
    west = {"Dimensions": {"Key": "REGION", "Values": ["us-west-2"]}}
    assert grouped(region, west) == [["us-west-2"]]
    assert grouped(region, {"Not": west}) == [["us-east-1"]]
    team = [{"Type": "TAG", "Key": "team"}]
    assert grouped(
        team, {"Tags": {"Key": "team", "Values": ["RED"], "MatchOptions": ["CASE_INSENSITIVE"]}}
    ) == [["team$red"]]
    assert grouped(team, {"Tags": {"Key": "team", "Values": [""]}}) == [["team$"]]
    assert grouped(team, {"Tags": {"Key": "team", "MatchOptions": ["ABSENT"]}}) == [["team$"]]
    assert grouped(team, {"Tags": {"Key": "env"}}) == [["team$red"]]
    spot_types = {
        "Dimensions": {"Key": "USAGE_TYPE", "Values": ["USE1-SpotUsage"], "MatchOptions": ["STARTS_WITH"]}
    }
    assert grouped(region, {"Or": [west, spot_types]}) == [["us-east-1"], ["us-west-2"]]
    only_gb = {"Dimensions": {"Key": "USAGE_TYPE", "Values": ["GB-Hours"], "MatchOptions": ["ENDS_WITH"]}}
    assert grouped([{"Type": "DIMENSION", "Key": "USAGE_TYPE"}], {"And": [only_gb, {"Not": spot_types}]}) == [
        ["USE1-Fargate-GB-Hours"],
        ["USW2-Fargate-GB-Hours"],
    ]
    account = {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["210987654321"]}}
    service = {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Container Service"]}}
    assert grouped(region, {"And": [account, service]}) == [["us-east-1"]]


@pytest.mark.parametrize(
    "expression",
    [
        {"Dimensions": {"Key": "AZ", "Values": ["us-east-1a"]}},
        {"Dimensions": {"Key": "REGION", "Values": []}},
        {"Dimensions": {"Key": "REGION", "Values": ["x"], "MatchOptions": ["GREATER_THAN_OR_EQUAL"]}},
        {"Dimensions": {"Key": "REGION", "Values": ["x"], "MatchOptions": ["ABSENT"]}},
        {"CostCategories": {"Key": "c", "Values": ["v"]}},
        {"Tags": {"Values": ["v"]}},
        {"And": []},
        {},
        {"Not": {"Dimensions": {"Key": "REGION", "Values": ["x"]}}, "Tags": {"Key": "k"}},
        {"Bogus": {}},
    ],
)
def test_unsupported_filters_are_validation_errors(expression: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        grouped([], expression)


@pytest.mark.parametrize(
    "group_by",
    [
        [{"Type": "DIMENSION", "Key": "AZ"}],
        [{"Type": "COST_CATEGORY", "Key": "c"}],
        [{"Type": "TAG", "Key": "a"}, {"Type": "TAG", "Key": "b"}, {"Type": "TAG", "Key": "c"}],
        [{"Type": "TAG", "Key": "a"}, {"Type": "TAG", "Key": "a"}],
    ],
)
def test_unsupported_groups_are_validation_errors(group_by: list[dict[str, str]]) -> None:
    with pytest.raises(ValidationError):
        grouped(group_by)


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metrics": ["unblendedcost"]}, "case-sensitive"),
        ({"metrics": ["Bananas"]}, "not a valid metric"),
        ({"metrics": []}, "at least one"),
        ({"metrics": ["NormalizedUsageAmount"]}, "not supported"),
        ({"granularity": "WEEKLY"}, "Granularity"),
        ({"time_period": {"Start": "2024-03-11", "End": "2024-03-10"}}, "before end"),
        ({"time_period": {"Start": "2024-03-10", "End": "2024-03-10"}}, "before end"),
        ({"time_period": {"Start": "2024-03-10T00:00:00Z", "End": "2024-03-11"}}, "HOURLY"),
        ({"time_period": {"Start": "2024-02-30", "End": "2024-03-11"}}, "valid date"),
        ({"time_period": {"Start": "10/03/2024", "End": "2024-03-11"}}, "format"),
        ({"time_period": {"Start": "2024-03-10"}}, "Start and an End"),
        ({"time_period": {"Start": "1990-01-01", "End": "2024-03-11"}, "granularity": "HOURLY"}, "shorter"),
    ],
)
def test_requests_are_validated(changes: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "time_period": DAY,
        "granularity": "DAILY",
        "metrics": ["UnblendedCost"],
        "now": NOW,
    }
    args.update(changes)
    with pytest.raises(ValidationError, match=message) as raised:
        get_cost_and_usage(fleet(), **args)
    assert raised.value.code == "ValidationException"


def test_amounts_print_as_plain_decimals() -> None:
    assert format_amount(Decimal(0)) == "0"
    assert format_amount(Decimal("10")) == "10"
    assert format_amount(Decimal("1E+2")) == "100"
    assert format_amount(Decimal("0.00067466666666")) == "0.0006746667"
    assert format_amount(Decimal("0.00000000004")) == "0"


# --- dimension values and tags --------------------------------------------------------------------------


def test_dimension_values_in_the_period_with_a_search_string() -> None:
    answer = get_dimension_values(fleet(), time_period=DAY, dimension="REGION", now=NOW)
    assert answer == {
        "DimensionValues": [
            {"Value": "us-east-1", "Attributes": {}},
            {"Value": "us-west-2", "Attributes": {}},
        ],
        "ReturnSize": 2,
        "TotalSize": 2,
    }
    found = get_dimension_values(
        fleet(), time_period=DAY, dimension="USAGE_TYPE", now=NOW, search_string="spot"
    )
    assert [v["Value"] for v in found["DimensionValues"]] == [
        "USE1-SpotUsage-Fargate-GB-Hours",
        "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU",
    ]
    later = {"Start": "2024-03-11", "End": "2024-03-12"}
    assert get_dimension_values(fleet(), time_period=later, dimension="SERVICE", now=NOW)["TotalSize"] == 0
    with pytest.raises(ValidationError):
        get_dimension_values(fleet(), time_period=DAY, dimension="INSTANCE_TYPE", now=NOW)


def test_tags_keys_or_values_of_one_key() -> None:
    assert get_tags(fleet(), time_period=DAY, now=NOW) == {
        "Tags": ["env", "team"],
        "ReturnSize": 2,
        "TotalSize": 2,
    }
    assert get_tags(fleet(), time_period=DAY, now=NOW, tag_key="team")["Tags"] == ["blue", "red"]
    assert get_tags(fleet(), time_period=DAY, now=NOW, tag_key="team", search_string="RE")["Tags"] == ["red"]
    west = {"Dimensions": {"Key": "REGION", "Values": ["us-west-2"]}}
    assert get_tags(fleet(), time_period=DAY, now=NOW, filter=west)["Tags"] == ["team"]
