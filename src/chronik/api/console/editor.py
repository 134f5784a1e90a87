"""An action's page: its script in an editor whose syntax errors are shown at their line
before anything is saved (a Check button, and htmx checking as one types), saving or
creating it, and a test run on a sample event with its outcome and logs.

Changing and test runs take ``org.action.write``, as in the Management API."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.actions import Action, Run
from chronik.actions.execution import event_context
from chronik.actions.model import MAX_SCRIPT_BYTES, MAX_TIMEOUT, check_script
from chronik.api.console.actions import SERVICE, action_of, checked_writer, may, missing
from chronik.api.console.runs import REFUSAL, run_row
from chronik.api.console.session import HEADERS, Session, message, page, reader, templates, to
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError, InvalidArgument, NotFound
from chronik.events.shapes import timestamp
from chronik.records import Editor, EventQuery

router = APIRouter()

LOCATION = re.compile(r"\(line (\d+), column (\d+)\)")
AROUND = 2
"""Lines shown on each side of the one an error is at."""
SAMPLE = {
    "type": "user.added",
    "aggregateType": "user",
    "aggregateId": "u-1",
    "resourceOwner": "",
    "payload": {"name": "Ada"},
}
RECENT = 20
"""How many recent events the test run offers to pick from."""
TIMEOUT_HELP = f"Seconds, 0 to {MAX_TIMEOUT:g} (0 means {MAX_TIMEOUT:g})."


def at_line(script: str, error: str) -> dict[str, Any] | None:
    """The place an error names ("(line L, column C)") with the script's lines around it."""
    found = LOCATION.search(error)
    if found is None:
        return None
    line, column = int(found[1]), int(found[2])
    lines = script.split("\n")
    if not 1 <= line <= len(lines):
        return None
    first = max(1, line - AROUND)
    shown = [(n, lines[n - 1], n == line) for n in range(first, min(len(lines), line + AROUND) + 1)]
    return {"line": line, "column": column, "lines": shown}


def _editing(action: Action | None, form: dict[str, str] | None = None) -> dict[str, Any]:
    """The editor's fields: as submitted, else as the action has them, else empty."""
    if form is not None:
        return {
            "name": form.get("name", ""),
            "script": _script(form),
            "timeout": form.get("timeout", ""),
            "allowed_to_fail": form.get("allowedToFail") == "on",
        }
    if action is None:
        return {"name": "", "script": "", "timeout": "10", "allowed_to_fail": False}
    return {
        "name": action.name,
        "script": action.script,
        "timeout": f"{action.timeout:g}",
        "allowed_to_fail": action.allowed_to_fail,
    }


def _script(form: dict[str, str]) -> str:
    # browsers send a textarea's line breaks as CRLF; the stored script keeps the user's LF
    return form.get("script", "").replace("\r\n", "\n")


def _problem(script: str, text: str) -> dict[str, Any]:
    """An error to show: its text, and where it is in the script (said once, before it)."""
    at = at_line(script, text)
    return {"text": LOCATION.sub("", text).rstrip() if at else text, "at": at}


def _run_result(run: Run) -> dict[str, Any]:
    return {
        "outcome": run.outcome.replace("_", " "),
        "ok": run.outcome == "succeeded",
        "logs": [(line.level, line.message) for line in run.logs],
        "logs_dropped": run.logs_dropped,
        "fields": json.dumps(run.fields, indent=2, ensure_ascii=False) if run.fields else "",
        "duration_ms": round(run.duration * 1000, 1),
    }


