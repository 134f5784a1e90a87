"""Schedules' failed jobs: by state and by a part of their group/name, with their last
error; resume or delete one, or all that match after a page that says how many."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console import paging
from chronik.api.console.session import (
    confirm,
    message,
    page,
    reader,
    to,
    writer,
)
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError, NotFound
from chronik.events.shapes import timestamp
from chronik.records import FailedJob
from chronik.schedules.service import FAILED_JOB_STATES, Schedules

router = APIRouter()

REFUSAL = "Your token may not see schedules."
BULK = {"resume-all": ("Resume", "resumed"), "delete-all": ("Delete", "deleted")}


def job_row(j: FailedJob) -> dict[str, Any]:
    return {
        "group": j.group,
        "name": j.name,
        "state": j.state,
        "failure_count": j.failure_count,
        "error": j.error,
        "updated_at": timestamp(j.updated_at),
    }


def _fetch(schedules: Schedules, tenant: str, state: str | None) -> paging.Fetch[FailedJob]:
    async def fetch(offset: int, count: int) -> Sequence[FailedJob]:
        return await schedules.failed_jobs(tenant, state=state, offset=offset, count=count)

    return fetch


def _matching(q: str) -> Callable[[FailedJob], bool] | None:
    """Jobs whose group/name holds ``q`` (any case); None: every job."""
    needle = q.strip().casefold()
    if not needle:
        return None
    return lambda j: needle in f"{j.group}/{j.name}".casefold()


def _kind(state: str | None, q: str) -> str:
    """What a filter selects, in words: "quit jobs matching 'x'"."""
    noun = f"{state} jobs" if state else "failed jobs"
    return f"{noun} matching {q.strip()!r}" if q.strip() else noun


def _query(state: str | None, q: str, **more: str | int) -> str:
    pairs = {"state": state or "", "q": q.strip(), **more}
    kept = {k: v for k, v in pairs.items() if v != ""}
    return f"?{urllib.parse.urlencode(kept)}" if kept else ""


@router.get("/jobs")
async def jobs_page(
    request: Request,
    state: str | None = None,
    q: str = "",
    start: int = 0,
    resumed: int | None = None,
    deleted: int | None = None,
) -> Response:
    session, refused = await reader(request, p.EVENTS_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    state = state or None
    if state not in (None, *FAILED_JOB_STATES):
        return message(request, session, 400, "A failed job's state is quit or queued.")
    fetch = _fetch(services(request).schedules, session.caller.tenant_id, state)
    found = await paging.page_of(fetch, _matching(q), max(start, 0))
    title = {"quit": "Quit jobs", "queued": "Queued jobs"}.get(state or "", "Failed jobs")
    here = {"start": found.start} if found.start else {}
    done = ""
    if resumed is not None:
        done = f"Resumed {resumed}."
    elif deleted is not None:
        done = f"Deleted {deleted}."
    return page(
        request,
        "jobs.html",
        title,
        session,
        jobs=[job_row(j) for j in found.rows],
        state=state or "",
        q=q,
        kind=_kind(state, q),
        found=found,
        query=_query(state, q),
        next=_query(state, q, start=found.read_to) if found.more else "",
        done=done,
        back=f"/jobs{_query(state, q, **here)}",
    )


@router.get("/jobs/{bulk}")
async def bulk_page(request: Request, bulk: str, state: str | None = None, q: str = "") -> Response:
    """How many jobs a bulk action would change, and the form that does it."""
    session, refused = await reader(request, p.EVENTS_WRITE, "Your token may not change jobs.")
    if session is None:
        return refused  # type: ignore[return-value]
    state = state or None
    if bulk not in BULK or state not in (None, *FAILED_JOB_STATES):
        return message(request, session, 404, "No such page.")
    fetch = _fetch(services(request).schedules, session.caller.tenant_id, state)
    count = len(await paging.every(fetch, _matching(q)))
    verb, _ = BULK[bulk]
    if count == 0:
        return message(request, session, 200, f"There are no {_kind(state, q)}.")
    question = f"{verb} all {count} {_kind(state, q)}?"
    if bulk == "resume-all":
        question += " Each schedule fires now."
    else:
        question += " Their schedules stay as they are."
    return confirm(
        request,
        session,
        question,
        f"/jobs/{bulk}{_query(state, q)}",
        f"{verb} {count}",
        f"/jobs{_query(state, q)}",
    )


@router.post("/jobs/{what}")
async def job_action(
    request: Request, what: str, state: str | None = None, q: str = ""
) -> Response:
    session, form, refused = await writer(request, p.EVENTS_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    schedules = services(request).schedules
    tenant = session.caller.tenant_id
    if what in BULK:
        state = state or None
        if state not in (None, *FAILED_JOB_STATES):
            return message(request, session, 400, "A failed job's state is quit or queued.")
        act = schedules.resume_failed if what == "resume-all" else schedules.delete_failed
        done = 0
        for job in await paging.every(_fetch(schedules, tenant, state), _matching(q)):
            try:
                await act(tenant, job.group, job.name)
                done += 1
            except NotFound:
                pass  # gone meanwhile: fired, or deleted by someone else
        _, did = BULK[what]
        return to(request, f"/jobs{_query(state, q, **{did: done})}")
    group, name = form.get("group", ""), form.get("name", "")
    try:
        if what == "resume":
            await schedules.resume_failed(tenant, group, name)
        elif what == "delete":
            await schedules.delete_failed(tenant, group, name)
        else:
            return message(request, session, 404, "No such action.")
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, back_to(form.get("back", ""), "/jobs"))


def back_to(back: str, default: str) -> str:
    """Where a form asked to go back to: a page of the console's schedules or jobs, else
    ``default``."""
    fine = back.startswith(("/jobs", "/schedules")) and not any(c in back for c in "\\\r\n")
    return back if fine and "//" not in back else default


async def job_of(schedules: Schedules, tenant: str, group: str, name: str) -> FailedJob | None:
    """The failed job of one schedule, if it has one (read through its group's)."""

    async def fetch(offset: int, count: int) -> Sequence[FailedJob]:
        return await schedules.failed_jobs(tenant, group=group, offset=offset, count=count)

    found = await paging.every(fetch, lambda j: j.name == name)
    return found[0] if found else None
