"""ZITADEL's services as gRPC-web on the main HTTP port, called by an independent client
(sonora, over aiohttp, with the messages generated from the protos) against the app served
by uvicorn on loopback: every RPC answers as it does over grpcio, refusals carry the same
status, and a malformed call gets a clear status, never a 500."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc import aio
from sonora import aio as sonora_aio

from chronik.api.proto.zitadel import admin_pb2, admin_pb2_grpc, message_pb2
from chronik.api.rpc import server
from chronik.api.rpc.methods import Method, all_methods
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import Headers, append, new_event
from tests.api.transports import Stubbable
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

ADMIN = "/zitadel.admin.v1.AdminService"
LIST_EVENTS = f"{ADMIN}/ListEvents"
PROTO = "application/grpc-web+proto"


@pytest.fixture
async def web_channel(web: str) -> AsyncIterator[Any]:
    async with sonora_aio.insecure_web_channel(web) as channel:
        yield Stubbable(channel)


@pytest.fixture
async def grpc_channel(chronik: Chronik, settings: Settings) -> AsyncIterator[aio.Channel]:
    running = await server.start(chronik, "127.0.0.1", 0, max_message_bytes=settings.max_body_bytes)
    try:
        async with aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield channel
    finally:
        await running.stop(0)


@pytest.fixture
async def raw(web: str) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the served app, for what no gRPC-web client sends."""
    async with httpx.AsyncClient(base_url=web, timeout=10.0) as client:
        yield client


@pytest.fixture
async def log(api: httpx.AsyncClient, owner: Headers, writer: Headers) -> list[dict[str, Any]]:
    plan = [
        (owner, new_event("user", "u-1", "user.human.added")),
        (owner, new_event("org", "o-1", "org.added", resourceOwner="org-other")),
        (writer, new_event("user", "u-2", "user.human.added", payload={"a": [1, "x"]})),
        (owner, new_event("org", "o-1", "org.changed", payload={})),
    ]
    stored = []
    for headers, event in plan:
        stored += await append(api, headers, event)
    return stored


def metadata(headers: Headers) -> tuple[tuple[str, str], ...]:
    return tuple((k.lower(), v) for k, v in headers.items())


@dataclass(frozen=True)
class Outcome:
    """What a call answered: a message, or a status code with its ``google.rpc.Status``."""

    message: Message | None = None
    code: int = 0
    status: status_pb2.Status | None = None


def _unbase64(value: str) -> bytes:
    return base64.b64decode(value + "=" * (-len(value) % 4))


async def over_grpc(
    channel: aio.Channel, method: Method, request: Message, headers: Headers
) -> Outcome:
    call = channel.unary_unary(
        method.path,
        request_serializer=method.request.SerializeToString,
        response_deserializer=method.response.FromString,
    )
    try:
        return Outcome(await call(request, metadata=metadata(headers)))
    except aio.AioRpcError as err:
        trailers = dict(err.trailing_metadata() or ())
        details = trailers["grpc-status-details-bin"]
        assert isinstance(details, bytes)
        return Outcome(None, err.code().value[0], status_pb2.Status.FromString(details))


async def over_web(channel: Any, method: Method, request: Message, headers: Headers) -> Outcome:
    call = channel.unary_unary(
        method.path, method.request.SerializeToString, method.response.FromString
    )(request, metadata=metadata(headers))
    with call:  # sonora leaves the connection of a refused call open until this closes it
        try:
            return Outcome(await call)
        except grpc.RpcError as err:
            sent = {k.lower(): v for k, v in await call.initial_metadata()}
            status = status_pb2.Status.FromString(_unbase64(sent["grpc-status-details-bin"]))
            assert status.message == err.details()
            return Outcome(None, err.code().value[0], status)


EXAMPLES: dict[str, Message] = {
    "ListEvents": admin_pb2.ListEventsRequest(asc=True, event_types=["user.human.added"]),
    "RemoveFailedEvent": admin_pb2.RemoveFailedEventRequest(
        database="chronik", view_name="v", failed_sequence=7
    ),
}
"""The request each RPC is called with; the others take their empty request."""


@pytest.mark.parametrize("method", all_methods(), ids=lambda m: m.path)
async def test_every_rpc_answers_as_over_grpc(
    web_channel: Any,
    grpc_channel: aio.Channel,
    owner: Headers,
    log: list[dict[str, Any]],
    method: Method,
) -> None:
    request = EXAMPLES.get(method.name, method.request())
    german = {**owner, "Accept-Language": "de"}
    expected = await over_grpc(grpc_channel, method, request, german)
    assert await over_web(web_channel, method, request, german) == expected


