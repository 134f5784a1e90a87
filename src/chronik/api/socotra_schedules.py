"""Socotra's scheduled events: a policy's schedules, the tenant's scheduled tenant events,
the failed scheduled jobs (four lists, resume, delete), and tenant-event scheduling.

As in the rest of the Socotra surface, the tenant in the path must be the caller's own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from chronik.api.http import JSON, Body, UtcTime, body_schema, parse, permission, services
from chronik.api.schemas import (
    FailedJobDetails,
    ScheduledPolicyEvent,
    ScheduledTenantEvent,
    SocotraError,
    answers,
)
from chronik.api.socotra_events import own_tenant
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.events.shapes import timestamp
from chronik.records import FailedJob, Schedule
from chronik.schedules import TenantEvent
from chronik.schedules.service import TENANT_GROUP

router = APIRouter(tags=["Socotra Events API: scheduled events"])
EVENTS = "/event/{tenantLocator}/events/schedules"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Locator = Annotated[str, Path(min_length=1, max_length=200)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Count = Annotated[int, Query(ge=1, le=1000)]


class FailedJobRequest(Body):
    trigger_name: Name
    trigger_group: Name


class TenantEventRequest(Body):
    schedule_id: Name
    event_type_id: Name
    event_time: UtcTime
    data: dict[str, Any] = {}


class TenantEventsRequest(Body):
    requests: Annotated[list[TenantEventRequest], Field(min_length=1, max_length=100)]


def policy_event(s: Schedule, state: str) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "policyLocator": s.policy_locator or "",
        "transactionLocator": s.transaction_locator or "",
        "triggerState": state,
        "customEventId": s.event_type,
    }
    if s.next_fire_at is not None:
        shown["nextEventTime"] = timestamp(s.next_fire_at)
    return shown


def failed_job(job: FailedJob) -> dict[str, Any]:
    return {
        "triggerName": job.name,
        "failedJobState": job.state,
        "failureCount": job.failure_count,
        "triggerGroup": job.group,
        "updatedAt": timestamp(job.updated_at),
        "createdAt": timestamp(job.created_at),
    }


@router.get(
    f"{EVENTS}/policy/{{policyLocator}}",
    summary="Fetch Scheduled Policy Events",
    responses=answers(list[ScheduledPolicyEvent], SocotraError, 404),  # type: ignore[arg-type]
)
async def policy_schedules(
    request: Request,
    tenantLocator: str,
    policyLocator: Locator,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    schedules = services(request).schedules
    found = await schedules.find_all(tenant, policy_locator=policyLocator)
    return JSON([policy_event(s, schedules.state_of(s)) for s in found])


@router.get(
    f"{EVENTS}/tenant",
    summary="Fetch Scheduled Tenant Events",
    responses=answers(list[ScheduledTenantEvent], SocotraError, 404),  # type: ignore[arg-type]
)
async def tenant_schedules(
    request: Request,
    tenantLocator: str,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    schedules = services(request).schedules
    found = await schedules.find_all(tenant, group=TENANT_GROUP)
    return JSON([_tenant_event(s, schedules.state_of(s)) for s in found])


def _tenant_event(s: Schedule, state: str) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "scheduleId": s.name,
        "eventTypeId": s.event_type,
        "triggerState": state,
        "data": s.payload,
    }
    if s.rule.at is not None:
        shown["eventTime"] = timestamp(s.rule.at)
    if s.next_fire_at is not None:
        shown["nextEventTime"] = timestamp(s.next_fire_at)
    return shown


def _failed_list(path: str, summary: str, **fixed: str | None) -> None:
    async def list_failed(
        request: Request,
        tenantLocator: str,
        caller: Annotated[Principal, Depends(permission(p.EVENTS_READ))],
        offset: Offset = 0,
        count: Count = 100,
    ) -> JSON:
        tenant = own_tenant(tenantLocator, caller)
        filters = {k: request.path_params.get(v, v) if v else None for k, v in fixed.items()}
        jobs = await services(request).schedules.failed_jobs(
            tenant, offset=offset, count=count, **filters
        )
        return JSON([failed_job(j) for j in jobs])

    list_failed.__name__ = "failed_" + summary.lower().replace(" ", "_")
    router.add_api_route(
        f"{EVENTS}{path}",
        list_failed,
        methods=["GET"],
        summary=summary,
        responses=answers(list[FailedJobDetails], SocotraError, 404),  # type: ignore[arg-type]
    )


_failed_list("/tenant/failed/list", "Fetch Failed Scheduled Tenant Events", group=TENANT_GROUP)
_failed_list(
    "/policy/{policyLocator}/failed/list",
    "Fetch Failed Scheduled Policy Events",
    policy_locator="policyLocator",
)
_failed_list(
    "/failed/{failedJobState}/list",
    "Fetch Failed Scheduled Events By Failed Job State",
    state="failedJobState",
)
_failed_list("/failed/list", "Fetch Failed Scheduled Events")


def _failed_job_action(method: str, path: str, summary: str, action: str) -> None:
    async def act(
        request: Request,
        tenantLocator: str,
        caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
    ) -> Response:
        tenant = own_tenant(tenantLocator, caller)
        body = await parse(request, FailedJobRequest, empty_ok=False)
        schedules = services(request).schedules
        await getattr(schedules, action)(tenant, body.trigger_group, body.trigger_name)
        return Response(status_code=204)

    act.__name__ = action
    router.add_api_route(
        f"{EVENTS}{path}",
        act,
        methods=[method],
        summary=summary,
        status_code=204,
        openapi_extra=body_schema(FailedJobRequest, required=True),
        responses=answers(None, SocotraError, 404),
    )


_failed_job_action("POST", "/failed/resume", "Resume Failed Scheduled Event", "resume_failed")
_failed_job_action(
    "DELETE",
    "/failed",
    "Delete Failed Scheduled Event (the schedule stays as it is)",
    "delete_failed",
)


@router.post(
    "/config/{tenantLocator}/tenantEvents",
    summary="Schedule tenant events (each a one-shot schedule in the group 'tenant')",
    openapi_extra=body_schema(TenantEventsRequest, required=True),
    responses=answers(list[ScheduledTenantEvent], SocotraError, 404, 409),  # type: ignore[arg-type]
)
async def schedule_tenant_events(
    request: Request,
    tenantLocator: str,
    caller: Annotated[Principal, Depends(permission(p.EVENTS_WRITE))],
) -> JSON:
    tenant = own_tenant(tenantLocator, caller)
    body = await parse(request, TenantEventsRequest, empty_ok=False)
    schedules = services(request).schedules
    created = await schedules.schedule_tenant_events(
        tenant,
        [
            TenantEvent(
                schedule_id=r.schedule_id,
                event_type_id=r.event_type_id,
                event_time=r.event_time,
                data=r.data,
            )
            for r in body.requests
        ],
    )
    return JSON([_tenant_event(s, schedules.state_of(s)) for s in created])
