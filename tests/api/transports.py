"""Every ZITADEL RPC through each transport a ZITADEL client uses — grpc-gateway JSON, gRPC
(the stubs generated from the protos, over grpcio) and gRPC-web (the same stubs over
sonora) — answering one :class:`Answer` whatever the transport, so that a test can ask all
three and assert they answer the same message."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from chronik.api.proto.zitadel import admin_pb2_grpc, management_pb2_grpc, message_pb2
from chronik.api.rpc.methods import Method, all_methods
from chronik.api.zitadel_status import HTTP_STATUS

TRANSPORTS = ("json", "grpc", "grpc-web")
METHODS = {m.name: m for m in all_methods()}
STUBS = {
    "zitadel.admin.v1.AdminService": admin_pb2_grpc.AdminServiceStub,
    "zitadel.management.v1.ManagementService": management_pb2_grpc.ManagementServiceStub,
}

Request = Mapping[str, Any] | Message | tuple[Mapping[str, Any], Message]
"""A request as protojson (a dict), as a message, or as both where protojson cannot write
the message (a Timestamp out of its range): the JSON transport sends the dict, the others
the message."""


class Stubbable:
    """sonora's channel as the stubs of grpcio-tools 1.63 and later call it: they pass
    ``_registered_method``, which sonora 0.2.3 does not take."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def unary_unary(
        self, path: str, request_serializer: Any, response_deserializer: Any, **_: Any
    ) -> Any:
        return self.channel.unary_unary(path, request_serializer, response_deserializer)

    def unary_stream(
        self, path: str, request_serializer: Any, response_deserializer: Any, **_: Any
    ) -> Any:
        return self.channel.unary_stream(path, request_serializer, response_deserializer)


@dataclass(frozen=True)
class Answer:
    """What a call answered, whatever the transport: its gRPC status code and the response
    message (code 0) or the ``google.rpc.Status`` of the refusal."""

    code: int
    message: Message

    @property
    def status(self) -> status_pb2.Status:
        assert isinstance(self.message, status_pb2.Status), self
        return self.message

    @property
    def gist(self) -> tuple[int, list[str]]:
        """The code, and the fields a refusal names bad."""
        return self.code, self.bad_fields if self.code else []

    @property
    def bad_fields(self) -> list[str]:
        """The fields a ``google.rpc.BadRequest`` detail names (none without one)."""
        bad = error_details_pb2.BadRequest()
        return [v.field for d in self.status.details if d.Unpack(bad) for v in bad.field_violations]

    @property
    def error_id(self) -> str | None:
        """The ``zitadel.v1.ErrorDetail`` id, if the refusal carries one."""
        detail = message_pb2.ErrorDetail()
        return next((detail.id for d in self.status.details if d.Unpack(detail)), None)


def _message(method: Method, request: Request) -> Message:
    if isinstance(request, tuple):
        return request[1]
    if isinstance(request, Message):
        return request
    return json_format.ParseDict(dict(request), method.request())


def _json(request: Request) -> dict[str, Any]:
    if isinstance(request, tuple):
        return dict(request[0])
    if isinstance(request, Message):
        return json_format.MessageToDict(request)
    return dict(request)


def _metadata(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k.lower(), v) for k, v in headers.items())


def _pop(fields: dict[str, Any], method: Method, name: str) -> str:
    """A path segment's value, taken out of the fields (by proto or JSON name)."""
    field = method.request.DESCRIPTOR.fields_by_name[name]
    value = fields.pop(name, fields.pop(field.json_name, None))
    if value is None:
        value = "" if field.type == field.TYPE_STRING else 0
    return quote(str(value), safe="")


def http_request(method: Method, request: Request) -> tuple[str, dict[str, Any]]:
    """The path and the httpx arguments of ``request`` as grpc-gateway reads it: the
    template's ``{field}`` segments from the request, the rest the body (``body: "*"``) or
    the query string."""
    fields = _json(request)
    path = method.http.path
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + _pop(fields, method, path[start + 1 : end]) + path[end + 1 :]
    if method.http.body == "*":
        return path, {"json": fields}
    return path, {"params": fields} if fields else {}


