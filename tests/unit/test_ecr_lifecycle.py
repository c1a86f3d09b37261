"""ECR lifecycle policies: AWS's validation messages and the evaluation semantics of its documentation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.core.errors import InvalidParameterError
from dockyard.services.ecr.lifecycle import (
    Expiration,
    ImageFacts,
    LifecyclePolicy,
    Rule,
    evaluate,
    parse_lifecycle_policy,
    preview,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)


# --- helpers -----------------------------------------------------------------------------------------------


def _rule(priority: int = 1, **selection: Any) -> dict[str, Any]:
    chosen = selection or {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
    return {"rulePriority": priority, "selection": chosen, "action": {"type": "expire"}}


def _text(document: Any) -> str:
    """The document as policy text, padded with whitespace to the API's minimum length."""
    return json.dumps(document).ljust(100)


def _rejection(document_or_text: Any) -> str:
    text = document_or_text if isinstance(document_or_text, str) else _text(document_or_text)
    with pytest.raises(InvalidParameterError) as excinfo:
        parse_lifecycle_policy(text)
    assert excinfo.value.code == "InvalidParameterException"
    assert excinfo.value.status == 400
    return excinfo.value.message


def _detail(document_or_text: Any) -> str:
    message = _rejection(document_or_text)
    assert message.startswith(PREFIX)
    assert message.endswith("'")
    return message[len(PREFIX) : -1]


def _rule_detail(**rule_members: Any) -> str:
    rule = _rule()
    rule.update(rule_members)
    return _detail({"rules": [rule]})


def _selection_detail(**selection: Any) -> str:
    return _detail({"rules": [_rule(1, **selection)]})


def _image(digest: str, *tags: str, age: timedelta) -> ImageFacts:
    return ImageFacts(digest=digest, tags=tags, pushed_at=NOW - age)


def _days(n: float) -> timedelta:
    return timedelta(days=n)


def _policy(*rules: dict[str, Any]) -> LifecyclePolicy:
    return parse_lifecycle_policy(_text({"rules": list(rules)}))


def _expired(policy: LifecyclePolicy, images: list[ImageFacts]) -> list[tuple[str, int]]:
    return [(e.digest, e.rule_priority) for e in evaluate(policy, images, NOW)]


def _keep_newest(priority: int, count: int, **tags: Any) -> dict[str, Any]:
    return _rule(priority, **tags, countType="imageCountMoreThan", countNumber=count)


def _older_than(priority: int, days: int, **tags: Any) -> dict[str, Any]:
    return _rule(priority, **tags, countType="sinceImagePushed", countUnit="days", countNumber=days)


# --- validation: length and JSON ---------------------------------------------------------------------------


def test_text_shorter_than_100_characters_is_refused_as_aws_does() -> None:
    message = _rejection(json.dumps({"rules": [_rule()]})[:99])
    assert message == (
        "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: "
        "'Member must have length greater than or equal to 100'"
    )


def test_text_longer_than_30720_characters_is_refused() -> None:
    message = _rejection(_text({"rules": [_rule()]}).ljust(30721))
    assert message == (
        "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: "
        "'Member must have length less than or equal to 30720'"
    )


def test_length_limits_are_inclusive() -> None:
    document = {"rules": [_rule()]}
    assert parse_lifecycle_policy(json.dumps(document).ljust(100)).rules[0].priority == 1
    assert parse_lifecycle_policy(json.dumps(document).ljust(30720)).rules[0].priority == 1


@pytest.mark.parametrize(
    "text",
    ["{not json" + " " * 100, "[" + " 1," * 40 + " 1]", '"' + "x" * 100 + '"', '{"rules": NaN}'.ljust(100)],
    ids=["malformed", "array", "string", "nan"],
)
def test_text_that_is_not_a_json_object_cannot_be_mapped(text: str) -> None:
    assert _detail(text) == "Could not map policyString into LifecyclePolicy."


def test_message_has_aws_frame() -> None:
    assert _rejection({"rulez": []}) == (
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        "'Lifecycle policy validation failure: object has missing required properties ([\"rules\"])'"
    )


# --- validation: the schema --------------------------------------------------------------------------------


