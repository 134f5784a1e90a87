"""The tenant's tokens, for the ``IAM_OWNER``: issue (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.api.console.session import (
    OWNER,
    Can,
    Session,
    message,
    page,
    session_of,
    to,
    writer,
)
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.auth.permissions import ROLES
from chronik.errors import ChronikError
from chronik.events.shapes import timestamp

router = APIRouter()


async def _tokens_page(
    request: Request, session: Session, *, issued: str = "", problem: str = "", status: int = 200
) -> Response:
    records = await services(request).tokens.list(session.caller.tenant_id)
    tokens = [
        {
            "id": r.id,
            "name": r.name,
            "roles": list(r.roles),
            "created": timestamp(r.created_at),
            "revoked": timestamp(r.revoked_at) if r.revoked_at else "",
        }
        for r in records
    ]
    return page(
        request,
        "tokens.html",
        "Tokens",
        session,
        status,
        tokens=tokens,
        roles=sorted(ROLES),
        issued=issued,
        problem=problem,
    )


@router.get("/tokens")
async def tokens_page(request: Request) -> Response:
    session = await session_of(request)
    if session is None:
        return to(request, "/sign-in")
    if not Can.of(session.caller).tokens:
        return message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    return await _tokens_page(request, session)


@router.post("/tokens/issue")
async def issue_token(request: Request) -> Response:
    session, form, refused = await writer(request, p.IAM_READ)
    if session is None:
        return refused  # type: ignore[return-value]
    if OWNER not in session.caller.roles:
        return message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    name, role = form.get("name", "").strip(), form.get("role", "")
    if not 1 <= len(name) <= 200 or role not in ROLES:
        problem = "A token needs a name (1 to 200 characters) and one of the roles."
        return await _tokens_page(request, session, problem=problem, status=400)
    _, bearer = await services(request).tokens.issue(
        session.caller.tenant_id,
        [role],
        name=name,
        organisation_id=session.caller.organisation_id,
    )
    return await _tokens_page(request, session, issued=bearer)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    session, _, refused = await writer(request, p.IAM_READ)
    if session is None:
        return refused  # type: ignore[return-value]
    if OWNER not in session.caller.roles:
        return message(request, session, 403, f"Managing tokens takes the {OWNER} role.")
    try:
        await services(request).tokens.revoke(session.caller.tenant_id, token_id)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, "/tokens")
