"""ManagementService, proto-first: the actions and flows RPCs, each from its request message
and caller to its response message (see :mod:`chronik.api.rpc.admin` for the pattern).

Every call acts in the organisation :meth:`~chronik.api.rpc.methods.Call.organisation`
names. gRPC hands over whatever a message holds, so each limit a JSON body once had checked
by its schema is checked here (or by the actions service) for every transport: ids of at most
:data:`MAX_ID` characters without NUL, at most :data:`MAX_QUERIES` queries, known enum values.

Where ZITADEL and Chronik part (documented in docs/how-to/actions.md):

- ``TriggerAction`` carries only the trigger and its actions: a binding's ``eventTypes`` and
  ``aggregateTypes`` filters are Chronik's, set and shown by the native API
  (``/v1/flows``); SetTriggerActions changes a binding's actions and leaves its filters.
- An unknown flow type answers as in ZITADEL: ListFlowTriggerTypes is ``NOT_FOUND``, GetFlow
  an empty flow of the unspecified type, ClearFlow and SetTriggerActions ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.duration_pb2 import Duration

from chronik.actions import Action, ActionQuery, Flow, NameQuery
from chronik.actions.model import FLOW_TYPES, FlowType
from chronik.actions.search import SortingColumn, TextMethod
from chronik.api.proto.zitadel import action_pb2, management_pb2, object_pb2
from chronik.api.rpc.methods import Call, Data, Served, methods_of
from chronik.auth import permissions as p
from chronik.errors import InvalidArgument, NotFound

MAX_ID = 200
"""The longest action id (or name in a name query) a call may name."""
MAX_QUERIES = 50
"""The most queries one ListActions may hold."""
SERVICE = "zitadel-management"
"""The service the events a Management call appends are recorded as written by."""

UNSPECIFIED_FLOW: Data = {
    "id": "FLOW_TYPE_UNSPECIFIED",
    "name": {"key": "Action.Flow.Type.Unspecified", "localized_message": "Unspecified"},
}
"""The type GetFlow answers for a flow type it does not know, as ZITADEL answers its
unspecified type."""


def checked_id(value: str, field: str) -> str:
    """An id (or name) a call names: at most :data:`MAX_ID` characters, no NUL."""
    if len(value) > MAX_ID:
        raise InvalidArgument(
            f"{field} is longer than {MAX_ID} characters", field=field, limit=MAX_ID
        )
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def _enum(enum: EnumDescriptor, value: int, field: str, prefix: str) -> str:
    """The short name of an enum value (``ACTION_STATE_ACTIVE`` → ``ACTIVE``); an unknown
    number (proto3 enums are open) is an invalid argument."""
    found = enum.values_by_number.get(value)
    if found is None:
        raise InvalidArgument(f"{field}: unknown value {value}", field=field)
    return found.name.removeprefix(prefix)


def seconds(timeout: Duration) -> float:
    """A Duration in seconds (no overflow: the actions service checks the range)."""
    return timeout.seconds + timeout.nanos / 1e9


def details(
    sequence: int, owner: str, *, created: datetime | None = None, changed: datetime | None = None
) -> Data:
    """A ``zitadel.v1.ObjectDetails``."""
    return {
        "sequence": sequence,
        "creation_date": created,
        "change_date": changed,
        "resource_owner": owner,
    }


def zitadel_action(a: Action) -> Data:
    """An action as ``zitadel.action.v1.Action``."""
    return {
        "id": a.id,
        "details": details(
            a.sequence, a.organisation_id, created=a.created_at, changed=a.changed_at
        ),
        "state": f"ACTION_STATE_{a.state}",
        "name": a.name,
        "script": a.script,
        "timeout": timedelta(seconds=a.timeout),
        "allowed_to_fail": a.allowed_to_fail,
    }


def _changed(a: Action) -> Data:
    return {"details": details(a.sequence, a.organisation_id, changed=a.changed_at)}


# -- actions -------------------------------------------------------------------------------


def action_query(request: management_pb2.ListActionsRequest) -> ActionQuery:
    """The search a ListActionsRequest asks for: each query holds exactly one of its oneof;
    a state query for ``ACTION_STATE_UNSPECIFIED`` filters nothing."""
    if len(request.queries) > MAX_QUERIES:
        raise InvalidArgument(
            f"at most {MAX_QUERIES} queries are allowed", field="queries", limit=MAX_QUERIES
        )
    ids: list[str] = []
    names: list[NameQuery] = []
    states: list[str] = []
    for i, q in enumerate(request.queries):
        which = q.WhichOneof("query")
        if which == "action_id_query":
            ids.append(checked_id(q.action_id_query.id, f"queries[{i}].actionIdQuery.id"))
        elif which == "action_name_query":
            where = f"queries[{i}].actionNameQuery"
            name = checked_id(q.action_name_query.name, f"{where}.name")
            method = _enum(
                object_pb2.TextQueryMethod.DESCRIPTOR,
                q.action_name_query.method,
                f"{where}.method",
                "TEXT_QUERY_METHOD_",
            )
            names.append(NameQuery(name=name, method=cast(TextMethod, method)))
        elif which == "action_state_query":
            state = _enum(
                action_pb2.ActionState.DESCRIPTOR,
                q.action_state_query.state,
                f"queries[{i}].actionStateQuery.state",
                "ACTION_STATE_",
            )
            if state != "UNSPECIFIED":
                states.append(state)
        else:
            raise InvalidArgument(
                f"queries[{i}] must hold exactly one of actionIdQuery, actionNameQuery and "
                "actionStateQuery",
                field=f"queries[{i}]",
            )
    column = _enum(
        action_pb2.ActionFieldName.DESCRIPTOR,
        request.sorting_column,
        "sortingColumn",
        "ACTION_FIELD_NAME_",
    )
    return ActionQuery(
        offset=request.query.offset,
        limit=request.query.limit,
        asc=request.query.asc,
        sorting_column=cast(SortingColumn, column),
        ids=tuple(ids),
        names=tuple(names),
        states=tuple(states),
    )


async def list_actions(call: Call, request: management_pb2.ListActionsRequest) -> Data:
    query = action_query(request)
    found = await call.chronik.actions.search(call.caller.tenant_id, call.organisation(), query)
    return {
        "details": {
            "total_result": found.total,
            "processed_sequence": found.processed_sequence,
            "view_timestamp": found.view_timestamp,
        },
        "sorting_column": f"ACTION_FIELD_NAME_{query.sorting_column}",
        "result": [zitadel_action(a) for a in found.actions],
    }


async def get_action(call: Call, request: management_pb2.GetActionRequest) -> Data:
    found = await call.chronik.actions.get(
        call.caller.tenant_id, call.organisation(), checked_id(request.id, "id")
    )
    return {"action": zitadel_action(found)}


async def create_action(call: Call, request: management_pb2.CreateActionRequest) -> Data:
    org = call.organisation()
    created = await call.chronik.actions.create(
        call.caller.tenant_id,
        org,
        name=request.name,
        script=request.script,
        timeout=seconds(request.timeout),
        allowed_to_fail=request.allowed_to_fail,
        editor=call.editor(SERVICE),
    )
    return {"id": created.id, "details": details(created.sequence, org, created=created.created_at)}


async def update_action(call: Call, request: management_pb2.UpdateActionRequest) -> Data:
    changed = await call.chronik.actions.update(
        call.caller.tenant_id,
        call.organisation(),
        checked_id(request.id, "id"),
        name=request.name,
        script=request.script,
        timeout=seconds(request.timeout),
        allowed_to_fail=request.allowed_to_fail,
        editor=call.editor(SERVICE),
    )
    return _changed(changed)


async def deactivate_action(call: Call, request: management_pb2.DeactivateActionRequest) -> Data:
    changed = await call.chronik.actions.deactivate(
        call.caller.tenant_id,
        call.organisation(),
        checked_id(request.id, "id"),
        editor=call.editor(SERVICE),
    )
    return _changed(changed)


async def reactivate_action(call: Call, request: management_pb2.ReactivateActionRequest) -> Data:
    changed = await call.chronik.actions.reactivate(
        call.caller.tenant_id,
        call.organisation(),
        checked_id(request.id, "id"),
        editor=call.editor(SERVICE),
    )
    return _changed(changed)


async def delete_action(call: Call, request: management_pb2.DeleteActionRequest) -> Data:
    await call.chronik.actions.delete(
        call.caller.tenant_id,
        call.organisation(),
        checked_id(request.id, "id"),
        editor=call.editor(SERVICE),
    )
    return {}


# -- flows ---------------------------------------------------------------------------------


def _named(id_: str, key: str, name: str) -> Data:
    return {"id": id_, "name": {"key": key, "localized_message": name}}


def _known(flow_type: str) -> FlowType | None:
    return next((f for f in FLOW_TYPES if f.id == flow_type), None)


async def list_flow_types(call: Call, request: management_pb2.ListFlowTypesRequest) -> Data:
    call.organisation()  # the same for every organisation, but only the caller's may be named
    return {"result": [_named(f.id, f.key, f.name) for f in FLOW_TYPES]}


async def list_flow_trigger_types(
    call: Call, request: management_pb2.ListFlowTriggerTypesRequest
) -> Data:
    call.organisation()  # as ListFlowTypes
    kind = _known(request.type)
    if kind is None:
        raise NotFound(f"no flow type {request.type!r}")
    return {"result": [_named(t.id, t.key, t.name) for t in kind.triggers]}


async def zitadel_flow(call: Call, org: str, kind: FlowType, flow: Flow) -> Data:
    """A flow as ``zitadel.action.v1.Flow``: its bound triggers in the flow type's order,
    each with its actions in the order they run."""
    wanted = {i for b in flow.triggers.values() for i in b.action_ids}
    listed = await call.chronik.actions.many(call.caller.tenant_id, org, wanted)
    triggers = [
        {
            "trigger_type": _named(t.id, t.key, t.name),
            "actions": [zitadel_action(listed[i]) for i in binding.action_ids if i in listed],
        }
        for t in kind.triggers
        if (binding := flow.triggers.get(t.id)) is not None
    ]
    return {
        "type": _named(kind.id, kind.key, kind.name),
        "details": details(flow.sequence, org, changed=flow.changed_at) if flow.sequence else None,
        "state": "FLOW_STATE_ACTIVE" if triggers else "FLOW_STATE_INACTIVE",
        "trigger_actions": triggers,
    }


async def get_flow(call: Call, request: management_pb2.GetFlowRequest) -> Data:
    org = call.organisation()
    kind = _known(request.type)
    if kind is None:
        return {"flow": {"type": UNSPECIFIED_FLOW, "state": "FLOW_STATE_INACTIVE"}}
    flow = await call.chronik.actions.flow(call.caller.tenant_id, org, kind.id)
    return {"flow": await zitadel_flow(call, org, kind, flow)}


async def clear_flow(call: Call, request: management_pb2.ClearFlowRequest) -> Data:
    org = call.organisation()
    event = await call.chronik.actions.clear_flow(
        call.caller.tenant_id, org, request.type, editor=call.editor(SERVICE)
    )
    return {"details": details(event.sequence, org, changed=event.created_at)}


async def set_trigger_actions(call: Call, request: management_pb2.SetTriggerActionsRequest) -> Data:
    """Bind the actions, in order, to the trigger; the binding keeps the event and aggregate
    type filters it had (set by the native API); an empty list unbinds the trigger."""
    org = call.organisation()
    ids = [checked_id(i, "actionIds") for i in request.action_ids]
    actions = call.chronik.actions
    kind = _known(request.flow_type)
    current = await actions.flow(call.caller.tenant_id, org, kind.id) if kind else None
    binding = current.triggers.get(request.trigger_type) if current else None
    flow = await actions.set_trigger(
        call.caller.tenant_id,
        org,
        request.flow_type,
        request.trigger_type,
        ids,
        event_types=binding.event_types if binding else (),
        aggregate_types=binding.aggregate_types if binding else (),
        editor=call.editor(SERVICE),
    )
    return {"details": details(flow.sequence, org, changed=flow.changed_at)}


METHODS = methods_of(
    management_pb2.DESCRIPTOR.services_by_name["ManagementService"],
    {
        "ListActions": Served(p.ACTION_READ, list_actions),
        "GetAction": Served(p.ACTION_READ, get_action),
        "CreateAction": Served(p.ACTION_WRITE, create_action),
        "UpdateAction": Served(p.ACTION_WRITE, update_action),
        "DeactivateAction": Served(p.ACTION_WRITE, deactivate_action),
        "ReactivateAction": Served(p.ACTION_WRITE, reactivate_action),
        "DeleteAction": Served(p.ACTION_DELETE, delete_action),
        "ListFlowTypes": Served(p.FLOW_READ, list_flow_types),
        "ListFlowTriggerTypes": Served(p.FLOW_READ, list_flow_trigger_types),
        "GetFlow": Served(p.FLOW_READ, get_flow),
        "ClearFlow": Served(p.FLOW_DELETE, clear_flow),
        "SetTriggerActions": Served(p.FLOW_WRITE, set_trigger_actions),
    },
)
