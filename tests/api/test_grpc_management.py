"""ZITADEL's ManagementService over real gRPC (grpcio's asyncio server on a free port, called
through the stubs generated from the protos), on each backend: actions and flows as a
ZITADEL client sees them, in the organisation the token or ``x-zitadel-orgid`` names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from chronik.api.proto.zitadel import (
    action_pb2,
    management_pb2,
    management_pb2_grpc,
    message_pb2,
    object_pb2,
)
from chronik.api.rpc import management as management_rpc
from chronik.api.rpc import server
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import ORG, OTHER_ORG, Headers
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

if TYPE_CHECKING:
    from chronik.api.proto.zitadel.management_pb2_grpc import (
        ManagementServiceAsyncStub as Management,
    )
Metadata = tuple[tuple[str, str], ...]

EVENTS = "FLOW_TYPE_EVENTS"
PRE = "TRIGGER_TYPE_PRE_APPEND"
POST = "TRIGGER_TYPE_POST_APPEND"


@pytest.fixture
async def mgmt(chronik: Chronik, settings: Settings) -> AsyncIterator[Management]:
    running = await server.start(chronik, "127.0.0.1", 0, max_message_bytes=settings.max_body_bytes)
    try:
        async with aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield management_pb2_grpc.ManagementServiceStub(channel)
    finally:
        await running.stop(0)


def metadata(headers: Headers) -> Metadata:
    return tuple((k.lower(), v) for k, v in headers.items())


def script(name: str) -> str:
    return f"function {name}(ctx, api) {{ log.info('ran') }}"


async def create(mgmt: Management, headers: Headers, name: str, **fields: Any) -> str:
    request = management_pb2.CreateActionRequest(name=name, script=script(name), **fields)
    answer = await mgmt.CreateAction(request, metadata=metadata(headers))
    return answer.id


async def get(mgmt: Management, headers: Headers, action_id: str) -> action_pb2.Action:
    answer = await mgmt.GetAction(
        management_pb2.GetActionRequest(id=action_id), metadata=metadata(headers)
    )
    return answer.action


async def refusal(call: Any) -> aio.AioRpcError:
    with pytest.raises(aio.AioRpcError) as raised:
        await call
    assert raised.value.details()
    return raised.value


async def code_of(call: Any) -> grpc.StatusCode:
    code: grpc.StatusCode = (await refusal(call)).code()
    return code


def timeout(seconds: float) -> Any:
    return {"timeout": timedelta(seconds=seconds)}


# -- actions -------------------------------------------------------------------------------


async def test_a_created_action_reads_back_as_created(mgmt: Management, org_owner: Headers) -> None:
    request = management_pb2.CreateActionRequest(
        name="audit", script=script("audit"), allowed_to_fail=True, **timeout(2.5)
    )
    created = await mgmt.CreateAction(request, metadata=metadata(org_owner))
    assert created.id and created.details.sequence > 0
    assert created.details.resource_owner == ORG
    assert created.details.HasField("creation_date")
    found = await get(mgmt, org_owner, created.id)
    assert (found.id, found.name, found.script) == (created.id, "audit", script("audit"))
    assert found.timeout.ToTimedelta() == timedelta(seconds=2.5)
    assert found.allowed_to_fail
    assert found.state == action_pb2.ACTION_STATE_ACTIVE
    assert found.details.resource_owner == ORG
    assert found.details.sequence == created.details.sequence


async def test_no_timeout_reads_back_as_the_longest(mgmt: Management, org_owner: Headers) -> None:
    found = await get(mgmt, org_owner, await create(mgmt, org_owner, "plain"))
    assert found.timeout.ToTimedelta() == timedelta(seconds=20)
    assert not found.allowed_to_fail


async def test_an_update_replaces_every_field(mgmt: Management, org_owner: Headers) -> None:
    action_id = await create(mgmt, org_owner, "first", allowed_to_fail=True, **timeout(5))
    request = management_pb2.UpdateActionRequest(
        id=action_id, name="second", script=script("second"), **timeout(1)
    )
    changed = await mgmt.UpdateAction(request, metadata=metadata(org_owner))
    found = await get(mgmt, org_owner, action_id)
    assert (found.name, found.script) == ("second", script("second"))
    assert found.timeout.ToTimedelta() == timedelta(seconds=1)
    assert not found.allowed_to_fail
    assert changed.details.sequence == found.details.sequence
    assert changed.details.HasField("change_date")


async def test_deactivate_and_reactivate_switch_the_state(
    mgmt: Management, org_owner: Headers
) -> None:
    action_id = await create(mgmt, org_owner, "toggle")
    meta = metadata(org_owner)
    off = await mgmt.DeactivateAction(
        management_pb2.DeactivateActionRequest(id=action_id), metadata=meta
    )
    assert (await get(mgmt, org_owner, action_id)).state == action_pb2.ACTION_STATE_INACTIVE
    again = mgmt.DeactivateAction(
        management_pb2.DeactivateActionRequest(id=action_id), metadata=meta
    )
    assert await code_of(again) == grpc.StatusCode.FAILED_PRECONDITION
    on = await mgmt.ReactivateAction(
        management_pb2.ReactivateActionRequest(id=action_id), metadata=meta
    )
    assert (await get(mgmt, org_owner, action_id)).state == action_pb2.ACTION_STATE_ACTIVE
    assert on.details.sequence > off.details.sequence > 0


async def test_a_deleted_action_answers_an_empty_message_and_is_gone(
    mgmt: Management, org_owner: Headers
) -> None:
    action_id = await create(mgmt, org_owner, "doomed")
    answer = await mgmt.DeleteAction(
        management_pb2.DeleteActionRequest(id=action_id), metadata=metadata(org_owner)
    )
    assert answer == management_pb2.DeleteActionResponse()
    assert await code_of(get(mgmt, org_owner, action_id)) == grpc.StatusCode.NOT_FOUND
    # Its name is free again.
    assert await create(mgmt, org_owner, "doomed")


ACTION_RPCS: list[tuple[str, Callable[..., Message]]] = [
    ("GetAction", management_pb2.GetActionRequest),
    ("DeactivateAction", management_pb2.DeactivateActionRequest),
    ("ReactivateAction", management_pb2.ReactivateActionRequest),
    ("DeleteAction", management_pb2.DeleteActionRequest),
]


@pytest.mark.parametrize(("rpc", "message"), ACTION_RPCS, ids=[r for r, _ in ACTION_RPCS])
async def test_another_tenants_action_is_not_found(
    mgmt: Management,
    org_owner: Headers,
    stranger: Headers,
    rpc: str,
    message: Callable[..., Message],
) -> None:
    action_id = await create(mgmt, org_owner, "mine")
    call = getattr(mgmt, rpc)(message(id=action_id), metadata=metadata(stranger))
    assert await code_of(call) == grpc.StatusCode.NOT_FOUND
    assert (await get(mgmt, org_owner, action_id)).state == action_pb2.ACTION_STATE_ACTIVE


async def test_another_tenant_lists_none_of_the_actions_nor_binds_them(
    mgmt: Management, org_owner: Headers, stranger: Headers
) -> None:
    action_id = await create(mgmt, org_owner, "mine")
    listed = await mgmt.ListActions(
        management_pb2.ListActionsRequest(), metadata=metadata(stranger)
    )
    assert not listed.result and listed.details.total_result == 0
    bind = management_pb2.SetTriggerActionsRequest(
        flow_type=EVENTS, trigger_type=PRE, action_ids=[action_id]
    )
    call = mgmt.SetTriggerActions(bind, metadata=metadata(stranger))
    assert await code_of(call) == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_taken_name_already_exists(mgmt: Management, org_owner: Headers) -> None:
    await create(mgmt, org_owner, "twice")
    call = create(mgmt, org_owner, "twice")
    assert await code_of(call) == grpc.StatusCode.ALREADY_EXISTS


# -- listing -------------------------------------------------------------------------------


@pytest.fixture
async def three(mgmt: Management, org_owner: Headers) -> dict[str, str]:
    """Three actions, created in this order: ``beta``, ``Alpha`` (inactive), ``gamma``."""
    ids = {name: await create(mgmt, org_owner, name) for name in ("beta", "Alpha", "gamma")}
    await mgmt.DeactivateAction(
        management_pb2.DeactivateActionRequest(id=ids["Alpha"]), metadata=metadata(org_owner)
    )
    return ids


def id_query(action_id: str) -> management_pb2.ActionQuery:
    return management_pb2.ActionQuery(action_id_query=action_pb2.ActionIDQuery(id=action_id))


def name_query(name: str, method: int) -> management_pb2.ActionQuery:
    query = action_pb2.ActionNameQuery(name=name, method=method)  # type: ignore[arg-type]
    return management_pb2.ActionQuery(action_name_query=query)


def state_query(state: int) -> management_pb2.ActionQuery:
    query = action_pb2.ActionStateQuery(state=state)  # type: ignore[arg-type]
    return management_pb2.ActionQuery(action_state_query=query)


async def names(
    mgmt: Management, headers: Headers, **fields: Any
) -> tuple[list[str], management_pb2.ListActionsResponse]:
    answer = await mgmt.ListActions(
        management_pb2.ListActionsRequest(**fields), metadata=metadata(headers)
    )
    return [a.name for a in answer.result], answer


LISTINGS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["gamma", "Alpha", "beta"]),
    ({"query": {"asc": True}}, ["beta", "Alpha", "gamma"]),
    ({"sorting_column": action_pb2.ACTION_FIELD_NAME_NAME}, ["gamma", "beta", "Alpha"]),
    (
        {"sorting_column": action_pb2.ACTION_FIELD_NAME_NAME, "query": {"asc": True}},
        ["Alpha", "beta", "gamma"],
    ),
    ({"sorting_column": action_pb2.ACTION_FIELD_NAME_ID}, ["gamma", "Alpha", "beta"]),
    (
        {"sorting_column": action_pb2.ACTION_FIELD_NAME_STATE, "query": {"asc": True}},
        ["beta", "gamma", "Alpha"],
    ),
    ({"query": {"asc": True, "offset": 1, "limit": 1}}, ["Alpha"]),
    (
        {"queries": [name_query("a", object_pb2.TEXT_QUERY_METHOD_STARTS_WITH_IGNORE_CASE)]},
        ["Alpha"],
    ),
    ({"queries": [name_query("mm", object_pb2.TEXT_QUERY_METHOD_CONTAINS)]}, ["gamma"]),
    ({"queries": [name_query("alpha", object_pb2.TEXT_QUERY_METHOD_EQUALS)]}, []),
    ({"queries": [state_query(action_pb2.ACTION_STATE_INACTIVE)]}, ["Alpha"]),
    ({"queries": [state_query(action_pb2.ACTION_STATE_UNSPECIFIED)]}, ["gamma", "Alpha", "beta"]),
    (
        {
            "queries": [
                state_query(action_pb2.ACTION_STATE_ACTIVE),
                name_query("A", object_pb2.TEXT_QUERY_METHOD_ENDS_WITH_IGNORE_CASE),
            ]
        },
        ["gamma", "beta"],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), LISTINGS, ids=[str(f) for f, _ in LISTINGS])
async def test_list_filters_sorts_and_pages(
    mgmt: Management,
    org_owner: Headers,
    three: dict[str, str],
    fields: dict[str, Any],
    expected: list[str],
) -> None:
    found, answer = await names(mgmt, org_owner, **fields)
    assert found == expected
    limited = "limit" in fields.get("query", {})
    assert answer.details.total_result == (3 if limited else len(expected))
    assert answer.details.processed_sequence > 0
    assert answer.sorting_column == fields.get("sorting_column", 0)


async def test_list_finds_an_action_by_id(
    mgmt: Management, org_owner: Headers, three: dict[str, str]
) -> None:
    found, _ = await names(mgmt, org_owner, queries=[id_query(three["gamma"])])
    assert found == ["gamma"]


async def test_a_query_holding_nothing_is_invalid(
    mgmt: Management, org_owner: Headers, three: dict[str, str]
) -> None:
    call = names(mgmt, org_owner, queries=[id_query(three["gamma"]), management_pb2.ActionQuery()])
    assert await code_of(call) == grpc.StatusCode.INVALID_ARGUMENT


# -- organisations and permissions ---------------------------------------------------------


async def test_a_tenant_owner_acts_in_the_organisation_it_names(
    mgmt: Management, owner: Headers, org_owner: Headers
) -> None:
    there = {**owner, "x-zitadel-orgid": OTHER_ORG}
    action_id = await create(mgmt, there, "elsewhere")
    assert (await get(mgmt, there, action_id)).details.resource_owner == OTHER_ORG
    assert await code_of(get(mgmt, org_owner, action_id)) == grpc.StatusCode.NOT_FOUND
    found, _ = await names(mgmt, org_owner)
    assert found == []


async def test_an_organisation_owner_may_not_name_another_organisation(
    mgmt: Management, org_owner: Headers
) -> None:
    there = {**org_owner, "x-zitadel-orgid": OTHER_ORG}
    call = mgmt.ListActions(management_pb2.ListActionsRequest(), metadata=metadata(there))
    assert await code_of(call) == grpc.StatusCode.PERMISSION_DENIED


EVERY_RPC = [(m.name, m.request) for m in management_rpc.METHODS]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["missing", "wrong"],
)
@pytest.mark.parametrize(("rpc", "message"), EVERY_RPC, ids=[r for r, _ in EVERY_RPC])
async def test_a_call_without_a_valid_token_is_unauthenticated(
    mgmt: Management, headers: Headers, rpc: str, message: type[Message]
) -> None:
    call = getattr(mgmt, rpc)(message(), metadata=metadata(headers))
    assert await code_of(call) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(("rpc", "message"), EVERY_RPC, ids=[r for r, _ in EVERY_RPC])
async def test_a_role_without_action_or_flow_permissions_is_denied(
    mgmt: Management, reader: Headers, rpc: str, message: type[Message]
) -> None:
    call = getattr(mgmt, rpc)(message(), metadata=metadata(reader))
    assert await code_of(call) == grpc.StatusCode.PERMISSION_DENIED


WRITES = [
    (m.name, m.request) for m in management_rpc.METHODS if not m.name.startswith(("Get", "List"))
]


@pytest.mark.parametrize(("rpc", "message"), WRITES, ids=[r for r, _ in WRITES])
async def test_a_viewer_may_not_write(
    mgmt: Management, org_viewer: Headers, rpc: str, message: type[Message]
) -> None:
    call = getattr(mgmt, rpc)(message(), metadata=metadata(org_viewer))
    assert await code_of(call) == grpc.StatusCode.PERMISSION_DENIED


# -- bad input -----------------------------------------------------------------------------

BAD: list[tuple[str, Message, str]] = [
    ("CreateAction", management_pb2.CreateActionRequest(name="x" * 201, script="1"), "name"),
    ("CreateAction", management_pb2.CreateActionRequest(name="a\x00b", script="1"), "name"),
    ("CreateAction", management_pb2.CreateActionRequest(name="a", script="1;\x00"), "script"),
    ("CreateAction", management_pb2.CreateActionRequest(name="a", script="x" * 40_001), "script"),
    ("CreateAction", management_pb2.CreateActionRequest(name="a", script="}{"), "script"),
    (
        "CreateAction",
        management_pb2.CreateActionRequest(name="a", script="1", **timeout(21)),
        "timeout",
    ),
    (
        "CreateAction",
        management_pb2.CreateActionRequest(name="a", script="1", **timeout(-1)),
        "timeout",
    ),
    ("GetAction", management_pb2.GetActionRequest(id="x" * 201), "id"),
    ("GetAction", management_pb2.GetActionRequest(id="a\x00b"), "id"),
    ("UpdateAction", management_pb2.UpdateActionRequest(id="a\x00b"), "id"),
    ("DeactivateAction", management_pb2.DeactivateActionRequest(id="x" * 201), "id"),
    ("DeleteAction", management_pb2.DeleteActionRequest(id="a\x00b"), "id"),
    (
        "ListActions",
        management_pb2.ListActionsRequest(queries=[state_query(1)] * 51),
        "queries",
    ),
    (
        "ListActions",
        management_pb2.ListActionsRequest(queries=[id_query("a\x00b")]),
        "queries[0].actionIdQuery.id",
    ),
    (
        "ListActions",
        management_pb2.ListActionsRequest(queries=[name_query("x" * 201, 0)]),
        "queries[0].actionNameQuery.name",
    ),
    (
        "ListActions",
        management_pb2.ListActionsRequest(queries=[name_query("a", 99)]),
        "queries[0].actionNameQuery.method",
    ),
    (
        "ListActions",
        management_pb2.ListActionsRequest(queries=[state_query(7)]),
        "queries[0].actionStateQuery.state",
    ),
    ("ListActions", management_pb2.ListActionsRequest(sorting_column=9), "sortingColumn"),  # type: ignore[arg-type]
    (
        "ListActions",
        management_pb2.ListActionsRequest(query=object_pb2.ListQuery(limit=5001)),
        "query.limit",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(
            flow_type=EVENTS, trigger_type=PRE, action_ids=[f"a{i}" for i in range(51)]
        ),
        "actionIds",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(
            flow_type=EVENTS, trigger_type=PRE, action_ids=["a\x00"]
        ),
        "actionIds",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(
            flow_type=EVENTS, trigger_type=PRE, action_ids=["x" * 201]
        ),
        "actionIds",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(
            flow_type=EVENTS, trigger_type=PRE, action_ids=["nope"]
        ),
        "actionIds",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(flow_type="FLOW_TYPE_NOPE", trigger_type=PRE),
        "flowType",
    ),
    (
        "SetTriggerActions",
        management_pb2.SetTriggerActionsRequest(
            flow_type=EVENTS, trigger_type="TRIGGER_TYPE_ON_FIRE"
        ),
        "triggerType",
    ),
    ("ClearFlow", management_pb2.ClearFlowRequest(type="FLOW_TYPE_NOPE"), "flowType"),
]


@pytest.mark.parametrize(
    ("rpc", "request_", "field"), BAD, ids=[f"{r}-{i}-{f}" for i, (r, _, f) in enumerate(BAD)]
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    mgmt: Management, org_owner: Headers, rpc: str, request_: Message, field: str
) -> None:
    """The refusal's ``grpc-status-details-bin`` holds the ``google.rpc.Status`` with a
    ``google.rpc.BadRequest`` naming the field, as the JSON answer does."""
    refused = await refusal(getattr(mgmt, rpc)(request_, metadata=metadata(org_owner)))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailers = dict(refused.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == refused.details()
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    assert [v.field for v in bad.field_violations] == [field]


async def test_a_refusal_carries_zitadels_error_detail(
    mgmt: Management, org_owner: Headers
) -> None:
    refused = await refusal(get(mgmt, org_owner, "01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    trailers = dict(refused.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    detail = message_pb2.ErrorDetail()
    assert any(d.Unpack(detail) for d in status.details)
    assert detail.id == "CHRONIK-NF01"


# -- flows ---------------------------------------------------------------------------------


async def test_flow_types_and_their_trigger_types_are_listed(
    mgmt: Management, org_viewer: Headers
) -> None:
    meta = metadata(org_viewer)
    flows = await mgmt.ListFlowTypes(management_pb2.ListFlowTypesRequest(), metadata=meta)
    assert [f.id for f in flows.result] == [EVENTS, "FLOW_TYPE_SCHEDULES"]
    assert all(f.name.key and f.name.localized_message for f in flows.result)
    triggers = await mgmt.ListFlowTriggerTypes(
        management_pb2.ListFlowTriggerTypesRequest(type=EVENTS), metadata=meta
    )
    assert [t.id for t in triggers.result] == [PRE, POST]


async def test_the_trigger_types_of_an_unknown_flow_are_not_found_as_in_zitadel(
    mgmt: Management, org_viewer: Headers
) -> None:
    request = management_pb2.ListFlowTriggerTypesRequest(type="FLOW_TYPE_NOPE")
    call = mgmt.ListFlowTriggerTypes(request, metadata=metadata(org_viewer))
    assert await code_of(call) == grpc.StatusCode.NOT_FOUND


async def test_an_unknown_flow_is_an_empty_flow_of_the_unspecified_type_as_in_zitadel(
    mgmt: Management, org_viewer: Headers
) -> None:
    answer = await mgmt.GetFlow(
        management_pb2.GetFlowRequest(type="3"), metadata=metadata(org_viewer)
    )
    assert answer.flow.type.id == "FLOW_TYPE_UNSPECIFIED"
    assert answer.flow.type.name.key == "Action.Flow.Type.Unspecified"
    assert not answer.flow.trigger_actions


async def bind(
    mgmt: Management, headers: Headers, trigger: str, *ids: str
) -> management_pb2.SetTriggerActionsResponse:
    request = management_pb2.SetTriggerActionsRequest(
        flow_type=EVENTS, trigger_type=trigger, action_ids=list(ids)
    )
    answer: management_pb2.SetTriggerActionsResponse = await mgmt.SetTriggerActions(
        request, metadata=metadata(headers)
    )
    return answer


async def flow(mgmt: Management, headers: Headers) -> action_pb2.Flow:
    answer = await mgmt.GetFlow(
        management_pb2.GetFlowRequest(type=EVENTS), metadata=metadata(headers)
    )
    return answer.flow


async def test_a_flow_shows_the_actions_bound_to_each_trigger_in_order(
    mgmt: Management, org_owner: Headers
) -> None:
    first, second = await create(mgmt, org_owner, "first"), await create(mgmt, org_owner, "second")
    empty = await flow(mgmt, org_owner)
    assert empty.state == action_pb2.FLOW_STATE_INACTIVE and not empty.trigger_actions
    bound = await bind(mgmt, org_owner, POST, second, first)
    found = await flow(mgmt, org_owner)
    assert found.type.id == EVENTS and found.state == action_pb2.FLOW_STATE_ACTIVE
    assert [t.trigger_type.id for t in found.trigger_actions] == [POST]
    assert [a.name for a in found.trigger_actions[0].actions] == ["second", "first"]
    assert found.details.sequence == bound.details.sequence
    assert found.details.resource_owner == ORG


async def test_an_empty_list_unbinds_a_trigger(mgmt: Management, org_owner: Headers) -> None:
    action_id = await create(mgmt, org_owner, "only")
    await bind(mgmt, org_owner, PRE, action_id)
    await bind(mgmt, org_owner, POST, action_id)
    await bind(mgmt, org_owner, PRE)
    assert [t.trigger_type.id for t in (await flow(mgmt, org_owner)).trigger_actions] == [POST]


async def test_clearing_a_flow_unbinds_every_trigger(mgmt: Management, org_owner: Headers) -> None:
    action_id = await create(mgmt, org_owner, "only")
    await bind(mgmt, org_owner, PRE, action_id)
    await bind(mgmt, org_owner, POST, action_id)
    cleared = await mgmt.ClearFlow(
        management_pb2.ClearFlowRequest(type=EVENTS), metadata=metadata(org_owner)
    )
    found = await flow(mgmt, org_owner)
    assert not found.trigger_actions and found.state == action_pb2.FLOW_STATE_INACTIVE
    assert cleared.details.sequence == found.details.sequence > 0


async def test_a_flow_is_per_organisation(
    mgmt: Management, owner: Headers, org_owner: Headers
) -> None:
    there = {**owner, "x-zitadel-orgid": OTHER_ORG}
    await bind(mgmt, there, PRE, await create(mgmt, there, "elsewhere"))
    assert not (await flow(mgmt, org_owner)).trigger_actions
    assert [a.name for a in (await flow(mgmt, there)).trigger_actions[0].actions] == ["elsewhere"]


async def test_setting_trigger_actions_keeps_the_bindings_filters(
    mgmt: Management, api: httpx.AsyncClient, org_owner: Headers
) -> None:
    """The filters are Chronik's (the native API sets them); a ZITADEL client that changes
    the actions of a trigger does not widen it to every event."""
    first, second = await create(mgmt, org_owner, "first"), await create(mgmt, org_owner, "second")
    put = await api.put(
        f"/v1/flows/{EVENTS}/triggers/{PRE}",
        headers=org_owner,
        json={"actionIds": [first], "eventTypes": ["user.added"], "aggregateTypes": ["user"]},
    )
    assert put.status_code == 200, put.text
    await bind(mgmt, org_owner, PRE, second, first)
    shown = (await api.get(f"/v1/flows/{EVENTS}", headers=org_owner)).json()
    assert shown["triggers"][0] == {
        "triggerType": PRE,
        "actionIds": [second, first],
        "eventTypes": ["user.added"],
        "aggregateTypes": ["user"],
    }
