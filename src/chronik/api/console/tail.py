"""The live tail of the events page: new events of the tenant, with the page's filters, as
table rows pushed over Server-Sent Events.

The stream is the subscriptions' (:mod:`chronik.api.subscriptions`): one follower per
tenant reads each new batch once for every subscriber, a subscriber's queue is bounded (one
that falls behind is dropped and resumes after its ``Last-Event-ID``), and a client that
goes away ends its subscription. Each event's row is rendered once for all the tails that
get it. The session is checked again once a heartbeat interval: when it is no longer valid
the stream ends with ``event: ended``. ``tail.js`` (a static file, as the CSP wants) shows
the rows, newest first, at most :data:`MAX_ROWS` of them, and pauses and resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from chronik.api.console.events import filters_of, query_of, row, tail_query
from chronik.api.console.session import HEADERS, page, reader, session_of, templates
from chronik.api.http import services
from chronik.api.subscriptions import event_stream, last_event_id
from chronik.auth import permissions as p
from chronik.errors import ChronikError, Unauthenticated
from chronik.events.query import search_cursor
from chronik.records import Event, EventQuery

router = APIRouter()

MAX_ROWS = 300
"""Rows the tail keeps in the page (and holds while paused); older ones are let go."""
_REFUSED = "Your token may not read events."


def _followed(filters: dict[str, str]) -> EventQuery:
    """The page's filters without the time range, which a tail has no use for."""
    return msgspec.structs.replace(query_of(filters), since=None, until=None, limit=0)


@router.get("/events/tail")
async def tail_page(request: Request) -> Response:
    session, refused = await reader(request, p.EVENTS_READ, _REFUSED)
    if session is None:
        return refused  # type: ignore[return-value]
    filters = filters_of(request.query_params)
    problem = ""
    try:
        # The stream would refuse what the search refuses: say so on the page instead.
        search_cursor(session.caller.tenant_id, _followed(filters), default_limit=1, max_limit=1)
    except ChronikError as exc:
        problem = exc.message
    query = tail_query(filters)
    root = request.scope.get("root_path", "")
    return page(
        request,
        "tail.html",
        "Live tail",
        session,
        400 if problem else 200,
        filters=filters,
        problem=problem,
        query=query,
        stream=f"{root}/console/events/tail/stream" + (f"?{query}" if query else ""),
        max_rows=MAX_ROWS,
    )


def _refusal(status: int, text: str) -> Response:
    # An EventSource does not follow a refusal to a page: a plain answer ends it for good.
    return PlainTextResponse(text, status, headers=HEADERS)


@router.get("/events/tail/stream")
async def tail_stream(request: Request) -> Response:
    """New events as ``<tr>`` rows (``id:`` the sequence); resumes after ``Last-Event-ID``."""
    session = await session_of(request)
    if session is None:
        return _refusal(401, "Sign in to the console first.")
    if p.EVENTS_READ not in session.caller.permissions:
        return _refusal(403, _REFUSED)
    tenant = session.caller.tenant_id
    try:
        query = _followed(filters_of(request.query_params))
        after = last_event_id(request)
        subscription = await services(request).events.subscribe(tenant, query, after=after)
    except ChronikError as exc:
        return _refusal(400, exc.message)
    authenticator = services(request).authenticator
    bearer = f"Bearer {session.token}"

    async def valid() -> str:
        try:
            await authenticator.authenticate(bearer)
        except Unauthenticated:
            return "The session ended: sign in again to follow the log."
        return ""

    response = event_stream(request, subscription, _rows(request), valid=valid)
    response.headers.update(HEADERS)
    return response


def _rows(request: Request) -> Callable[[Event], bytes]:
    """The app's row encoder: one function per app, so that the subscriptions' frame cache
    renders each event's row once."""
    state = request.app.state
    encode: Callable[[Event], bytes] | None = getattr(state, "console_tail_rows", None)
    if encode is None:
        macro: Any = templates.env.get_template("rows.html").module.event_row  # type: ignore[attr-defined]
        root = request.scope.get("root_path", "")

        def encode(e: Event) -> bytes:
            html = str(macro(row(e), root))
            # One SSE data line: a line break in a name becomes its character reference.
            return html.replace("\r", "&#13;").replace("\n", "&#10;").encode()

        state.console_tail_rows = encode
    return encode
