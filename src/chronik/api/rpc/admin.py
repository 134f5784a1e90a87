"""AdminService, proto-first: each RPC's request message and caller to its response message.

These are the one translation of each RPC; every transport (gRPC now, gRPC-web and the
grpc-gateway JSON routes through protojson next) calls them, so no transport keeps a field
list of its own. Permissions are checked here, before any service is asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from google.protobuf.timestamp_pb2 import Timestamp

from chronik.api.proto.zitadel import admin_pb2, event_pb2, message_pb2
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.events.catalogue import LocalizedType, localize
from chronik.records import Event
from chronik.services import Chronik


def _time(stamp: Timestamp, field: str) -> datetime:
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is out of the range of timestamps", field=field) from None


def event_query(request: admin_pb2.ListEventsRequest) -> EventQuery:
    """The search a ListEventsRequest asks for. ``from`` and ``range`` (the oneof) win over
    the deprecated ``creation_date`` outside it, as in ZITADEL; the service validates the rest."""
    since = until = created = None
    which = request.WhichOneof("creation_date_filter")
    if which == "range":
        r = request.range
        since = _time(r.since, "range.since") if r.HasField("since") else None
        until = _time(r.until, "range.until") if r.HasField("until") else None
    elif which == "from":
        created = _time(getattr(request, "from"), "from")
    elif request.HasField("creation_date"):
        created = _time(request.creation_date, "creationDate")
    return EventQuery(
        sequence=request.sequence,
        limit=request.limit,
        asc=request.asc,
        editor_user_id=request.editor_user_id,
        event_types=tuple(request.event_types),
        aggregate_id=request.aggregate_id,
        aggregate_types=tuple(request.aggregate_types),
        resource_owner=request.resource_owner,
        creation_date=created,
        since=since,
        until=until,
    )


@lru_cache(maxsize=8192)
def _localized(kind: str, name: str, language: str) -> LocalizedType:
    return localize(kind, name, language)


def _message(found: LocalizedType) -> message_pb2.LocalizedMessage:
    return message_pb2.LocalizedMessage(key=found.key, localized_message=found.localized_message)


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def zitadel_event(e: Event, language: str) -> event_pb2.Event:
    """An event as ZITADEL's ``zitadel.event.v1.Event``."""
    event = event_pb2.Event(
        editor=event_pb2.Editor(user_id=e.editor_user_id, service=e.editor_service),
        aggregate=event_pb2.Aggregate(
            id=e.aggregate_id,
            type=event_pb2.AggregateType(
                type=e.aggregate_type,
                localized=_message(_localized("aggregate", e.aggregate_type, language)),
            ),
            resource_owner=e.resource_owner,
        ),
        sequence=e.sequence,
        creation_date=_stamp(e.created_at),
        type=event_pb2.EventType(
            type=e.type, localized=_message(_localized("event", e.type, language))
        ),
    )
    event.payload.SetInParent()  # an empty payload is still ``{}``
    event.payload.update(e.payload)
    return event


async def list_events(
    chronik: Chronik, caller: Principal, request: admin_pb2.ListEventsRequest, language: str
) -> admin_pb2.ListEventsResponse:
    caller.require(p.EVENTS_READ)
    page = await chronik.events.search(caller.tenant_id, event_query(request))
    return admin_pb2.ListEventsResponse(events=[zitadel_event(e, language) for e in page.events])


async def list_event_types(
    chronik: Chronik, caller: Principal, request: admin_pb2.ListEventTypesRequest, language: str
) -> admin_pb2.ListEventTypesResponse:
    caller.require(p.EVENTS_READ)
    found = await chronik.catalogue.event_types(caller.tenant_id, language)
    return admin_pb2.ListEventTypesResponse(
        event_types=[event_pb2.EventType(type=t.type, localized=_message(t)) for t in found]
    )


async def list_aggregate_types(
    chronik: Chronik,
    caller: Principal,
    request: admin_pb2.ListAggregateTypesRequest,
    language: str,
) -> admin_pb2.ListAggregateTypesResponse:
    caller.require(p.EVENTS_READ)
    found = await chronik.catalogue.aggregate_types(caller.tenant_id, language)
    return admin_pb2.ListAggregateTypesResponse(
        aggregate_types=[event_pb2.AggregateType(type=t.type, localized=_message(t)) for t in found]
    )


async def list_failed_events(
    chronik: Chronik,
    caller: Principal,
    request: admin_pb2.ListFailedEventsRequest,
    language: str,
) -> admin_pb2.ListFailedEventsResponse:
    caller.require(p.IAM_READ)
    found = await chronik.views.all_failed(caller.tenant_id)
    return admin_pb2.ListFailedEventsResponse(
        result=[
            admin_pb2.FailedEvent(
                database=f.database,
                view_name=f.view,
                failed_sequence=f.sequence,
                failure_count=f.failure_count,
                error_message=f.error,
                last_failed=_stamp(f.last_failed),
            )
            for f in found
        ]
    )


MAX_SEQUENCE = 2**63 - 1
"""No stored sequence is above this (a signed 64-bit column on both backends)."""


async def remove_failed_event(
    chronik: Chronik,
    caller: Principal,
    request: admin_pb2.RemoveFailedEventRequest,
    language: str,
) -> admin_pb2.RemoveFailedEventResponse:
    caller.require(p.IAM_WRITE)
    database, view, sequence = request.database, request.view_name, request.failed_sequence
    missing = NotFound(f"no failed event {database}/{view}/{sequence}")
    if sequence > MAX_SEQUENCE:
        raise missing
    try:
        found = await chronik.views.failed_event(caller.tenant_id, view, sequence)
    except NotFound:
        raise missing from None
    if found.database != database:
        raise missing
    await chronik.views.remove_failed(caller.tenant_id, view, sequence)
    return admin_pb2.RemoveFailedEventResponse()


async def list_views(
    chronik: Chronik, caller: Principal, request: admin_pb2.ListViewsRequest, language: str
) -> admin_pb2.ListViewsResponse:
    caller.require(p.IAM_READ)
    result = []
    for status in await chronik.views.statuses(caller.tenant_id):
        s = status.state
        view = admin_pb2.View(database=s.database, view_name=s.view, processed_sequence=s.position)
        if s.event_at is not None:
            view.event_timestamp.CopyFrom(_stamp(s.event_at))
        if s.last_run is not None:
            view.last_successful_spooler_run.CopyFrom(_stamp(s.last_run))
        result.append(view)
    return admin_pb2.ListViewsResponse(result=result)
