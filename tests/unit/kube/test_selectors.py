"""Label selectors (control/kube/selectors.py): the string syntax, the structured form, matching.

Cases come from the Kubernetes documentation ("Labels and Selectors"), apimachinery's own parser tests
and the messages kube-apiserver answers (as kubectl prints them after "Error from server (BadRequest)").
"""

from __future__ import annotations

import pytest

from dockyard.control.kube.errors import SelectorError
from dockyard.control.kube.labels import label_key_errors, label_value_errors
from dockyard.control.kube.selectors import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    from_map,
    from_structured,
    new_requirement,
    parse_label_selector,
)

NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def matching(selector: str, objects: dict[str, dict[str, str]]) -> list[str]:
    parsed = parse_label_selector(selector)
    return [name for name, labels in objects.items() if parsed.matches(labels)]


def error_of(selector: str) -> str:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400 and caught.value.reason == "BadRequest"
    return caught.value.message


PODS = {
    "prod-front": {"environment": "production", "tier": "frontend"},
    "prod-back": {"environment": "production", "tier": "backend"},
    "qa-front": {"environment": "qa", "tier": "frontend"},
    "dev": {"environment": "dev"},
    "bare": {},
}


# ── Equality-based requirements ─────────────────────────────────────────────────────────────────────


def test_equality_selects_objects_with_that_value() -> None:
    assert matching("environment = production", PODS) == ["prod-front", "prod-back"]
    assert matching("environment==production", PODS) == ["prod-front", "prod-back"]


def test_inequality_also_selects_objects_without_the_key() -> None:
    assert matching("tier != frontend", PODS) == ["prod-back", "dev", "bare"]


def test_comma_is_and() -> None:
    assert matching("environment=production,tier!=frontend", PODS) == ["prod-back"]


def test_an_empty_value_is_allowed_and_matches_only_the_empty_value() -> None:
    assert matching("a=", {"empty": {"a": ""}, "set": {"a": "x"}, "none": {}}) == ["empty"]


# ── Set-based requirements ──────────────────────────────────────────────────────────────────────────


def test_in_selects_any_of_the_values() -> None:
    assert matching("environment in (production, qa)", PODS) == ["prod-front", "prod-back", "qa-front"]


def test_notin_also_selects_objects_without_the_key() -> None:
    assert matching("tier notin (frontend, backend)", PODS) == ["dev", "bare"]


def test_a_bare_key_requires_it_and_a_negated_key_forbids_it() -> None:
    assert matching("tier", PODS) == ["prod-front", "prod-back", "qa-front"]
    assert matching("!tier", PODS) == ["dev", "bare"]


def test_the_documented_mixed_selector() -> None:
    assert matching("environment=production,tier in (frontend)", PODS) == ["prod-front"]
    assert matching(
        "partition in (customerA, customerB),environment!=qa", {"a": {"partition": "customerA"}}
    ) == ["a"]


def test_empty_places_in_a_value_set_are_the_empty_value() -> None:
    selector = parse_label_selector("x in (foo,,baz),y,z notin ()")
    assert selector.requirements == (
        Requirement("x", Operator.IN, ("", "baz", "foo")),
        Requirement("y", Operator.EXISTS),
        Requirement("z", Operator.NOT_IN, ("",)),
    )
    assert str(selector) == "x in (,baz,foo),y,z notin ()"


def test_in_and_notin_are_values_where_a_value_is_expected() -> None:
    assert matching("a in (in, notin)", {"i": {"a": "in"}, "n": {"a": "notin"}, "o": {"a": "x"}}) == [
        "i",
        "n",
    ]
    assert matching("in=notin", {"o": {"in": "notin"}}) == ["o"]


def test_greater_and_less_than_compare_integers() -> None:
    nodes = {"big": {"cpus": "64"}, "small": {"cpus": "2"}, "odd": {"cpus": "many"}, "none": {}}
    assert matching("cpus>8", nodes) == ["big"]
    assert matching("cpus<8", nodes) == ["small"]


# ── The parsed form ─────────────────────────────────────────────────────────────────────────────────


def test_requirements_are_sorted_by_key_and_printed_back() -> None:
    selector = parse_label_selector("z=1, a in (b,a) ,!m")
    assert [requirement.key for requirement in selector.requirements] == ["a", "m", "z"]
    assert str(selector) == "a in (a,b),!m,z=1"


def test_the_empty_string_selects_everything() -> None:
    selector = parse_label_selector("")
    assert selector == EVERYTHING and selector.empty
    assert parse_label_selector("   ").matches({"any": "thing"})


def test_whitespace_between_tokens_is_ignored() -> None:
    assert parse_label_selector("\ta\n= b ,\rc ") == parse_label_selector("a=b,c")


def test_prefixed_keys_are_valid() -> None:
    assert matching("app.kubernetes.io/name=web", {"w": {"app.kubernetes.io/name": "web"}}) == ["w"]


# ── Errors, as kube-apiserver words them ────────────────────────────────────────────────────────────


def test_a_colon_is_not_an_operator() -> None:
    # kubectl get pods -l "app:monolith"
    assert error_of("app:monolith") == (
        f'unable to parse requirement: <nil>: Invalid value: "app:monolith": {NAME_PART}'
    )


