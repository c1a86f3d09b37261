"""The compiled test of terms patterns (control/logs/terms.py) agrees with the terms' definition: every
term of some alternative holds, ``(text in message) != excluded``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.control.logs.pattern import TermsPattern, compile_pattern
from dockyard.control.logs.terms import compile_terms

Alternatives = Sequence[Sequence[tuple[str, bool]]]


def reference(alternatives: Alternatives, message: str) -> bool:
    return any(all((text in message) != excluded for text, excluded in group) for group in alternatives)


# Short texts over few characters, so that terms are often in a message, often one in another.
TEXTS = st.text(alphabet="abAB é", max_size=3)
MESSAGES = st.text(alphabet='abAB é"\\', max_size=12)
GROUPS = st.lists(st.lists(st.tuples(TEXTS, st.booleans()), max_size=5), min_size=1, max_size=4)


@given(GROUPS, st.lists(MESSAGES, min_size=1, max_size=30))
def test_the_compiled_test_agrees_with_the_definition(
    alternatives: Alternatives, messages: list[str]
) -> None:
    test = compile_terms(alternatives)
    assert [test(m) for m in messages] == [reference(alternatives, m) for m in messages]


TOKENS = st.sampled_from(["a", "b", "ab", "A", "B_1", '"a b"', '" "', '"é"', '"\\"x\\""'])
PATTERNS = st.lists(st.tuples(st.sampled_from(["", "?", "-"]), TOKENS), min_size=1, max_size=6).map(
    lambda terms: " ".join(prefix + token for prefix, token in terms)
)


@given(PATTERNS, st.lists(st.text(alphabet='abAB_1 é"x', max_size=12), min_size=1, max_size=30))
def test_patterns_match_as_their_syntax_tree_says(text: str, messages: list[str]) -> None:
    pattern = compile_pattern(text)
    assert isinstance(pattern.body, TermsPattern)
    groups = [[(term.text, term.excluded) for term in group] for group in pattern.body.alternatives]
    assert [pattern.matches(m) for m in messages] == [reference(groups, m) for m in messages]


@pytest.mark.parametrize(
    ("alternatives", "message", "expected"),
    [
        ([[("", False)]], "", True),  # a blank phrase: every message
        ([[("", True)]], "anything", False),  # excluding what every message holds: none
        ([[("a", False), ("a", True)]], "a", False),  # required and excluded: never
        ([[("a", False), ("a", True)], [("b", False)]], "ab", True),  # ...but another alternative can
        ([[("a", True)], [("a", False)]], "", True),
        ([[("ab", False), ("a", False), ("a", False)]], "ab", True),
        ([[("ab", False), ("b", True)]], "ab", False),
        ([[("a", False)], [("b", False)], [("c", False)]], "xc", True),
        ([[("a", False), ("b", False), ("c", False)]], "abd", False),
        ([[("a", True), ("b", True)]], "c", True),
    ],
)
def test_edge_cases(alternatives: Alternatives, message: str, expected: bool) -> None:
    assert compile_terms(alternatives)(message) is expected is reference(alternatives, message)
