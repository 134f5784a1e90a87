"""Socotra's Events API: fetch one event, the events of a request, and the event stream.

The tenant in the path must be the caller's own: any other answers 404, exactly as an
unknown one would, so nothing is learnt about other tenants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from chronik.api import subscriptions
from chronik.api.http import JSON, UtcTime, permission, services
from chronik.api.schemas import EventStreamResponse, SocotraError, SocotraEvent, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.events.shapes import socotra_event

router = APIRouter(prefix="/event/{tenantLocator}/events", tags=["Socotra Events API"])


def token_with_filters(names: Iterable[str]) -> InvalidArgument:
    """The error for a paging token given with other filters (it carries its own)."""
    return InvalidArgument(
        f"pagingToken carries its filters: give it alone (not with {', '.join(sorted(names))})",
        field="pagingToken",
    )


def own_tenant(tenant_locator: str, caller: Principal) -> str:
    if tenant_locator != caller.tenant_id:
        raise NotFound(f"tenant {tenant_locator!r} not found")
    return tenant_locator


@router.get(
    "/list",
    summary="Fetch Multiple Events (the event stream)",
    description="With `Accept: text/event-stream`, a live subscription instead of a page: "
    "Server-Sent Events whose `id:` is the event's sequence and `data:` its EventResponse, "
    "new events only unless `Last-Event-ID` or `startTimestamp` says where to begin; "
    "`type` and `includeSystem` filter it, and the paging parameters are refused (see "
    "docs/how-to/subscriptions.md).",
    responses=answers(EventStreamResponse, SocotraError, 404),
)
async def event_stream(
    request: Request,
    tenantLocator: str,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_LIST))],
    startTimestamp: Annotated[UtcTime | None, Query()] = None,
    endTimestamp: Annotated[UtcTime | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    pageSize: Annotated[int | None, Query(ge=1)] = None,
    pagingToken: Annotated[str | None, Query(max_length=8192)] = None,
    includeSystem: Annotated[
        bool | None,
        Query(description="Also Chronik's own records (aggregate types `chronik.…`)."),
    ] = None,
) -> Response:
    caller.require(p.EVENTS_READ)
    tenant = own_tenant(tenantLocator, caller)
    if type is not None and "\x00" in type:
        raise InvalidArgument("type holds a NUL (\\u0000) character", field="type")
    events = services(request).events
    if "text/event-stream" in request.headers.get("accept", ""):
        paging = {"endTimestamp": endTimestamp, "pageSize": pageSize, "pagingToken": pagingToken}
        if any(v is not None for v in paging.values()):
            raise InvalidArgument(
                "a live stream (Accept: text/event-stream) has no pages: give neither "
                + ", ".join(name for name, v in paging.items() if v is not None)
                + " (resume with Last-Event-ID)",
                field="pagingToken",
            )
        after = subscriptions.last_event_id(request)
        if after is None and startTimestamp is not None:
            after = await events.first_at(tenant, startTimestamp) - 1
        query = EventQuery(event_types=(type,) if type else (), system=bool(includeSystem))
        subscription = await events.subscribe(tenant, query, after=after)
        return subscriptions.event_stream(request, subscription, socotra_event)
    if pagingToken:
        given = {
            "startTimestamp": startTimestamp,
            "endTimestamp": endTimestamp,
            "type": type,
            "pageSize": pageSize,
            "includeSystem": includeSystem,
        }
        if any(v is not None for v in given.values()):
            raise token_with_filters(name for name, v in given.items() if v is not None)
        page = await events.next_page(tenant, pagingToken)
    else:
        page = await events.stream(
            tenant,
            start=startTimestamp,
            end=endTimestamp,
            event_type=type,
            page_size=pageSize,
            system=bool(includeSystem),
        )
    return JSON(
        {"pagingToken": page.paging_token, "events": [socotra_event(e) for e in page.events]}
    )


@router.get(
    "/request/{locator}",
    summary="Fetch Events for an API Request",
    responses=answers(list[SocotraEvent], SocotraError, 404),  # type: ignore[arg-type]
)
async def request_events(
    request: Request,
    tenantLocator: str,
    locator: str,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    found = await services(request).events.of_request(tenant, locator)
    return JSON([socotra_event(e) for e in found])


@router.get(
    "/{locator}", summary="Fetch an Event", responses=answers(SocotraEvent, SocotraError, 404)
)
async def get_event(
    request: Request,
    tenantLocator: str,
    locator: str,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    return JSON(socotra_event(await services(request).events.get(tenant, locator)))
