"""AdminService, proto-first: each RPC's request message and caller to its response message.

These are the one translation of each RPC; every transport (gRPC, gRPC-web and the
grpc-gateway JSON routes through protojson) calls them through
:func:`chronik.api.rpc.methods.serve`, which checks each RPC's permission (in
:data:`METHODS`) first, so no transport keeps a field list of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import msgspec
from google.protobuf.timestamp_pb2 import Timestamp

from chronik.api.proto.zitadel import admin_pb2
from chronik.api.rpc.methods import KEPT, Call, Data, Lru, Served, Shared, methods_of
from chronik.auth import permissions as p
from chronik.errors import InvalidArgument, NotFound
from chronik.events import EventQuery
from chronik.events.catalogue import LocalizedType, localize
from chronik.records import Event


def _time(stamp: Timestamp, field: str) -> datetime:
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is out of the range of timestamps", field=field) from None


MAX_LIMIT = 1000
"""ZITADEL answers at most this many events to one ListEvents, whatever its ``limit`` asks."""


def event_query(request: admin_pb2.ListEventsRequest) -> EventQuery:
    """The search a ListEventsRequest asks for. ``from`` and ``range`` (the oneof) win over
    the deprecated ``creation_date`` outside it, and a ``limit`` over :data:`MAX_LIMIT` is
    cut to it, as in ZITADEL; the service validates the rest."""
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
        limit=min(request.limit, MAX_LIMIT),
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
def _typed(kind: str, name: str, language: str) -> Data:
    """An ``EventType`` or ``AggregateType``, shared by every event of that type (so never
    changed once built; :func:`~chronik.api.rpc.protojson.to_json` writes it once)."""
    return _named(name, localize(kind, name, language))


def _named(name: str, found: LocalizedType) -> Data:
    return {
        "type": name,
        "localized": {"key": found.key, "localized_message": found.localized_message},
    }


_events: Lru[tuple[str, int, str], Shared] = Lru(KEPT)
_encode = msgspec.json.Encoder().encode

SHARED_PAYLOAD_BYTES = 2048
"""An event whose payload is larger is built anew for each answer rather than kept."""


def zitadel_event(e: Event, language: str) -> Data:
    """An event as ZITADEL's ``zitadel.event.v1.Event``. A recently answered event with a
    small payload answers the same :class:`Shared` data again (its locator is unique in every
    store), so that each transport writes it once while it is kept."""
    key = (e.locator, e.sequence, language)
    found = _events.get(key)
    if found is not None:
        return found
    data = {
        "editor": {"user_id": e.editor_user_id, "service": e.editor_service},
        "aggregate": {
            "id": e.aggregate_id,
            "type": _typed("aggregate", e.aggregate_type, language),
            "resource_owner": e.resource_owner,
        },
        "sequence": e.sequence,
        "creation_date": e.created_at,
        "payload": e.payload,
        "type": _typed("event", e.type, language),
    }
    if len(_encode(e.payload)) > SHARED_PAYLOAD_BYTES:
        return data
    shared = Shared(data)
    _events.put(key, shared)
    return shared


async def list_events(call: Call, request: admin_pb2.ListEventsRequest) -> Data:
    page = await call.chronik.events.search(call.caller.tenant_id, event_query(request))
    return {"events": [zitadel_event(e, call.language) for e in page.events]}


async def list_event_types(call: Call, request: admin_pb2.ListEventTypesRequest) -> Data:
    found = await call.chronik.catalogue.event_types(call.caller.tenant_id, call.language)
    return {"event_types": [_named(t.type, t) for t in found]}


async def list_aggregate_types(call: Call, request: admin_pb2.ListAggregateTypesRequest) -> Data:
    found = await call.chronik.catalogue.aggregate_types(call.caller.tenant_id, call.language)
    return {"aggregate_types": [_named(t.type, t) for t in found]}


async def list_failed_events(call: Call, request: admin_pb2.ListFailedEventsRequest) -> Data:
    found = await call.chronik.views.all_failed(call.caller.tenant_id)
    return {
        "result": [
            {
                "database": f.database,
                "view_name": f.view,
                "failed_sequence": f.sequence,
                "failure_count": f.failure_count,
                "error_message": f.error,
                "last_failed": f.last_failed,
            }
            for f in found
        ]
    }


MAX_SEQUENCE = 2**63 - 1
"""No stored sequence is above this (a signed 64-bit column on both backends)."""


async def remove_failed_event(call: Call, request: admin_pb2.RemoveFailedEventRequest) -> Data:
    database, view, sequence = request.database, request.view_name, request.failed_sequence
    # As in ZITADEL, removing what is not there (any more) succeeds and changes nothing.
    if sequence <= MAX_SEQUENCE:
        try:
            found = await call.chronik.views.failed_event(call.caller.tenant_id, view, sequence)
        except NotFound:
            return {}
        if found.database == database:
            await call.chronik.views.remove_failed(call.caller.tenant_id, view, sequence)
    return {}


async def list_views(call: Call, request: admin_pb2.ListViewsRequest) -> Data:
    return {
        "result": [
            {
                "database": s.state.database,
                "view_name": s.state.view,
                "processed_sequence": s.state.position,
                "event_timestamp": s.state.event_at,
                "last_successful_spooler_run": s.state.last_run,
            }
            for s in await call.chronik.views.statuses(call.caller.tenant_id)
        ]
    }


METHODS = methods_of(
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
    {
        "ListViews": Served(p.IAM_READ, list_views),
        "ListFailedEvents": Served(p.IAM_READ, list_failed_events),
        "RemoveFailedEvent": Served(p.IAM_WRITE, remove_failed_event),
        "ListEventTypes": Served(p.EVENTS_READ, list_event_types),
        "ListEvents": Served(p.EVENTS_READ, list_events),
        "ListAggregateTypes": Served(p.EVENTS_READ, list_aggregate_types),
    },
)
