"""ZITADEL Management API v1: flows, the ordered actions bound to each of their triggers.

The organisation is found as for actions (see :mod:`chronik.api.zitadel_management`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from chronik.actions.model import FLOW_TYPES, Flow, FlowType, flow_type
from chronik.api.http import JSON, Body, body_schema, parse, permission, services
from chronik.api.management_schemas import DetailsResponse, GetFlowResponse, ListTypesResponse
from chronik.api.schemas import ZitadelError, answers
from chronik.api.zitadel_management import (
    EmptyRequest,
    action_json,
    details,
    editor,
    event_details,
    organisation,
)
from chronik.auth import permissions as p
from chronik.auth.principal import Principal

router = APIRouter(prefix="/management/v1", tags=["ZITADEL Management API"])

Name = Annotated[str, Field(max_length=1000)]
FlowTypeId = Annotated[str, Path(alias="flow_type", max_length=200)]


class SetTriggerActionsRequest(Body):
    action_ids: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)] = []
    event_types: Annotated[list[Name], Field(max_length=30)] = []
    aggregate_types: Annotated[list[Name], Field(max_length=30)] = []


def _named(id_: str, key: str, name: str) -> dict[str, Any]:
    return {"id": id_, "name": {"key": key, "localizedMessage": name}}


@router.post(
    "/flows/types/_search",
    summary="List the flow types",
    openapi_extra=body_schema(EmptyRequest),
    responses=answers(ListTypesResponse, ZitadelError),
)
async def list_flow_types(
    request: Request, caller: Annotated[Principal, Depends(permission(p.FLOW_READ))]
) -> JSON:
    await parse(request, EmptyRequest)
    return JSON({"result": [_named(f.id, f.key, f.name) for f in FLOW_TYPES]})


@router.post(
    "/flows/{flow_type}/triggers/_search",
    summary="List the trigger types of a flow type",
    openapi_extra=body_schema(EmptyRequest),
    responses=answers(ListTypesResponse, ZitadelError),
)
async def list_trigger_types(
    request: Request,
    flow_type_id: FlowTypeId,
    caller: Annotated[Principal, Depends(permission(p.FLOW_READ))],
) -> JSON:
    await parse(request, EmptyRequest)
    kind = flow_type(flow_type_id)
    return JSON({"result": [_named(t.id, t.key, t.name) for t in kind.triggers]})


async def _flow_json(request: Request, caller: Principal, org: str, flow: Flow) -> dict[str, Any]:
    kind: FlowType = flow_type(flow.flow_type)
    wanted = {i for b in flow.triggers.values() for i in b.action_ids}
    listed = await services(request).actions.many(caller.tenant_id, org, wanted)
    triggers = []
    for t in kind.triggers:
        binding = flow.triggers.get(t.id)
        if binding is None:
            continue
        entry: dict[str, Any] = {
            "triggerType": _named(t.id, t.key, t.name),
            "actions": [action_json(listed[i]) for i in binding.action_ids if i in listed],
        }
        if binding.event_types:
            entry["eventTypes"] = list(binding.event_types)
        if binding.aggregate_types:
            entry["aggregateTypes"] = list(binding.aggregate_types)
        triggers.append(entry)
    found_flow: dict[str, Any] = {
        "type": _named(kind.id, kind.key, kind.name),
        "state": "FLOW_STATE_ACTIVE" if triggers else "FLOW_STATE_INACTIVE",
    }
    if flow.sequence:
        found_flow["details"] = details(flow.sequence, None, flow.changed_at, org)
    if triggers:
        found_flow["triggerActions"] = triggers
    return found_flow


@router.get(
    "/flows/{flow_type}",
    summary="Get a flow: the actions bound to each of its triggers",
    responses=answers(GetFlowResponse, ZitadelError),
)
async def get_flow(
    request: Request,
    flow_type_id: FlowTypeId,
    caller: Annotated[Principal, Depends(permission(p.FLOW_READ))],
) -> JSON:
    org = organisation(request, caller)
    flow = await services(request).actions.flow(caller.tenant_id, org, flow_type_id)
    return JSON({"flow": await _flow_json(request, caller, org, flow)})


@router.post(
    "/flows/{flow_type}/_clear",
    summary="Unbind every action of a flow",
    openapi_extra=body_schema(EmptyRequest),
    responses=answers(DetailsResponse, ZitadelError),
)
async def clear_flow(
    request: Request,
    flow_type_id: FlowTypeId,
    caller: Annotated[Principal, Depends(permission(p.FLOW_DELETE))],
) -> JSON:
    await parse(request, EmptyRequest)
    org = organisation(request, caller)
    event = await services(request).actions.clear_flow(
        caller.tenant_id, org, flow_type_id, editor=editor(caller)
    )
    return JSON({"details": event_details(event)})


@router.post(
    "/flows/{flow_type}/trigger/{trigger_type}",
    summary="Bind actions, in order, to a trigger of a flow (an empty list unbinds)",
    openapi_extra=body_schema(SetTriggerActionsRequest),
    responses=answers(DetailsResponse, ZitadelError),
)
async def set_trigger_actions(
    request: Request,
    flow_type_id: FlowTypeId,
    trigger_type: Annotated[str, Path(max_length=200)],
    caller: Annotated[Principal, Depends(permission(p.FLOW_WRITE))],
) -> JSON:
    body = await parse(request, SetTriggerActionsRequest)
    org = organisation(request, caller)
    flow = await services(request).actions.set_trigger(
        caller.tenant_id,
        org,
        flow_type_id,
        trigger_type,
        body.action_ids,
        event_types=body.event_types,
        aggregate_types=body.aggregate_types,
        editor=editor(caller),
    )
    return JSON({"details": details(flow.sequence, None, flow.changed_at, org)})
