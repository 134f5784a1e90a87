"""The first screen: per tenant, the counts that need attention, each linking to its list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.runs import SCANNED, failing_in_last_hour
from chronik.api.console.session import Can, page, session_of, to
from chronik.api.console.views import view_row
from chronik.api.http import services
from chronik.auth import permissions as p

router = APIRouter()


@router.get("/overview")
async def overview(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    can = Can.of(session.caller)
    tenant = session.caller.tenant_id
    views: list[dict[str, Any]] = []
    if can.views:
        statuses = await services(request).views.statuses(tenant)
        views = [view_row(s) for s in statuses]
        views.sort(key=lambda v: (-v["failed"], -v["lag"], v["name"]))
    jobs = {"quit": 0, "queued": 0}
    if can.jobs:
        jobs = await services(request).schedules.failed_job_counts(tenant)
    hooks: list[dict[str, Any]] = []
    if p.WEBHOOKS_READ in session.caller.permissions:
        webhooks = services(request).webhooks
        listed, _ = await webhooks.find(tenant, count=100)
        for hook in listed:
            status = await webhooks.status(tenant, hook.locator)
            state = "suspended" if hook.suspended_at else "enabled"
            hooks.append(
                {
                    "name": hook.definition.name,
                    "locator": hook.locator,
                    "diverted": status.diverted,
                    "lag": status.lag,
                    "state": state if hook.definition.enabled else "disabled",
                }
            )
    failing_runs = None
    if p.ACTION_READ in session.caller.permissions:
        failing_runs = await failing_in_last_hour(request, session)
    return page(
        request,
        "overview.html",
        "Overview",
        session,
        hooks=hooks,
        views=views,
        failed_total=sum(v["failed"] for v in views),
        jobs_quit=jobs["quit"],
        jobs_queued=jobs["queued"],
        failing_runs=failing_runs,
        runs_scanned=SCANNED,
    )
