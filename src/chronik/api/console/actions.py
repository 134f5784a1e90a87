"""Actions: a search with ListActions' filters; deactivate, reactivate and delete (asking
first). An action's own page, with its editor and test runs, is :mod:`.editor`'s.

Reading takes ``org.action.read``; changing ``org.action.write``; deleting
``org.action.delete``, as in the Management API. Everything happens in the caller's
organisation, so another organisation's or tenant's action is not found (404)."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.actions import Action, ActionQuery, NameQuery
from chronik.actions.search import TEXT_METHODS, SortingColumn
from chronik.api.console.runs import REFUSAL
from chronik.api.console.session import Session, confirm, message, page, reader, to, writer
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError, InvalidArgument, NotFound
from chronik.events.shapes import timestamp
from chronik.records import Editor

router = APIRouter()

PAGE = 50
SERVICE = "console"
"""The service the events a console write appends are recorded as written by."""


def may(session: Session) -> dict[str, bool]:
    granted = session.caller.permissions
    return {
        "write": p.ACTION_WRITE in granted,
        "delete": p.ACTION_DELETE in granted,
        "events": p.EVENTS_READ in granted,
    }


async def action_of(request: Request, session: Session, action_id: str) -> Action | None:
    try:
        return await services(request).actions.get(
            session.caller.tenant_id, session.caller.organisation_id, action_id[:200]
        )
    except NotFound:
        return None


def missing(request: Request, session: Session, action_id: str) -> Response:
    return message(request, session, 404, f"There is no action {action_id!r}.")


async def checked_writer(
    request: Request, permission: str
) -> tuple[Session | None, dict[str, str], Response | None]:
    """:func:`writer`, pointing a form too long for the console (a long script with many
    characters a form must escape) to the Management API."""
    hint = "Save a script this long through the Management API (PUT /management/v1/actions/{id})."
    return await writer(request, permission, too_large=hint)


# -- the list ------------------------------------------------------------------------------


def _query(params: dict[str, str]) -> ActionQuery:
    method = params.get("method", "CONTAINS_IGNORE_CASE")
    column = params.get("sort", "NAME")
    if method not in TEXT_METHODS or column not in ("NAME", "ID", "STATE"):
        raise InvalidArgument("no such text method or sorting column")
    name, action_id, state = (params.get(k, "").strip()[:200] for k in ("name", "id", "state"))
    if state not in ("", "ACTIVE", "INACTIVE"):
        raise InvalidArgument("an action's state is ACTIVE or INACTIVE")
    try:
        offset = max(0, int(params.get("offset", "0") or 0))
    except ValueError:
        raise InvalidArgument("offset is a number") from None
    return ActionQuery(
        offset=offset,
        limit=PAGE,
        asc=params.get("asc", "on" if column == "NAME" else "") == "on",
        sorting_column=cast(SortingColumn, column),
        ids=(action_id,) if action_id else (),
        names=(NameQuery(name=name, method=method),) if name else (),
        states=(state,) if state else (),
    )


@router.get("/actions")
async def actions_page(request: Request) -> Response:
    """The organisation's actions by ListActions' filters, 50 a page."""
    session, refused = await reader(request, p.ACTION_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    params = dict(request.query_params)
    try:
        query = _query(params)
    except InvalidArgument as exc:
        return message(request, session, 400, exc.message)
    found = await services(request).actions.search(
        session.caller.tenant_id, session.caller.organisation_id, query
    )
    following = {**params, "offset": str(query.offset + PAGE)}
    return page(
        request,
        "actions.html",
        "Actions",
        session,
        actions=[
            {
                "id": a.id,
                "name": a.name,
                "state": a.state,
                "timeout": f"{a.timeout:g}",
                "allowed_to_fail": a.allowed_to_fail,
                "changed": timestamp(a.changed_at),
            }
            for a in found.actions
        ],
        total=found.total,
        filters={
            "name": params.get("name", ""),
            "method": query.names[0].method if query.names else "CONTAINS_IGNORE_CASE",
            "id": params.get("id", ""),
            "state": params.get("state", ""),
            "sort": query.sorting_column,
            "asc": query.asc,
        },
        methods=TEXT_METHODS,
        following=following if query.offset + PAGE < found.total else None,
        may=may(session),
    )


@router.post("/actions/{action_id}/{what}")
async def change_state(request: Request, action_id: str, what: str) -> Response:
    if what not in ("deactivate", "reactivate", "delete"):
        return message(request, None, 404, "No such action.")
    session, _, refused = await checked_writer(
        request, p.ACTION_DELETE if what == "delete" else p.ACTION_WRITE
    )
    if session is None:
        return refused  # type: ignore[return-value]
    actions = services(request).actions
    tenant, org = session.caller.tenant_id, session.caller.organisation_id
    editor = Editor(user_id=session.caller.subject, service=SERVICE)
    try:
        if what == "deactivate":
            await actions.deactivate(tenant, org, action_id[:200], editor=editor)
        elif what == "reactivate":
            await actions.reactivate(tenant, org, action_id[:200], editor=editor)
        else:
            await actions.delete(tenant, org, action_id[:200], editor=editor)
            return to(request, "/actions")
    except NotFound:
        return missing(request, session, action_id)
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, f"/actions/{action_id}")


@router.get("/actions/{action_id}/delete")
async def delete_page(request: Request, action_id: str) -> Response:
    session, refused = await reader(request, p.ACTION_DELETE, "Your token may not delete actions.")
    if session is None:
        return refused  # type: ignore[return-value]
    action = await action_of(request, session, action_id)
    if action is None:
        return missing(request, session, action_id)
    return confirm(
        request,
        session,
        f"Delete the action {action.name}? It leaves every trigger it is bound to.",
        f"/actions/{action.id}/delete",
        "Delete",
        f"/actions/{action.id}",
    )
