"""Substrings every match of a filter pattern holds (control/logs/prefilter.py): which patterns name
which, and that no matching event ever lacks them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.control.logs.pattern import compile_pattern
from dockyard.control.logs.prefilter import MAX_CLAUSES, Clause, required_substrings

BS = "\\"


def clauses(text: str) -> tuple[Clause, ...]:
    return required_substrings(compile_pattern(text))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", [("ERROR",)]),
        ('"ERROR 500" Exception -retry', [("ERROR 500",), ("Exception",)]),
        ("ERROR ERROR", [("ERROR",)]),
        ("ERROR -WARN", [("ERROR",)]),
        ('"user@host" " "', [("user@host",)]),  # a blank phrase needs nothing
        # Terms common to every alternative are needed; these are the ?term patterns that name some.
        ("?ERROR x ?WARN x", [("x",)]),
        ('?"ERROR" "MainThread" ?"WARN" "MainThread"', [("MainThread",)]),
        ("{ $.latency > 100 }", [('"latency"', BS)]),
        ('{ $.level = "ERROR" && $.code != 5 }', [('"level"', BS), ('"code"', BS), ("ERROR", BS)]),
        ('{ $.a = 1 || ($.a = 2 && $.b = "x") }', [('"a"', BS)]),
        ("{ $.list[0].name = x* }", [('"list"', BS), ('"name"', BS), ("x", BS)]),
        ('{ $.a != "value" }', [('"a"', BS)]),  # != needs the key, not the value
        ("{ $.a IS TRUE }", [("true",), ('"a"', BS)]),  # true cannot be escaped
        ("{ $.a IS NULL && $.b IS FALSE }", [("false",), ("null",), ('"a"', BS), ('"b"', BS)]),
        ('{ $.a = "" }', [('"a"', BS)]),  # an empty string value: only the key
        ("{ $.a = * }", [('"a"', BS)]),
        ("{ $.a = %x+% }", [('"a"', BS)]),
        ("[ip, user, ..., status = 4*, size > 100]", [("4",)]),
        ('[w1 = "ERROR 5*" && w1 != x, w2 = *z]', [("ERROR 5",), ("z",)]),
    ],
)
def test_patterns_name_the_substrings_their_matches_hold(pattern: str, expected: list[Clause]) -> None:
    assert clauses(pattern) == tuple(expected)


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "   ",
        '" "',
        "?ERROR ?WARN",  # either term: neither is certain
        '?"ERROR" "MainThread" ?"WARN" "Deadlock"',
        "ERROR ?WARN",
        "-ERROR",  # only exclusions
        "-ERROR -WARN",
        "%ERROR%",  # regular expressions are not looked into
        "{ $.a = 1 || $.b = 1 }",
        "{ $.a NOT EXISTS }",
        "[w1 = ERROR || w1 = WARN, w2]",
        "[a, b, c]",
        "[a > 1, b != x]",
    ],
)
def test_patterns_without_certain_substrings_name_none(pattern: str) -> None:
    assert clauses(pattern) == ()


def test_the_longest_few_go_to_the_database() -> None:
    terms = [f"t{'x' * n}" for n in range(12)]
    assert clauses(" ".join(terms)) == tuple((term,) for term in reversed(terms[-MAX_CLAUSES:]))


def holds(found: tuple[Clause, ...], message: str) -> bool:
    return all(any(text in message for text in clause) for clause in found)


TERM_PATTERNS = st.lists(
    st.tuples(st.sampled_from(["", "?", "-"]), st.sampled_from(["a", "b", "ab", '"a b"', '" "', '"é"'])),
    min_size=1,
    max_size=5,
).map(lambda terms: " ".join(prefix + token for prefix, token in terms))


@given(TERM_PATTERNS, st.text(alphabet="ab é", max_size=10))
def test_a_terms_match_holds_the_substrings(pattern: str, message: str) -> None:
    compiled = compile_pattern(pattern)
    if compiled.matches(message):
        assert holds(required_substrings(compiled), message)


JSON_PATTERNS = [
    '{ $.level = "ERROR" }',
    "{ $.level = ERR* && $.latency > 10 }",
    '{ $.level = "ERROR" || $.latency > 10 }',
    "{ $.nested.level = *R }",
    "{ $.list[1] = 2 }",
    "{ $.flag IS TRUE }",
    "{ $.flag IS FALSE || $.flag IS NULL }",
    '{ $.level != "ERROR" && $.latency >= 0 }',
    "{ $.latency = 1.50 }",
]
LEVELS = st.sampled_from(["ERROR", "error", "ERR", "xR", "é", 'q"uote', "back\\slash"])
# Documents shaped like the patterns' selectors, so that many match; "other" holds anything.
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "level": LEVELS,
        "latency": st.sampled_from([5, 20, 1.5, "1.50", "20"]),
        "nested": st.fixed_dictionaries({}, optional={"level": LEVELS}),
        "list": st.lists(st.integers(0, 3), max_size=3),
        "flag": st.sampled_from([True, False, None, "true"]),
        "other": st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(-5, 5), LEVELS),
            lambda children: st.one_of(st.lists(children, max_size=2), st.dictionaries(LEVELS, children)),
            max_leaves=4,
        ),
    },
)


def escaped(document: Any) -> str:
    """``document`` as JSON with every ``l`` and ``v`` of its strings written ``\\u006c``, ``\\u0076``:
    the same document to a JSON reader, not the same text."""
    if isinstance(document, dict):
        return "{" + ",".join(f"{escaped(k)}:{escaped(v)}" for k, v in document.items()) + "}"
    if isinstance(document, list):
        return "[" + ",".join(escaped(v) for v in document) + "]"
    text = json.dumps(document, ensure_ascii=False)
    if isinstance(document, str):
        text = text.replace("l", "\\u006c").replace("v", "\\u0076")
    return text


@given(DOCUMENTS)
def test_a_json_match_holds_the_substrings_however_the_event_is_written(document: dict[str, Any]) -> None:
    spellings = [json.dumps(document, ensure_ascii=False), json.dumps(document), escaped(document)]
    for pattern in map(compile_pattern, JSON_PATTERNS):
        for message in spellings:
            if pattern.matches(message):
                assert holds(required_substrings(pattern), message), (pattern.source, message)


def test_an_escaped_key_still_matches_and_passes_the_prefilter() -> None:
    message = '{"le\\u0076el": "ERROR"}'
    compiled = compile_pattern('{ $.level = "ERROR" }')
    assert compiled.matches(message)
    assert '"level"' not in message
    assert holds(required_substrings(compiled), message)


@given(
    st.sampled_from(["[a = x*, b]", '[..., b = "y z"]', "[a = *x* || a = xy, ..., c = *z]", '[a, b = "*é"]']),
    st.lists(st.sampled_from(["x", "xy", "yx", '"y z"', "[y z]", "z", "é", "aé"]), max_size=4),
)
def test_a_space_delimited_match_holds_the_substrings(pattern: str, fields: list[str]) -> None:
    message = " ".join(fields)
    compiled = compile_pattern(pattern)
    if compiled.matches(message):
        assert holds(required_substrings(compiled), message)
