"""Views: position, lag and state with pause/resume/reset, and a view's failed events with
retry/remove one and retry all (both asking first)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    Session,
    confirm,
    message,
    page,
    reader,
    session_of,
    to,
    writer,
)
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError, NotFound
from chronik.events.shapes import timestamp
from chronik.views import ViewStatus

router = APIRouter()


def view_row(status: ViewStatus) -> dict[str, Any]:
    return {
        "name": status.state.view,
        "database": status.state.database,
        "position": status.state.position,
        "lag": status.lag,
        "failed": status.failed,
        "state": status.activity,
    }


@router.get("/views")
async def views_page(request: Request) -> Response:
    session, refused = await reader(request, p.IAM_READ, "Your token may not see views.")
    if session is None:
        return refused  # type: ignore[return-value]
    statuses = await services(request).views.statuses(session.caller.tenant_id)
    return page(request, "views.html", "Views", session, views=[view_row(s) for s in statuses])


@router.get("/views/{view}/failed")
async def failed_page(request: Request, view: str) -> Response:
    session, refused = await reader(request, p.IAM_READ, "Your token may not see views.")
    if session is None:
        return refused  # type: ignore[return-value]
    views = services(request).views
    tenant = session.caller.tenant_id
    if view not in {s.state.view for s in await views.statuses(tenant)}:
        return message(request, session, 404, f"There is no view {view!r}.")
    failed = [
        {
            "sequence": f.sequence,
            "failure_count": f.failure_count,
            "error": f.error,
            "last_failed": timestamp(f.last_failed),
            "retry_at": timestamp(f.retry_at) if f.retry_at else None,
        }
        for f in await views.all_failed(tenant, view=view)
    ]
    return page(
        request, "failed.html", f"Failed events of {view}", session, view=view, failed=failed
    )


def _confirm(
    request: Request, session: Session, view: str, question: str, action: str, button: str
) -> Response:
    quoted = urllib.parse.quote(view, safe="")
    return confirm(
        request, session, question, f"/views/{quoted}/{action}", button, f"/views/{quoted}/failed"
    )


@router.get("/views/{view}/retry-all")
async def retry_all_page(request: Request, view: str) -> Response:
    session, refused = await reader(request, p.IAM_WRITE, "Your token may not change views.")
    if session is None:
        return refused  # type: ignore[return-value]
    count = len(await services(request).views.all_failed(session.caller.tenant_id, view=view))
    return _confirm(
        request,
        session,
        view,
        f"Retry all {count} failed events of {view} now?",
        "retry-all",
        f"Retry {count}",
    )


@router.get("/views/{view}/reset")
async def reset_page(request: Request, view: str) -> Response:
    session, refused = await reader(request, p.IAM_WRITE, "Your token may not change views.")
    if session is None:
        return refused  # type: ignore[return-value]
    return _confirm(
        request,
        session,
        view,
        f"Rebuild {view} from the first event? Its rows and failed events are cleared.",
        "reset",
        "Reset",
    )


async def _act(request: Request, view: str, sequence: int | None, what: str) -> Response:
    session, _, refused = await writer(request)
    if session is None:
        return refused  # type: ignore[return-value]
    views = services(request).views
    tenant = session.caller.tenant_id
    quoted = urllib.parse.quote(view, safe="")
    try:
        if what == "retry":
            await views.retry(tenant, view, sequence)
        elif what == "remove":
            assert sequence is not None
            await views.remove_failed(tenant, view, sequence)
        elif what == "pause":
            await views.pause(tenant, view)
            return to(request, "/views")
        elif what == "resume":
            await views.resume(tenant, view)
            return to(request, "/views")
        elif what == "reset":
            await views.reset(tenant, view)
            return to(request, "/views")
    except NotFound as exc:
        return message(request, session, 404, exc.message)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, f"/views/{quoted}/failed")


@router.post("/views/{view}/failed/{sequence}/retry")
async def retry_one(request: Request, view: str, sequence: int) -> Response:
    return await _act(request, view, sequence, "retry")


@router.post("/views/{view}/failed/{sequence}/remove")
async def remove_one(request: Request, view: str, sequence: int) -> Response:
    return await _act(request, view, sequence, "remove")


@router.post("/views/{view}/retry-all")
async def retry_all(request: Request, view: str) -> Response:
    return await _act(request, view, None, "retry")


@router.post("/views/{view}/{what}")
async def view_action(request: Request, view: str, what: str) -> Response:
    if what not in ("pause", "resume", "reset"):
        return message(request, await session_of(request), 404, "No such action.")
    return await _act(request, view, None, what)
