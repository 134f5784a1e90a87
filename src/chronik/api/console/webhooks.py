"""A webhook's diverted events: resend or delete, by the diverted-events permissions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    message,
    page,
    session_of,
    to,
    writer,
)
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp

router = APIRouter()


@router.get("/webhooks/{locator}/diverted")
async def diverted_page(request: Request, locator: str) -> Response:
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    granted = session.caller.permissions
    if p.DIVERTED_LIST not in granted or p.DIVERTED_READ not in granted:
        return message(request, session, 403, "Your token may not see diverted events.")
    webhooks = services(request).webhooks
    try:
        hook = await webhooks.get(session.caller.tenant_id, locator)
        found = await webhooks.diverted(session.caller.tenant_id, locator, count=1000)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    diverted = [
        {
            "event_locator": d.event_locator,
            "sequence": d.sequence,
            "failure_trigger": d.failure_trigger,
            "failure_count": d.failure_count,
            "failure_message": d.failure_message,
            "failed": timestamp(d.failure_timestamp),
        }
        for d in found
    ]
    return page(
        request,
        "diverted.html",
        f"Diverted events of {hook.definition.name}",
        session,
        locator=locator,
        diverted=diverted,
        can_resend=p.DIVERTED_RESEND in granted,
        can_delete=p.DIVERTED_DELETE in granted,
    )


@router.post("/webhooks/{locator}/diverted/{event_locator}/{what}")
async def diverted_action(
    request: Request, locator: str, event_locator: str, what: str
) -> Response:
    needed = {"resend": p.DIVERTED_RESEND, "delete": p.DIVERTED_DELETE}.get(what)
    if needed is None:
        return message(request, await session_of(request), 404, "No such action.")
    session, _, refused = await writer(request, needed)
    if session is None:
        return refused  # type: ignore[return-value]
    webhooks = services(request).webhooks
    try:
        if what == "resend":
            await webhooks.resend(session.caller.tenant_id, locator, event_locator)
        else:
            await webhooks.delete_diverted(session.caller.tenant_id, locator, event_locator)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, f"/webhooks/{locator}/diverted")