def test_rules_must_be_an_array() -> None:
    assert _detail({"rules": {"rulePriority": 1}}) == (
        'instance type (object) does not match any allowed primitive type (allowed: ["array"])'
    )


def test_rules_must_not_be_empty() -> None:
    assert _detail({"rules": []}) == (
        "array is too short: must have at least 1 elements but instance has 0 elements"
    )


def test_unknown_top_level_member_is_refused() -> None:
    assert _detail({"rules": [_rule()], "version": "1"}) == (
        'object instance has properties which are not allowed by the schema: ["version"]'
    )


def test_rule_must_be_an_object() -> None:
    assert _detail({"rules": ["expire everything", "x" * 80]}) == (
        'instance type (string) does not match any allowed primitive type (allowed: ["object"])'
    )


def test_rule_missing_members_are_listed_sorted_and_compact() -> None:
    assert _detail({"rules": [{"description": "d" * 100}]}) == (
        'object has missing required properties (["action","rulePriority","selection"])'
    )


def test_unknown_rule_members_are_refused() -> None:
    assert _rule_detail(enabled=True, name="x") == (
        'object instance has properties which are not allowed by the schema: ["enabled","name"]'
    )


@pytest.mark.parametrize(
    ("priority", "detail"),
    [
        (0, "numeric instance is lower than the required minimum (minimum: 1, found: 0)"),
        (-3, "numeric instance is lower than the required minimum (minimum: 1, found: -3)"),
        ("1", 'instance type (string) does not match any allowed primitive type (allowed: ["integer"])'),
        (1.0, 'instance type (number) does not match any allowed primitive type (allowed: ["integer"])'),
        (True, 'instance type (boolean) does not match any allowed primitive type (allowed: ["integer"])'),
        (None, 'instance type (null) does not match any allowed primitive type (allowed: ["integer"])'),
    ],
)
def test_rule_priority_must_be_a_positive_integer(priority: object, detail: str) -> None:
    assert _rule_detail(rulePriority=priority) == detail


def test_description_is_optional_but_must_be_a_string() -> None:
    assert _rule_detail(description=7) == (
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])'
    )
    with_description = _rule()
    with_description["description"] = "keep one untagged"
    assert _policy(with_description).rules[0].description == "keep one untagged"
    assert _policy(_rule()).rules[0].description is None


def test_selection_required_members() -> None:
    assert _rule_detail(selection={"tagStatus": "untagged"}) == (
        'object has missing required properties (["countNumber","countType"])'
    )


def test_unknown_selection_member_is_refused() -> None:
    assert _selection_detail(
        tagStatus="untagged", countType="imageCountMoreThan", countNumber=1, storageClass="standard"
    ) == ('object instance has properties which are not allowed by the schema: ["storageClass"]')


def test_tag_status_must_be_known() -> None:
    assert _selection_detail(tagStatus="TAGGED", countType="imageCountMoreThan", countNumber=1) == (
        'instance value ("TAGGED") not found in enum (possible values: ["tagged","untagged","any"])'
    )


ONE_OF = "instance failed to match exactly one schema (matched 0 out of 2)"


@pytest.mark.parametrize(
    "count",
    [
        {"countType": "imageCountLessThan", "countNumber": 1},
        {"countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1},
        {"countType": "sinceImagePushed", "countNumber": 1},
        {"countType": "sinceImagePushed", "countUnit": "hours", "countNumber": 1},
        {"countType": "sinceImagePushed", "countUnit": None, "countNumber": 1},
    ],
    ids=["unknown-type", "count-with-unit", "age-without-unit", "age-in-hours", "null-unit"],
)
def test_count_type_and_unit_must_form_one_of_the_two_shapes(count: dict[str, Any]) -> None:
    assert _selection_detail(tagStatus="untagged", **count) == ONE_OF


def test_count_number_must_be_at_least_one() -> None:
    assert _selection_detail(tagStatus="untagged", countType="imageCountMoreThan", countNumber=0) == (
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)"
    )
    assert _selection_detail(
        tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber="7"
    ) == ('instance type (string) does not match any allowed primitive type (allowed: ["integer"])')


