"""Substrings every event a filter pattern matches must hold, for the database to pre-filter on. Pure.

FilterLogEvents reads a group's events in time order and runs the pattern on each. Most patterns name
text that any match contains verbatim; the store can test for it inside the database (``instr`` on SQLite,
``strpos`` on PostgreSQL), far cheaper than reading the event into Python, and the pattern itself still
decides each event that passes. So :func:`required_substrings` must never leave out a matching event,
and may let through events that do not match::

    pattern ─┬─ terms        each text in every alternative's required terms (not ``-term``s)
             ├─ JSON         each key a comparison or check needs ("…" with its quotes) and each ``=``
             │               string value's text — or a backslash, since a JSON string may escape any
             │               character (``"lev\\u0065l"`` is the key ``level``); ``IS TRUE`` (and FALSE,
             │               NULL) need their literal, which cannot be escaped
             ├─ delimited    each ``=`` string value's text: a field is a piece of the event as written
             └─ otherwise    nothing (regular expressions, and every event for a blank pattern)

``&&`` adds up what both sides need; ``||`` keeps only what both need. A result is clauses: of each, the
message holds at least one of its substrings.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.control.logs.pattern import (
    And,
    Check,
    Comparison,
    Condition,
    DelimitedPattern,
    Glob,
    JsonPattern,
    Or,
    Pattern,
    Selector,
    TermsPattern,
)

Clause = tuple[str, ...]
"""Substrings of which a matching message holds at least one."""

MAX_CLAUSES = 8
"""Clauses handed to the database at most: the longest (the likeliest to be rare) go first."""

_ESCAPE = "\\"
_CHECK_LITERALS = {"IS TRUE": "true", "IS FALSE": "false", "IS NULL": "null"}


def required_substrings(pattern: Pattern) -> tuple[Clause, ...]:
    """Clauses every message ``pattern`` matches satisfies; empty when nothing is certain."""
    match pattern.body:
        case TermsPattern(alternatives):
            clauses = _common(
                {(term.text,) for term in group if term.text and not term.excluded} for group in alternatives
            )
        case JsonPattern(condition):
            clauses = _condition_needs(condition)
        case DelimitedPattern(before, after):
            clauses = set().union(
                *(
                    _condition_needs(spec.condition)
                    for spec in (*before, *after)
                    if spec.condition is not None
                )
            )
        case _:
            clauses = set()
    return tuple(sorted(clauses, key=lambda clause: (-len(clause[0]), clause)))[:MAX_CLAUSES]


def _condition_needs(condition: Condition) -> set[Clause]:
    match condition:
        case And(left, right):
            return _condition_needs(left) | _condition_needs(right)
        case Or(left, right):
            return _condition_needs(left) & _condition_needs(right)
        case Check(target, test):
            if test == "NOT EXISTS":
                return set()
            return {*_key_clauses(target), (_CHECK_LITERALS[test],)}
        case Comparison(target, operator_text, value):
            # Both = and != are false unless the selector reaches a string or a number.
            needs = _key_clauses(target) if isinstance(target, Selector) else set()
            if operator_text == "=" and isinstance(value, Glob) and value.core:
                needs.add(_json_text(value.core) if isinstance(target, Selector) else (value.core,))
            return needs


def _key_clauses(selector: Selector) -> set[Clause]:
    return {_json_text(f'"{step}"') for step in selector.steps if isinstance(step, str)}


def _json_text(text: str) -> Clause:
    """Text a JSON event holds as written, unless it escapes some character."""
    return (text, _ESCAPE)


def _common(groups: Iterable[set[Clause]]) -> set[Clause]:
    """What every group holds."""
    common: set[Clause] | None = None
    for group in groups:
        common = group if common is None else common & group
    return common or set()
