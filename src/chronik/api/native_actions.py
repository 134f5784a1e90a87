"""The native API of actions: their execution records (``/v1/action-runs``) and test runs
on a sample event (``/v1/actions/{id}/_test``), which ZITADEL's API lacks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from chronik.actions import Run
from chronik.api.encoding import timestamp
from chronik.api.http import JSON, Body, body_schema, parse, permission, services
from chronik.api.management_schemas import NativeActionRuns, NativeTestRun
from chronik.api.rpc.methods import organisation
from chronik.api.schemas import NativeError, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument
from chronik.ids import is_ulid
from chronik.records import ActionRun

router = APIRouter(prefix="/v1", tags=["Native API: actions"])

Outcome = Literal["succeeded", "failed", "rejected", "timed_out", "out_of_memory", "crashed"]


def _logs(lines: Any) -> list[dict[str, str]]:
    return [{"level": level, "message": message} for level, message in lines]


def run_json(r: ActionRun) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": r.id,
        "actionId": r.action_id,
        "actionName": r.action_name,
        "flowType": r.flow_type,
        "triggerType": r.trigger_type,
        "outcome": r.outcome,
        "startedAt": timestamp(r.started_at),
        "durationMs": round(r.duration * 1000, 3),
        "logs": _logs(r.logs),
    }
    for key, value in (
        ("error", r.error),
        ("eventSequence", str(r.event_sequence) if r.event_sequence is not None else None),
        ("eventLocator", r.event_locator),
        ("eventType", r.event_type),
        ("firing", r.firing),
        ("logsDropped", r.logs_dropped),
    ):
        if value:
            found[key] = value
    return found


def test_json(run: Run) -> dict[str, Any]:
    found: dict[str, Any] = {
        "outcome": run.outcome,
        "fields": run.fields,
        "logs": _logs((line.level, line.message) for line in run.logs),
        "durationMs": round(run.duration * 1000, 3),
    }
    if run.error:
        found["error"] = run.error
    if run.logs_dropped:
        found["logsDropped"] = run.logs_dropped
    return found


@router.get(
    "/action-runs",
    summary="Execution records of the organisation's actions, newest first",
    responses=answers(NativeActionRuns, NativeError),
)
async def list_runs(
    request: Request,
    caller: Annotated[Principal, Depends(permission(p.ACTION_READ))],
    action_id: Annotated[str | None, Query(alias="actionId", min_length=1, max_length=200)] = None,
    outcome: Outcome | None = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    paging_token: Annotated[str | None, Query(alias="pagingToken", max_length=40)] = None,
) -> JSON:
    if paging_token is not None and not is_ulid(paging_token):
        raise InvalidArgument("pagingToken is not one this server gave out")
    runs = await services(request).actions.runs(
        caller.tenant_id,
        organisation_id=organisation(caller, request.headers.get("x-zitadel-orgid")),
        action_id=action_id,
        outcome=outcome,
        before=paging_token,
        limit=page_size,
    )
    body: dict[str, Any] = {"runs": [run_json(r) for r in runs]}
    if len(runs) == page_size:
        body["pagingToken"] = runs[-1].id
    return JSON(body)


class TestRequest(Body):
    event: dict[str, Any] = Field(default_factory=dict)
    firing: dict[str, Any] | None = None


@router.post(
    "/actions/{action_id}/_test",
    summary="Run an action on a sample event; nothing is appended or recorded",
    openapi_extra=body_schema(TestRequest),
    responses=answers(NativeTestRun, NativeError, 404),
)
async def test_action(
    request: Request,
    action_id: Annotated[str, Path(max_length=200)],
    caller: Annotated[Principal, Depends(permission(p.ACTION_WRITE))],
) -> JSON:
    body = await parse(request, TestRequest)
    ctx: dict[str, Any] = {"event": body.event}
    if body.firing is not None:
        ctx["firing"] = body.firing
    run = await services(request).actions.test(
        caller.tenant_id,
        organisation(caller, request.headers.get("x-zitadel-orgid")),
        action_id,
        ctx=ctx,
    )
    return JSON(test_json(run))