def test_action_type_must_be_expire() -> None:
    assert _rule_detail(action={"type": "delete"}) == (
        'instance value ("delete") not found in enum (possible values: ["expire"])'
    )
    assert _rule_detail(action={}) == 'object has missing required properties (["type"])'
    assert _rule_detail(action={"type": "expire", "targetStorageClass": "archive"}) == (
        'object instance has properties which are not allowed by the schema: ["targetStorageClass"]'
    )


def test_tag_lists_must_be_non_empty_string_arrays() -> None:
    base = {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}
    assert _selection_detail(**base, tagPrefixList=[]) == (
        "array is too short: must have at least 1 elements but instance has 0 elements"
    )
    assert _selection_detail(**base, tagPatternList=["v*", 2]) == (
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])'
    )
    assert _selection_detail(**base, tagPrefixList="v") == (
        'instance type (string) does not match any allowed primitive type (allowed: ["array"])'
    )


# --- validation: the rules' meaning ------------------------------------------------------------------------


def test_tagged_rule_needs_a_prefix_or_pattern_list() -> None:
    assert _selection_detail(tagStatus="tagged", countType="imageCountMoreThan", countNumber=1) == (
        "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED."
    )


@pytest.mark.parametrize("status", ["untagged", "any"])
@pytest.mark.parametrize("member", ["tagPrefixList", "tagPatternList"])
def test_tag_lists_are_only_for_tagged_rules(status: str, member: str) -> None:
    selection = {"tagStatus": status, member: ["v"], "countType": "imageCountMoreThan", "countNumber": 1}
    assert _selection_detail(**selection) == (
        "tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED."
    )


def test_prefix_and_pattern_lists_are_exclusive() -> None:
    assert _selection_detail(
        tagStatus="tagged",
        tagPrefixList=["v"],
        tagPatternList=["v*"],
        countType="imageCountMoreThan",
        countNumber=1,
    ) == ("A rule cannot specify both tagPrefixList and tagPatternList.")


def test_patterns_allow_at_most_four_wildcards() -> None:
    base = {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}
    ok = _policy(_rule(1, **base, tagPatternList=["*test*1*2*3", "test*1*2*3*"]))
    assert ok.rules[0].tag_patterns == ("*test*1*2*3", "test*1*2*3*")
    assert _selection_detail(**base, tagPatternList=["v*", "test*1*2*3*4*5*6"]) == (
        'A tagPatternList pattern can contain at most 4 wildcards (*): "test*1*2*3*4*5*6".'
    )


def test_rule_priorities_must_be_unique() -> None:
    rules = [_keep_newest(3, 1, tagStatus="tagged", tagPrefixList=["v"]), _keep_newest(3, 2, tagStatus="any")]
    assert _detail({"rules": rules}) == "Rule priorities must be unique; duplicate rulePriority: 3."


def test_only_one_rule_may_select_untagged_images() -> None:
    rules = [_keep_newest(1, 1, tagStatus="untagged"), _older_than(2, 3, tagStatus="untagged")]
    assert _detail({"rules": rules}) == "Only one rule can select Untagged images per storage class."


ANY_LAST = "Rule for tagStatus=ANY must have the lowest priority per storage class."


def test_any_rule_must_have_the_highest_priority_number() -> None:
    rules = [_keep_newest(2, 5, tagStatus="any"), _keep_newest(3, 1, tagStatus="untagged")]
    assert _detail({"rules": rules}) == ANY_LAST
    two_any = [_keep_newest(1, 5, tagStatus="any"), _older_than(9, 30, tagStatus="any")]
    assert _detail({"rules": two_any}) == ANY_LAST
    any_last = [_keep_newest(1, 5, tagStatus="untagged"), _older_than(9, 30, tagStatus="any")]
    assert [rule.tag_status for rule in _policy(*any_last).rules] == ["untagged", "any"]


def test_schema_errors_are_reported_before_meaning_errors() -> None:
    meaningless = _keep_newest(1, 1, tagStatus="tagged")  # no tag list: a meaning error
    malformed = _keep_newest(2, 0, tagStatus="untagged")  # countNumber 0: a schema error
    assert _detail({"rules": [meaningless, malformed]}) == (
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)"
    )


