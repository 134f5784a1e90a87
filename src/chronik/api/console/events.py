"""Events: a search with ListEvents' filters and a creation-time range, newest first, and
an event whole."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from chronik.api.console.session import Can, message, page, session_of, to
from chronik.api.http import services
from chronik.errors import ChronikError, InvalidArgument
from chronik.events.shapes import timestamp
from chronik.records import Event, EventQuery

router = APIRouter()

PAGE = 50
FILTERS = ("eventTypes", "aggregateTypes", "aggregateId", "editorUserId", "resourceOwner")
"""The query parameters of the filters the events page and the tail share."""
_TIMES = {"from": "From", "until": "Until"}


def _listed(text: str) -> tuple[str, ...]:
    return tuple(t for t in (part.strip() for part in text.split(",")) if t)


def filters_of(params: QueryParams) -> dict[str, str]:
    """The filter fields of a query string, as the form shows them back."""
    return {name: params.get(name, "")[:1000] for name in (*FILTERS, *_TIMES)}


def query_of(filters: dict[str, str]) -> EventQuery:
    """ListEvents' query of the form's fields; raises
    :class:`~chronik.errors.InvalidArgument` for a time that is not one."""
    since, until = (_moment(filters[name], label) for name, label in _TIMES.items())
    if since is not None and until is not None and until <= since:
        raise InvalidArgument("Until must be later than From.", field="until")
    return EventQuery(
        limit=PAGE,
        event_types=_listed(filters["eventTypes"]),
        aggregate_types=_listed(filters["aggregateTypes"]),
        aggregate_id=filters["aggregateId"].strip(),
        editor_user_id=filters["editorUserId"].strip(),
        resource_owner=filters["resourceOwner"].strip(),
        since=since,
        until=until,
    )


def _moment(text: str, label: str) -> datetime | None:
    """A ``datetime-local`` field's value (``2026-12-05T09:30``, seconds optional) as UTC;
    an explicit offset is honoured."""
    text = text.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(
            f"{label} is not a date and time such as 2026-12-05T09:30: {text[:40]!r}.",
            field=label.lower(),
        ) from None


def tail_query(filters: dict[str, str]) -> str:
    """The query string of the tail that follows what ``filters`` match (times aside)."""
    return urllib.parse.urlencode({name: filters[name] for name in FILTERS if filters[name]})


def row(e: Event) -> dict[str, Any]:
    """What the events table shows of an event (the search's rows and the tail's)."""
    return {
        "sequence": e.sequence,
        "locator": e.locator,
        "type": e.type,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "aggregate_version": e.aggregate_version,
        "created": timestamp(e.created_at),
        "editor": e.editor_user_id,
    }


@router.get("/events")
async def events_page(request: Request) -> Response:
    """A search with ListEvents' filters and a time range (UTC; from inclusive, until
    exclusive), newest first; "older" pages follow the paging token, so a page never expires
    and its time does not grow with depth."""
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return message(request, session, 403, "Your token may not read events.")
    filters = filters_of(request.query_params)
    log = services(request).events
    tenant = session.caller.tenant_id
    problem = ""
    try:
        token = request.query_params.get("page", "")
        if token:
            found_page = await log.next_page(tenant, token)
        else:
            found_page = await log.search(tenant, query_of(filters))
        found, following = found_page.events, found_page.paging_token if found_page.events else ""
    except ChronikError as exc:
        found, following, problem = [], "", exc.message
    return page(
        request,
        "events.html",
        "Events",
        session,
        400 if problem else 200,
        events=[row(e) for e in found],
        filters=filters,
        tail_query=tail_query(filters),
        next=following if len(found) == PAGE else "",
        problem=problem,
    )


@router.get("/events/{locator}")
async def event_page(request: Request, locator: str) -> Response:
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return message(request, session, 403, "Your token may not read events.")
    log = services(request).events
    tenant = session.caller.tenant_id
    try:
        event = await log.get(tenant, locator)
    except ChronikError:
        return message(request, session, 404, f"There is no event {locator!r}.")
    return page(
        request,
        "event.html",
        f"Event {event.sequence}",
        session,
        e=event,
        created=timestamp(event.created_at),
        payload=json.dumps(event.payload, indent=2, ensure_ascii=False),
        metadata=json.dumps(event.metadata, indent=2, ensure_ascii=False) if event.metadata else "",
        request_events=await log.of_request(tenant, event.request_id),
    )
