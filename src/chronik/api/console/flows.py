"""Flows: each flow type's triggers with the actions bound to them, in the order they run,
and the event and aggregate types a binding is for (none: all); set a trigger's actions
(``org.flow.write``) or clear a flow after a confirmation (``org.flow.delete``)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chronik.actions import FLOW_TYPES, ActionQuery
from chronik.actions.model import flow_type
from chronik.api.console.session import Session, confirm, message, page, reader, to, writer
from chronik.api.http import services
from chronik.auth import permissions as p
from chronik.errors import ChronikError, InvalidArgument, NotFound
from chronik.events.shapes import timestamp
from chronik.records import Editor

router = APIRouter()

REFUSAL = "Your token may not see flows."


def _names(text: str) -> list[str]:
    return [t for t in (part.strip() for part in text.split(",")) if t]


async def _flows_page(
    request: Request,
    session: Session,
    *,
    problem: str = "",
    typed: tuple[str, dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    """Every flow type with its triggers; ``typed`` keeps a refused form's text in its
    trigger's fields."""
    actions = services(request).actions
    tenant, org = session.caller.tenant_id, session.caller.organisation_id
    flows: list[dict[str, Any]] = []
    for kind in FLOW_TYPES:
        flow = await actions.flow(tenant, org, kind.id)
        wanted = {i for b in flow.triggers.values() for i in b.action_ids}
        listed = await actions.many(tenant, org, wanted) if wanted else {}
        triggers = []
        for t in kind.triggers:
            binding = flow.triggers.get(t.id)
            bound = [listed[i] for i in (binding.action_ids if binding else ()) if i in listed]
            field = f"{kind.id}-{t.id}"
            form = {
                "actions": "\n".join(a.name for a in bound),
                "eventTypes": ", ".join(binding.event_types if binding else ()),
                "aggregateTypes": ", ".join(binding.aggregate_types if binding else ()),
            }
            refused = typed is not None and typed[0] == field
            if typed is not None and refused:
                form = {name: typed[1].get(name, "") for name in form}
            triggers.append(
                {
                    "id": t.id,
                    "name": t.name,
                    "field": field,
                    "actions": [{"id": a.id, "name": a.name, "state": a.state} for a in bound],
                    "form": form,
                    "open": refused,
                }
            )
        flows.append(
            {
                "id": kind.id,
                "name": kind.name,
                "triggers": triggers,
                "changed": timestamp(flow.changed_at) if flow.changed_at else "",
            }
        )
    listed_all = await actions.search(tenant, org, ActionQuery(sorting_column="NAME", asc=True))
    granted = session.caller.permissions
    return page(
        request,
        "flows.html",
        "Flows",
        session,
        status,
        flows=flows,
        names=[a.name for a in listed_all.actions],
        problem=problem,
        may={"write": p.FLOW_WRITE in granted, "delete": p.FLOW_DELETE in granted},
    )


@router.get("/flows")
async def flows_page(request: Request) -> Response:
    session, refused = await reader(request, p.FLOW_READ, REFUSAL)
    if session is None:
        return refused  # type: ignore[return-value]
    return await _flows_page(request, session)


@router.post("/flows/{flow}/triggers/{trigger}")
async def set_trigger(request: Request, flow: str, trigger: str) -> Response:
    """Bind the actions named (one name or id a line), in that order, to the trigger, for
    the event and aggregate types given (none: all); no action unbinds it."""
    session, form, refused = await writer(request, p.FLOW_WRITE)
    if session is None:
        return refused  # type: ignore[return-value]
    actions = services(request).actions
    tenant, org = session.caller.tenant_id, session.caller.organisation_id
    try:
        ids = []
        for line in form.get("actions", "").splitlines():
            if line.strip():
                try:
                    ids.append((await actions.find(tenant, org, line.strip()[:200])).id)
                except NotFound:
                    raise InvalidArgument(f"there is no action {line.strip()!r}") from None
        await actions.set_trigger(
            tenant,
            org,
            flow,
            trigger,
            ids,
            event_types=_names(form.get("eventTypes", "")),
            aggregate_types=_names(form.get("aggregateTypes", "")),
            editor=Editor(user_id=session.caller.subject, service="console"),
        )
    except ChronikError as exc:
        typed = (f"{flow}-{trigger}", form)
        return await _flows_page(
            request, session, problem=exc.message, typed=typed, status=exc.http_status
        )
    return to(request, "/flows")


@router.get("/flows/{flow}/clear")
async def clear_page(request: Request, flow: str) -> Response:
    session, refused = await reader(request, p.FLOW_DELETE, "Your token may not clear flows.")
    if session is None:
        return refused  # type: ignore[return-value]
    try:
        kind = flow_type(flow)
    except InvalidArgument as exc:
        return message(request, session, 404, exc.message)
    return confirm(
        request,
        session,
        f"Clear the flow {kind.name}? Every trigger of it stops running its actions.",
        f"/flows/{urllib.parse.quote(kind.id)}/clear",
        "Clear",
        "/flows",
    )


@router.post("/flows/{flow}/clear")
async def clear(request: Request, flow: str) -> Response:
    session, _, refused = await writer(request, p.FLOW_DELETE)
    if session is None:
        return refused  # type: ignore[return-value]
    try:
        await services(request).actions.clear_flow(
            session.caller.tenant_id,
            session.caller.organisation_id,
            flow,
            editor=Editor(user_id=session.caller.subject, service="console"),
        )
    except ChronikError as exc:
        return message(request, session, exc.http_status, exc.message)
    return to(request, "/flows")
