"""Container instance rules: resources, references, attributes."""

from __future__ import annotations

import pytest

from dockyard.services.ecs import container_instance_rules as rules
from dockyard.services.ecs.errors import AttributeLimitExceededException, InvalidParameterException

ACCOUNT = "123456789012"
REGION = "us-east-1"
ID = "0123456789abcdef0123456789abcdef"


def agent_resources(ports: list[str] | None = None) -> list[dict[str, object]]:
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 3768},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ports or ["22", "2376", "2375", "51678"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]


def test_total_resources_as_the_agent_sends_them() -> None:
    parsed = rules.parse_total_resources(agent_resources())
    assert parsed == rules.Resources(2048, 3768, (22, 2375, 2376, 51678), ())


@pytest.mark.parametrize(
    "resources",
    [
        [{"name": "CPU", "type": "INTEGER", "integerValue": 1024}],
        [*agent_resources()[:2], {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["http"]}],
        [*agent_resources()[:2], {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["70000"]}],
        [{"name": "CPU", "integerValue": -1}, {"name": "MEMORY", "integerValue": 1}],
    ],
)
def test_bad_total_resources_are_refused(resources: list[dict[str, object]]) -> None:
    with pytest.raises(InvalidParameterException):
        rules.parse_total_resources(resources)


def test_resources_view_has_ecs_shape() -> None:
    view = rules.resources_view(rules.Resources(1024, 512, (22,), (53,)))
    assert [r["name"] for r in view] == ["CPU", "MEMORY", "PORTS", "PORTS_UDP"]
    assert view[0]["integerValue"] == 1024 and view[0]["type"] == "INTEGER"
    assert view[2]["stringSetValue"] == ["22"] and view[3]["stringSetValue"] == ["53"]


def test_rebase_keeps_what_tasks_use() -> None:
    old = rules.Resources(2048, 4096, (22,), ())
    remaining = rules.Resources(1024, 3072, (22, 8080), ())
    rebased = rules.rebase_remaining(old, remaining, rules.Resources(4096, 8192, (22, 2375), ()))
    assert rebased == rules.Resources(3072, 7168, (22, 2375, 8080), ())


def test_references_by_id_and_arn() -> None:
    arn = rules.container_instance_arn(REGION, ACCOUNT, "web", ID)
    assert arn == f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/web/{ID}"
    kwargs = {"region": REGION, "account_id": ACCOUNT, "cluster": "web"}
    assert rules.instance_id_from_reference(ID, **kwargs) == ID
    assert rules.instance_id_from_reference(arn, **kwargs) == ID
    assert (
        rules.instance_id_from_reference(f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{ID}", **kwargs)
        == ID
    )
    other_account = arn.replace(ACCOUNT, "210987654321")
    assert rules.instance_id_from_reference(other_account, **kwargs) is None
    assert rules.instance_id_from_reference(arn.replace("/web/", "/db/"), **kwargs) is None
    with pytest.raises(InvalidParameterException):
        rules.instance_id_from_reference(f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web", **kwargs)
    with pytest.raises(InvalidParameterException):
        rules.instance_id_from_reference("not an id!", **kwargs)


def test_ec2_instance_id_is_stable_or_from_the_document() -> None:
    generated = rules.ec2_instance_id(None, ID)
    assert generated == rules.ec2_instance_id(None, ID)
    assert generated.startswith("i-") and len(generated) == 19
    assert rules.ec2_instance_id('{"instanceId": "i-0abc"}', ID) == "i-0abc"
    with pytest.raises(InvalidParameterException):
        rules.ec2_instance_id("{not json", ID)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ok name", "v"), ("x" * 129, "v"), ("stack", " prod"), ("stack", "prod "), ("stack", "p!"), ("s", "")],
)
def test_bad_attributes_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidParameterException):
        rules.check_attribute(name, value)


def test_good_attributes_pass() -> None:
    rules.check_attribute("ecs.availability-zone", "us-east-1a")
    rules.check_attribute("a/b\\c_d-e.f", "x@y:/z w")
    rules.check_attribute("flag", None)


def test_registration_replaces_built_in_and_keeps_custom() -> None:
    existing = {"ecs.os-type": "linux", "com.amazonaws.ecs.capability.old": None, "stack": "prod"}
    sent = {"ecs.os-type": "linux", "ecs.cpu-architecture": "arm64"}
    assert rules.registration_attributes(existing, sent) == {
        "stack": "prod",
        "ecs.os-type": "linux",
        "ecs.cpu-architecture": "arm64",
    }


def test_custom_attribute_limit() -> None:
    ten = {f"c{i}": "v" for i in range(10)}
    assert rules.check_custom_limit({**ten, "ecs.os-type": "linux"})
    with pytest.raises(AttributeLimitExceededException):
        rules.check_custom_limit({**ten, "c10": "v"})


def test_attribute_views() -> None:
    assert rules.attribute_list({"a": None, "b": "1"}) == [{"name": "a"}, {"name": "b", "value": "1"}]
    assert rules.attribute_view("b", "1", "arn") == {
        "name": "b",
        "value": "1",
        "targetType": "container-instance",
        "targetId": "arn",
    }
