"""Cost Explorer against a real server: usage rows written straight into its ledger, read back with boto3's
``ce`` client and the aws CLI. Amounts are worked out by hand from us-east-1's default rates (x86 $0.04048
per vCPU-hour and $0.004445 per GB-hour, ARM $0.03238 and $0.00356, Spot 70 % off), per second with a
one-minute minimum.

Account A, all on 2024-03-10/11 (long past, so nothing is Estimated and every amount is fixed):

- t1  FARGATE, 0.25 vCPU / 0.5 GB, team=web, 10:00:00 → 10:00:30: billed 60 s (the minimum)
- t2  FARGATE, 1 vCPU / 2 GB, team=api, 10:30:00 → 12:30:00.5: billed 7201 s (a started second counts)
- t3  FARGATE_SPOT, 0.5 vCPU / 1 GB, untagged, 23:00 → 01:00 the next day: 3600 s on each day
- t4  EC2 launch, 1 vCPU / 1 GB, team=batch, 12:00 → 13:00: not billed (priced in the EC2 view only)
- t5  FARGATE ARM64 in eu-west-1, 2 vCPU / 4 GB, env=prod, from 03-11 00:00, still running

Account B: one FARGATE task, 4 vCPU / 8 GB, team=web, 2024-03-10 10:00 → 11:00.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dockyard.store import usage as ledger
from dockyard.store.database import open_database
from tests.integration.conftest import Keys, ServerProcess, make_client, run_aws

DAY_10 = {"Start": "2024-03-10", "End": "2024-03-11"}
BOTH_DAYS = {"Start": "2024-03-10", "End": "2024-03-12"}
COST = "UnblendedCost"
QUANTITY = "UsageQuantity"
VCPU, GB = "USE1-Fargate-vCPU-Hours:perCPU", "USE1-Fargate-GB-Hours"
SPOT_VCPU, SPOT_GB = "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU", "USE1-SpotUsage-Fargate-GB-Hours"
ARM_VCPU, ARM_GB = "EU-Fargate-ARM-vCPU-Hours:perCPU", "EU-Fargate-ARM-GB-Hours"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Accounts:
    a: Keys
    b: Keys


def _open(db: Any, keys: Keys, name: str, **row: Any) -> None:
    region = row.pop("region", "us-east-1")
    stop = row.pop("stopped_at", None)
    task_arn = f"arn:aws:ecs:{region}:{keys.account_id}:task/default/{name}"
    values: dict[str, Any] = {
        "account_id": keys.account_id,
        "region": region,
        "task_arn": task_arn,
        "cluster_name": "default",
        "launch_type": "FARGATE",
        "capacity_provider": None,
        "architecture": "X86_64",
        "tags": [],
    }
    values.update(row)
    with db.write() as tx:
        ledger.open_usage(tx, **values)
        if stop is not None:
            ledger.close_usage(tx, task_arn, stop)


@pytest.fixture(scope="module")
def accounts(server: ServerProcess) -> Iterator[Accounts]:
    a, b = server.create_key("ce-a"), server.create_key("ce-b")
    db = open_database(f"sqlite:///{Path(server.data_dir) / 'dockyard.db'}", migrate=False)
    try:
        web, api = [{"key": "team", "value": "web"}], [{"key": "team", "value": "api"}]
        _open(
            db,
            a,
            "t1",
            cpu=256,
            memory=512,
            tags=web,
            started_at=at("2024-03-10T10:00:00"),
            stopped_at=at("2024-03-10T10:00:30"),
        )
        _open(
            db,
            a,
            "t2",
            cpu=1024,
            memory=2048,
            tags=api,
            started_at=at("2024-03-10T10:30:00"),
            stopped_at=at("2024-03-10T12:30:00.500000"),
        )
        _open(
            db,
            a,
            "t3",
            cpu=512,
            memory=1024,
            capacity_provider="FARGATE_SPOT",
            started_at=at("2024-03-10T23:00:00"),
            stopped_at=at("2024-03-11T01:00:00"),
        )
        _open(
            db,
            a,
            "t4",
            cpu=1024,
            memory=1024,
            launch_type="EC2",
            tags=[{"key": "team", "value": "batch"}],
            started_at=at("2024-03-10T12:00:00"),
            stopped_at=at("2024-03-10T13:00:00"),
        )
        _open(
            db,
            a,
            "t5",
            cpu=2048,
            memory=4096,
            architecture="ARM64",
            region="eu-west-1",
            tags=[{"key": "env", "value": "prod"}],
            started_at=at("2024-03-11T00:00:00"),
        )
        _open(
            db,
            b,
            "b1",
            cpu=4096,
            memory=8192,
            tags=web,
            started_at=at("2024-03-10T10:00:00"),
            stopped_at=at("2024-03-10T11:00:00"),
        )
    finally:
        db.close()
    yield Accounts(a, b)


@pytest.fixture(scope="module")
def ce(server: ServerProcess, accounts: Accounts) -> Any:
    return make_client(server, "ce", accounts.a)


def totals(answer: dict[str, Any], metric: str = COST) -> list[str]:
    return [result["Total"][metric]["Amount"] for result in answer["ResultsByTime"]]


def groups(result: dict[str, Any], metric: str = COST) -> dict[str, str]:
    return {"|".join(group["Keys"]): group["Metrics"][metric]["Amount"] for group in result["Groups"]}


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# --- GetCostAndUsage ------------------------------------------------------------------------------------


def test_daily_totals_bill_per_second_with_the_one_minute_minimum(ce: Any) -> None:
    answer = ce.get_cost_and_usage(TimePeriod=BOTH_DAYS, Granularity="DAILY", Metrics=[COST, QUANTITY])
    assert [r["TimePeriod"] for r in answer["ResultsByTime"]] == [
        {"Start": "2024-03-10", "End": "2024-03-11"},
        {"Start": "2024-03-11", "End": "2024-03-12"},
    ]
    # 03-10: t1 60 s + t2 7201 s + t3's first Spot hour; t4 (EC2) is not billed.
    # 03-11: t3's second Spot hour + a whole day of t5 (ARM, running: counted to now).
    assert totals(answer) == ["0.1063649222", "1.9034055"]
    assert totals(answer, QUANTITY) == ["7.5133333333", "145.5"]
    assert answer["ResultsByTime"][0]["Total"][COST]["Unit"] == "USD"
    assert answer["ResultsByTime"][0]["Total"][QUANTITY]["Unit"] == "Hrs"
    assert [r["Estimated"] for r in answer["ResultsByTime"]] == [False, False]


def test_daily_by_usage_type(ce: Any) -> None:
    answer = ce.get_cost_and_usage(
        TimePeriod=BOTH_DAYS,
        Granularity="DAILY",
        Metrics=[COST, QUANTITY],
        GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    )
    assert answer["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    day_10, day_11 = answer["ResultsByTime"]
    assert groups(day_10) == {
        GB: "0.0178195111",  # (0.5 GB x 60 s + 2 GB x 7201 s) x $0.004445 / 3600
        VCPU: "0.0811399111",  # (0.25 x 60 s + 1 x 7201 s) x $0.04048 / 3600
        SPOT_GB: "0.0013335",  # 1 GB-hour at 30 % of $0.004445
        SPOT_VCPU: "0.006072",  # 0.5 vCPU-hour at 30 % of $0.04048
    }
    assert groups(day_10, QUANTITY) == {
        GB: "4.0088888889",
        VCPU: "2.0044444444",
        SPOT_GB: "1",
        SPOT_VCPU: "0.5",
    }
    assert groups(day_11) == {
        ARM_GB: "0.34176",
        ARM_VCPU: "1.55424",
        SPOT_GB: "0.0013335",
        SPOT_VCPU: "0.006072",
    }
    assert groups(day_11, QUANTITY)[ARM_VCPU] == "48"


def test_hourly_splits_a_task_at_hour_boundaries(ce: Any) -> None:
    answer = ce.get_cost_and_usage(
        TimePeriod={"Start": "2024-03-10T10:00:00Z", "End": "2024-03-10T13:00:00Z"},
        Granularity="HOURLY",
        Metrics=[COST],
    )
    assert [r["TimePeriod"]["Start"] for r in answer["ResultsByTime"]] == [
        "2024-03-10T10:00:00Z",
        "2024-03-10T11:00:00Z",
        "2024-03-10T12:00:00Z",
    ]
    # t1's minute and t2's first 1800 s; t2's 3600 s; t2's last 1801 s (its started last second included).
    assert totals(answer) == ["0.0248907083", "0.04937", "0.0246987139"]


def test_group_by_tag_and_by_two_keys(ce: Any) -> None:
    answer = ce.get_cost_and_usage(
        TimePeriod=DAY_10, Granularity="DAILY", Metrics=[COST], GroupBy=[{"Type": "TAG", "Key": "team"}]
    )
    assert groups(answer["ResultsByTime"][0]) == {
        "team$": "0.0074055",  # t3, untagged
        "team$api": "0.0987537139",
        "team$web": "0.0002057083",
    }
    both = ce.get_cost_and_usage(
        TimePeriod=DAY_10,
        Granularity="DAILY",
        Metrics=[COST],
        GroupBy=[{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "PURCHASE_TYPE"}],
    )
    assert groups(both["ResultsByTime"][0]) == {
        "team$|Spot Instances": "0.0074055",
        "team$api|On Demand Instances": "0.0987537139",
        "team$web|On Demand Instances": "0.0002057083",
    }


def test_filters_on_dimensions_and_tags(ce: Any) -> None:
    def day_10_total(expression: dict[str, Any]) -> str:
        answer = ce.get_cost_and_usage(
            TimePeriod=DAY_10, Granularity="DAILY", Metrics=[COST], Filter=expression
        )
        return str(answer["ResultsByTime"][0]["Total"][COST]["Amount"])

    assert day_10_total({"Dimensions": {"Key": "USAGE_TYPE", "Values": [GB]}}) == "0.0178195111"
    assert day_10_total(
        {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Container Service"]}}
    ) == ("0.1063649222")
    assert (
        day_10_total({"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Simple Storage Service"]}}) == "0"
    )
    assert day_10_total({"Tags": {"Key": "team", "Values": ["web"]}}) == "0.0002057083"
    assert day_10_total({"Tags": {"Key": "team", "MatchOptions": ["ABSENT"]}}) == "0.0074055"
    assert day_10_total({"Not": {"Dimensions": {"Key": "PURCHASE_TYPE", "Values": ["Spot Instances"]}}}) == (
        "0.0989594222"
    )
    assert (
        day_10_total(
            {
                "And": [
                    {"Dimensions": {"Key": "USAGE_TYPE", "Values": [VCPU]}},
                    {
                        "Tags": {
                            "Key": "team",
                            "Values": ["WEB"],
                            "MatchOptions": ["EQUALS", "CASE_INSENSITIVE"],
                        }
                    },
                ]
            }
        )
        == "0.0001686667"
    )  # t1's vCPU: 0.25 x 60 s x $0.04048 / 3600
    region = ce.get_cost_and_usage(
        TimePeriod=BOTH_DAYS,
        Granularity="DAILY",
        Metrics=[COST],
        Filter={"Dimensions": {"Key": "REGION", "Values": ["eu-west-1"]}},
    )
    assert totals(region) == ["0", "1.896"]  # t5 alone, billed whatever region the call is signed for


def test_the_ec2_view_prices_ec2_launch_tasks_as_fargate(ce: Any, accounts: Accounts) -> None:
    view = f"arn:aws:billing::{accounts.a.account_id}:billingview/dockyard-ec2-as-fargate"
    answer = ce.get_cost_and_usage(
        TimePeriod=DAY_10,
        Granularity="DAILY",
        Metrics=[COST, QUANTITY],
        GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        BillingViewArn=view,
    )
    # t4 alone: one hour of 1 vCPU and 1 GB on demand.
    assert groups(answer["ResultsByTime"][0]) == {GB: "0.004445", VCPU: "0.04048"}
    assert groups(answer["ResultsByTime"][0], QUANTITY) == {GB: "1", VCPU: "1"}
    tags = ce.get_tags(TimePeriod=DAY_10, TagKey="team", BillingViewArn=view)
    assert tags["Tags"] == ["batch"]
    primary = f"arn:aws:billing::{accounts.a.account_id}:billingview/primary"
    billed = ce.get_cost_and_usage(
        TimePeriod=DAY_10, Granularity="DAILY", Metrics=[COST], BillingViewArn=primary
    )
    assert totals(billed) == ["0.1063649222"]


def test_accounts_see_only_their_own_usage(server: ServerProcess, ce: Any, accounts: Accounts) -> None:
    other = make_client(server, "ce", accounts.b, region="eu-west-1")
    answer = other.get_cost_and_usage(TimePeriod=BOTH_DAYS, Granularity="DAILY", Metrics=[COST])
    assert totals(answer) == ["0.19748", "0"]  # b1: 4 x $0.04048 + 8 x $0.004445 for one hour
    assert other.get_tags(TimePeriod=BOTH_DAYS, TagKey="team")["Tags"] == ["web"]
    values = other.get_dimension_values(TimePeriod=BOTH_DAYS, Dimension="LINKED_ACCOUNT")
    assert [v["Value"] for v in values["DimensionValues"]] == [accounts.b.account_id]
    # Neither account can read the other's billing views.
    foreign = f"arn:aws:billing::{accounts.a.account_id}:billingview/primary"
    with pytest.raises(ClientError) as error:
        other.get_cost_and_usage(
            TimePeriod=DAY_10, Granularity="DAILY", Metrics=[COST], BillingViewArn=foreign
        )
    assert code_of(error) == "ResourceNotFoundException"
    fresh = make_client(server, "ce", server.create_key("ce-empty"))
    empty = fresh.get_cost_and_usage(TimePeriod=BOTH_DAYS, Granularity="DAILY", Metrics=[COST])
    assert totals(empty) == ["0", "0"]


# --- GetDimensionValues and GetTags ---------------------------------------------------------------------


def test_dimension_values(ce: Any) -> None:
    usage_types = ce.get_dimension_values(TimePeriod=BOTH_DAYS, Dimension="USAGE_TYPE")
    assert [v["Value"] for v in usage_types["DimensionValues"]] == sorted(
        [ARM_GB, ARM_VCPU, GB, VCPU, SPOT_GB, SPOT_VCPU]
    )
    assert usage_types["ReturnSize"] == usage_types["TotalSize"] == 6
    spot = ce.get_dimension_values(TimePeriod=BOTH_DAYS, Dimension="USAGE_TYPE", SearchString="spot")
    assert [v["Value"] for v in spot["DimensionValues"]] == [SPOT_GB, SPOT_VCPU]
    regions = ce.get_dimension_values(TimePeriod=BOTH_DAYS, Dimension="REGION")
    assert [v["Value"] for v in regions["DimensionValues"]] == ["eu-west-1", "us-east-1"]
    services = ce.get_dimension_values(TimePeriod=DAY_10, Dimension="SERVICE", Context="COST_AND_USAGE")
    assert [v["Value"] for v in services["DimensionValues"]] == ["Amazon Elastic Container Service"]
    # Only usage inside the period counts: 03-12 has t5 alone.
    later = ce.get_dimension_values(
        TimePeriod={"Start": "2024-03-12", "End": "2024-03-13"}, Dimension="REGION"
    )
    assert [v["Value"] for v in later["DimensionValues"]] == ["eu-west-1"]


def test_tags(ce: Any) -> None:
    assert ce.get_tags(TimePeriod=BOTH_DAYS)["Tags"] == ["env", "team"]
    assert ce.get_tags(TimePeriod=DAY_10)["Tags"] == ["team"]
    team = ce.get_tags(TimePeriod=BOTH_DAYS, TagKey="team")
    assert team["Tags"] == ["api", "web"]  # t4's "batch" is an EC2 task: not billed
    assert team["ReturnSize"] == team["TotalSize"] == 2
    assert ce.get_tags(TimePeriod=BOTH_DAYS, TagKey="team", SearchString="AP")["Tags"] == ["api"]
    filtered = ce.get_tags(
        TimePeriod=BOTH_DAYS, Filter={"Dimensions": {"Key": "REGION", "Values": ["eu-west-1"]}}
    )
    assert filtered["Tags"] == ["env"]


# --- the aws CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(server: ServerProcess, accounts: Accounts, tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": accounts.a.access_key_id,
        "AWS_SECRET_ACCESS_KEY": accounts.a.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }


def test_the_aws_cli_reads_costs(cli_env: dict[str, str], accounts: Accounts) -> None:
    by_type = json.loads(
        run_aws(
            cli_env,
            "ce",
            "get-cost-and-usage",
            "--time-period",
            "Start=2024-03-10,End=2024-03-11",
            "--granularity",
            "DAILY",
            "--metrics",
            "UnblendedCost",
            "UsageQuantity",
            "--group-by",
            "Type=DIMENSION,Key=USAGE_TYPE",
            "--output",
            "json",
        ).stdout
    )
    assert groups(by_type["ResultsByTime"][0])[VCPU] == "0.0811399111"
    assert groups(by_type["ResultsByTime"][0], QUANTITY)[GB] == "4.0088888889"
    hourly = json.loads(
        run_aws(
            cli_env,
            "ce",
            "get-cost-and-usage",
            "--time-period",
            "Start=2024-03-10T11:00:00Z,End=2024-03-10T13:00:00Z",
            "--granularity",
            "HOURLY",
            "--metrics",
            "UnblendedCost",
            "--filter",
            json.dumps({"Tags": {"Key": "team", "Values": ["api"]}}),
            "--output",
            "json",
        ).stdout
    )
    assert totals(hourly) == ["0.04937", "0.0246987139"]
    tags = json.loads(
        run_aws(
            cli_env, "ce", "get-tags", "--time-period", "Start=2024-03-10,End=2024-03-12", "--tag-key", "team"
        ).stdout
    )
    assert tags["Tags"] == ["api", "web"]
    values = json.loads(
        run_aws(
            cli_env,
            "ce",
            "get-dimension-values",
            "--time-period",
            "Start=2024-03-10,End=2024-03-12",
            "--dimension",
            "REGION",
        ).stdout
    )
    assert [v["Value"] for v in values["DimensionValues"]] == ["eu-west-1", "us-east-1"]
    view = f"arn:aws:billing::{accounts.a.account_id}:billingview/dockyard-ec2-as-fargate"
    ec2 = json.loads(
        run_aws(
            cli_env,
            "ce",
            "get-cost-and-usage",
            "--time-period",
            "Start=2024-03-01,End=2024-04-01",
            "--granularity",
            "MONTHLY",
            "--metrics",
            "UnblendedCost",
            "--billing-view-arn",
            view,
        ).stdout
    )
    assert totals(ec2) == ["0.044925"]  # t4: an hour of 1 vCPU and 1 GB on demand


def test_the_aws_cli_reports_validation_errors(cli_env: dict[str, str]) -> None:
    failed = run_aws(
        cli_env,
        "ce",
        "get-cost-and-usage",
        "--time-period",
        "Start=2024-03-11,End=2024-03-10",
        "--granularity",
        "DAILY",
        "--metrics",
        "UnblendedCost",
        check=False,
    )
    assert failed.returncode != 0
    assert "ValidationException" in failed.stderr
    assert "Start date (and hour) should be before end date (and hour)" in failed.stderr


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"TimePeriod": {"Start": "2024-13-01", "End": "2024-13-02"}}, "ValidationException"),
        ({"TimePeriod": {"Start": "2024-03-11", "End": "2024-03-10"}}, "ValidationException"),
        ({"TimePeriod": {"Start": "2024-03-10", "End": "2024-03-10"}}, "ValidationException"),
        (
            {"TimePeriod": {"Start": "2024-03-10T00:00:00Z", "End": "2024-03-11T00:00:00Z"}},
            "ValidationException",
        ),
        ({"TimePeriod": {"Start": "10/03/2024", "End": "2024-03-11"}}, "ValidationException"),
        ({"TimePeriod": {"Start": "2024-03-10", "End": "2999-01-01"}}, "ValidationException"),
        ({"Granularity": "WEEKLY"}, "ValidationException"),
        ({"Metrics": ["unblendedcost"]}, "ValidationException"),
        ({"Metrics": ["NormalizedUsageAmount"]}, "ValidationException"),
        ({"Metrics": []}, "ValidationException"),
        ({"GroupBy": [{"Type": "DIMENSION", "Key": "AZ"}]}, "ValidationException"),
        (
            {
                "GroupBy": [
                    {"Type": "TAG", "Key": "a"},
                    {"Type": "TAG", "Key": "b"},
                    {"Type": "TAG", "Key": "c"},
                ]
            },
            "ValidationException",
        ),
        ({"Filter": {"Dimensions": {"Key": "USAGE_TYPE", "Values": []}}}, "ValidationException"),
        (
            {"Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["x"]}, "Tags": {"Key": "a"}}},
            "ValidationException",
        ),
        (
            {"BillingViewArn": "arn:aws:billing::123456789012:billingview/custom-x"},
            "ResourceNotFoundException",
        ),
        ({"NextPageToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_bad_requests_get_cost_explorers_error_codes(ce: Any, changes: dict[str, Any], code: str) -> None:
    request: dict[str, Any] = {"TimePeriod": DAY_10, "Granularity": "DAILY", "Metrics": [COST], **changes}
    with pytest.raises(ClientError) as error:
        ce.get_cost_and_usage(**request)
    assert code_of(error) == code
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.value.response["Error"]["Message"]


def test_bad_dimension_and_tag_requests(ce: Any) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("get_dimension_values", {"Dimension": "AZ"}, "ValidationException"),
        ("get_dimension_values", {"Dimension": "REGION", "Context": "RESERVATIONS"}, "ValidationException"),
        ("get_dimension_values", {"Dimension": "REGION", "DimensionKey": "model"}, "ValidationException"),
        ("get_dimension_values", {"Dimension": "BOGUS"}, "ValidationException"),
        ("get_dimension_values", {"Dimension": "REGION", "NextPageToken": "x"}, "InvalidNextTokenException"),
        (
            "get_dimension_values",
            {"Dimension": "REGION", "SortBy": [{"Key": COST, "SortOrder": "DESCENDING"}]},
            "ValidationException",
        ),
        ("get_tags", {"TimePeriod": {"Start": "2024-02-30", "End": "2024-03-01"}}, "ValidationException"),
        ("get_tags", {"Filter": {"Tags": {"Key": ""}}}, "ValidationException"),
        (
            "get_tags",
            {"BillingViewArn": "arn:aws:billing::000000000000:billingview/primary"},
            "ResourceNotFoundException",
        ),
    ]
    for method, changes, code in cases:
        request: dict[str, Any] = {"TimePeriod": DAY_10, **changes}
        with pytest.raises(ClientError) as error:
            getattr(ce, method)(**request)
        assert code_of(error) == code, (method, changes, error.value.response["Error"])
