"""Bad input to the ZITADEL RPCs is refused alike on every transport (grpc-gateway JSON, gRPC,
gRPC-web): the same code and the same ``google.rpc.Status`` (so the same
``google.rpc.BadRequest`` field), never an internal error, and nothing written.

Only what a proto message can hold is here. What only JSON can say — a body that is not an
object, a string where a number belongs (``"limit": "abc"``, ``"asc": "true"``), a number out
of its type's range (``"sequence": -1``, ``2**64``), a timestamp without its offset, both
members of a oneof, an unknown enum *name* (dropped, as grpc-gateway drops it) — is refused
or read by protojson before any message exists, so it stays in the JSON suites
(``test_bad_input.py``, ``test_actions.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from chronik.api.proto.zitadel import admin_pb2
from chronik.settings import Settings
from tests.api.helpers import Headers
from tests.api.transports import Clients, Request

OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED = 0, 3, 5, 8
CAP = 64 * 1024
EVENTS = "FLOW_TYPE_EVENTS"
PRE = "TRIGGER_TYPE_PRE_APPEND"
SCRIPT = "function a(ctx, api) {}"
FIRST, LAST = -62135596800, 253402300799
"""The seconds of the first and the last instant a Timestamp may hold (years 1 to 9999)."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Bodies and messages of at most ``CAP`` bytes."""
    return dataclasses.replace(settings, max_body_bytes=CAP)


def _outside(json: dict[str, Any], **fields: Any) -> Request:
    """A timestamp out of range: protojson's text, and the message gRPC carries as is."""
    return json, admin_pb2.ListEventsRequest(**fields)


def exact(request: Request, code: int) -> bool:
    """Whether every transport must answer the very same Status, or only the same code and
    bad field: protojson refuses a timestamp out of range as it parses it, in its own words,
    and grpcio an oversized message before Chronik sees it, with no details."""
    return not isinstance(request, tuple) and code != RESOURCE_EXHAUSTED


