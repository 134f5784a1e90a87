"""The runs of actions with the lines their scripts logged, newest first, and the count of
failing runs the overview shows. Every run leaves an execution record (see
:class:`~chronik.records.ActionRun`); a test run leaves none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import Session, message, page, reader
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp
from chronik.ids import is_ulid
from chronik.records import ActionRun

router = APIRouter()

FAILING = ("failed", "timed_out", "out_of_memory", "crashed")
"""The outcomes of a run that went wrong (a rejection is the action's own answer)."""
OUTCOMES = ("succeeded", "rejected", *FAILING)
PAGE = 50
SCANNED = 500
"""How many of the newest runs the overview's count looks at (see
:func:`failing_in_last_hour`)."""
REFUSAL = "Your token may not see actions."


async def _runs(
    request: Request,
    session: Session,
    *,
    action_id: str | None = None,
    outcome: str = "",
    before: str | None = None,
    limit: int = PAGE,
) -> list[ActionRun]:
    """The organisation's runs, newest first; ``outcome`` "failing" is any of :data:`FAILING`."""
    actions = services(request).actions
    found: list[ActionRun] = []
    for one in FAILING if outcome == "failing" else (outcome or None,):
        found += await actions.runs(
            session.caller.tenant_id,
            organisation_id=session.caller.organisation_id,
            action_id=action_id,
            outcome=one,
            before=before,
            limit=limit,
        )
    found.sort(key=lambda r: r.id, reverse=True)
    return found[:limit]


async def failing_in_last_hour(request: Request, session: Session) -> tuple[int, bool]:
    """How many of the organisation's runs failed in the last hour, and whether more than
    :data:`SCANNED` ran in it (then the count is of the newest). Execution records are
    indexed by time, not by outcome: reading the newest is one bounded step, where asking
    for the failing ones could scan every success of the tenant."""
    since = datetime.now(UTC) - timedelta(hours=1)
    found = await _runs(request, session, limit=SCANNED)
    recent = [r for r in found if r.started_at >= since]
    return sum(r.outcome in FAILING for r in recent), len(recent) == SCANNED


def run_row(r: ActionRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "action_id": r.action_id,
        "action_name": r.action_name,
        "trigger": r.trigger_type.removeprefix("TRIGGER_TYPE_").replace("_", " ").lower(),
        "outcome": r.outcome.replace("_", " "),
        "failing": r.outcome in FAILING,
        "started": timestamp(r.started_at),
        "duration_ms": round(r.duration * 1000, 1),
        "error": r.error,
        "event_locator": r.event_locator or "",
        "event": r.event_type,
        "firing": r.firing or "",
        "logs": r.logs,
        "logs_dropped": r.logs_dropped,
    }


@router.get("/action-runs")
async def runs_page(
    request: Request, action: str = "", outcome: str = "", before: str = ""
) -> Response:
    """The runs of the organisation's actions (or of one), by outcome, newest first."""
    session, refused = await reader(request, p.ACTION_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    if outcome not in ("", "failing", *OUTCOMES) or (before and not is_ulid(before)):
        return message(request, session, 400, "No such outcome or page of runs.")
    name = ""
    if action:
        try:
            name = (
                await services(request).actions.get(
                    session.caller.tenant_id, session.caller.organisation_id, action[:200]
                )
            ).name
        except ChronikError:
            return message(request, session, 404, f"There is no action {action!r}.")
    found = await _runs(
        request, session, action_id=action or None, outcome=outcome, before=before or None
    )
    return page(
        request,
        "runs.html",
        f"Runs of {name}" if name else "Action runs",
        session,
        runs=[run_row(r) for r in found],
        action=action,
        outcome=outcome,
        outcomes=("failing", *OUTCOMES),
        older=found[-1].id if len(found) == PAGE else "",
        events=p.EVENTS_READ in session.caller.permissions,
    )
