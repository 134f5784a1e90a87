"""Pages of a list the services read by offset, filtered here by what they cannot filter
(a part of a name, a state): each request reads a bounded number of rows, however many
there are, and says where the next page starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

PAGE = 50
"""Rows a page shows."""
SCAN = 2000
"""Rows one page reads at most while looking for matches."""
CHUNK = 500
"""Rows per read while looking."""
EVERY = 1000
"""Rows per read when every row is wanted (the services' largest page)."""

Fetch = Callable[[int, int], Awaitable[Sequence[T]]]
"""Read ``count`` rows from ``offset`` on: ``fetch(offset, count)``."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    start: int
    """The offset this page started reading at."""
    read_to: int
    """The offset after the last row this page read: where the next page starts."""
    more: bool
    """Whether rows after ``read_to`` may match."""


async def page_of(
    fetch: Fetch[T], keep: Callable[[T], bool] | None, start: int, size: int = PAGE
) -> Page[T]:
    """Up to ``size`` rows from ``start`` on that ``keep`` keeps (every row when None),
    reading at most :data:`SCAN` rows."""
    if keep is None:
        read = list(await fetch(start, size + 1))
        return Page(read[:size], start, start + min(size, len(read)), len(read) > size)
    found: list[T] = []
    offset = start
    while offset - start < SCAN:
        want = min(CHUNK, SCAN - (offset - start))
        rows = await fetch(offset, want)
        for i, row in enumerate(rows):
            if keep(row):
                found.append(row)
                if len(found) == size:
                    return Page(
                        found, start, offset + i + 1, i + 1 < len(rows) or len(rows) == want
                    )
        offset += len(rows)
        if len(rows) < want:
            return Page(found, start, offset, False)
    return Page(found, start, offset, True)


async def every(fetch: Fetch[T], keep: Callable[[T], bool] | None = None) -> list[T]:
    """Every row (that ``keep`` keeps), read :data:`EVERY` at a time: for counts and for
    acting on all of them."""
    found: list[T] = []
    offset = 0
    while True:
        rows = await fetch(offset, EVERY)
        found += [r for r in rows if keep is None or keep(r)]
        offset += len(rows)
        if len(rows) < EVERY:
            return found
