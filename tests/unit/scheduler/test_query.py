"""The cluster query language: the guide's examples, the semantics chosen where it is silent, and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.control.scheduler import QueryError, parse_query
from dockyard.control.scheduler.query_syntax import (
    And,
    Comparison,
    Expression,
    Not,
    Or,
    format_expression,
    parse_expression,
)
from dockyard.core.errors import InvalidParameterError
from tests.unit.scheduler.harness import instance

G2_EAST_1A = instance("g2a", zone="us-east-1a", instance_type="g2.2xlarge", ec2_instance_id="i-abcd1234")
G2_EAST_1D = instance("g2d", zone="us-east-1d", instance_type="g2.2xlarge")
T2_SMALL = instance(
    "t2",
    zone="us-east-1b",
    instance_type="t2.small",
    attributes={"stack": "prod", "gpu": None, "size": "10"},
    running=1,
    groups={"service:production": 2, "database": 0},
    agent_version="1.14.5",
    registered_at=datetime(2018, 2, 12, 23, 0, tzinfo=UTC),
)
OLD_AGENT = instance("old", connected=False, running=7, agent_version="1.9.0", groups={"database": 1})
FLEET = (G2_EAST_1A, G2_EAST_1D, T2_SMALL, OLD_AGENT)


def selected(expression: str) -> set[str]:
    query = parse_query(expression)
    return {host.instance_id for host in FLEET if query.matches(host)}


# --- the guide's examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("attribute:ecs.instance-type == t2.small", {"t2"}),
        ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", {"g2a", "t2", "old"}),
        ("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", {"g2a"}),
        ("task:group == service:production", {"t2"}),
        ("not(task:group == database)", {"g2a", "g2d", "t2"}),
        ("runningTasksCount == 1", {"t2"}),
        ("agentVersion < 1.14.5", {"old"}),
        ("registeredAt < 2018-02-13", {"t2"}),
        ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", {"g2a"}),
        ("attribute:stack != prod", set()),
        ("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a", {"old"}),
    ],
)
def test_guide_examples(expression: str, expected: set[str]) -> None:
    assert selected(expression) == expected


# --- operators, subjects, compound expressions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("agentConnected == false", {"old"}),
        ("agentConnected == TRUE and runningTasksCount >= 1", {"t2"}),
        ("agentConnected != true || runningTasksCount == 1", {"t2", "old"}),
        ("agentConnected =~ f.*", {"old"}),
        ("!(agentConnected == true) && ! runningTasksCount < 7", {"old"}),
        ("not not runningTasksCount > 6", {"old"}),
        ("runningTasksCount <= 1 and not (runningTasksCount == 0)", {"t2"}),
        ("attribute:ecs.instance-type equals t2.small", {"t2"}),
        (
            "attribute:ecs.instance-type not_equals t2.small and attribute:ecs.os-type == linux",
            {"g2a", "g2d", "old"},
        ),
        ("attribute:ecs.instance-type matches g2\\..*", {"g2a", "g2d"}),
        ("attribute:ecs.instance-type !~ g2.*", {"t2", "old"}),
        ("attribute:ecs.instance-type not_matches 'g2.*|t2.*'", set()),
        ("attribute:ecs.instance-type =~ 2.small", set()),  # the whole value must match
        ("attribute:ecs.availability-zone !in [us-east-1a, us-east-1b]", {"g2d"}),
        ("attribute:ecs.availability-zone not_in [us-east-1a]", {"g2d", "t2"}),
        ("attribute:stack exists", {"t2"}),
        ("attribute:gpu exists", {"t2"}),  # an attribute without a value exists…
        ("attribute:gpu == ''", set()),  # … but has no value to compare
        ("attribute:stack !exists", {"g2a", "g2d", "old"}),
        ("attribute:stack not_exists or attribute:stack == prod", {"g2a", "g2d", "t2", "old"}),
        ("attribute:size > 9", {"t2"}),  # numbers compare as numbers…
        ("attribute:size greater_than_equal 10.0", {"t2"}),
        ("attribute:stack < queue", {"t2"}),  # … anything else lexically
        ("agentVersion >= 1.14.5", {"g2a", "g2d", "t2"}),
        ("agentVersion == 1.14.5.0", {"t2"}),
        ("agentVersion greater_than 1.9", {"g2a", "g2d", "t2"}),
        ("registeredAt >= 2018-06-18T22:28:28+00:00", {"g2a", "g2d", "old"}),
        ("registeredAt less_than_equal 2018-02-12T23:00:00Z", {"t2"}),
        ("registeredAt == 2018-02-12T23:00:00", {"t2"}),
        ("task:group exists", {"t2", "old"}),  # a group with no task is not on the instance
        ("task:group !exists", {"g2a", "g2d"}),
        ("task:group in [database, web]", {"old"}),
        ("task:group =~ service:.*", {"t2"}),
        ("task:group != database", {"t2"}),  # existential: some group on it is not "database"
        ("ec2InstanceId =~ i-.*", {"g2a"}),
        ("ec2InstanceId != i-abcd1234", set()),  # absent subjects satisfy nothing but !exists
        ("runningTasksCount == 0 or runningTasksCount == 7 and agentConnected == true", {"g2a", "g2d"}),
        ("(runningTasksCount == 0 or runningTasksCount == 7) and agentConnected == true", {"g2a", "g2d"}),
        ("((runningTasksCount == 7))", {"old"}),
        ("attribute:stack == 'prod'", {"t2"}),
        ('attribute:stack in ["prod", qa]', {"t2"}),
    ],
)
def test_semantics(expression: str, expected: set[str]) -> None:
    assert selected(expression) == expected


def test_queries_print_canonically() -> None:
    query = parse_query("agentConnected equals true && !(runningTasksCount > 5 || attribute:a exists)")
    assert str(query) == "agentConnected == true and not (runningTasksCount > 5 or attribute:a exists)"
    assert str(parse_query("attribute:x in ['a b', \"it's\"]")) == "attribute:x in ['a b', \"it's\"]"


# --- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ("", 0, "expected a subject"),
        ("attribute:x", 11, "expected an operator"),
        ("attribute:x ==", 14, "expected a value"),
        ("attribute:x == a b", 17, "expected 'and', 'or'"),
        ("(attribute:x == a", 17, "expected ')'"),
        ("attribute:x == a)", 16, "expected 'and', 'or'"),
        ("attribute:x in [a, b", 20, "expected ',' or ']'"),
        ("attribute:x in [a,, b]", 18, "expected a value"),
        ("attribute:x == 'a", 15, "unterminated quoted value"),
        ("attribute:x = a", 12, "unexpected character '='"),
        ("attribute:x == a & b", 17, "unexpected character '&'"),
        ("instanceType == t2", 0, "unknown subject 'instanceType'"),
        ("attribute: == t2", 0, "unknown subject 'attribute:'"),
        ("agentConnected > true", 0, "operator '>' is not valid for agentConnected"),
        ("runningTasksCount =~ 1.*", 0, "operator '=~' is not valid for runningTasksCount"),
        ("agentVersion in [1.0]", 0, "operator 'in' is not valid for agentVersion"),
        ("ec2InstanceId exists", 0, "operator 'exists' is not valid for ec2InstanceId"),
        ("attribute:x in a", 15, "'in' expects a list"),
        ("attribute:x == [a]", 15, "'==' expects a single value"),
        ("agentConnected == yes", 18, "'yes' is not a valid value for agentConnected =="),
        ("runningTasksCount > -1", 20, "'-1' is not a valid value"),
        ("agentVersion < 1.x", 15, "'1.x' is not a valid value"),
        ("registeredAt < yesterday", 15, "'yesterday' is not a valid value"),
        ("attribute:x =~ 'a('", 15, "'a(' is not a valid value"),
        ("attribute:x == a and", 20, "expected a subject"),
        ("not", 3, "expected a subject"),
        ("(" * 100 + "attribute:x == a" + ")" * 100, 64, "nested deeper than 64"),
    ],
)
def test_errors_carry_a_position(expression: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(expression)
    assert caught.value.position == position
    assert fragment in caught.value.reason
    assert str(caught.value).startswith(f"Invalid cluster query expression at position {position}: ")


def test_query_errors_reach_the_wire_as_invalid_parameter() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_query("nonsense")
    assert caught.value.code == "InvalidParameterException"


# --- properties ------------------------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_:/@*", min_size=1, max_size=8)
_VALUE = st.one_of(_WORD, st.text(alphabet='ab ()[],!=<>~&|"', max_size=6).filter(lambda v: "'" not in v))
_REGEX = st.text(alphabet="ab.-|", max_size=6).map(lambda v: f"'({v}).*'")
_COMPARISON = st.one_of(
    st.builds(
        Comparison,
        st.sampled_from(["attribute:stack", "attribute:ecs.availability-zone", "task:group"]),
        st.sampled_from(["==", "!="]),
        _VALUE,
    ),
    st.builds(Comparison, st.just("attribute:stack"), st.sampled_from(["=~", "!~"]), _REGEX),
    st.builds(
        Comparison,
        st.just("attribute:x"),
        st.sampled_from(["in", "!in"]),
        st.lists(_VALUE, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(Comparison, st.just("task:group"), st.sampled_from(["exists", "!exists"])),
    st.builds(
        Comparison,
        st.just("runningTasksCount"),
        st.sampled_from(["<", "<=", ">", ">="]),
        st.integers(0, 99).map(str),
    ),
)
_EXPRESSION: st.SearchStrategy[Expression] = st.recursive(
    _COMPARISON,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)


@given(_EXPRESSION)
def test_printing_then_parsing_gives_the_same_tree(expression: Expression) -> None:
    assert parse_expression(format_expression(expression)) == expression
    assert str(parse_query(format_expression(expression))) == format_expression(expression)


_FRAGMENTS = st.sampled_from(
    [
        "attribute:x",
        "task:group",
        "agentConnected",
        "runningTasksCount",
        "registeredAt",
        "agentVersion",
        "==",
        "!=",
        "=~",
        "!~",
        "in",
        "!in",
        "exists",
        "!exists",
        "not",
        "!",
        "and",
        "&&",
        "or",
        "||",
        "(",
        ")",
        "[",
        "]",
        ",",
        "'",
        '"',
        "a",
        "1",
        "1.2.3",
        "2018-02-13",
        "true",
        " ",
        "=",
        "&",
        "|",
        "~",
    ]
)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=40), st.lists(_FRAGMENTS, max_size=14).map(" ".join)))
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        return
    for host in FLEET:
        assert isinstance(query.matches(host), bool)
    assert parse_expression(format_expression(query.expression)) == query.expression


# --- hostile expressions: matching stays linear ------------------------------------------------------------


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    """``(a+)+b`` against 128 a's takes a backtracking engine longer than the age of the universe."""
    host = instance("h", attributes={"stack": "a" * 128})
    assert not parse_query('attribute:stack =~ "(a+)+b"').matches(host)
    assert parse_query('attribute:stack =~ "(a+)+"').matches(host)


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "(?<!b)a"])
def test_patterns_only_a_backtracking_engine_can_run_are_refused(pattern: str) -> None:
    with pytest.raises(QueryError, match="not a valid value"):
        parse_query(f'attribute:stack =~ "{pattern}"')