def test_valid_policy_maps_to_rules_sorted_by_priority() -> None:
    policy = _policy(
        _older_than(20, 1, tagStatus="untagged"),
        _keep_newest(10, 3, tagStatus="tagged", tagPatternList=["v*"]),
        _keep_newest(99, 50, tagStatus="any"),
    )
    assert policy.rules == (
        Rule(10, None, "tagged", (), ("v*",), "imageCountMoreThan", None, 3),
        Rule(20, None, "untagged", (), (), "sinceImagePushed", "days", 1),
        Rule(99, None, "any", (), (), "imageCountMoreThan", None, 50),
    )


# --- evaluation: the REFERENCE scenario --------------------------------------------------------------------


def test_keep_three_newest_v_images_and_expire_untagged_older_than_a_day() -> None:
    policy = _policy(
        _keep_newest(1, 3, tagStatus="tagged", tagPatternList=["v*"]),
        _older_than(2, 1, tagStatus="untagged"),
    )
    images = [
        _image("sha256:v1", "v1.0", age=_days(30)),
        _image("sha256:v2", "v1.1", age=_days(20)),
        _image("sha256:v3", "v2.0", "stable", age=_days(10)),
        _image("sha256:v4", "v2.1", age=_days(5)),
        _image("sha256:v5", "v3.0", "latest", age=_days(2)),
        _image("sha256:latest-only", "latest-old", age=_days(40)),
        _image("sha256:u-old", age=_days(3)),
        _image("sha256:u-2d", age=_days(2)),
        _image("sha256:u-1d", age=_days(1)),  # exactly one day: not "more than" a day
        _image("sha256:u-new", age=timedelta(hours=3)),
    ]
    assert _expired(policy, images) == [
        ("sha256:v1", 1),
        ("sha256:v2", 1),
        ("sha256:u-old", 2),
        ("sha256:u-2d", 2),
    ]
    assert preview(policy, images, NOW) == evaluate(policy, images, NOW)


def test_preview_is_the_evaluator_itself() -> None:
    assert preview is evaluate


# --- evaluation: priority and claiming ---------------------------------------------------------------------


def test_aws_example_a_image_matching_an_earlier_rule_is_not_expired_by_a_later_one() -> None:
    policy = _policy(
        _keep_newest(1, 1, tagStatus="tagged", tagPrefixList=["prod"]),
        _keep_newest(2, 1, tagStatus="tagged", tagPrefixList=["beta"]),
    )
    images = [
        _image("A", "beta-1", "prod-1", age=_days(10)),
        _image("B", "beta-2", "prod-2", age=_days(9)),
        _image("C", "beta-3", age=_days(8)),
    ]
    assert _expired(policy, images) == [("A", 1)]


def test_aws_example_b_later_rule_counts_but_cannot_expire_claimed_images() -> None:
    policy = _policy(
        _keep_newest(1, 1, tagStatus="tagged", tagPrefixList=["prod"]),
        _keep_newest(2, 1, tagStatus="tagged", tagPrefixList=["beta"]),
    )
    images = [
        _image("A", "beta-1", "prod-1", age=_days(10)),
        _image("B", "beta-2", "prod-2", age=_days(9)),
        _image("C", "beta-3", "prod-3", age=_days(8)),
        _image("D", "beta-4", age=_days(7)),
    ]
    assert _expired(policy, images) == [("A", 1), ("B", 1)]


def test_an_image_kept_by_an_earlier_rule_is_protected_from_later_rules() -> None:
    policy = _policy(
        _keep_newest(1, 9999, tagStatus="tagged", tagPrefixList=["release"]),
        _older_than(2, 1, tagStatus="any"),
    )
    images = [_image("rel", "release-1", age=_days(400)), _image("dev", "dev-1", age=_days(400))]
    assert _expired(policy, images) == [("dev", 2)]