LIST_EVENTS: list[tuple[Request, int, str | None]] = [
    ({"eventTypes": [""]}, INVALID_ARGUMENT, "eventTypes"),
    ({"eventTypes": [f"t{i}" for i in range(31)]}, INVALID_ARGUMENT, "eventTypes"),
    ({"eventTypes": ["user\u0000"]}, INVALID_ARGUMENT, "eventTypes"),
    ({"aggregateId": "x" * 201}, INVALID_ARGUMENT, "aggregateId"),
    ({"aggregateId": "a\u0000b"}, INVALID_ARGUMENT, "aggregateId"),
    ({"resourceOwner": "x" * 201}, INVALID_ARGUMENT, "resourceOwner"),
    ({"editorUserId": "a\u0000"}, INVALID_ARGUMENT, "editorUserId"),
    (
        _outside(
            {"creationDate": "0001-01-01T00:00:00+01:00"},
            creation_date=Timestamp(seconds=FIRST - 3600),
        ),
        INVALID_ARGUMENT,
        "creationDate",
    ),
    (
        _outside({"from": "9999-12-31T23:59:59-01:00"}, **{"from": Timestamp(seconds=LAST + 3600)}),
        INVALID_ARGUMENT,
        "from",
    ),
    (
        _outside(
            {"range": {"until": "0001-01-01T00:00:00+05:00"}},
            range=admin_pb2.ListEventsRequest.creation_date_range(
                until=Timestamp(seconds=FIRST - 5 * 3600)
            ),
        ),
        INVALID_ARGUMENT,
        "range.until",
    ),
    (
        {"range": {"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}},
        INVALID_ARGUMENT,
        None,
    ),
    ({"aggregateId": "x" * (CAP + 1)}, RESOURCE_EXHAUSTED, None),
    # Valid: a uint64 above 2^63-1 is above every sequence; a limit above ZITADEL's 1000 is
    # cut to it; ``creationDate`` beside ``from`` (outside the oneof) yields to it.
    ({"sequence": str(2**64 - 1)}, OK, None),
    ({"sequence": str(2**63), "asc": True}, OK, None),
    ({"limit": 5001}, OK, None),
    ({"creationDate": "2024-01-01T00:00:00Z", "from": "2024-01-01T00:00:00Z"}, OK, None),
]


async def test_a_bad_event_search_is_refused_alike(clients: Clients, owner: Headers) -> None:
    for request, code, field in LIST_EVENTS:
        answer = await clients.same("ListEvents", request, owner, exact=exact(request, code))
        assert answer.code == code, (request, answer)
        if field is not None:
            assert answer.bad_fields == [field], (request, answer)


def _action(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "script": SCRIPT, **fields}


def _bind(*ids: str, flow: str = EVENTS, trigger: str = PRE) -> dict[str, Any]:
    return {"flowType": flow, "triggerType": trigger, "actionIds": list(ids)}


MANAGEMENT: list[tuple[str, Request, int, str | None]] = [
    ("CreateAction", _action(name=""), INVALID_ARGUMENT, "name"),
    ("CreateAction", _action(name="x" * 201), INVALID_ARGUMENT, "name"),
    ("CreateAction", _action(name="a\u0000b"), INVALID_ARGUMENT, "name"),
    ("CreateAction", _action(script="1;\u0000"), INVALID_ARGUMENT, "script"),
    ("CreateAction", _action(script="x" * 40_001), INVALID_ARGUMENT, "script"),
    ("CreateAction", _action(script="function a( {"), INVALID_ARGUMENT, "script"),
    ("CreateAction", _action(timeout="21s"), INVALID_ARGUMENT, "timeout"),
    ("CreateAction", _action(timeout="-1s"), INVALID_ARGUMENT, "timeout"),
    ("CreateAction", _action(script="x" * (CAP + 1)), RESOURCE_EXHAUSTED, None),
    ("UpdateAction", {"id": "a\u0000b", **_action()}, INVALID_ARGUMENT, "id"),
    ("UpdateAction", {"id": "x" * 201, **_action()}, INVALID_ARGUMENT, "id"),
    ("GetAction", {"id": "x" * 201}, INVALID_ARGUMENT, "id"),
    ("GetAction", {"id": "a\u0000b"}, INVALID_ARGUMENT, "id"),
    ("DeactivateAction", {"id": "x" * 201}, INVALID_ARGUMENT, "id"),
    ("ReactivateAction", {"id": "a\u0000b"}, INVALID_ARGUMENT, "id"),
    ("DeleteAction", {"id": "a\u0000b"}, INVALID_ARGUMENT, "id"),
    ("GetAction", {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, NOT_FOUND, None),
    (
        "ListActions",
        {"queries": [{"actionStateQuery": {"state": 1}}] * 51},
        INVALID_ARGUMENT,
        "queries",
    ),
    ("ListActions", {"queries": [{}]}, INVALID_ARGUMENT, "queries[0]"),
    (
        "ListActions",
        {"queries": [{"actionIdQuery": {"id": "a\u0000b"}}]},
        INVALID_ARGUMENT,
        "queries[0].actionIdQuery.id",
    ),
    (
        "ListActions",
        {"queries": [{"actionNameQuery": {"name": "x" * 201}}]},
        INVALID_ARGUMENT,
        "queries[0].actionNameQuery.name",
    ),
    # Unknown enum numbers (a message holds numbers; proto3 enums are open).
    (
        "ListActions",
        {"queries": [{"actionNameQuery": {"name": "a", "method": 99}}]},
        INVALID_ARGUMENT,
        "queries[0].actionNameQuery.method",
    ),
    (
        "ListActions",
        {"queries": [{"actionStateQuery": {"state": 7}}]},
        INVALID_ARGUMENT,
        "queries[0].actionStateQuery.state",
    ),
    ("ListActions", {"sortingColumn": 9}, INVALID_ARGUMENT, "sortingColumn"),
    ("ListActions", {"query": {"limit": 5001}}, INVALID_ARGUMENT, "query.limit"),
    ("SetTriggerActions", _bind(*[f"a{i}" for i in range(51)]), INVALID_ARGUMENT, "actionIds"),
    ("SetTriggerActions", _bind("a\u0000"), INVALID_ARGUMENT, "actionIds"),
    ("SetTriggerActions", _bind("x" * 201), INVALID_ARGUMENT, "actionIds"),
    ("SetTriggerActions", _bind("nope"), INVALID_ARGUMENT, "actionIds"),
    ("SetTriggerActions", _bind(flow="FLOW_TYPE_NOPE"), INVALID_ARGUMENT, "flowType"),
    ("SetTriggerActions", _bind(trigger="TRIGGER_TYPE_ON_FIRE"), INVALID_ARGUMENT, "triggerType"),
    ("ClearFlow", {"type": "FLOW_TYPE_NOPE"}, INVALID_ARGUMENT, "flowType"),
    ("ClearFlow", {"type": "a\u0000b"}, INVALID_ARGUMENT, None),
    ("GetFlow", {"type": "x" * 201}, OK, None),
    ("ListFlowTriggerTypes", {"type": "FLOW_TYPE_NOPE"}, NOT_FOUND, None),
    (
        "RemoveFailedEvent",
        {"database": "adminapi", "viewName": "v", "failedSequence": str(2**64 - 1)},
        OK,
        None,
    ),
    (
        "RemoveFailedEvent",
        {"database": "a\u0000", "viewName": "v", "failedSequence": "1"},
        INVALID_ARGUMENT,
        None,
    ),
]


async def test_bad_management_and_failed_event_input_is_refused_alike(
    clients: Clients, owner: Headers
) -> None:
    for name, request, code, field in MANAGEMENT:
        answer = await clients.same(name, request, owner, exact=exact(request, code))
        assert answer.code == code, (name, request, answer)
        if field is not None:
            assert answer.bad_fields == [field], (name, request, answer)
    listed = await clients.same("ListActions", {}, owner)
    assert (listed.code, list(listed.message.result)) == (0, []), "nothing was created"  # type: ignore[attr-defined]
