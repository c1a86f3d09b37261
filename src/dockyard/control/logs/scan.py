"""One FilterLogEvents page: a bounded walk over a group's events in time order. Pure, over a
:class:`Listing` the caller reads from its store.

A page examines at most ``budget`` events past the position its token holds, and stops early at
``limit`` matches or at a response of ``max_bytes``; it ends at the last event examined, and says whether
a next page can find more. That is all a page's answer depends on, so the database may skip events no
match can be — those missing a substring :mod:`prefilter` says every match holds — as long as the budget
still counts every event. Hence::

    window  the events within the budget: its last one's key, one indexed lookup (``key_at``)
    read    those of them holding the required substrings, ``chunk`` rows at a time
    test    the pattern (and the wanted streams) on each row's message; only matches are kept
    stop    limit reached · response full · the window read to its end

The few facts an early stop needs about events that were skipped (is there one after this match, which
event came just before it) are asked of the listing at that moment. The result — events, the position
and whether there is more — is exactly that of examining every event of the window in turn: with
nothing to pre-filter the rows read are the window itself.

Rows are ``(id, stream_id, timestamp, ingestion_time, message)``; a position is ``(timestamp, id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.control.logs.prefilter import Clause

Key = tuple[int, int]
Row = tuple[int, int, int, int, str]


class Listing(Protocol):
    """A group's events in the order a search walks them (by key, or by key reversed); ``past`` and
    ``through`` are positions in that order, ``past`` None for its beginning."""

    def rows(
        self, past: Key | None, through: Key | None, containing: Sequence[Clause], limit: int
    ) -> Sequence[Row]:
        """The first ``limit`` events after ``past``, up to and including ``through`` (None: to the end),
        whose message holds a substring of each clause of ``containing`` (the listing may check fewer)."""
        ...

    def key_at(self, past: Key | None, offset: int) -> Key | None:
        """The key of the event ``offset`` places after ``past`` (0: the next), None if there is none."""
        ...

    def key_before(self, key: Key) -> Key | None:
        """The key of the event just before ``key``, None if there is none."""
        ...

    def count(self, past: Key | None, through: Key) -> int:
        """How many events come after ``past``, up to and including ``through``."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    budget: int
    """Events one page examines at most."""
    chunk: int
    """Rows read at once."""
    max_bytes: int
    """A page's size at most (its first match always fits)."""
    overhead_bytes: int
    """What each event adds to the size, beyond its message's UTF-8."""


@dataclass(frozen=True, slots=True)
class Page:
    matched: list[Row]
    key: Key | None
    """Where the next page starts: the last event examined (None: none was)."""
    more: bool
    """Whether there is a next page."""


def scan_page(
    listing: Listing,
    past: Key | None,
    *,
    test: Callable[[str], bool],
    streams: frozenset[int] | None,
    containing: Sequence[Clause],
    limit: int,
    limits: Limits,
) -> Page:
    """The matches among the ``limits.budget`` events after ``past``: those of ``streams`` (None: any)
    whose message passes ``test``, which every message that passes holds ``containing`` of."""
    # Pre-filtered rows do not count the events skipped, so the window's end is found first; without a
    # pre-filter the rows are the window, counted as they come.
    through = listing.key_at(past, limits.budget - 1) if containing else None
    unread = limits.budget
    matched: list[Row] = []
    size = 0
    cursor = past
    while True:
        wanted = limits.chunk if containing else min(limits.chunk, unread)
        chunk = listing.rows(cursor, through, containing, wanted)
        for row in chunk:
            message = row[4]
            if (streams is not None and row[1] not in streams) or not test(message):
                continue
            row_bytes = (len(message) if message.isascii() else len(message.encode())) + limits.overhead_bytes
            key = (row[2], row[0])
            if matched and size + row_bytes > limits.max_bytes:
                return Page(matched, listing.key_before(key), more=True)
            matched.append(row)
            size += row_bytes
            if len(matched) >= limit:
                return Page(matched, key, _more_after(listing, past, key, limits))
        if len(chunk) < wanted:  # the window, or the whole listing, is read
            break
        cursor = (chunk[-1][2], chunk[-1][0])
        unread -= len(chunk)
        if not containing and unread == 0:
            through = cursor
            break
    if through is None:  # the listing ended within the budget
        return Page(matched, None, more=False)
    return Page(matched, through, _more_after(listing, past, through, limits))


def _more_after(listing: Listing, past: Key | None, last: Key, limits: Limits) -> bool:
    """Whether a page whose last examined event is ``last`` has a next one. Whenever events remain after
    it; and, as pages have always answered, also when none does but ``last`` ended a full chunk of
    rows read one chunk at a time from ``past`` (reading on is how a page found out it was the end)."""
    if listing.key_at(last, 0) is not None:
        return True
    return listing.count(past, last) % limits.chunk == 0
