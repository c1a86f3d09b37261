"""FilterLogEvents' page walk (control/logs/scan.py) over an in-memory listing: with or without the
database's pre-filter, a page is exactly what examining every event in turn gives — the algorithm pages
had before the pre-filter, kept here as the reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.control.logs.pattern import compile_pattern
from dockyard.control.logs.prefilter import Clause, required_substrings
from dockyard.control.logs.scan import Key, Limits, Page, Row, scan_page


@dataclass
class MemoryListing:
    """A :class:`Listing` over rows already in walk order; counts the rows it hands out."""

    ordered: list[Row]
    forward: bool
    rows_read: int = 0

    def _beyond(self, key: Key, position: Key | None) -> bool:
        return position is None or (key > position if self.forward else key < position)

    def _after(self, past: Key | None) -> list[Row]:
        return [row for row in self.ordered if self._beyond(key_of(row), past)]

    def rows(
        self, past: Key | None, through: Key | None, containing: Sequence[Clause], limit: int
    ) -> list[Row]:
        found = [
            row
            for row in self._after(past)
            if (through is None or not self._beyond(key_of(row), through))
            and all(any(text in row[4] for text in clause) for clause in containing)
        ][:limit]
        self.rows_read += len(found)
        return found

    def key_at(self, past: Key | None, offset: int) -> Key | None:
        after = self._after(past)
        return key_of(after[offset]) if offset < len(after) else None

    def key_before(self, key: Key) -> Key | None:
        before = [row for row in self.ordered if self._beyond(key, key_of(row))]
        return key_of(before[-1]) if before else None

    def count(self, past: Key | None, through: Key) -> int:
        return sum(1 for row in self._after(past) if not self._beyond(key_of(row), through))


def key_of(row: Row) -> Key:
    return (row[2], row[0])


def reference_page(
    listing: MemoryListing, past: Key | None, keep: Callable[[Row], bool], limit: int, limits: Limits
) -> Page:
    """Every event examined in turn, read ``limits.chunk`` at a time: ``_Scan.run`` as it was."""
    matched: list[Row] = []
    size = scanned = 0
    key = past
    while True:
        chunk = listing.rows(key, None, (), limits.chunk)
        last = len(chunk) - 1 if len(chunk) < limits.chunk else None
        for index, row in enumerate(chunk):
            if keep(row):
                row_bytes = len(row[4].encode("utf-8")) + limits.overhead_bytes
                if size + row_bytes > limits.max_bytes and matched:
                    return Page(matched, key, more=True)
                matched.append(row)
                size += row_bytes
            key = key_of(row)
            scanned += 1
            if len(matched) >= limit or scanned >= limits.budget:
                return Page(matched, key, more=index != last)
        if last is not None:
            return Page(matched, key, more=False)


MESSAGES = [
    "ERROR a",
    "WARN b",
    "a b",
    "ERROR WARN",
    "x",
    "",
    "é ERROR ü",
    '{"level":"ERROR","n":1}',
    '{"level":"info","n":20}',
    '{"le\\u0076el":"ERROR"}',
    "ERROR 5 yz",
]
PATTERNS = [
    "ERROR",
    "?ERROR ?WARN",
    "-ERROR",
    "a b",
    "ERROR -WARN",
    '{ $.level = "ERROR" }',
    "{ $.n > 5 }",
    "%ERR%",
    "",
    "[w1 = ERROR, w2, ...]",
]


@st.composite
def listings(draw: st.DrawFn) -> tuple[list[Row], bool]:
    count = draw(st.integers(0, 24))
    rows: list[Row] = [
        (
            event_id,
            draw(st.integers(1, 3)),
            draw(st.integers(0, 6)),  # few timestamps: many events share one, ordered by id
            0,
            draw(st.sampled_from(MESSAGES)),
        )
        for event_id in range(1, count + 1)
    ]
    forward = draw(st.booleans())
    return sorted(rows, key=key_of, reverse=not forward), forward


@settings(max_examples=400)
@given(
    listings(),
    st.sampled_from(PATTERNS),
    st.sampled_from([None, frozenset({1, 2}), frozenset({3})]),
    st.integers(1, 6),
    st.builds(
        Limits,
        budget=st.integers(1, 12),
        chunk=st.integers(1, 5),
        max_bytes=st.integers(1, 80),
        overhead_bytes=st.integers(0, 26),
    ),
    st.data(),
)
def test_a_page_is_what_examining_every_event_gives(
    data_and_direction: tuple[list[Row], bool],
    text: str,
    streams: frozenset[int] | None,
    limit: int,
    limits: Limits,
    data: st.DataObject,
) -> None:
    ordered, forward = data_and_direction
    pattern = compile_pattern(text)

    def keep(row: Row) -> bool:
        return (streams is None or row[1] in streams) and pattern.matches(row[4])

    # Follow the pages from the beginning, checking each, and once from a position in between.
    starts: list[Key | None] = [None]
    if ordered:
        starts.append(key_of(data.draw(st.sampled_from(ordered))))
    for start in starts:
        past = start
        for _ in range(len(ordered) + 2):
            expected = reference_page(MemoryListing(ordered, forward), past, keep, limit, limits)
            page = scan_page(
                MemoryListing(ordered, forward),
                past,
                test=pattern.test,
                streams=streams,
                containing=required_substrings(pattern),
                limit=limit,
                limits=limits,
            )
            assert (page.matched, page.more) == (expected.matched, expected.more)
            if not page.more:
                break
            assert page.key == expected.key
            past = page.key


def page(listing: MemoryListing, pattern: str, limit: int, limits: Limits) -> Page:
    compiled = compile_pattern(pattern)
    return scan_page(
        listing,
        None,
        test=compiled.test,
        streams=None,
        containing=required_substrings(compiled),
        limit=limit,
        limits=limits,
    )


def test_the_pre_filter_reads_only_candidates_but_counts_every_event_against_the_budget() -> None:
    ordered: list[Row] = [(i, 1, i, 0, "hit" if i in (3, 25) else "miss") for i in range(1, 31)]
    limits = Limits(budget=10, chunk=4, max_bytes=1 << 20, overhead_bytes=26)
    listing = MemoryListing(ordered, forward=True)
    first = page(listing, "hit", 100, limits)
    assert ([row[0] for row in first.matched], first.key, first.more) == ([3], (10, 10), True)
    assert listing.rows_read == 1
    # The regular expression names no substring: every event of the budget is read.
    unfiltered = MemoryListing(ordered, forward=True)
    assert page(unfiltered, "%hit%", 100, limits) == first
    assert unfiltered.rows_read == 10


def test_a_limit_reached_on_the_last_event_of_a_full_chunk_still_offers_a_next_page() -> None:
    # As pages always answered: the walk learned it was at the end only by reading on.
    ordered: list[Row] = [(i, 1, i, 0, "hit") for i in range(1, 9)]
    limits = Limits(budget=100, chunk=4, max_bytes=1 << 20, overhead_bytes=26)
    assert page(MemoryListing(ordered, forward=True), "hit", 8, limits).more
    assert not page(MemoryListing(ordered[:7], forward=True), "hit", 7, limits).more
    assert page(MemoryListing(ordered, forward=True), "hit", 5, limits).more
