"""Schedules' failed jobs: by state, with their last error; resume or delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    Can,
    message,
    page,
    session_of,
    to,
    writer,
)
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp

router = APIRouter()


@router.get("/jobs")
async def jobs_page(request: Request, state: str | None = None) -> Response:
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    if not Can.of(session.caller).jobs:
        return message(request, session, 403, "Your token may not see schedules.")
    if state not in (None, "quit", "queued"):
        return message(request, session, 400, "A failed job's state is quit or queued.")
    found = await services(request).schedules.failed_jobs(
        session.caller.tenant_id, state=state, count=1000
    )
    jobs = [
        {
            "group": j.group,
            "name": j.name,
            "state": j.state,
            "failure_count": j.failure_count,
            "error": j.error,
            "updated_at": timestamp(j.updated_at),
        }
        for j in found
    ]
    title = {"quit": "Quit jobs", "queued": "Queued jobs"}.get(state or "", "Failed jobs")
    return page(request, "jobs.html", title, session, jobs=jobs)


@router.post("/jobs/{what}")
async def job_action(request: Request, what: str) -> Response:
    session, form, refused = await writer(request, p.EVENTS_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    schedules = services(request).schedules
    group, name = form.get("group", ""), form.get("name", "")
    try:
        if what == "resume":
            await schedules.resume_failed(session.caller.tenant_id, group, name)
        elif what == "delete":
            await schedules.delete_failed(session.caller.tenant_id, group, name)
        else:
            return message(request, session, 404, "No such action.")
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, "/jobs")