FILTERS: list[dict[str, Any]] = [
    {},
    {"aggregate_types": ["org"]},
    {"resource_owner": "org-other", "asc": True},
    {"sequence": 2, "asc": True, "limit": 1},
    {"sequence": 2**64 - 1},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
async def test_the_generated_stub_lists_events_as_over_grpc(
    web_channel: Any,
    grpc_channel: aio.Channel,
    owner: Headers,
    log: list[dict[str, Any]],
    filters: dict[str, Any],
) -> None:
    request = admin_pb2.ListEventsRequest(**filters)
    over_web_ = await admin_pb2_grpc.AdminServiceStub(web_channel).ListEvents(
        request, metadata=metadata(owner)
    )
    over_grpc_ = await admin_pb2_grpc.AdminServiceStub(grpc_channel).ListEvents(
        request, metadata=metadata(owner)
    )
    assert over_web_ == over_grpc_


LIST = next(m for m in all_methods() if m.path == LIST_EVENTS)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_a_call_without_a_valid_token_is_unauthenticated_with_grpcs_status(
    web_channel: Any, grpc_channel: aio.Channel, headers: Headers
) -> None:
    request = admin_pb2.ListEventsRequest()
    answer = await over_web(web_channel, LIST, request, headers)
    assert answer.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert answer == await over_grpc(grpc_channel, LIST, request, headers)


async def test_a_role_without_the_permission_is_denied_with_zitadels_error_detail(
    web_channel: Any, grpc_channel: aio.Channel, org_owner: Headers
) -> None:
    request = admin_pb2.ListEventsRequest()
    answer = await over_web(web_channel, LIST, request, org_owner)
    assert answer == await over_grpc(grpc_channel, LIST, request, org_owner)
    assert answer.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert answer.status is not None
    detail = message_pb2.ErrorDetail()
    assert any(d.Unpack(detail) for d in answer.status.details)
    assert detail.id == "CHRONIK-PD01"


@pytest.mark.parametrize(
    "filters",
    [{"event_types": [f"t{i}" for i in range(31)]}, {"aggregate_id": "a\x00b"}],
    ids=["too-many-types", "nul"],
)
async def test_a_bad_argument_is_invalid_argument_as_over_grpc(
    web_channel: Any, grpc_channel: aio.Channel, owner: Headers, filters: dict[str, Any]
) -> None:
    request = admin_pb2.ListEventsRequest(**filters)
    answer = await over_web(web_channel, LIST, request, owner)
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert answer == await over_grpc(grpc_channel, LIST, request, owner)


async def test_an_unknown_method_is_unimplemented(web_channel: Any, owner: Headers) -> None:
    for path in (f"{ADMIN}/DropEverything", "/zitadel.nothing.v1.NoService/Call"):
        call = web_channel.unary_unary(path, bytes, bytes)(b"", metadata=metadata(owner))
        with call, pytest.raises(grpc.RpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert path in str(raised.value.details())


# Calls no gRPC-web client library makes: sent by hand.


def frame(message: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(message)) + message


def frames(body: bytes) -> Iterator[tuple[int, bytes]]:
    while body:
        flags, length = struct.unpack(">BI", body[:5])
        yield flags, body[5 : 5 + length]
        body = body[5 + length :]


def grpc_status(response: httpx.Response) -> int:
    """A trailers-only answer's status (never a 500, never a stack trace)."""
    assert response.status_code < 500, response.text
    assert response.content == b"", "a refusal is trailers-only"
    return int(response.headers["grpc-status"])


async def test_grpc_web_text_answers_base64_frames_as_the_binary_form(
    raw: httpx.AsyncClient, grpc_channel: aio.Channel, owner: Headers, log: list[dict[str, Any]]
) -> None:
    request = admin_pb2.ListEventsRequest(asc=True)
    body = base64.b64encode(frame(request.SerializeToString()))
    response = await raw.post(
        LIST_EVENTS, content=body, headers={**owner, "Content-Type": "application/grpc-web-text"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/grpc-web-text+proto"
    (_, message), (flags, trailers) = frames(base64.b64decode(response.content))
    assert flags == 0x80
    assert trailers == b"grpc-status: 0\r\n"
    expected = await over_grpc(grpc_channel, LIST, request, owner)
    assert admin_pb2.ListEventsResponse.FromString(message) == expected.message


async def test_grpc_web_json_frames_hold_protojson_messages(
    raw: httpx.AsyncClient, grpc_channel: aio.Channel, owner: Headers, log: list[dict[str, Any]]
) -> None:
    body = frame(b'{"asc": true, "eventTypes": ["user.human.added"]}')
    response = await raw.post(
        LIST_EVENTS, content=body, headers={**owner, "Content-Type": "application/grpc-web+json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/grpc-web+json"
    (_, message), _ = frames(response.content)
    request = admin_pb2.ListEventsRequest(asc=True, event_types=["user.human.added"])
    expected = await over_grpc(grpc_channel, LIST, request, owner)
    answer = json_format.Parse(message, admin_pb2.ListEventsResponse())
    assert answer == expected.message
    assert len(answer.events) == 2


MALFORMED = {
    "empty": (b"", grpc.StatusCode.INVALID_ARGUMENT),
    "short-header": (b"\x00\x00\x00", grpc.StatusCode.INVALID_ARGUMENT),
    "truncated": (frame(b"\x08\x01")[:-1], grpc.StatusCode.INVALID_ARGUMENT),
    "two-messages": (frame(b"") + frame(b""), grpc.StatusCode.INVALID_ARGUMENT),
    "not-a-message": (frame(b"\xff\xff\xff"), grpc.StatusCode.INVALID_ARGUMENT),
    "trailer-flag": (frame(b"", flags=0x80), grpc.StatusCode.INVALID_ARGUMENT),
    "compressed": (frame(b"\x1f\x8b", flags=0x01), grpc.StatusCode.UNIMPLEMENTED),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_request_gets_a_clear_status(
    raw: httpx.AsyncClient, owner: Headers, body: tuple[bytes, grpc.StatusCode]
) -> None:
    content, code = body
    response = await raw.post(
        LIST_EVENTS, content=content, headers={**owner, "Content-Type": PROTO}
    )
    assert grpc_status(response) == code.value[0]
    assert response.headers["grpc-message"]


async def test_a_text_body_that_is_not_base64_is_invalid_argument(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    headers = {**owner, "Content-Type": "application/grpc-web-text"}
    response = await raw.post(LIST_EVENTS, content=b"not base64!", headers=headers)
    assert grpc_status(response) == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_a_json_frame_that_is_not_json_is_invalid_argument(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    headers = {**owner, "Content-Type": "application/grpc-web+json"}
    response = await raw.post(LIST_EVENTS, content=frame(b"{nope"), headers=headers)
    assert grpc_status(response) == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_another_content_type_is_refused_with_415_and_a_status(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    response = await raw.post(LIST_EVENTS, json={}, headers=owner)
    assert response.status_code == 415
    assert grpc_status(response) == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "application/grpc-web" in response.headers["grpc-message"]


async def test_the_status_message_is_percent_encoded(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    request = admin_pb2.ListEventsRequest(aggregate_id="ä" * 201)
    response = await raw.post(
        LIST_EVENTS,
        content=frame(request.SerializeToString()),
        headers={**owner, "Content-Type": PROTO},
    )
    assert grpc_status(response) == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert response.headers["grpc-message"].isascii()


@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_an_oversized_body_is_resource_exhausted(
    raw: httpx.AsyncClient, web_channel: Any, owner: Headers, settings: Settings
) -> None:
    request = admin_pb2.ListEventsRequest(aggregate_id="x" * (settings.max_body_bytes + 1))
    answer = await over_web(web_channel, LIST, request, owner)
    assert answer.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]

    async def unannounced() -> AsyncIterator[bytes]:  # no Content-Length: cut off at the limit
        yield frame(request.SerializeToString())

    headers = {**owner, "Content-Type": PROTO}
    response = await raw.post(LIST_EVENTS, content=unannounced(), headers=headers)
    assert grpc_status(response) == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    # ... and the server serves on.
    assert await over_web(web_channel, LIST, admin_pb2.ListEventsRequest(), owner) == Outcome(
        admin_pb2.ListEventsResponse()
    )


async def test_a_deadline_that_has_passed_is_deadline_exceeded(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    headers = {**owner, "Content-Type": PROTO, "grpc-timeout": "1n"}
    response = await raw.post(LIST_EVENTS, content=frame(b""), headers=headers)
    assert grpc_status(response) == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]


async def test_a_malformed_timeout_is_invalid_argument(
    raw: httpx.AsyncClient, owner: Headers
) -> None:
    headers = {**owner, "Content-Type": PROTO, "grpc-timeout": "soon"}
    response = await raw.post(LIST_EVENTS, content=frame(b""), headers=headers)
    assert grpc_status(response) == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_a_timeout_the_call_meets_answers(
    web_channel: Any, owner: Headers, log: list[dict[str, Any]]
) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(web_channel)
    answer = await stub.ListEvents(
        admin_pb2.ListEventsRequest(), metadata=metadata(owner), timeout=30
    )
    assert len(answer.events) == len(log)


async def test_calls_are_counted_by_their_method(
    raw: httpx.AsyncClient, web_channel: Any, owner: Headers
) -> None:
    await over_web(web_channel, LIST, admin_pb2.ListEventsRequest(), owner)
    await raw.post(f"{ADMIN}/Nope", content=frame(b""), headers={"Content-Type": PROTO})
    metrics = (await raw.get("/metrics")).text
    assert f'route="{LIST_EVENTS}"' in metrics
    assert 'route="/{service}/{method}"' in metrics
