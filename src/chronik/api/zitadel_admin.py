"""ZITADEL Admin API v1: event search, the type catalogues, views and failed events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field
from starlette.routing import Route

from chronik.api.encoding import timestamp, zitadel_event
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
    ListFailedEventsResponse,
    ListViewsResponse,
    RemoveFailedEventResponse,
    ZitadelError,
    answers,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.events.catalogue import pick_language

router = APIRouter(prefix="/admin/v1", tags=["ZITADEL Admin API"])

Name = Annotated[str, Field(max_length=200)]


class CreationDateRange(Body):
    since: Annotated[UtcTime | None, Field(description="Inclusive.")] = None
    until: Annotated[UtcTime | None, Field(description="Exclusive.")] = None


class ListEventsRequest(Body):
    """ListEvents' filters, all ANDed (the native search takes them too)."""

    sequence: Annotated[
        int,
        Field(
            ge=0,
            le=2**64 - 1,
            description="After this sequence when `asc`, before it otherwise; 0: unset.",
        ),
    ] = 0
    limit: Annotated[int, Field(ge=0, le=2**32 - 1, description="0: the default.")] = 0
    asc: Annotated[bool, Field(description="Oldest first; newest first by default.")] = False
    editor_user_id: Name = ""
    event_types: Annotated[list[Name], Field(max_length=30, description="Any of them.")] = []
    aggregate_id: Name = ""
    aggregate_types: Annotated[list[Name], Field(max_length=10, description="Any of them.")] = []
    resource_owner: Name = ""
    creation_date: Annotated[
        UtcTime | None, Field(description="After this time when `asc`, before it otherwise.")
    ] = None
    range: CreationDateRange | None = None
    from_: Annotated[
        UtcTime | None, Field(alias="from", description="The same as `creationDate`.")
    ] = None

    def query(self, **more: Any) -> EventQuery:
        """The search these filters ask for; ``more`` are filters of the caller's own."""
        given = [d for d in (self.creation_date, self.from_) if d is not None]
        if len(given) + (self.range is not None) > 1:
            raise InvalidArgument(
                "give only one of creationDate, from and range", field="creationDate"
            )
        return EventQuery(
            sequence=self.sequence,
            limit=self.limit,
            asc=self.asc,
            editor_user_id=self.editor_user_id,
            event_types=tuple(self.event_types),
            aggregate_id=self.aggregate_id,
            aggregate_types=tuple(self.aggregate_types),
            resource_owner=self.resource_owner,
            creation_date=given[0] if given else None,
            since=self.range.since if self.range else None,
            until=self.range.until if self.range else None,
            **more,
        )


class ListTypesRequest(Body):
    pass


async def list_events(request: Request) -> JSON:
    caller = await authorized(request, p.EVENTS_READ)
    body = await parse(request, ListEventsRequest)
    page = await services(request).events.search(caller.tenant_id, body.query())
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


class EmptyRequest(Body):
    pass


@router.post(
    "/failedevents/_search",
    summary="List the events views failed to process",
    openapi_extra=body_schema(EmptyRequest),
    responses=answers(ListFailedEventsResponse, ZitadelError, 404),
)
async def list_failed_events(
    request: Request, caller: Annotated[Principal, Depends(permission(p.IAM_READ))]
) -> JSON:
    await parse(request, EmptyRequest)
    found = await services(request).views.all_failed(caller.tenant_id)
    result = [
        {
            "database": f.database,
            "viewName": f.view,
            "failedSequence": str(f.sequence),
            "failureCount": str(f.failure_count),
            "errorMessage": f.error,
            "lastFailed": timestamp(f.last_failed),
        }
        for f in found
    ]
    return JSON({"result": result})


@router.delete(
    "/failedevents/{database}/{view_name}/{failed_sequence}",
    summary="Remove a failed event (a view waiting on it moves past it)",
    responses=answers(RemoveFailedEventResponse, ZitadelError, 404),
)
async def remove_failed_event(
    request: Request,
    database: Annotated[str, Path(max_length=200)],
    view_name: Annotated[str, Path(max_length=200)],
    failed_sequence: Annotated[int, Path(ge=0, le=2**63 - 1)],
    caller: Annotated[Principal, Depends(permission(p.IAM_WRITE))],
) -> JSON:
    views = services(request).views
    missing = NotFound(f"no failed event {database}/{view_name}/{failed_sequence}")
    try:
        found = await views.failed_event(caller.tenant_id, view_name, failed_sequence)
    except NotFound:
        raise missing from None
    if found.database != database:
        raise missing
    await views.remove_failed(caller.tenant_id, view_name, failed_sequence)
    return JSON({})


@router.post(
    "/views/_search",
    summary="List the views with their position",
    openapi_extra=body_schema(EmptyRequest),
    responses=answers(ListViewsResponse, ZitadelError),
)
async def list_views(
    request: Request, caller: Annotated[Principal, Depends(permission(p.IAM_READ))]
) -> JSON:
    await parse(request, EmptyRequest)
    result = []
    for status in await services(request).views.statuses(caller.tenant_id):
        s = status.state
        view: dict[str, str] = {
            "database": s.database,
            "viewName": s.view,
            "processedSequence": str(s.position),
        }
        if s.event_at is not None:
            view["eventTimestamp"] = timestamp(s.event_at)
        if s.last_run is not None:
            view["lastSuccessfulSpoolerRun"] = timestamp(s.last_run)
        result.append(view)
    return JSON({"result": result})