def test_a_later_count_rule_counts_images_claimed_by_earlier_rules() -> None:
    # Rule 2 "identifies" all four images and keeps the two newest (the prod ones), so both dev images go.
    policy = _policy(
        _keep_newest(1, 10, tagStatus="tagged", tagPrefixList=["prod"]),
        _keep_newest(2, 2, tagStatus="any"),
    )
    images = [
        _image("dev-a", "dev-a", age=_days(4)),
        _image("dev-b", age=_days(3)),
        _image("prod-c", "prod-c", age=_days(2)),
        _image("prod-d", "prod-d", age=_days(1)),
    ]
    assert _expired(policy, images) == [("dev-a", 2), ("dev-b", 2)]


def test_an_image_both_rules_would_expire_is_expired_once_by_the_first() -> None:
    policy = _policy(
        _older_than(1, 5, tagStatus="tagged", tagPatternList=["*"]),
        _older_than(2, 1, tagStatus="any"),
    )
    images = [_image("old", "v1", age=_days(10)), _image("old-untagged", age=_days(10))]
    assert _expired(policy, images) == [("old", 1), ("old-untagged", 2)]


def test_rules_apply_in_priority_order_whatever_their_order_in_the_text() -> None:
    images = [_image("x", "v1", age=_days(10)), _image("y", "v2", age=_days(9))]
    first = _keep_newest(5, 1, tagStatus="tagged", tagPrefixList=["v1"])
    second = _older_than(7, 1, tagStatus="tagged", tagPrefixList=["v"])
    assert _expired(_policy(second, first), images) == [("y", 7)]
    assert _expired(_policy(first, second), images) == [("y", 7)]


def test_result_is_ordered_by_rule_priority_then_oldest_first() -> None:
    policy = _policy(
        _keep_newest(1, 1, tagStatus="tagged", tagPrefixList=["v"]),
        _keep_newest(2, 1, tagStatus="untagged"),
    )
    images = [
        _image("u1", age=_days(9)),
        _image("v-new", "v3", age=_days(1)),
        _image("v-mid", "v2", age=_days(5)),
        _image("u2", age=_days(7)),
        _image("v-old", "v1", age=_days(6)),
        _image("u3", age=_days(8)),
    ]
    assert _expired(policy, images) == [("v-old", 1), ("v-mid", 1), ("u1", 2), ("u3", 2)]


# --- evaluation: tag selection -----------------------------------------------------------------------------


def _selected(rule: dict[str, Any], *tag_sets: tuple[str, ...]) -> list[bool]:
    parsed = _policy(rule).rules[0]
    return [parsed.selects(tags) for tags in tag_sets]


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("*", "anything", True),
        ("prod*", "prod", True),
        ("prod*", "production-team1", True),
        ("prod*", "preprod", False),
        ("*prod*", "repo-production", True),
        ("*-rc", "v1-rc", True),
        ("*-rc", "v1-rc2", False),
        ("v*.*", "v1.2", True),
        ("v*.*", "v12", False),
        ("latest", "latest", True),
        ("latest", "latest2", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "axxbyyc", True),
        ("a*b*c", "acb", False),
        ("v1.0", "v1x0", False),
        ("v+", "vv", False),
    ],
)
def test_pattern_wildcards(pattern: str, tag: str, matches: bool) -> None:
    rule = _keep_newest(1, 1, tagStatus="tagged", tagPatternList=[pattern])
    assert _selected(rule, (tag,)) == [matches]


def test_every_pattern_must_be_matched_by_some_tag() -> None:
    # AWS's "multiple tags in a single rule" example: only images carrying alpha* AND beta* tags are selected.
    rule = _keep_newest(1, 1, tagStatus="tagged", tagPatternList=["alpha*", "beta*"])
    assert _selected(rule, ("alpha-1",), ("beta-1",), ("alpha-2", "beta-2"), ("alpha-beta",), ()) == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_every_prefix_must_start_some_tag() -> None:
    rule = _keep_newest(1, 1, tagStatus="tagged", tagPrefixList=["prod", "v"])
    assert _selected(rule, ("prod-1",), ("v1",), ("prod-1", "v1"), ("v1", "x", "production")) == [
        False,
        False,
        True,
        True,
    ]


def test_untagged_and_any_selection() -> None:
    untagged = _keep_newest(1, 1, tagStatus="untagged")
    assert _selected(untagged, (), ("v1",)) == [True, False]
    any_rule = _keep_newest(1, 1, tagStatus="any")
    assert _selected(any_rule, (), ("v1",)) == [True, True]


