"""ZITADEL Management API v1: actions (flows are in :mod:`chronik.api.zitadel_flows`).

The organisation is the token's, or the one named by ``x-zitadel-orgid`` (a token that
holds ``IAM_OWNER`` may name any organisation of its tenant; others only their own)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BeforeValidator, Field

from chronik.actions import Action, ActionQuery, NameQuery
from chronik.actions.search import TEXT_METHODS, SortingColumn, TextMethod
from chronik.api.encoding import timestamp
from chronik.api.http import JSON, Body, body_schema, parse, permission, services
from chronik.api.management_schemas import (
    CreateActionResponse,
    DetailsResponse,
    GetActionResponse,
    ListActionsResponse,
)
from chronik.api.schemas import ZitadelError, answers
from chronik.auth import permissions as p
from chronik.auth.principal import Principal
from chronik.errors import InvalidArgument, PermissionDenied
from chronik.records import Editor, Event

router = APIRouter(prefix="/management/v1", tags=["ZITADEL Management API"])

Name = Annotated[str, Field(max_length=1000)]
ActionId = Annotated[str, Path(max_length=200)]


def _enum(prefix: str, names: tuple[str, ...]) -> BeforeValidator:
    """A grpc-gateway enum: its full name or its number; the short name in the core."""

    def read(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        if isinstance(value, str) and value.startswith(prefix):
            short = value.removeprefix(prefix)
            if short in names:
                return short
        allowed = ", ".join(prefix + n for n in names)
        raise ValueError(f"unknown value {value!r}; one of {allowed}")

    return BeforeValidator(read)


_SORTING: tuple[SortingColumn, ...] = ("UNSPECIFIED", "NAME", "ID", "STATE")
_STATES = ("UNSPECIFIED", "INACTIVE", "ACTIVE")
Sorting = Annotated[str, _enum("ACTION_FIELD_NAME_", _SORTING)]
Method = Annotated[str, _enum("TEXT_QUERY_METHOD_", TEXT_METHODS)]
State = Annotated[str, _enum("ACTION_STATE_", _STATES)]


class ListQuery(Body):
    offset: Annotated[int, Field(ge=0, le=2**64 - 1)] = 0
    limit: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    asc: bool = False


class IdQuery(Body):
    id: Annotated[str, Field(max_length=200)] = ""


class NameQueryBody(Body):
    name: Annotated[str, Field(max_length=200)] = ""
    method: Method = "EQUALS"


class StateQuery(Body):
    state: State = "UNSPECIFIED"


class ActionQueryBody(Body):
    action_id_query: IdQuery | None = None
    action_name_query: NameQueryBody | None = None
    action_state_query: StateQuery | None = None


class ListActionsRequest(Body):
    query: ListQuery | None = None
    sorting_column: Sorting = "UNSPECIFIED"
    queries: Annotated[list[ActionQueryBody], Field(max_length=50)] = []


class ActionRequest(Body):
    name: Name = ""
    script: Annotated[str, Field(max_length=200_000)] = ""
    timeout: Annotated[str, Field(max_length=40)] | None = None
    allowed_to_fail: bool = False


class EmptyRequest(Body):
    pass


_DURATION = re.compile(r"(\d{1,10})(\.\d{1,9})?s")


def seconds_of(duration: str | None) -> float:
    """A protobuf Duration in JSON (``"10s"``, ``"1.5s"``); none is 0."""
    if duration is None:
        return 0.0
    match = _DURATION.fullmatch(duration)
    if match is None:
        raise InvalidArgument(
            f'timeout {duration!r} is not a duration like "10s" or "1.5s"', field="timeout"
        )
    return float(duration[:-1])


def duration(seconds: float) -> str:
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def organisation(request: Request, caller: Principal) -> str:
    named = request.headers.get("x-zitadel-orgid")
    if named is None or named == caller.organisation_id:
        return caller.organisation_id
    if "IAM_OWNER" not in caller.roles:
        raise PermissionDenied(
            f"this token may not act in organisation {named!r}", organisation=named
        )
    if len(named) > 200 or "\x00" in named:
        raise InvalidArgument("x-zitadel-orgid is not an organisation id")
    return named


def editor(caller: Principal) -> Editor:
    return Editor(user_id=caller.subject, service="zitadel-management")


def details(
    sequence: int, created: datetime | None, changed: datetime | None, owner: str
) -> dict[str, str]:
    found = {"sequence": str(sequence)}
    if created is not None:
        found["creationDate"] = timestamp(created)
    if changed is not None:
        found["changeDate"] = timestamp(changed)
    if owner:
        found["resourceOwner"] = owner
    return found


def event_details(event: Event) -> dict[str, str]:
    return details(event.sequence, None, event.created_at, event.resource_owner)


def action_json(a: Action) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": a.id,
        "details": details(a.sequence, a.created_at, a.changed_at, a.organisation_id),
        "state": f"ACTION_STATE_{a.state}",
        "name": a.name,
        "script": a.script,
        "timeout": duration(a.timeout),
    }
    if a.allowed_to_fail:
        found["allowedToFail"] = True
    return found


def _action_details(a: Action) -> dict[str, str]:
    return details(a.sequence, None, a.changed_at, a.organisation_id)


@router.post(
    "/actions/_search",
    summary="Search actions",
    openapi_extra=body_schema(ListActionsRequest),
    responses=answers(ListActionsResponse, ZitadelError),
)
async def list_actions(
    request: Request, caller: Annotated[Principal, Depends(permission(p.ACTION_READ))]
) -> JSON:
    body = await parse(request, ListActionsRequest)
    org = organisation(request, caller)
    ids: list[str] = []
    names: list[NameQuery] = []
    states: list[str] = []
    for i, q in enumerate(body.queries):
        given = [x for x in (q.action_id_query, q.action_name_query, q.action_state_query) if x]
        if len(given) != 1:
            raise InvalidArgument(
                f"queries[{i}] must hold exactly one of actionIdQuery, actionNameQuery and "
                "actionStateQuery",
                field=f"queries[{i}]",
            )
        if q.action_id_query is not None:
            ids.append(q.action_id_query.id)
        elif q.action_name_query is not None:
            method: TextMethod = q.action_name_query.method  # type: ignore[assignment]
            names.append(NameQuery(name=q.action_name_query.name, method=method))
        elif q.action_state_query is not None and q.action_state_query.state != "UNSPECIFIED":
            states.append(q.action_state_query.state)
    query = body.query or ListQuery()
    found = await services(request).actions.search(
        caller.tenant_id,
        org,
        ActionQuery(
            offset=query.offset,
            limit=query.limit,
            asc=query.asc,
            sorting_column=body.sorting_column,  # type: ignore[arg-type]
            ids=tuple(ids),
            names=tuple(names),
            states=tuple(states),
        ),
    )
    listed = {"totalResult": str(found.total), "processedSequence": str(found.processed_sequence)}
    if found.view_timestamp is not None:
        listed["viewTimestamp"] = timestamp(found.view_timestamp)
    return JSON(
        {
            "details": listed,
            "sortingColumn": f"ACTION_FIELD_NAME_{body.sorting_column}",
            "result": [action_json(a) for a in found.actions],
        }
    )


@router.get(
    "/actions/{action_id}",
    summary="Get an action",
    responses=answers(GetActionResponse, ZitadelError, 404),
)
async def get_action(
    request: Request,
    action_id: ActionId,
    caller: Annotated[Principal, Depends(permission(p.ACTION_READ))],
) -> JSON:
    org = organisation(request, caller)
    found = await services(request).actions.get(caller.tenant_id, org, action_id)
    return JSON({"action": action_json(found)})


@router.post(
    "/actions",
    summary="Create an action (its script is checked for syntax errors now)",
    openapi_extra=body_schema(ActionRequest, required=True),
    responses=answers(CreateActionResponse, ZitadelError, 409),
)
async def create_action(
    request: Request, caller: Annotated[Principal, Depends(permission(p.ACTION_WRITE))]
) -> JSON:
    body = await parse(request, ActionRequest, empty_ok=False)
    org = organisation(request, caller)
    created = await services(request).actions.create(
        caller.tenant_id,
        org,
        name=body.name,
        script=body.script,
        timeout=seconds_of(body.timeout),
        allowed_to_fail=body.allowed_to_fail,
        editor=editor(caller),
    )
    found = details(created.sequence, created.created_at, None, org)
    return JSON({"id": created.id, "details": found})


@router.put(
    "/actions/{action_id}",
    summary="Replace an action's name, script, timeout and allowedToFail",
    openapi_extra=body_schema(ActionRequest, required=True),
    responses=answers(DetailsResponse, ZitadelError, 404, 409),
)
async def update_action(
    request: Request,
    action_id: ActionId,
    caller: Annotated[Principal, Depends(permission(p.ACTION_WRITE))],
) -> JSON:
    body = await parse(request, ActionRequest, empty_ok=False)
    org = organisation(request, caller)
    changed = await services(request).actions.update(
        caller.tenant_id,
        org,
        action_id,
        name=body.name,
        script=body.script,
        timeout=seconds_of(body.timeout),
        allowed_to_fail=body.allowed_to_fail,
        editor=editor(caller),
    )
    return JSON({"details": _action_details(changed)})


def _state_route(path: str, summary: str, method_name: str) -> None:
    async def change(
        request: Request,
        action_id: ActionId,
        caller: Annotated[Principal, Depends(permission(p.ACTION_WRITE))],
    ) -> JSON:
        await parse(request, EmptyRequest)
        org = organisation(request, caller)
        actions = services(request).actions
        changed = await getattr(actions, method_name)(
            caller.tenant_id, org, action_id, editor=editor(caller)
        )
        return JSON({"details": _action_details(changed)})

    change.__name__ = f"{method_name}_action"
    router.add_api_route(
        path,
        change,
        methods=["POST"],
        summary=summary,
        openapi_extra=body_schema(EmptyRequest),
        responses=answers(DetailsResponse, ZitadelError, 404),
    )


_state_route(
    "/actions/{action_id}/_deactivate",
    "Deactivate an action (it stays bound, but does not run)",
    "deactivate",
)
_state_route("/actions/{action_id}/_reactivate", "Reactivate an action", "reactivate")


@router.delete(
    "/actions/{action_id}",
    summary="Delete an action (it leaves every trigger it was bound to)",
    responses=answers(DetailsResponse, ZitadelError, 404),
)
async def delete_action(
    request: Request,
    action_id: ActionId,
    caller: Annotated[Principal, Depends(permission(p.ACTION_DELETE))],
) -> JSON:
    org = organisation(request, caller)
    event = await services(request).actions.delete(
        caller.tenant_id, org, action_id, editor=editor(caller)
    )
    return JSON({"details": event_details(event)})
