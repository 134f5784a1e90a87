"""The native API of schedules (``/v1/schedules``): create, read, list, replace, pause,
resume and delete schedules; list failed jobs with their errors, resume or delete them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from chronik.api.http import JSON, Body, UtcTime, body_schema, parse, permission, services
from chronik.api.schemas import (
    NativeError,
    NativeFailedJobs,
    NativeSchedule,
    NativeSchedules,
    answers,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.events.shapes import timestamp
from chronik.records import FailedJob, Schedule, TimeRule
from chronik.schedules.service import DEFAULT_GROUP

router = APIRouter(prefix="/v1/schedules", tags=["Native API: schedules"])

Name = Annotated[str, Field(min_length=1, max_length=200)]
Key = Annotated[str, Path(min_length=1, max_length=200)]


class RuleBody(Body):
    kind: Literal["once", "interval", "cron"]
    at: UtcTime | None = None
    every_seconds: Annotated[float, Field(gt=0)] | None = None
    cron: Annotated[str, Field(max_length=200)] | None = None
    time_zone: Annotated[str, Field(min_length=1, max_length=100)] = "UTC"
    repeat_limit: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class ScheduleBody(Body):
    event_type: Name
    rule: RuleBody
    payload: dict[str, Any] = {}
    policy_locator: Annotated[str, Field(max_length=200)] | None = None
    transaction_locator: Annotated[str, Field(max_length=200)] | None = None
    aggregate_type: Annotated[str, Field(max_length=200)] = ""
    misfire: Literal["fire_once_now", "skip_to_next"] = "fire_once_now"
    paused: bool = False


class NewScheduleBody(ScheduleBody):
    name: Name
    group: Name = DEFAULT_GROUP


def _schedule(body: ScheduleBody, tenant: str, group: str, name: str) -> Schedule:
    r = body.rule
    return Schedule(
        tenant_id=tenant,
        name=name,
        group=group,
        event_type=body.event_type,
        payload=body.payload,
        policy_locator=body.policy_locator,
        transaction_locator=body.transaction_locator,
        aggregate_type=body.aggregate_type,
        rule=TimeRule(
            kind=r.kind,
            at=r.at,
            every_seconds=r.every_seconds,
            cron=r.cron,
            time_zone=r.time_zone,
            repeat_limit=r.repeat_limit,
        ),
        misfire=body.misfire,
        paused=body.paused,
    )


def shown(s: Schedule, state: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"kind": s.rule.kind, "timeZone": s.rule.time_zone}
    for key, value in (
        ("at", timestamp(s.rule.at) if s.rule.at else None),
        ("everySeconds", s.rule.every_seconds),
        ("cron", s.rule.cron),
        ("repeatLimit", s.rule.repeat_limit),
    ):
        if value is not None:
            rule[key] = value
    body: dict[str, Any] = {
        "name": s.name,
        "group": s.group,
        "eventType": s.event_type,
        "payload": s.payload,
        "aggregateType": s.aggregate_type,
        "rule": rule,
        "misfire": s.misfire,
        "state": state,
        "fired": s.fired,
        "missed": s.missed,
        "createdAt": timestamp(s.created_at) if s.created_at else "",
        "updatedAt": timestamp(s.updated_at) if s.updated_at else "",
    }
    for key, value in (
        ("policyLocator", s.policy_locator),
        ("transactionLocator", s.transaction_locator),
        ("nextFireTime", timestamp(s.next_fire_at) if s.next_fire_at else None),
    ):
        if value is not None:
            body[key] = value
    return body


def _job(job: FailedJob) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": job.name,
        "group": job.group,
        "state": job.state,
        "failureCount": job.failure_count,
        "error": job.error,
        "createdAt": timestamp(job.created_at),
        "updatedAt": timestamp(job.updated_at),
    }
    if job.policy_locator is not None:
        body["policyLocator"] = job.policy_locator
    return body


def _answer(request: Request, s: Schedule, status: int = 200) -> JSON:
    return JSON(shown(s, services(request).schedules.state_of(s)), status_code=status)


@router.post(
    "",
    summary="Create a schedule",
    status_code=201,
    openapi_extra=body_schema(NewScheduleBody, required=True),
    responses=answers(NativeSchedule, NativeError, 409, success=201),
)
async def create(
    request: Request, caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))]
) -> JSON:
    body = await parse(request, NewScheduleBody, empty_ok=False)
    schedule = _schedule(body, caller.tenant_id, body.group, body.name)
    return _answer(request, await services(request).schedules.create(schedule), 201)


@router.get("", summary="List schedules", responses=answers(NativeSchedules, NativeError))
async def list_schedules(
    request: Request,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
    group: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    policy_locator: Annotated[str | None, Query(alias="policyLocator", max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSON:
    schedules = services(request).schedules
    found = await schedules.find(
        caller.tenant_id, group=group, policy_locator=policy_locator, offset=offset, count=count
    )
    return JSON({"schedules": [shown(s, schedules.state_of(s)) for s in found]})


@router.get(
    "/failed-jobs",
    summary="Failed jobs with their last error",
    responses=answers(NativeFailedJobs, NativeError),
)
async def failed_jobs(
    request: Request,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
    state: Annotated[Literal["queued", "quit"] | None, Query()] = None,
    policy_locator: Annotated[str | None, Query(alias="policyLocator", max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSON:
    jobs = await services(request).schedules.failed_jobs(
        caller.tenant_id, state=state, policy_locator=policy_locator, offset=offset, count=count
    )
    return JSON({"failedJobs": [_job(j) for j in jobs]})


@router.get(
    "/{group}/{name}",
    summary="Get a schedule with its state",
    responses=answers(NativeSchedule, NativeError, 404),
)
async def get(
    request: Request,
    group: Key,
    name: Key,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    return _answer(request, await services(request).schedules.get(caller.tenant_id, group, name))


@router.put(
    "/{group}/{name}",
    summary="Replace a schedule's definition (its fire times start over)",
    openapi_extra=body_schema(ScheduleBody, required=True),
    responses=answers(NativeSchedule, NativeError, 404),
)
async def replace(
    request: Request,
    group: Key,
    name: Key,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
) -> JSON:
    body = await parse(request, ScheduleBody, empty_ok=False)
    schedule = _schedule(body, caller.tenant_id, group, name)
    return _answer(request, await services(request).schedules.replace(schedule))


@router.delete(
    "/{group}/{name}",
    summary="Delete a schedule and its failed job",
    status_code=204,
    responses=answers(None, NativeError, 404),
)
async def delete(
    request: Request,
    group: Key,
    name: Key,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
) -> Response:
    await services(request).schedules.delete(caller.tenant_id, group, name)
    return Response(status_code=204)


def _control(action: str, summary: str) -> None:
    async def control(
        request: Request,
        group: Key,
        name: Key,
        caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
    ) -> JSON:
        schedules = services(request).schedules
        return _answer(request, await getattr(schedules, action)(caller.tenant_id, group, name))

    control.__name__ = f"{action}_schedule"
    router.add_api_route(
        f"/{{group}}/{{name}}/_{action}",
        control,
        methods=["POST"],
        summary=summary,
        responses=answers(NativeSchedule, NativeError, 404),
    )


_control("pause", "Pause a schedule")
_control("resume", "Resume a paused schedule (missed fire times follow its misfire policy)")


@router.post(
    "/{group}/{name}/failed-job/_resume",
    summary="Resume a failed job: back to NORMAL and fire now",
    responses=answers(NativeSchedule, NativeError, 404),
)
async def resume_failed(
    request: Request,
    group: Key,
    name: Key,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
) -> JSON:
    schedules = services(request).schedules
    await schedules.resume_failed(caller.tenant_id, group, name)
    return _answer(request, await schedules.get(caller.tenant_id, group, name))


@router.delete(
    "/{group}/{name}/failed-job",
    summary="Delete a failed job (the schedule stays as it is)",
    status_code=204,
    responses=answers(None, NativeError, 404),
)
async def delete_failed(
    request: Request,
    group: Key,
    name: Key,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
) -> Response:
    await services(request).schedules.delete_failed(caller.tenant_id, group, name)
    return Response(status_code=204)
