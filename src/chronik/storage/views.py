"""Rows of the view tables as records, for both backends (which differ only in how a
time comes back: micros on SQLite, ``datetime`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chronik.records import FailedEvent, ViewState

Time = Callable[[Any], datetime]

_LAST = chr(0x10FFFF)


def prefix_end(prefix: str) -> str | None:
    """The least key above every key that starts with ``prefix`` (keys compare by code
    point), so that a prefix is one range of the primary key; None when no key is above them
    all (``prefix`` is empty or only U+10FFFF)."""
    kept = prefix.rstrip(_LAST)
    if not kept:
        return None
    following = ord(kept[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters of a stored key
        following = 0xE000
    return kept[:-1] + chr(following)


def _maybe(time: Time, value: Any) -> datetime | None:
    return None if value is None else time(value)


def rows_page(
    view: str, tenant: int, prefix: str, after: str | None, limit: int
) -> tuple[str, dict[str, Any]]:
    """The query (``view_rows_page`` or ``view_rows_page_to_end``) and its parameters for a
    page of rows: the range starts at the key after which the page goes on, which is never
    below ``prefix``."""
    high = prefix_end(prefix)
    params = {
        "view": view,
        "tenant": tenant,
        "low": prefix if after is None else max(after, prefix),
        "high": high,
        "after": after,
        "limit": limit,
    }
    return ("view_rows_page_to_end" if high is None else "view_rows_page"), params


def rows_read(found: list[Any]) -> tuple[int, list[tuple[str, str]]] | None:
    """A page from rows of ``position, key, value`` (one row with no key: an empty page)."""
    if not found:
        return None
    return int(found[0][0]), [(r[1], r[2]) for r in found if r[1] is not None]


def view_state(tenant_id: str, r: Any, time: Time) -> ViewState:
    """A row of ``view, tenant_key, database, position, event_at, last_run, generation,
    paused, owner, lease_until``."""
    return ViewState(
        view=r[0],
        tenant_id=tenant_id,
        database=r[2],
        position=r[3],
        event_at=_maybe(time, r[4]),
        last_run=_maybe(time, r[5]),
        generation=r[6],
        paused=bool(r[7]),
        owner=r[8],
        lease_until=_maybe(time, r[9]),
    )


def failed_event(tenant_id: str, r: Any, time: Time) -> FailedEvent:
    """A row of ``view, tenant_key, database, sequence, failure_count, error, first_failed,
    last_failed, retry_at``."""
    return FailedEvent(
        view=r[0],
        tenant_id=tenant_id,
        database=r[2],
        sequence=r[3],
        failure_count=r[4],
        error=r[5],
        first_failed=time(r[6]),
        last_failed=time(r[7]),
        retry_at=_maybe(time, r[8]),
    )
