"""The native API of consumer groups (``/v1/groups``): competing consumers fetch, ack and
nack; operators make and remove groups and list, replay and remove parked events.

Consumers need ``events.read`` (what they get are the tenant's events); making, removing
and replaying need ``iam.write``, as the views' operator verbs do."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import Field

from chronik.api.http import JSON, Body, body_schema, parse, permission, services
from chronik.api.schemas import NativeError, Shape, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.events.shapes import native_event, timestamp
from chronik.groups import GroupStatus
from chronik.records import FailedEvent, GroupSettings

router = APIRouter(prefix="/v1/groups", tags=["Native API: consumer groups"])

GroupName = Annotated[str, Path(min_length=1, max_length=200)]
SequenceNumber = Annotated[int, Field(ge=1, le=2**63 - 1)]


Text = Annotated[str, Field(min_length=1, max_length=200)]


class GroupBody(Body):
    name: Text
    event_types: Annotated[list[Text], Field(max_length=100)] = []
    ack_timeout_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 30.0
    max_deliveries: Annotated[int, Field(ge=1, le=100)] = 5
    retry_seconds: Annotated[float, Field(ge=0, le=86_400)] = 1.0
    start: Literal["head", "beginning"] = "head"


class FetchBody(Body):
    consumer: Text
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    wait_seconds: Annotated[float, Field(ge=0, le=30)] = 0.0


class AckBody(Body):
    sequences: Annotated[list[SequenceNumber], Field(min_length=1, max_length=1000)]


class NackBody(AckBody):
    action: Literal["retry", "park"] = "retry"
    reason: Annotated[str, Field(max_length=2000)] = ""


class ReplayBody(Body):
    sequence: SequenceNumber | None = None


class NativeGroup(Shape):
    name: str
    eventTypes: list[str]
    ackTimeoutSeconds: float
    maxDeliveries: int
    retrySeconds: float
    createdAt: str
    position: str
    head: str
    lag: str
    inFlight: int
    parked: int


class NativeGroups(Shape):
    groups: list[NativeGroup]


class Lent(Shape):
    deliveries: int
    event: dict[str, Any]


class Fetched(Shape):
    events: list[Lent]


class Settled(Shape):
    sequences: list[str]


class Parked(Shape):
    sequence: str
    deliveries: int
    error: str
    firstFailed: str
    lastFailed: str


class ParkedList(Shape):
    parked: list[Parked]


class Replayed(Shape):
    replayed: int


def _group(status: GroupStatus) -> dict[str, Any]:
    settings = status.group.settings
    return {
        "name": status.group.name,
        "eventTypes": list(settings.event_types),
        "ackTimeoutSeconds": settings.ack_timeout_seconds,
        "maxDeliveries": settings.max_deliveries,
        "retrySeconds": settings.retry_seconds,
        "createdAt": timestamp(status.group.created_at),
        "position": str(status.position),
        "head": str(status.head),
        "lag": str(status.lag),
        "inFlight": status.in_flight,
        "parked": status.parked,
    }


def _parked(f: FailedEvent) -> dict[str, Any]:
    return {
        "sequence": str(f.sequence),
        "deliveries": f.failure_count,
        "error": f.error,
        "firstFailed": timestamp(f.first_failed),
        "lastFailed": timestamp(f.last_failed),
    }


Reader = Annotated[Principal, Depends(permission(p.EVENTS_READ))]
Operator = Annotated[Principal, Depends(permission(p.IAM_WRITE))]


@router.post(
    "",
    summary="Make a consumer group",
    responses=answers(NativeGroup, NativeError, 409),
    openapi_extra=body_schema(GroupBody, required=True),
)
async def create_group(request: Request, caller: Operator) -> JSON:
    body = await parse(request, GroupBody, empty_ok=False)
    groups = services(request).groups
    made = await groups.create(
        caller.tenant_id,
        body.name,
        GroupSettings(
            event_types=tuple(body.event_types),
            ack_timeout_seconds=body.ack_timeout_seconds,
            max_deliveries=body.max_deliveries,
            retry_seconds=body.retry_seconds,
        ),
        start=body.start,
    )
    return JSON(_group(await groups.status(caller.tenant_id, made.name)))


@router.get("", summary="Consumer groups", responses=answers(NativeGroups, NativeError))
async def list_groups(request: Request, caller: Reader) -> JSON:
    groups = services(request).groups
    found = [
        await groups.status(caller.tenant_id, g.name) for g in await groups.find(caller.tenant_id)
    ]
    return JSON({"groups": [_group(s) for s in found]})


@router.get("/{name}", summary="A consumer group", responses=answers(NativeGroup, NativeError, 404))
async def get_group(request: Request, name: GroupName, caller: Reader) -> JSON:
    return JSON(_group(await services(request).groups.status(caller.tenant_id, name)))


@router.delete(
    "/{name}",
    summary="Remove a consumer group with its position and parked events",
    status_code=204,
    responses=answers(None, NativeError, 404, success=204),
)
async def delete_group(request: Request, name: GroupName, caller: Operator) -> Response:
    await services(request).groups.delete(caller.tenant_id, name)
    return Response(status_code=204)


@router.post(
    "/{name}/fetch",
    summary="Events lent to a consumer until it acks them (or the timeout)",
    responses=answers(Fetched, NativeError, 404),
    openapi_extra=body_schema(FetchBody, required=True),
)
async def fetch(request: Request, name: GroupName, caller: Reader) -> JSON:
    body = await parse(request, FetchBody, empty_ok=False)
    handed = await services(request).groups.fetch(
        caller.tenant_id,
        name,
        body.consumer,
        limit=body.limit,
        wait_seconds=body.wait_seconds,
    )
    return JSON(
        {"events": [{"deliveries": h.deliveries, "event": native_event(h.event)} for h in handed]}
    )


@router.post(
    "/{name}/ack",
    summary="Done with these events (those that were in flight are answered)",
    responses=answers(Settled, NativeError, 404),
    openapi_extra=body_schema(AckBody, required=True),
)
async def ack(request: Request, name: GroupName, caller: Reader) -> JSON:
    body = await parse(request, AckBody, empty_ok=False)
    settled = await services(request).groups.ack(caller.tenant_id, name, body.sequences)
    return JSON({"sequences": [str(s) for s in settled]})


@router.post(
    "/{name}/nack",
    summary="Not done: retry these events later, or park them",
    responses=answers(Settled, NativeError, 404),
    openapi_extra=body_schema(NackBody, required=True),
)
async def nack(request: Request, name: GroupName, caller: Reader) -> JSON:
    body = await parse(request, NackBody, empty_ok=False)
    settled = await services(request).groups.nack(
        caller.tenant_id, name, body.sequences, action=body.action, reason=body.reason
    )
    return JSON({"sequences": [str(s) for s in settled]})


@router.get(
    "/{name}/parked",
    summary="A consumer group's parked events",
    responses=answers(ParkedList, NativeError, 404),
)
async def parked(request: Request, name: GroupName, caller: Reader) -> JSON:
    found = await services(request).groups.parked(caller.tenant_id, name)
    return JSON({"parked": [_parked(f) for f in found]})


@router.post(
    "/{name}/_replay",
    summary="Hand parked events (one, or all) out again",
    responses=answers(Replayed, NativeError, 404),
    openapi_extra=body_schema(ReplayBody),
)
async def replay(request: Request, name: GroupName, caller: Operator) -> JSON:
    body = await parse(request, ReplayBody)
    count = await services(request).groups.replay(caller.tenant_id, name, body.sequence)
    return JSON({"replayed": count})


@router.delete(
    "/{name}/parked/{sequence}",
    summary="Remove a parked event",
    status_code=204,
    responses=answers(None, NativeError, 404, success=204),
)
async def delete_parked(
    request: Request,
    name: GroupName,
    sequence: Annotated[int, Path(ge=1, le=2**63 - 1)],
    caller: Operator,
) -> Response:
    await services(request).groups.delete_parked(caller.tenant_id, name, sequence)
    return Response(status_code=204)
