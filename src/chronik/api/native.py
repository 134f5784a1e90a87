"""The native API (``/v1``): what the compatible surfaces lack, starting with appends, and a
search of the log in native names."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema
from starlette.routing import Route

from chronik.api.http import (
    JSON,
    Body,
    UtcTime,
    authorized,
    body_schema,
    caller,
    parse,
    permission,
    services,
)
from chronik.api.schemas import (
    AppendResponse,
    Me,
    NativeError,
    NativeEvent,
    NativeEventPage,
    answers,
)
from chronik.api.socotra_events import token_with_filters
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument
from chronik.events import EventQuery
from chronik.events.shapes import native_event
from chronik.records import Editor, ExpectedVersion, NewEvent

router = APIRouter(prefix="/v1", tags=["Native API"])

Name = Annotated[str, Field(min_length=1, max_length=200)]
Filter = Annotated[str, Field(max_length=200)]
"""A text filter of a search: empty means unset."""


class NativeBody(Body):
    """A native request body: camelCase or snake_case like the others, but a field it does
    not know is refused, so that a misspelt one is not dropped silently."""

    model_config = ConfigDict(extra="forbid")


def _fresh(factory: type[dict[str, Any]] | type[list[Any]]) -> Any:
    """The default of an optional object or list field, made per request: a shared ``{}`` or
    ``[]`` would be deep-copied by validation on every request (~4 us each)."""
    return Field(default_factory=factory, json_schema_extra={"default": factory()})


class NewEventBody(NativeBody):
    aggregate_type: Name
    aggregate_id: Name
    type: Name
    payload: dict[str, Any] = _fresh(dict)
    resource_owner: Annotated[str, Field(max_length=200)] = ""
    revision: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    locator: Annotated[str | None, Field(max_length=26)] = None
    correlation_id: Annotated[
        Name | None,
        Field(description="The conversation the event belongs to; `correlationId` searches it."),
    ] = None
    causation_id: Annotated[
        Name | None, Field(description="What caused the event, e.g. another event's locator.")
    ] = None
    metadata: Annotated[
        dict[str, Any],
        Field(description="Free-form, beside the payload; the two share its size limit."),
    ] = _fresh(dict)


_MAX_VERSION = 2**31 - 1


def _version(value: object) -> int | str:
    if value == "absent" or value == "exists":
        return str(value)
    if type(value) is int and 0 <= value <= _MAX_VERSION:  # a bool is no version
        return value
    raise ValueError(f'must be a whole number from 0 to {_MAX_VERSION}, "absent" or "exists"')


Version = Annotated[
    int | Literal["absent", "exists"],
    PlainValidator(_version),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 0, "maximum": _MAX_VERSION},
                {"type": "string", "enum": ["absent", "exists"]},
            ],
            "description": 'The version the aggregate must be at; `"absent"` (the same as 0): '
            'it must not exist yet; `"exists"`: it must exist, at any version.',
        }
    ),
]


class ExpectedVersionBody(NativeBody):
    aggregate_type: Name
    aggregate_id: Name
    version: Version


class AppendRequest(NativeBody):
    request_id: Annotated[str | None, Field(max_length=26)] = None
    events: Annotated[list[NewEventBody], Field(min_length=1)]
    expected_versions: list[ExpectedVersionBody] = _fresh(list)


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
                correlation_id=e.correlation_id,
                causation_id=e.causation_id,
                metadata=e.metadata,
            )
            for e in body.events
        ],
        expected=[
            ExpectedVersion(x.aggregate_type, x.aggregate_id, x.version)
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


SearchName = Annotated[str, Field(max_length=200)]


class CreationDateRange(Body):
    since: Annotated[UtcTime | None, Field(description="Inclusive.")] = None
    until: Annotated[UtcTime | None, Field(description="Exclusive.")] = None


class ListEventsRequest(Body):
    """ZITADEL's ListEvents filters, all ANDed, as the native search takes them."""

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
    editor_user_id: SearchName = ""
    event_types: Annotated[list[SearchName], Field(max_length=30, description="Any of them.")] = []
    aggregate_id: SearchName = ""
    aggregate_types: Annotated[
        list[SearchName], Field(max_length=10, description="Any of them.")
    ] = []
    resource_owner: SearchName = ""
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


class TimeRange(CreationDateRange):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(ListEventsRequest):
    """ZITADEL's ListEvents filters in native names, plus ``correlationId`` and
    ``includeSystem``; or a ``pagingToken`` alone, which carries the filters of its search."""

    model_config = ConfigDict(extra="forbid")

    paging_token: Annotated[
        str | None,
        Field(max_length=8192, description="From an earlier answer; give it alone."),
    ] = None
    range: TimeRange | None = None
    correlation_id: Filter = ""
    include_system: Annotated[
        bool, Field(description="Also Chronik's own records (aggregate types `chronik.…`).")
    ] = False


async def search(request: Request) -> JSON:
    who = await authorized(request, p.EVENTS_READ)
    body = await parse(request, SearchRequest)
    events = services(request).events
    if body.paging_token is not None:
        others = body.model_fields_set - {"paging_token"}
        if others:
            raise token_with_filters(SearchRequest.model_fields[f].alias or f for f in others)
        page = await events.next_page(who.tenant_id, body.paging_token)
    else:
        query = body.query(system=body.include_system, correlation_id=body.correlation_id)
        page = await events.search(who.tenant_id, query)
    return JSON(
        {"events": [native_event(e) for e in page.events], "pagingToken": page.paging_token}
    )


router.add_api_route(
    "/events/_search",
    search,
    methods=["POST"],
    summary="Search events, a page at a time",
    description="The filters of ZITADEL's ListEvents in native names; every answer has a "
    "`pagingToken`, which alone asks for the next page (it never expires, and it is there on "
    "an empty page too, so that a client can poll for what comes next).",
    openapi_extra=body_schema(SearchRequest),
    responses=answers(NativeEventPage, NativeError),
)
plain_routes = [
    Route("/v1/events", append, methods=["POST"]),
    Route("/v1/events/_search", search, methods=["POST"]),
]


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
