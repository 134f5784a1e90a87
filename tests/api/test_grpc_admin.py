"""ZITADEL's AdminService over real gRPC (grpcio's asyncio server on a free port, called
through the stubs generated from the protos): the same answers and the same error codes as
the JSON routes, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc import aio

from chronik.api.proto.zitadel import admin_pb2, admin_pb2_grpc, message_pb2
from chronik.api.rpc import admin as admin_rpc
from chronik.api.rpc import server
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import OTHER_ORG, Headers, append, new_event
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

if TYPE_CHECKING:
    from chronik.api.proto.zitadel.admin_pb2_grpc import AdminServiceAsyncStub as Admin
Metadata = tuple[tuple[str, str], ...]


@pytest.fixture
async def admin(chronik: Chronik, settings: Settings) -> AsyncIterator[Admin]:
    running = await server.start(chronik, "127.0.0.1", 0, max_message_bytes=settings.max_body_bytes)
    try:
        async with aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield admin_pb2_grpc.AdminServiceStub(channel)
    finally:
        await running.stop(0)


def metadata(headers: Headers) -> Metadata:
    return tuple((k.lower(), v) for k, v in headers.items())


@pytest.fixture
async def log(api: httpx.AsyncClient, owner: Headers, writer: Headers) -> list[dict[str, Any]]:
    """Six events over three aggregate types, two editors and two resource owners."""
    plan = [
        (owner, new_event("user", "u-1", "user.human.added")),
        (owner, new_event("org", "o-1", "org.added", resourceOwner="org-other")),
        (writer, new_event("user", "u-2", "user.human.added", payload={"a": [1, "x"]})),
        (owner, new_event("user", "u-1", "user.removed", payload={"nested": {"b": True}})),
        (writer, new_event("project", "p-1", "project.added", resourceOwner="org-other")),
        (owner, new_event("org", "o-1", "org.changed", payload={})),
    ]
    stored = []
    for headers, event in plan:
        stored += await append(api, headers, event)
    return stored


def as_json(message: Message) -> Any:
    """``message`` as protojson writes it, timestamps read back as instants (protojson
    writes 0, 3, 6 or 9 fractional digits; the JSON routes always 6)."""
    return _instants(json_format.MessageToDict(message))


def _instants(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k == "creationDate" else _instants(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_instants(v) for v in value]
    return value


async def json_answer(
    api: httpx.AsyncClient, path: str, headers: Headers, body: dict[str, Any]
) -> Any:
    """The JSON route's answer, less the empty lists it still writes and protojson leaves out
    (the JSON routes follow protojson in the next step of issue 14)."""
    response = await api.post(path, headers=headers, json=body)
    assert response.status_code == 200, response.text
    return {k: v for k, v in _instants(response.json()).items() if v != []}


FILTERS: list[dict[str, Any]] = [
    {},
    {"asc": True},
    {"event_types": ["user.human.added", "org.changed"]},
    {"aggregate_types": ["org", "project"]},
    {"aggregate_id": "u-1"},
    {"resource_owner": "org-other", "asc": True},
    {"sequence": 3, "asc": True, "limit": 2},
    {"sequence": 4},
    {"limit": 1},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
async def test_list_events_answers_as_the_json_route(
    admin: Admin,
    api: httpx.AsyncClient,
    owner: Headers,
    log: list[dict[str, Any]],
    filters: dict[str, Any],
) -> None:
    request = admin_pb2.ListEventsRequest(**filters)
    answer = await admin.ListEvents(request, metadata=metadata(owner))
    body = json_format.MessageToDict(request)
    expected = await json_answer(api, "/admin/v1/events/_search", owner, body)
    assert as_json(answer) == expected
    assert answer.events, "every filter here matches something"


async def test_events_carry_their_payload_and_sequence(
    admin: Admin, owner: Headers, log: list[dict[str, Any]]
) -> None:
    answer = await admin.ListEvents(admin_pb2.ListEventsRequest(asc=True), metadata=metadata(owner))
    assert [str(e.sequence) for e in answer.events] == [e["sequence"] for e in log]
    assert [json_format.MessageToDict(e.payload) for e in answer.events] == [
        e["payload"] for e in log
    ]


@pytest.mark.parametrize(
    ("rpc", "request_", "path"),
    [
        ("ListEventTypes", admin_pb2.ListEventTypesRequest(), "/admin/v1/events/types/_search"),
        (
            "ListAggregateTypes",
            admin_pb2.ListAggregateTypesRequest(),
            "/admin/v1/aggregates/types/_search",
        ),
        ("ListViews", admin_pb2.ListViewsRequest(), "/admin/v1/views/_search"),
        ("ListFailedEvents", admin_pb2.ListFailedEventsRequest(), "/admin/v1/failedevents/_search"),
    ],
)
async def test_the_catalogues_and_views_answer_as_the_json_routes(
    admin: Admin,
    api: httpx.AsyncClient,
    owner: Headers,
    log: list[dict[str, Any]],
    rpc: str,
    request_: Message,
    path: str,
) -> None:
    german = {**owner, "Accept-Language": "de"}
    answer = await getattr(admin, rpc)(request_, metadata=metadata(german))
    expected = await json_answer(api, path, german, {})
    assert as_json(answer) == expected


async def test_the_type_catalogues_list_the_types_in_use(
    admin: Admin, owner: Headers, log: list[dict[str, Any]]
) -> None:
    events = await admin.ListEventTypes(admin_pb2.ListEventTypesRequest(), metadata=metadata(owner))
    aggregates = await admin.ListAggregateTypes(
        admin_pb2.ListAggregateTypesRequest(), metadata=metadata(owner)
    )
    assert {t.type for t in events.event_types} >= {e["type"] for e in log}
    assert {t.type for t in aggregates.aggregate_types} >= {e["aggregateType"] for e in log}
    assert all(t.localized.key and t.localized.localized_message for t in events.event_types)


async def status_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(aio.AioRpcError) as raised:
        await call
    code: grpc.StatusCode = raised.value.code()
    assert raised.value.details()
    return code


async def json_code(api: httpx.AsyncClient, headers: Headers, body: dict[str, Any]) -> int:
    response = await api.post("/admin/v1/events/_search", headers=headers, json=body)
    code: int = response.json()["code"]
    return code


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_a_call_without_a_valid_token_is_unauthenticated(
    admin: Admin, api: httpx.AsyncClient, headers: Headers
) -> None:
    code = await status_of(
        admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(headers))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert code.value[0] == await json_code(api, headers, {})


async def test_a_role_without_the_permission_is_denied(
    admin: Admin, api: httpx.AsyncClient, org_owner: Headers
) -> None:
    code = await status_of(
        admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(org_owner))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert code.value[0] == await json_code(api, org_owner, {})


async def test_another_organisation_named_shows_nothing_of_another_tenant(
    admin: Admin,
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    log: list[dict[str, Any]],
) -> None:
    """AdminService acts on the token's tenant, whatever ``x-zitadel-orgid`` names (as the
    JSON route does): another tenant's token sees none of this tenant's events."""
    named = {**owner, "x-zitadel-orgid": OTHER_ORG}
    mine = await admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(named))
    assert as_json(mine) == await json_answer(api, "/admin/v1/events/_search", named, {})
    theirs = await admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(stranger))
    assert not {e.aggregate.id for e in theirs.events} & {e["aggregateId"] for e in log}
    assert as_json(theirs) == await json_answer(api, "/admin/v1/events/_search", stranger, {})


@pytest.mark.parametrize(
    "filters",
    [
        {"event_types": [f"t{i}" for i in range(31)]},
        {"aggregate_id": "x" * 201},
        {"aggregate_id": "a\x00b"},
        {"event_types": [""]},
    ],
    ids=["too-many-types", "long-id", "nul", "empty-type"],
)
async def test_a_bad_argument_is_invalid_argument(
    admin: Admin, api: httpx.AsyncClient, owner: Headers, filters: dict[str, Any]
) -> None:
    request = admin_pb2.ListEventsRequest(**filters)
    code = await status_of(admin.ListEvents(request, metadata=metadata(owner)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert code.value[0] == await json_code(api, owner, json_format.MessageToDict(request))


async def test_a_sequence_above_the_signed_range_is_valid_input(
    admin: Admin, owner: Headers, log: list[dict[str, Any]]
) -> None:
    top = 2**64 - 1
    before = await admin.ListEvents(
        admin_pb2.ListEventsRequest(sequence=top), metadata=metadata(owner)
    )
    after = await admin.ListEvents(
        admin_pb2.ListEventsRequest(sequence=top, asc=True), metadata=metadata(owner)
    )
    assert len(before.events) == len(log)
    assert not after.events


def test_a_limit_above_zitadels_cap_is_cut_to_it() -> None:
    asked = admin_rpc.event_query(admin_pb2.ListEventsRequest(limit=5001))
    assert asked.limit == admin_rpc.MAX_LIMIT == 1000


async def test_removing_a_failed_event_that_is_not_there_succeeds_as_in_zitadel(
    admin: Admin, owner: Headers
) -> None:
    for sequence in (7, 2**64 - 1):
        request = admin_pb2.RemoveFailedEventRequest(
            database="chronik", view_name="v", failed_sequence=sequence
        )
        answer = await admin.RemoveFailedEvent(request, metadata=metadata(owner))
        assert answer == admin_pb2.RemoveFailedEventResponse()


async def test_an_oversized_message_is_resource_exhausted(
    admin: Admin, owner: Headers, settings: Settings
) -> None:
    request = admin_pb2.ListEventsRequest(aggregate_id="x" * (settings.max_body_bytes + 1))
    code = await status_of(admin.ListEvents(request, metadata=metadata(owner)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    # ... and the server serves on.
    assert await admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(owner))


async def test_a_timestamp_out_of_range_is_invalid_argument(admin: Admin, owner: Headers) -> None:
    request = admin_pb2.ListEventsRequest()
    getattr(request, "from").seconds = 2**62
    code = await status_of(admin.ListEvents(request, metadata=metadata(owner)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_from_wins_over_the_deprecated_creation_date(
    admin: Admin, owner: Headers, log: list[dict[str, Any]]
) -> None:
    """As in ZITADEL: ``creation_date`` is outside the oneof, and ``from`` supersedes it."""
    request = admin_pb2.ListEventsRequest(asc=True)
    request.creation_date.FromDatetime(datetime(2999, 1, 1))
    getattr(request, "from").FromDatetime(datetime(2000, 1, 1))
    answer = await admin.ListEvents(request, metadata=metadata(owner))
    assert len(answer.events) == len(log)


async def test_a_refusal_carries_the_same_rich_status_as_the_json_answer(
    admin: Admin, api: httpx.AsyncClient, org_owner: Headers
) -> None:
    """The ``grpc-status-details-bin`` trailer holds the ``google.rpc.Status`` the JSON
    route answers, details and all (a ``zitadel.v1.ErrorDetail`` here)."""
    with pytest.raises(aio.AioRpcError) as raised:
        await admin.ListEvents(admin_pb2.ListEventsRequest(), metadata=metadata(org_owner))
    trailers = dict(raised.value.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    answer = await api.post("/admin/v1/events/_search", headers=org_owner, json={})
    assert status == json_format.ParseDict(answer.json(), status_pb2.Status())
    assert status.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    detail = message_pb2.ErrorDetail()
    assert any(d.Unpack(detail) for d in status.details)
    assert detail.id == "CHRONIK-PD01"
