"""The test a terms pattern runs on each message, compiled to the cheapest Python that decides it. Pure.

A terms pattern (``ERROR``, ``"ERROR 500" -retry``, ``?ERROR ?WARN``) is alternatives, each a group of
terms that must all be in the message (or, excluded, must not): ``(text in message) != excluded``, a
case-sensitive substring test. Evaluated through the syntax tree that costs a generator per group and a
method call per term, about 14 times a bare ``in``; the closures here are within a few tens of
nanoseconds of it::

    alternatives ─▶ simplify each group ─▶ drop groups that never match ─┬─ none left      never
                    ("" always present,     (a term both required and    ├─ an empty group  always
                     duplicates once,        excluded, or "" excluded)   ├─ one group       its test
                     long terms first)                                   └─ several         any of them

Longer terms are tested first: they are the likelier to be absent, so a miss is found sooner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MessageTest = Callable[[str], bool]


def compile_terms(alternatives: Sequence[Sequence[tuple[str, bool]]]) -> MessageTest:
    """A test equal to ``any(all((text in m) != excluded for text, excluded in group) for group in
    alternatives)`` on every message ``m``."""
    groups: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for group in alternatives:
        simplified = _simplified(group)
        if simplified is None:
            continue
        if simplified == ((), ()):
            return _always
        groups.append(simplified)
    if not groups:
        return _never
    if len(groups) == 1:
        return _group_test(*groups[0])
    if all(len(required) == 1 and not excluded for required, excluded in groups):
        return _any_of(tuple(required[0] for required, _ in groups))
    tests = tuple(_group_test(*group) for group in groups)

    def any_group(message: str) -> bool:
        for test in tests:  # noqa: SIM110 - a generator costs more than the tests it runs
            if test(message):
                return True
        return False

    return any_group


def _simplified(group: Sequence[tuple[str, bool]]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(required, excluded)`` texts of a group, without duplicates or the empty text (which every
    message holds), longest first; None if no message can satisfy the group."""
    required = {text for text, excluded in group if not excluded and text}
    excluded = {text for text, excluded in group if excluded}
    if "" in excluded or required & excluded:
        return None
    return _longest_first(required), _longest_first(excluded)


def _longest_first(texts: set[str]) -> tuple[str, ...]:
    return tuple(sorted(texts, key=lambda text: (-len(text), text)))


def _group_test(required: tuple[str, ...], excluded: tuple[str, ...]) -> MessageTest:
    match required, excluded:
        case (term,), ():
            return lambda message: term in message
        case (first, second), ():
            return lambda message: first in message and second in message
        case (), (term,):
            return lambda message: term not in message
        case (term,), (unwanted,):
            return lambda message: term in message and unwanted not in message

    def group_holds(message: str) -> bool:
        # Loops, not all()/any() over generators: a generator costs more than the tests it runs.
        for term in required:
            if term not in message:
                return False
        for term in excluded:  # noqa: SIM110 - a generator costs more than the tests
            if term in message:
                return False
        return True

    return group_holds


def _any_of(terms: tuple[str, ...]) -> MessageTest:
    if len(terms) == 2:
        first, second = terms
        return lambda message: first in message or second in message

    def holds_any(message: str) -> bool:
        for term in terms:  # noqa: SIM110 - a generator costs more than the tests
            if term in message:
                return True
        return False

    return holds_any


def _always(_message: str) -> bool:
    return True


def _never(_message: str) -> bool:
    return False