def test_a_prefix_must_be_a_lowercase_dns_subdomain() -> None:
    assert error_of("app.kubernetes_io/name=x") == (
        'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a '
        "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


def test_a_key_with_two_slashes() -> None:
    assert error_of("a/b/c ?=? def").startswith(
        'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of'
    )
    assert error_of("a/b/c").endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


def test_a_value_longer_than_63_characters() -> None:
    assert error_of("good-key=" + "z" * 64) == (
        f'unable to parse requirement: values[0][good-key]: Invalid value: "{"z" * 64}": '
        "must be no more than 63 characters"
    )


def test_a_bad_value_reports_every_problem() -> None:
    message = error_of("k=" + "-" * 64)
    assert message.startswith('unable to parse requirement: values[0][k]: Invalid value: "')
    assert "must be no more than 63 characters; a valid label must be an empty string" in message


def test_a_missing_operator() -> None:
    assert error_of("a b") == "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"


def test_a_dangling_comma() -> None:
    assert error_of("a,") == "found '', expected: identifier after ','"
    assert error_of(",a") == "found ',', expected: !, identifier, or 'end of string'"


def test_a_negated_key_takes_no_value() -> None:
    assert error_of("!a=b") == "found '=', expected: ',' or 'end of string'"


def test_a_value_set_needs_parentheses() -> None:
    assert error_of("a in b") == "unable to parse requirement: found 'b' expected: '('"
    assert error_of("a in (b c)") == "unable to parse requirement: found 'c', expected: ',' or ')'"
    assert error_of("a in (=)") == "unable to parse requirement: found '=', expected: ',', ')' or identifier"


def test_an_exact_value_must_be_an_identifier() -> None:
    assert error_of("a=(b)") == "unable to parse requirement: found '(', expected: identifier"


def test_a_bang_alone_needs_a_key() -> None:
    assert error_of("!") == "unable to parse requirement: found '', expected: identifier"


def test_comparisons_need_integers() -> None:
    assert error_of("a>x") == (
        'unable to parse requirement: values[0]: Invalid value: "x": '
        "for 'Gt', 'Lt' operators, the value must be an integer"
    )


# ── Label key and value rules ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "key",
    ["a", "A", "a-b_c.d", "example.com/MyName", "k8s.io/" + "n" * 63, "1", "a" * 63, "x" * 253 + "/n"],
)
def test_valid_label_keys(key: str) -> None:
    assert label_key_errors(key) == []


@pytest.mark.parametrize(
    ("key", "start"),
    [
        ("", "name part must be non-empty"),
        ("/a", "prefix part must be non-empty"),
        ("a/", "name part must be non-empty"),
        ("a" * 64, "name part must be no more than 63 characters"),
        ("-a", "name part must consist of"),
        ("Example.com/a", "prefix part a lowercase RFC 1123 subdomain"),
        ("x" * 254 + "/n", "prefix part must be no more than 253 characters"),
    ],
)
def test_invalid_label_keys(key: str, start: str) -> None:
    assert label_key_errors(key)[0].startswith(start)


def test_an_empty_name_is_also_reported_by_the_pattern() -> None:
    assert len(label_key_errors("")) == 2


@pytest.mark.parametrize("value", ["", "a", "MyValue", "my_value", "12345", "a.b-c_d", "v" * 63])
def test_valid_label_values(value: str) -> None:
    assert label_value_errors(value) == []


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "ä", "v" * 64, "a/b"])
def test_invalid_label_values(value: str) -> None:
    assert label_value_errors(value)


def test_length_is_counted_in_bytes_as_go_does() -> None:
    assert label_key_errors("é" * 32)[0] == "name part must be no more than 63 characters"


# ── The structured LabelSelector ────────────────────────────────────────────────────────────────────


def test_match_labels_and_match_expressions_are_anded() -> None:
    selector = from_structured(
        {
            "matchLabels": {"component": "redis"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["cache"]},
                {"key": "environment", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector.matches({"component": "redis", "tier": "cache", "environment": "prod"})
    assert selector.matches({"component": "redis", "tier": "cache"})
    assert not selector.matches({"component": "redis", "tier": "cache", "environment": "dev"})
    assert not selector.matches({"component": "redis"})


def test_exists_and_does_not_exist() -> None:
    selector = from_structured(
        {
            "matchExpressions": [
                {"key": "app", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
            ]
        }
    )
    assert selector.matches({"app": "x"})
    assert not selector.matches({"app": "x", "canary": "true"})
    assert not selector.matches({})


def test_a_null_selector_selects_nothing_and_an_empty_one_everything() -> None:
    assert from_structured(None) == NOTHING
    assert not NOTHING.matches({"a": "b"}) and not NOTHING.empty
    assert from_structured({}) == EVERYTHING
    assert from_structured({"matchLabels": {}, "matchExpressions": []}).matches({"a": "b"})


def test_an_unknown_operator_is_refused() -> None:
    with pytest.raises(SelectorError) as caught:
        from_structured({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
    assert caught.value.message == '"Gt" is not a valid label selector operator'


def test_in_needs_values_and_exists_takes_none() -> None:
    with pytest.raises(SelectorError, match="for 'in', 'notin' operators, values set can't be empty"):
        from_structured({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})
    with pytest.raises(SelectorError, match="values set must be empty for exists and does not exist"):
        from_structured({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})


def test_structured_values_are_validated() -> None:
    with pytest.raises(SelectorError) as caught:
        from_structured({"matchLabels": {"app": "not valid"}})
    assert caught.value.message.startswith(
        'values[0][app]: Invalid value: "not valid": a valid label must be'
    )


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(SelectorError) as caught:
        new_requirement("-bad", Operator.IN, [])
    assert caught.value.message.startswith('[key: Invalid value: "-bad": name part must consist of')
    assert caught.value.message.endswith(
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty]"
    )


def test_a_map_selector_matches_everything_when_empty() -> None:
    assert from_map({}).matches({"a": "b"}) and from_map(None).matches({})
    assert from_map({"app": "web"}).matches({"app": "web", "x": "y"})
    assert not from_map({"app": "web"}).matches({"app": "db"})


def test_missing_labels_are_no_labels() -> None:
    assert parse_label_selector("!a").matches(None)