@dataclass(frozen=True)
class Clients:
    """A client of each transport, all of one running app (the JSON routes and gRPC-web on
    its HTTP port, gRPC on its own)."""

    http: httpx.AsyncClient
    grpc: aio.Channel
    web: Stubbable

    async def call(
        self, transport: str, name: str, request: Request, headers: Mapping[str, str]
    ) -> Answer:
        """Call the RPC ``name`` over ``transport``."""
        method = METHODS[name]
        if transport == "json":
            return await self._json(method, request, headers)
        if transport == "grpc":
            return await self._grpc(method, request, headers)
        if transport == "grpc-web":
            return await self._web(method, request, headers)
        raise ValueError(f"no transport {transport!r}")

    async def each(
        self, name: str, request: Request, headers: Mapping[str, str]
    ) -> dict[str, Answer]:
        """The RPC's answer over each transport, called one after the other."""
        return {t: await self.call(t, name, request, headers) for t in TRANSPORTS}

    async def same(
        self, name: str, request: Request, headers: Mapping[str, str], *, exact: bool = True
    ) -> Answer:
        """The answer every transport gives, asserted to be the same message (unless
        ``exact`` is false: then the same code and the same fields named bad)."""
        answers = await self.each(name, request, headers)
        first = answers["json"]
        for transport in TRANSPORTS[1:]:
            answer = answers[transport]
            alike = answer == first if exact else answer.gist == first.gist
            assert alike, (
                f"{name} {_short(request)}: {transport} answered "
                f"{_short(answer)}, json {_short(first)}"
            )
        return first

    async def _json(self, method: Method, request: Request, headers: Mapping[str, str]) -> Answer:
        path, arguments = http_request(method, request)
        response = await self.http.request(
            method.http.verb, path, headers=dict(headers), **arguments
        )
        body = response.json()
        if response.status_code == 200:
            # Strict: a field the response message lacks fails the test.
            return Answer(0, json_format.ParseDict(body, method.response()))
        status = json_format.ParseDict(body, status_pb2.Status())
        assert response.status_code == HTTP_STATUS[status.code], (response.status_code, body)
        for detail in status.details:
            assert detail.type_url.startswith("type.googleapis.com/"), detail.type_url
        return Answer(status.code, status)

    async def _grpc(self, method: Method, request: Request, headers: Mapping[str, str]) -> Answer:
        stub = getattr(STUBS[method.service](self.grpc), method.name)
        try:
            answer = await stub(_message(method, request), metadata=_metadata(headers))
        except aio.AioRpcError as err:
            trailers = dict(err.trailing_metadata() or ())
            return _refusal(err.code(), err.details(), trailers.get("grpc-status-details-bin"))
        return Answer(0, answer)

    async def _web(self, method: Method, request: Request, headers: Mapping[str, str]) -> Answer:
        stub = getattr(STUBS[method.service](self.web), method.name)
        call = stub(_message(method, request), metadata=_metadata(headers))
        with call:  # sonora leaves the connection of a refused call open until this closes it
            try:
                return Answer(0, await call)
            except grpc.RpcError as err:
                sent = {k.lower(): v for k, v in await call.initial_metadata()}
                details = sent.get("grpc-status-details-bin")
                decoded = base64.b64decode(details + "=" * (-len(details) % 4)) if details else None
                return _refusal(err.code(), err.details(), decoded)


def _short(value: object, length: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= length else f"{text[: length // 2]}…{text[-length // 2 :]}"


def _refusal(code: grpc.StatusCode, message: str | None, details: Any) -> Answer:
    """A refusal's answer: the ``google.rpc.Status`` of its details, which must agree with
    the call's own status; a refusal by the gRPC library itself (a message over the size
    limit) carries none, and answers a Status of its code and message alone."""
    number = code.value[0]
    if details is None:
        return Answer(number, status_pb2.Status(code=number, message=message or ""))
    assert isinstance(details, bytes), details
    status = status_pb2.Status.FromString(details)
    assert (status.code, status.message) == (number, message), (status, code, message)
    return Answer(number, status)
