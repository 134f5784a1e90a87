"""Schedules: a list filtered by group, a part of the name and state, paged; one schedule
with its definition, its next fire times and its failed job; pause and resume."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console import paging
from chronik.api.console.jobs import REFUSAL, back_to, job_of, job_row
from chronik.api.console.session import message, page, reader, session_of, to, writer
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp
from chronik.records import Schedule, TimeRule
from chronik.schedules import rules
from chronik.schedules.service import Schedules

router = APIRouter()

UPCOMING = 10
"""Fire times one schedule's page shows."""
STATES = {
    "active": ("NORMAL", "BLOCKED"),
    "paused": ("PAUSED",),
    "error": ("ERROR",),
    "complete": ("COMPLETE",),
}
"""The state filter's choices, by the schedule states they take in."""
_UNITS = (("d", 86400), ("h", 3600), ("min", 60))


def _span(seconds: float) -> str:
    parts = []
    for unit, size in _UNITS:
        if seconds >= size:
            whole, seconds = divmod(seconds, size)
            parts.append(f"{int(whole)} {unit}")
    if seconds or not parts:
        parts.append(f"{seconds:g} s")
    return " ".join(parts)


def described(rule: TimeRule) -> str:
    """A time rule in words: "every 1 h 30 min from …", "cron 0 2 * * * in Europe/Berlin"."""
    at = timestamp(rule.at) if rule.at else ""
    if rule.kind == "once":
        return f"once at {at}"
    if rule.kind == "interval" and rule.every_seconds is not None:
        words = f"every {_span(rule.every_seconds)} from {at}"
    else:
        words = f"cron {rule.cron} in {rule.time_zone}"
        if rule.at:
            words += f" from {at}"
    if rule.repeat_limit is not None:
        words += f", at most {rule.repeat_limit} time{'' if rule.repeat_limit == 1 else 's'}"
    return words


def _when(at: datetime | None) -> str:
    return timestamp(at) if at else ""


def schedule_row(s: Schedule, state: str) -> dict[str, Any]:
    return {
        "group": s.group,
        "name": s.name,
        "rule": described(s.rule),
        "next": _when(s.next_fire_at),
        "state": state,
    }


def _fetch(schedules: Schedules, tenant: str, group: str | None) -> paging.Fetch[Schedule]:
    async def fetch(offset: int, count: int) -> Sequence[Schedule]:
        return await schedules.find(tenant, group=group, offset=offset, count=count)

    return fetch


def _keep(schedules: Schedules, q: str, state: str) -> Callable[[Schedule], bool] | None:
    """Schedules whose name holds ``q`` (any case) in one of ``state``'s states; None:
    every schedule."""
    needle = q.strip().casefold()
    states = STATES.get(state)
    if not needle and states is None:
        return None
    return lambda s: (
        needle in s.name.casefold() and (states is None or schedules.state_of(s) in states)
    )


@router.get("/schedules")
async def schedules_page(
    request: Request, group: str = "", q: str = "", state: str = "", start: int = 0
) -> Response:
    session, refused = await reader(request, p.EVENTS_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    if state and state not in STATES:
        return message(request, session, 400, f"A state is one of {', '.join(STATES)}.")
    schedules = services(request).schedules
    fetch = _fetch(schedules, session.caller.tenant_id, group.strip() or None)
    found = await paging.page_of(fetch, _keep(schedules, q, state), max(start, 0))
    filters = {"group": group.strip(), "q": q.strip(), "state": state}
    kept = {k: v for k, v in filters.items() if v}
    here = urllib.parse.urlencode({**kept, "start": found.start} if found.start else kept)
    return page(
        request,
        "schedules.html",
        "Schedules",
        session,
        schedules=[schedule_row(s, schedules.state_of(s)) for s in found.rows],
        filters=filters,
        states=list(STATES),
        found=found,
        filtered=bool(kept),
        next=urllib.parse.urlencode({**kept, "start": found.read_to}) if found.more else "",
        back=f"/schedules?{here}" if here else "/schedules",
    )


@router.get("/schedules/{group}/{name}")
async def schedule_page(request: Request, group: str, name: str) -> Response:
    session, refused = await reader(request, p.EVENTS_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    schedules = services(request).schedules
    tenant = session.caller.tenant_id
    try:
        s = await schedules.get(tenant, group, name)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    job = await job_of(schedules, tenant, group, name)
    definition = {
        "Event type": s.event_type,
        "Aggregate": f"{s.aggregate_type}/{s.policy_locator or f'{s.group}/{s.name}'}",
        "Transaction": s.transaction_locator or "",
        "When": described(s.rule),
        "Misfire policy": s.misfire.replace("_", " "),
        "Fired": str(s.fired),
        "Missed": str(s.missed),
        "Created": _when(s.created_at),
        "Changed": _when(s.updated_at),
    }
    return page(
        request,
        "schedule.html",
        f"Schedule {group}/{name}",
        session,
        s=schedule_row(s, schedules.state_of(s)),
        definition={k: v for k, v in definition.items() if v},
        payload=json.dumps(s.payload, indent=2, ensure_ascii=False, sort_keys=True),
        upcoming=[
            timestamp(at) for at in rules.upcoming(s.rule, s.next_fire_at, s.fired, UPCOMING)
        ],
        job=job_row(job) if job else None,
        back=f"/schedules/{_quoted(group)}/{_quoted(name)}",
    )


def _quoted(part: str) -> str:
    return urllib.parse.quote(part, safe="")


@router.post("/schedules/{group}/{name}/{what}")
async def schedule_action(request: Request, group: str, name: str, what: str) -> Response:
    if what not in ("pause", "resume"):
        return message(request, await session_of(request), 404, "No such action.")
    session, form, refused = await writer(request, p.EVENTS_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    schedules = services(request).schedules
    act = schedules.pause if what == "pause" else schedules.resume
    try:
        await act(session.caller.tenant_id, group, name)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(
        request, back_to(form.get("back", ""), f"/schedules/{_quoted(group)}/{_quoted(name)}")
    )
