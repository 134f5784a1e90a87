"""Every ZITADEL RPC Chronik serves answers the same message through the three transports a
ZITADEL client uses: grpc-gateway JSON, gRPC (stubs generated from the protos, grpcio) and
gRPC-web (the same stubs, sonora), all of one app served on loopback."""

from __future__ import annotations

from typing import Any

import httpx
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from chronik.api.rpc.methods import all_methods
from chronik.services import Chronik
from tests.api.helpers import ORG, Headers, append, failed_events, new_event
from tests.api.transports import TRANSPORTS, Answer, Clients
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

EVENTS = "FLOW_TYPE_EVENTS"
POST = "TRIGGER_TYPE_POST_APPEND"
SCRIPT = "function audit(ctx, api) { log.info('ran') }"

READS: dict[str, list[dict[str, Any]]] = {
    "ListEvents": [
        {},
        {"asc": True, "eventTypes": ["user.human.added"]},
        {"aggregateTypes": ["org"], "resourceOwner": "org-other"},
        {"sequence": "2", "asc": True, "limit": 1},
        {"from": "2000-01-01T00:00:00Z", "asc": True},
        {"range": {"since": "2000-01-01T00:00:00Z", "until": "9999-01-01T00:00:00Z"}},
    ],
    "ListEventTypes": [{}],
    "ListAggregateTypes": [{}],
    "ListFailedEvents": [{}],
    "ListViews": [{}],
    "ListActions": [
        {},
        {"sortingColumn": "ACTION_FIELD_NAME_NAME", "query": {"asc": True, "limit": 1}},
        {"queries": [{"actionStateQuery": {"state": "ACTION_STATE_INACTIVE"}}]},
    ],
    "GetAction": [],  # the id is the test's: see below
    "ListFlowTypes": [{}],
    "ListFlowTriggerTypes": [{"type": EVENTS}],
    "GetFlow": [{"type": EVENTS}, {"type": "FLOW_TYPE_NOPE"}],
}
"""The requests each reading RPC is called with, on a log with events, actions, a bound
flow and a failed event."""

WRITES = [
    "CreateAction",
    "UpdateAction",
    "DeactivateAction",
    "ReactivateAction",
    "SetTriggerActions",
    "ClearFlow",
    "DeleteAction",
    "RemoveFailedEvent",
]
"""The writing RPCs, each called once per transport, on an object of that transport's own."""


def test_every_rpc_has_a_case() -> None:
    served = {m.name for m in all_methods()}
    assert set(READS) | set(WRITES) == served
    assert not set(READS) & set(WRITES)


async def test_every_read_answers_the_same_message_on_every_transport(
    clients: Clients,
    api: httpx.AsyncClient,
    chronik: Chronik,
    tenant: str,
    owner: Headers,
    writer: Headers,
) -> None:
    for headers, event in [
        (owner, new_event("user", "u-1", "user.human.added")),
        (owner, new_event("org", "o-1", "org.added", resourceOwner="org-other")),
        (writer, new_event("user", "u-2", "user.human.added", payload={"a": [1, "x"]})),
        (owner, new_event("org", "o-1", "org.changed", payload={})),
    ]:
        await append(api, headers, event)
    await failed_events(chronik, tenant, 1)
    create = {"name": "audit", "script": SCRIPT, "timeout": "2.500s", "allowedToFail": True}
    created = await clients.call("json", "CreateAction", create, owner)
    action_id = _field(created, "id")
    for name in ("beta", "gamma"):
        await clients.call("json", "CreateAction", {"name": name, "script": SCRIPT}, owner)
    await clients.call("json", "DeactivateAction", {"id": action_id}, owner)
    bind = {"flowType": EVENTS, "triggerType": POST, "actionIds": [action_id]}
    assert (await clients.call("json", "SetTriggerActions", bind, owner)).code == 0

    german = {**owner, "Accept-Language": "de"}
    cases = [(name, r) for name, requests in READS.items() for r in requests]
    cases += [("GetAction", {"id": action_id})]
    for name, request in cases:
        answer = await clients.same(name, request, german)
        assert answer.code == 0, (name, request, answer)
        assert answer.message.ByteSize() > 0, (name, request)


def _field(answer: Answer, name: str) -> Any:
    assert answer.code == 0, answer
    return getattr(answer.message, name)


def _masked(message: Message) -> Message:
    """A copy of ``message`` with what legitimately differs between two writes (ids,
    sequences, times) masked: kept set or unset, its value replaced."""
    copy = type(message)()
    copy.CopyFrom(message)
    _mask(copy)
    return copy


def _mask(message: Message) -> None:
    kind = message.DESCRIPTOR.full_name
    for field, value in message.ListFields():
        if (
            field.message_type is not None
            and field.message_type.full_name == Timestamp.DESCRIPTOR.full_name
        ):
            getattr(message, field.name).CopyFrom(Timestamp(seconds=1))
        elif field.name == "sequence" and kind == "zitadel.v1.ObjectDetails":
            setattr(message, field.name, 1)
        elif field.name == "id" and kind.endswith((".Action", ".CreateActionResponse")):
            setattr(message, field.name, "id")
        elif field.message_type is not None:
            for item in value if field.is_repeated else (value,):
                _mask(item)


async def test_every_write_answers_alike_and_reads_back_alike_on_every_transport(
    clients: Clients, chronik: Chronik, tenant: str, owner: Headers
) -> None:
    """Each transport runs the same writes on an action and a failed event of its own; the
    answers, and the reads after them, are the same messages but for ids, sequences and
    times."""
    failed = await failed_events(chronik, tenant, len(TRANSPORTS))
    seen: dict[str, list[Message]] = {}
    for transport, sequence in zip(TRANSPORTS, failed, strict=True):

        async def call(name: str, request: dict[str, Any], t: str = transport) -> Message:
            answer = await clients.call(t, name, request, owner)
            assert answer.code == 0, (t, name, request, answer)
            return answer.message

        created = await call(
            "CreateAction",
            {"name": "audit", "script": SCRIPT, "timeout": "2.500s", "allowedToFail": True},
        )
        action_id = created.id  # type: ignore[attr-defined]
        removal = {"database": "adminapi", "viewName": "iam_members", "failedSequence": sequence}
        seen[transport] = [
            created,
            await call("GetAction", {"id": action_id}),
            await call("UpdateAction", {"id": action_id, "name": "audit2", "script": SCRIPT}),
            await call("DeactivateAction", {"id": action_id}),
            await call("ReactivateAction", {"id": action_id}),
            await call("GetAction", {"id": action_id}),
            await call(
                "SetTriggerActions",
                {"flowType": EVENTS, "triggerType": POST, "actionIds": [action_id]},
            ),
            await call("GetFlow", {"type": EVENTS}),
            await call("ClearFlow", {"type": EVENTS}),
            await call("GetFlow", {"type": EVENTS}),
            await call("DeleteAction", {"id": action_id}),
            await call("RemoveFailedEvent", removal),
        ]
        assert seen[transport][1].action.details.resource_owner == ORG  # type: ignore[attr-defined]
    for transport in TRANSPORTS[1:]:
        assert [_masked(m) for m in seen[transport]] == [_masked(m) for m in seen["json"]]
    # Each transport's removal removed its failed event.
    assert (await clients.same("ListFailedEvents", {}, owner)).message.ByteSize() == 0
