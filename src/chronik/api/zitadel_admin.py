"""ZITADEL Admin API v1, the event parts: ``/admin/v1/events/…`` and the type catalogues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.routing import Route

from chronik.api.encoding import zitadel_event
from chronik.api.http import (
    JSON,
    Body,
    UtcTime,
    authorized,
    body_schema,
    parse,
    permission,
    services,
)
from chronik.api.schemas import (
    ListAggregateTypesResponse,
    ListEventsResponse,
    ListEventTypesResponse,
    ZitadelError,
    answers,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument
from chronik.events import EventQuery
from chronik.events.catalogue import pick_language

router = APIRouter(prefix="/admin/v1", tags=["ZITADEL Admin API"])

Name = Annotated[str, Field(max_length=200)]


class CreationDateRange(Body):
    since: UtcTime | None = None
    until: UtcTime | None = None


class ListEventsRequest(Body):
    sequence: Annotated[int, Field(ge=0, le=2**64 - 1)] = 0
    limit: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    asc: bool = False
    editor_user_id: Name = ""
    event_types: Annotated[list[Name], Field(max_length=30)] = []
    aggregate_id: Name = ""
    aggregate_types: Annotated[list[Name], Field(max_length=10)] = []
    resource_owner: Name = ""
    creation_date: UtcTime | None = None
    range: CreationDateRange | None = None
    from_: UtcTime | None = Field(default=None, alias="from")


class ListTypesRequest(Body):
    pass


async def list_events(request: Request) -> JSON:
    caller = await authorized(request, p.EVENTS_READ)
    body = await parse(request, ListEventsRequest)
    given = [d for d in (body.creation_date, body.from_) if d is not None]
    if len(given) + (body.range is not None) > 1:
        raise InvalidArgument("give only one of creationDate, from and range")
    query = EventQuery(
        sequence=body.sequence,
        limit=body.limit,
        asc=body.asc,
        editor_user_id=body.editor_user_id,
        event_types=tuple(body.event_types),
        aggregate_id=body.aggregate_id,
        aggregate_types=tuple(body.aggregate_types),
        resource_owner=body.resource_owner,
        creation_date=given[0] if given else None,
        since=body.range.since if body.range else None,
        until=body.range.until if body.range else None,
    )
    page = await services(request).events.search(caller.tenant_id, query)
    language = pick_language(request.headers.get("accept-language"))
    return JSON({"events": [zitadel_event(e, language) for e in page.events]})


router.add_api_route(
    "/events/_search",
    list_events,
    methods=["POST"],
    summary="Search events",
    openapi_extra=body_schema(ListEventsRequest),
    responses=answers(ListEventsResponse, ZitadelError),
)
plain_routes = [Route("/admin/v1/events/_search", list_events, methods=["POST"])]


def _types(kind: str) -> object:
    async def search(
        request: Request, caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))]
    ) -> JSON:
        await parse(request, ListTypesRequest)
        language = pick_language(request.headers.get("accept-language"))
        catalogue = services(request).catalogue
        if kind == "event":
            found = await catalogue.event_types(caller.tenant_id, language)
            key = "eventTypes"
        else:
            found = await catalogue.aggregate_types(caller.tenant_id, language)
            key = "aggregateTypes"
        return JSON(
            {
                key: [
                    {
                        "type": t.type,
                        "localized": {"key": t.key, "localizedMessage": t.localized_message},
                    }
                    for t in found
                ]
            }
        )

    return search


router.add_api_route(
    "/events/types/_search",
    _types("event"),  # type: ignore[arg-type]
    methods=["POST"],
    summary="List the event types in use, localized by Accept-Language",
    openapi_extra=body_schema(ListTypesRequest),
    responses=answers(ListEventTypesResponse, ZitadelError),
)
router.add_api_route(
    "/aggregates/types/_search",
    _types("aggregate"),  # type: ignore[arg-type]
    methods=["POST"],
    summary="List the aggregate types in use, localized by Accept-Language",
    openapi_extra=body_schema(ListTypesRequest),
    responses=answers(ListAggregateTypesResponse, ZitadelError),
)