async def _editor(
    request: Request,
    session: Session,
    action: Action | None,
    *,
    form: dict[str, str] | None = None,
    check: dict[str, Any] | None = None,
    problem: dict[str, Any] | None = None,
    test: dict[str, Any] | None = None,
    sample: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    """An action's page (or the page of a new one) with what was submitted and found."""
    tenant = session.caller.tenant_id
    allowed = may(session)
    recent: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    if action is not None:
        found = await services(request).actions.runs(
            tenant, organisation_id=action.organisation_id, action_id=action.id, limit=10
        )
        runs = [run_row(r) for r in found]
        if allowed["write"] and allowed["events"]:
            listed = await services(request).events.search(tenant, EventQuery(limit=RECENT))
            recent = [
                {"locator": e.locator, "label": f"{e.sequence} · {e.type} · {e.aggregate_id}"}
                for e in listed.events
            ]
    sample = sample or json.dumps(
        {**SAMPLE, "resourceOwner": session.caller.organisation_id}, indent=2
    )
    return page(
        request,
        "action.html",
        action.name if action else "New action",
        session,
        status,
        action=action,
        changed=timestamp(action.changed_at) if action else "",
        edit=_editing(action, form),
        may=allowed,
        check=check,
        problem=problem,
        test=test,
        sample=sample,
        recent=recent,
        runs=runs,
        more_runs=len(runs) == 10,
        events=allowed["events"],
        notice=notice,
        max_bytes=MAX_SCRIPT_BYTES,
        timeout_help=TIMEOUT_HELP,
    )


@router.get("/actions/new")
async def new_page(request: Request) -> Response:
    session, refused = await reader(request, p.ACTION_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    if not may(session)["write"]:
        return message(request, session, 403, "Your token may not create actions.")
    return await _editor(request, session, None)


@router.get("/actions/{action_id}")
async def action_page(request: Request, action_id: str) -> Response:
    session, refused = await reader(request, p.ACTION_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    action = await action_of(request, session, action_id)
    if action is None:
        return missing(request, session, action_id)
    saved = "Saved." if request.query_params.get("saved") else ""
    return await _editor(request, session, action, notice=saved)


@router.post("/actions/check")
async def check(request: Request) -> Response:
    """The script's syntax errors at their line, saving nothing: the check fragment for
    htmx, else the editor again with what was submitted."""
    session, form, refused = await checked_writer(request, p.ACTION_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    script = _script(form)
    try:
        check_script(script)
        found = await services(request).actions.runtime.check(script)
    except InvalidArgument as exc:
        found = exc.message
    result = {"ok": found is None, "problem": _problem(script, found) if found else None}
    if request.headers.get("hx-target") == "check-result":
        response = templates.TemplateResponse(request, "action_check.html", {"check": result})
        response.headers.update(HEADERS)
        return response
    action = None
    if form.get("id"):
        action = await action_of(request, session, form["id"])
        if action is None:
            return missing(request, session, form["id"])
    return await _editor(request, session, action, form=form, check=result)


def _seconds(form: dict[str, str]) -> float:
    try:
        return float(form.get("timeout", "0") or 0)
    except ValueError:
        raise InvalidArgument(TIMEOUT_HELP, field="timeout") from None


@router.post("/actions/new")
async def create(request: Request) -> Response:
    session, form, refused = await checked_writer(request, p.ACTION_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    script = _script(form)
    try:
        created = await services(request).actions.create(
            session.caller.tenant_id,
            session.caller.organisation_id,
            **_fields(session, form, script),
        )
    except ChronikError as exc:
        problem = _problem(script, exc.message)
        return await _editor(
            request, session, None, form=form, problem=problem, status=exc.http_status
        )
    return to(request, f"/actions/{created.id}")


def _fields(session: Session, form: dict[str, str], script: str) -> dict[str, Any]:
    """What the editor's form sets of an action, and who set it."""
    return {
        "name": form.get("name", ""),
        "script": script,
        "timeout": _seconds(form),
        "allowed_to_fail": form.get("allowedToFail") == "on",
        "editor": Editor(user_id=session.caller.subject, service=SERVICE),
    }


async def _writable(
    request: Request, action_id: str
) -> tuple[Session | None, dict[str, str], Action | None, Response | None]:
    """The session, form and action of a POST that changes or runs an action; else the answer
    that refuses it (a stale form, a token that may not, an action not of this tenant)."""
    session, form, refused = await checked_writer(request, p.ACTION_WRITE)
    if session is None:
        return None, form, None, refused
    action = await action_of(request, session, action_id)
    if action is None:
        return session, form, None, missing(request, session, action_id)
    return session, form, action, None


@router.post("/actions/{action_id}")
async def save(request: Request, action_id: str) -> Response:
    """Replace the action's name, script, timeout and allowedToFail; a script that does not
    compile is refused with its error at its line, and nothing is saved."""
    session, form, action, refused = await _writable(request, action_id)
    if refused is not None:
        return refused
    assert session is not None and action is not None
    script = _script(form)
    try:
        await services(request).actions.update(
            session.caller.tenant_id,
            session.caller.organisation_id,
            action.id,
            **_fields(session, form, script),
        )
    except ChronikError as exc:
        problem = _problem(script, exc.message)
        return await _editor(
            request, session, action, form=form, problem=problem, status=exc.http_status
        )
    return to(request, f"/actions/{action.id}?saved=1")


async def _sample(request: Request, session: Session, form: dict[str, str]) -> dict[str, Any]:
    """``ctx.event`` of a test run: the picked event of the log, else the JSON given."""
    locator = form.get("locator", "")
    if locator:
        if not may(session)["events"]:
            raise InvalidArgument("your token may not read events: give the event as JSON")
        try:
            return event_context(
                await services(request).events.get(session.caller.tenant_id, locator[:100])
            )
        except NotFound:
            raise InvalidArgument(f"there is no event {locator!r}") from None
    try:
        event = json.loads(form.get("event", "") or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"the sample event is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise InvalidArgument("the sample event must be a JSON object")
    return event


@router.post("/actions/{action_id}/test")
async def test(request: Request, action_id: str) -> Response:
    """Run the saved script on a sample event: nothing is appended and no record kept."""
    session, form, action, refused = await _writable(request, action_id)
    if refused is not None:
        return refused
    assert session is not None and action is not None
    try:
        event = await _sample(request, session, form)
        run = await services(request).actions.test(
            session.caller.tenant_id, action.organisation_id, action.id, ctx={"event": event}
        )
    except ChronikError as exc:
        not_run = {"refused": exc.message}
        sample = form.get("event", "")
        return await _editor(
            request, session, action, test=not_run, sample=sample, status=exc.http_status
        )
    result = _run_result(run)
    result["problem"] = _problem(action.script, run.error) if run.error else None
    return await _editor(request, session, action, test=result, sample=form.get("event", ""))
