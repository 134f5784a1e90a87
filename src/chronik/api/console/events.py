"""Events: a search with ListEvents' filters, newest first, and an event whole."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    Can,
    message,
    page,
    session_of,
    to,
)
from chronik.api.http import services
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp
from chronik.records import EventQuery

router = APIRouter()


# -- events --------------------------------------------------------------------------------------

_FILTERS = ("eventTypes", "aggregateTypes", "aggregateId", "editorUserId", "resourceOwner")


def _listed(text: str) -> tuple[str, ...]:
    return tuple(t for t in (part.strip() for part in text.split(",")) if t)


@router.get("/events")
async def events_page(request: Request) -> Response:
    """A search with ListEvents' filters, newest first; "older" pages follow the paging
    token, so a page never expires and its time does not grow with depth."""
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return message(request, session, 403, "Your token may not read events.")
    params = request.query_params
    filters = {name: params.get(name, "")[:1000] for name in _FILTERS}
    log = services(request).events
    tenant = session.caller.tenant_id
    problem = ""
    try:
        token = params.get("page", "")
        if token:
            found_page = await log.next_page(tenant, token)
        else:
            found_page = await log.search(
                tenant,
                EventQuery(
                    limit=50,
                    event_types=_listed(filters["eventTypes"]),
                    aggregate_types=_listed(filters["aggregateTypes"]),
                    aggregate_id=filters["aggregateId"].strip(),
                    editor_user_id=filters["editorUserId"].strip(),
                    resource_owner=filters["resourceOwner"].strip(),
                ),
            )
        found, following = found_page.events, found_page.paging_token if found_page.events else ""
    except ChronikError as exc:
        found, following, problem = [], "", exc.message
    events = [
        {
            "sequence": e.sequence,
            "locator": e.locator,
            "type": e.type,
            "aggregate_type": e.aggregate_type,
            "aggregate_id": e.aggregate_id,
            "aggregate_version": e.aggregate_version,
            "created": timestamp(e.created_at),
            "editor": e.editor_user_id,
        }
        for e in found
    ]
    status = 400 if problem else 200
    return page(
        request,
        "events.html",
        "Events",
        session,
        status,
        events=events,
        filters=filters,
        next=following if len(found) == 50 else "",
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
