"""The native API (``/v1``): what the compatible surfaces lack, starting with appends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.routing import Route

from chronik.api.encoding import native_event
from chronik.api.http import (
    JSON,
    Body,
    authorized,
    body_schema,
    caller,
    parse,
    permission,
    services,
)
from chronik.api.schemas import AppendResponse, Me, NativeError, NativeEvent, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.records import Editor, ExpectedVersion, NewEvent

router = APIRouter(prefix="/v1", tags=["Native API"])

Name = Annotated[str, Field(min_length=1, max_length=200)]


class NewEventBody(Body):
    aggregate_type: Name
    aggregate_id: Name
    type: Name
    payload: dict[str, Any] = {}
    resource_owner: Annotated[str, Field(max_length=200)] = ""
    revision: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    locator: Annotated[str | None, Field(max_length=26)] = None


class ExpectedVersionBody(Body):
    aggregate_type: Name
    aggregate_id: Name
    version: Annotated[int, Field(ge=0, le=2**31 - 1)]


class AppendRequest(Body):
    request_id: Annotated[str | None, Field(max_length=26)] = None
    events: Annotated[list[NewEventBody], Field(min_length=1)]
    expected_versions: list[ExpectedVersionBody] = []


async def append(request: Request) -> JSON:
    who = await authorized(request, p.EVENTS_WRITE)
    body = await parse(request, AppendRequest, empty_ok=False)
    chronik = services(request)
    stored = await chronik.events.append(
        who.tenant_id,
        [
            NewEvent(
                aggregate_type=e.aggregate_type,
                aggregate_id=e.aggregate_id,
                type=e.type,
                payload=e.payload,
                resource_owner=e.resource_owner or who.organisation_id,
                revision=e.revision,
                locator=e.locator,
            )
            for e in body.events
        ],
        expected=[
            ExpectedVersion(
                aggregate_type=x.aggregate_type, aggregate_id=x.aggregate_id, version=x.version
            )
            for x in body.expected_versions
        ],
        request_id=body.request_id,
        editor=Editor(user_id=who.subject, service="native-api"),
    )
    request.app.state.metrics.appended.inc(len(stored))
    return JSON({"events": [native_event(e) for e in stored]})


router.add_api_route(
    "/events",
    append,
    methods=["POST"],
    summary="Append events atomically",
    openapi_extra=body_schema(AppendRequest, required=True),
    responses=answers(AppendResponse, NativeError, 404, 409),
)
plain_routes = [Route("/v1/events", append, methods=["POST"])]


@router.get(
    "/events/{locator}", summary="Fetch an event", responses=answers(NativeEvent, NativeError, 404)
)
async def get_event(
    request: Request,
    locator: str,
    who: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    return JSON(native_event(await services(request).events.get(who.tenant_id, locator)))


@router.get("/me", summary="Who the calling token is", responses=answers(Me, NativeError))
async def me(who: Annotated[Principal, Depends(caller)]) -> JSON:
    return JSON(
        {
            "tenantId": who.tenant_id,
            "organisationId": who.organisation_id,
            "roles": list(who.roles),
            "permissions": sorted(who.permissions),
        }
    )
