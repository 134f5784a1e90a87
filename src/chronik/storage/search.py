"""The search strategy both backends share: every query is a keyset scan on one index.

A filter is led by its most selective indexed column. When the lead is a list (several event
types, say), the search runs one ordered scan per value, each stopping at ``limit``, and
merges them: a page then costs at most ``values x limit`` index entries, however deep it is.

An aggregate id or a correlation id always leads (one aggregate, one flow). Among the wider
columns (event type, editor, resource owner, aggregate type) no fixed order knows which is
narrower for this query: a backend whose planner cannot tell (SQLite, told its index) probes
each of the query's :func:`candidates` (at most :data:`PROBE` index entries apiece) and leads
with the narrowest, so a common type asked with an editor who wrote none of it costs a probe,
not a walk through the type.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Literal

import msgspec

from chronik.records import Event, EventFilter

Lead = Literal[
    "correlation_id",
    "aggregate_id",
    "event_type",
    "editor",
    "resource_owner",
    "aggregate_type",
    "none",
]


def lead_of(query: EventFilter) -> Lead:
    if query.correlation_id:
        return "correlation_id"
    if query.aggregate_id:
        return "aggregate_id"
    if query.event_types:
        return "event_type"
    if query.editor_user_id:
        return "editor"
    if query.resource_owner:
        return "resource_owner"
    if query.aggregate_types:
        return "aggregate_type"
    return "none"


PROBE = 2_000
"""Index entries a probe counts at most: past it, a column is "wide" and loses to a narrower."""


def candidates(query: EventFilter) -> dict[Lead, tuple[str, ...]]:
    """The wider leads ``query`` could take, each with the values to probe; empty when the
    choice is already made (an id leads, or only one such column is asked for)."""
    if query.correlation_id or query.aggregate_id:
        return {}
    found: dict[Lead, tuple[str, ...]] = {}
    if query.event_types:
        found["event_type"] = query.event_types
    if query.editor_user_id:
        found["editor"] = (query.editor_user_id,)
    if query.resource_owner:
        found["resource_owner"] = (query.resource_owner,)
    if query.aggregate_types:
        found["aggregate_type"] = query.aggregate_types
    return found if len(found) > 1 else {}


def split(query: EventFilter, lead: Lead | None = None) -> tuple[Lead, list[EventFilter]]:
    """The lead column (``lead``, else the first of the fixed order) and one filter per
    scan: a list lead is split into single values."""
    lead = lead or lead_of(query)
    if lead == "event_type" and len(query.event_types) > 1:
        return lead, [msgspec.structs.replace(query, event_types=(t,)) for t in query.event_types]
    if lead == "aggregate_type" and len(query.aggregate_types) > 1:
        return lead, [
            msgspec.structs.replace(query, aggregate_types=(t,)) for t in query.aggregate_types
        ]
    return lead, [query]


def merge(pages: Iterable[list[Event]], asc: bool, limit: int) -> list[Event]:
    """Merge scans that are each in sequence order into one page of at most ``limit``."""
    pages = [p for p in pages if p]
    if len(pages) == 1:
        return pages[0][:limit]
    if asc:
        merged = heapq.merge(*pages, key=lambda e: e.sequence)
    else:
        merged = heapq.merge(*pages, key=lambda e: -e.sequence)
    out: list[Event] = []
    for event in merged:
        out.append(event)
        if len(out) == limit:
            break
    return out


def compose(
    queries: dict[str, str], lead: Lead, query: EventFilter, encode_list: object = None
) -> tuple[str, dict[str, object]]:
    """Fill the backend's ``search`` template from its named fragments for one scan.

    Only fragment texts from the backend's ``queries.sql`` enter the SQL; every value is a
    bound parameter. ``encode_list`` turns a tuple into the backend's list parameter.
    """
    enc = encode_list if callable(encode_list) else list
    where: list[str] = []
    params: dict[str, object] = {"limit": query.limit}
    if query.after:
        where.append(queries["where_after"])
        params["after"] = query.after
    if query.before is not None:
        where.append(queries["where_before"])
        params["before"] = query.before
    if query.correlation_id:
        where.append(queries["where_correlation_id"])
        params["correlation_id"] = query.correlation_id
    if query.aggregate_id:
        where.append(queries["where_aggregate_id"])
        params["aggregate_id"] = query.aggregate_id
    if len(query.event_types) == 1:
        where.append(queries["where_event_type"])
        params["event_type"] = query.event_types[0]
    elif query.event_types:
        where.append(queries["where_event_types"])
        params["event_types"] = enc(query.event_types)
    if len(query.aggregate_types) == 1:
        where.append(queries["where_aggregate_type"])
        params["aggregate_type"] = query.aggregate_types[0]
    elif query.aggregate_types:
        where.append(queries["where_aggregate_types"])
        params["aggregate_types"] = enc(query.aggregate_types)
    if query.editor_user_id:
        where.append(queries["where_editor"])
        params["editor_user_id"] = query.editor_user_id
    if query.resource_owner:
        where.append(queries["where_resource_owner"])
        params["resource_owner"] = query.resource_owner
    if query.users_only:
        where.append(queries["where_users_only"])
    sql = queries["search"].format(
        index=queries.get(f"index_{lead}", ""),
        where="\n  ".join(where),
        direction=queries["direction_asc" if query.asc else "direction_desc"],
    )
    return sql, params