def test_multiple_patterns_example_with_age_and_count() -> None:
    images = [
        _image("A", "alpha-1", age=_days(12)),
        _image("B", "beta-1", age=_days(11)),
        _image("C", "alpha-2", "beta-2", age=_days(10)),
        _image("D", "alpha-3", age=_days(4)),
        _image("E", "beta-3", age=_days(3)),
        _image("F", "alpha-4", "beta-4", age=_days(2)),
    ]
    by_age = _policy(_older_than(1, 5, tagStatus="tagged", tagPatternList=["alpha*", "beta*"]))
    by_count = _policy(_keep_newest(1, 1, tagStatus="tagged", tagPatternList=["alpha*", "beta*"]))
    assert _expired(by_age, images) == [("C", 1)]
    assert _expired(by_count, images) == [("C", 1)]


# --- evaluation: counting ----------------------------------------------------------------------------------


def test_since_image_pushed_boundary_is_strictly_more_than_n_days() -> None:
    policy = _policy(_older_than(1, 7, tagStatus="any"))
    images = [
        _image("exactly", age=_days(7)),
        _image("just-over", "v1", age=_days(7) + timedelta(microseconds=1)),
        _image("just-under", age=_days(7) - timedelta(microseconds=1)),
        _image("future", age=-_days(1)),
    ]
    assert _expired(policy, images) == [("just-over", 1)]


def test_any_rule_expires_tagged_and_untagged_alike() -> None:
    policy = _policy(_keep_newest(1, 2, tagStatus="any"))
    images = [
        _image("a", "v1", age=_days(4)),
        _image("b", age=_days(3)),
        _image("c", "v2", age=_days(2)),
        _image("d", age=_days(1)),
    ]
    assert _expired(policy, images) == [("a", 1), ("b", 1)]


def test_count_at_or_under_the_limit_expires_nothing() -> None:
    policy = _policy(_keep_newest(1, 3, tagStatus="any"))
    images = [_image(f"d{i}", age=_days(i)) for i in range(3)]
    assert evaluate(policy, images, NOW) == []
    assert evaluate(policy, [], NOW) == []


def test_push_time_ties_are_broken_by_digest() -> None:
    policy = _policy(_keep_newest(1, 1, tagStatus="any"))
    images = [_image("sha256:bbb", age=_days(1)), _image("sha256:aaa", age=_days(1))]
    assert _expired(policy, images) == [("sha256:aaa", 1)]
    assert _expired(policy, list(reversed(images))) == [("sha256:aaa", 1)]


def test_enormous_day_counts_expire_nothing() -> None:
    policy = _policy(_older_than(1, 10**12, tagStatus="any"))
    assert evaluate(policy, [_image("a", age=_days(10_000))], NOW) == []


def test_repeated_digests_are_refused() -> None:
    policy = _policy(_keep_newest(1, 1, tagStatus="any"))
    with pytest.raises(ValueError, match="sha256:dup"):
        evaluate(policy, [_image("sha256:dup", age=_days(1)), _image("sha256:dup", "v", age=_days(2))], NOW)


# --- properties --------------------------------------------------------------------------------------------

TAGS = ("v1", "v2.0", "prod", "prod-1", "beta-1", "latest", "x")
PREFIXES = ("v", "prod", "beta", "", "l")
PATTERNS = ("*", "v*", "prod*", "*-1", "*a*", "latest", "v*.*")

_tag_sets = st.lists(st.sampled_from(TAGS), unique=True, max_size=3).map(tuple)
_images = st.lists(
    st.builds(
        ImageFacts,
        digest=st.text("0123456789abcdef", min_size=1, max_size=4).map(lambda h: f"sha256:{h}"),
        tags=_tag_sets,
        pushed_at=st.integers(0, 24 * 12).map(lambda hours: NOW - timedelta(hours=hours)),
    ),
    unique_by=lambda image: image.digest,
    max_size=12,
)


