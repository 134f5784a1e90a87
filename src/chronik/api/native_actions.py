"""The native API of actions: their execution records (``/v1/action-runs``), test runs on
a sample event (``/v1/actions/{id}/_test``) and the bindings of flows with their event and
aggregate type filters (``/v1/flows/{flowType}``), which ZITADEL's API lacks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from chronik.actions import Flow, Run
from chronik.actions.model import MAX_FILTERS, MAX_NAME, MAX_TRIGGER_ACTIONS, flow_type
from chronik.api.http import JSON, Body, body_schema, parse, permission, services
from chronik.api.management_schemas import NativeActionRuns, NativeTestRun
from chronik.api.rpc.methods import organisation
from chronik.api.schemas import NativeError, Shape, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument
from chronik.events.shapes import timestamp
from chronik.ids import is_ulid
from chronik.records import ActionRun, Editor

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


class NativeBinding(Shape):
    triggerType: str
    actionIds: list[str]
    eventTypes: list[str]
    aggregateTypes: list[str]


class NativeFlow(Shape):
    flowType: str
    triggers: list[NativeBinding]
    sequence: str | None = None
    changedAt: str | None = None


def flow_json(flow: Flow) -> dict[str, Any]:
    """A flow with every trigger of its type, in order: the actions bound to it (none: the
    trigger runs nothing) and the event and aggregate types it is for (none: all)."""
    triggers = []
    for t in flow_type(flow.flow_type).triggers:
        binding = flow.triggers.get(t.id)
        triggers.append(
            {
                "triggerType": t.id,
                "actionIds": list(binding.action_ids) if binding else [],
                "eventTypes": list(binding.event_types) if binding else [],
                "aggregateTypes": list(binding.aggregate_types) if binding else [],
            }
        )
    found: dict[str, Any] = {"flowType": flow.flow_type, "triggers": triggers}
    if flow.sequence:
        found["sequence"] = str(flow.sequence)
    if flow.changed_at is not None:
        found["changedAt"] = timestamp(flow.changed_at)
    return found


FlowTypeId = Annotated[str, Path(alias="flowType", max_length=200)]
TypeName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class BindingBody(Body):
    action_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(max_length=MAX_TRIGGER_ACTIONS),
    ] = []
    event_types: Annotated[list[TypeName], Field(max_length=MAX_FILTERS)] = []
    aggregate_types: Annotated[list[TypeName], Field(max_length=MAX_FILTERS)] = []


@router.get(
    "/flows/{flowType}",
    summary="A flow: each trigger's actions, in order, and the event types it is for",
    responses=answers(NativeFlow, NativeError),
)
async def get_flow(
    request: Request,
    flow_type_id: FlowTypeId,
    caller: Annotated[Principal, Depends(permission(p.FLOW_READ))],
) -> JSON:
    flow = await services(request).actions.flow(
        caller.tenant_id,
        organisation(caller, request.headers.get("x-zitadel-orgid")),
        flow_type_id,
    )
    return JSON(flow_json(flow))


@router.put(
    "/flows/{flowType}/triggers/{triggerType}",
    summary="Bind actions, in order, to a trigger of a flow, for some event or aggregate "
    "types or all (an empty actionIds unbinds it)",
    openapi_extra=body_schema(BindingBody),
    responses=answers(NativeFlow, NativeError),
)
async def set_binding(
    request: Request,
    flow_type_id: FlowTypeId,
    trigger_type: Annotated[str, Path(alias="triggerType", max_length=200)],
    caller: Annotated[Principal, Depends(permission(p.FLOW_WRITE))],
) -> JSON:
    body = await parse(request, BindingBody)
    flow = await services(request).actions.set_trigger(
        caller.tenant_id,
        organisation(caller, request.headers.get("x-zitadel-orgid")),
        flow_type_id,
        trigger_type,
        body.action_ids,
        event_types=body.event_types,
        aggregate_types=body.aggregate_types,
        editor=Editor(user_id=caller.subject, service="native-api"),
    )
    return JSON(flow_json(flow))
