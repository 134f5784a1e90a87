"""The filters of a log search, as ZITADEL's ListEvents and Socotra's event stream name them
(the native search takes ListEvents' filters and a correlation id).

Both become one :class:`~chronik.events.paging.Cursor`, which a paging token carries, and
each page turns that into an :class:`~chronik.records.EventFilter` of sequence bounds: time
bounds are looked up on the creation-date index each time (so a bound in the future keeps
working as the log grows), then the scan is pure keyset on the sequence.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from chronik.errors import InvalidArgument
from chronik.events.append import MAX_NAME
from chronik.events.paging import Cursor
from chronik.records import EventFilter, EventQuery
from chronik.storage.ports import EventStore

MAX_EVENT_TYPES = 30
MAX_SEQUENCE = 2**63 - 1
"""Sequences are signed 64-bit in both backends; a larger bound means the same as this."""
MAX_AGGREGATE_TYPES = 10


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidArgument(f"{field} must be a timestamp", field=field)
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise InvalidArgument(f"{field} is out of the range of timestamps", field=field) from None


def _limit(value: int, default: int, maximum: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(f"{field} must be a whole number >= 0", field=field)
    if value > maximum:
        raise InvalidArgument(
            f"{field} {value} is above the maximum of {maximum}", field=field, limit=maximum
        )
    return value or default


def _names(values: tuple[str, ...], field: str, most: int) -> tuple[str, ...]:
    if len(values) > most:
        raise InvalidArgument(
            f"{field} may hold at most {most} entries, not {len(values)}", field=field
        )
    for i, v in enumerate(values):
        _text(v, f"{field}[{i}]")
        if not v:
            raise InvalidArgument(f"{field}[{i}] must not be empty", field=field)
    return tuple(dict.fromkeys(values))


def _text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string", field=field)
    if len(value) > MAX_NAME:
        raise InvalidArgument(
            f"{field} is {len(value)} characters long; at most {MAX_NAME} are allowed",
            field=field,
        )
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def search_cursor(tenant_id: str, q: EventQuery, *, default_limit: int, max_limit: int) -> Cursor:
    """Validate a ListEvents query and state it as a cursor at its first page."""
    if not isinstance(q.sequence, int) or isinstance(q.sequence, bool) or q.sequence < 0:
        raise InvalidArgument("sequence must be a whole number >= 0", field="sequence")
    q = msgspec.structs.replace(q, sequence=min(q.sequence, MAX_SEQUENCE))
    lower = upper = None
    lower_inclusive, upper_inclusive = True, False
    since, until = _utc(q.since, "range.since"), _utc(q.until, "range.until")
    created = _utc(q.creation_date, "creationDate")
    if created is not None and (since is not None or until is not None):
        raise InvalidArgument("give either creationDate or range, not both", field="range")
    if created is not None:
        if q.asc:
            lower, lower_inclusive = created, False
        else:
            upper, upper_inclusive = created, False
    else:
        lower, upper = since, until
    if lower is not None and upper is not None and upper < lower:
        raise InvalidArgument("range.until is before range.since", field="range")
    return Cursor(
        tenant_id=tenant_id,
        asc=bool(q.asc),
        limit=_limit(q.limit, default_limit, max_limit, "limit"),
        event_types=_names(tuple(q.event_types), "eventTypes", MAX_EVENT_TYPES),
        aggregate_types=_names(tuple(q.aggregate_types), "aggregateTypes", MAX_AGGREGATE_TYPES),
        aggregate_id=_text(q.aggregate_id, "aggregateId"),
        editor_user_id=_text(q.editor_user_id, "editorUserId"),
        resource_owner=_text(q.resource_owner, "resourceOwner"),
        lower=lower,
        lower_inclusive=lower_inclusive,
        upper=upper,
        upper_inclusive=upper_inclusive,
        after=q.sequence if q.asc else 0,
        before=q.sequence if (q.sequence and not q.asc) else None,
        users_only=not q.system,
        correlation_id=_text(q.correlation_id, "correlationId"),
    )


def stream_cursor(
    tenant_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    event_type: str | None,
    page_size: int | None,
    system: bool = False,
    default_limit: int,
    max_limit: int,
) -> Cursor:
    """Validate a Socotra event-stream query (ascending; ``start`` inclusive, ``end``
    exclusive) and state it as a cursor at its first page. Chronik's own records are left
    out unless ``system``."""
    start, end = _utc(start, "startTimestamp"), _utc(end, "endTimestamp")
    if start is not None and end is not None and end < start:
        raise InvalidArgument("endTimestamp is before startTimestamp", field="endTimestamp")
    types = _names((event_type,), "type", 1) if event_type else ()
    return Cursor(
        tenant_id=tenant_id,
        asc=True,
        limit=_limit(page_size or 0, default_limit, max_limit, "pageSize"),
        event_types=types,
        lower=start,
        upper=end,
        users_only=not system,
    )


async def page_filter(store: EventStore, cursor: Cursor) -> EventFilter:
    """The sequence-bounded filter of the page a cursor points at."""
    after, before = cursor.after, cursor.before
    if cursor.lower is not None:
        first = await store.sequence_at(
            cursor.tenant_id, cursor.lower, inclusive=cursor.lower_inclusive
        )
        after = max(after, first - 1)
    if cursor.upper is not None:
        first_out = await store.sequence_at(
            cursor.tenant_id, cursor.upper, inclusive=not cursor.upper_inclusive
        )
        before = first_out if before is None else min(before, first_out)
    if cursor.position:
        if cursor.asc:
            after = max(after, cursor.position)
        else:
            before = cursor.position if before is None else min(before, cursor.position)
    return bounded(cursor, after=after, before=before)


def bounded(
    cursor: Cursor,
    *,
    after: int,
    before: int | None = None,
    asc: bool | None = None,
    limit: int | None = None,
) -> EventFilter:
    """The filter of ``cursor``'s criteria between two sequences (exclusive), in its order
    and at its page size unless others are given."""
    return EventFilter(
        tenant_id=cursor.tenant_id,
        asc=cursor.asc if asc is None else asc,
        limit=cursor.limit if limit is None else limit,
        after=after,
        before=before,
        event_types=cursor.event_types,
        aggregate_types=cursor.aggregate_types,
        aggregate_id=cursor.aggregate_id,
        editor_user_id=cursor.editor_user_id,
        resource_owner=cursor.resource_owner,
        users_only=cursor.users_only,
        correlation_id=cursor.correlation_id,
    )