@st.composite
def _selections(draw: st.DrawFn, status: str) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status}
    if status == "tagged":
        member, pool = draw(st.sampled_from([("tagPrefixList", PREFIXES), ("tagPatternList", PATTERNS)]))
        selection[member] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        selection.update(countType="imageCountMoreThan", countNumber=draw(st.integers(1, 4)))
    else:
        selection.update(countType="sinceImagePushed", countUnit="days", countNumber=draw(st.integers(1, 10)))
    return selection


@st.composite
def _policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Valid policies: tagged rules, at most one untagged rule, and an optional ``any`` rule last."""
    statuses = ["tagged"] * draw(st.integers(0, 4))
    statuses += ["untagged"] * draw(st.integers(0, 1))
    statuses = draw(st.permutations(statuses))
    statuses += ["any"] * draw(st.integers(0 if statuses else 1, 1))
    priorities = sorted(draw(st.lists(st.integers(1, 50), min_size=len(statuses), unique=True)))
    priorities = priorities[: len(statuses)]
    rules = [
        {"rulePriority": p, "selection": draw(_selections(s)), "action": {"type": "expire"}}
        for p, s in zip(priorities, statuses, strict=True)
    ]
    return {"rules": draw(st.permutations(rules))}


def _reference_evaluation(policy: LifecyclePolicy, images: list[ImageFacts]) -> set[Expiration]:
    """Independent oracle: an image belongs to the first rule selecting it; expired if that rule marks it."""
    result = set()
    rules = sorted(policy.rules, key=lambda r: r.priority)
    for image in images:
        owner = next((rule for rule in rules if rule.selects(image.tags)), None)
        if owner is None:
            continue
        peers = [i for i in images if owner.selects(i.tags)]
        if owner.count_type == "imageCountMoreThan":
            newer = [p for p in peers if (p.pushed_at, p.digest) > (image.pushed_at, image.digest)]
            marked = len(newer) >= owner.count_number
        else:
            marked = NOW - image.pushed_at > timedelta(days=owner.count_number)
        if marked:
            result.add(Expiration(image.digest, owner.priority))
    return result


@settings(max_examples=300, deadline=None)
@given(document=_policy_documents(), images=_images, data=st.data())
def test_evaluation_properties(
    document: dict[str, Any], images: list[ImageFacts], data: st.DataObject
) -> None:
    policy = parse_lifecycle_policy(_text(document))
    result = evaluate(policy, images, NOW)
    by_digest = {image.digest: image for image in images}
    by_priority = {rule.priority: rule for rule in policy.rules}

    digests = [e.digest for e in result]
    assert len(digests) == len(set(digests)), "an image was expired twice"
    assert set(digests) <= set(by_digest), "an expired image was not in the input"
    for expiration in result:
        image = by_digest[expiration.digest]
        assert by_priority[expiration.rule_priority].selects(image.tags)
        earlier = [r for r in policy.rules if r.priority < expiration.rule_priority]
        assert not any(rule.selects(image.tags) for rule in earlier), "a claimed image was expired later"

    order = [(e.rule_priority, by_digest[e.digest].pushed_at, e.digest) for e in result]
    assert order == sorted(order)
    assert set(result) == _reference_evaluation(policy, images)
    assert evaluate(policy, data.draw(st.permutations(images)), NOW) == result
    assert preview(policy, images, NOW) == result


@settings(max_examples=200, deadline=None)
@given(document=_policy_documents())
def test_valid_policies_parse_to_their_rules(document: dict[str, Any]) -> None:
    policy = parse_lifecycle_policy(_text(document))
    expected = sorted(document["rules"], key=lambda rule: rule["rulePriority"])
    assert [rule.priority for rule in policy.rules] == [rule["rulePriority"] for rule in expected]
    for rule, source in zip(policy.rules, expected, strict=True):
        selection = source["selection"]
        assert rule.tag_status == selection["tagStatus"]
        assert rule.tag_prefixes == tuple(selection.get("tagPrefixList", ()))
        assert rule.tag_patterns == tuple(selection.get("tagPatternList", ()))
        assert (rule.count_type, rule.count_unit, rule.count_number) == (
            selection["countType"],
            selection.get("countUnit"),
            selection["countNumber"],
        )
