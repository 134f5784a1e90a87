"""ZITADEL's services as gRPC-web on the main HTTP port: ``POST /{service}/{method}`` for every
RPC of :mod:`chronik.api.rpc.methods`, answered through the same :func:`serve` as gRPC.

The protocol is gRPC-web's (``doc/PROTOCOL-WEB.md`` of grpc/grpc), unary calls only. A request
is one message frame (a flag byte, a big-endian 32-bit length, the message), in binary
(``application/grpc-web``, ``application/grpc-web+proto``), base64 (``-text``) or with a
protojson message (``+json``). Compressed frames are refused with ``UNIMPLEMENTED``: Chronik
sends and takes only the ``identity`` encoding. A success is HTTP 200 with the response frame
and a trailer frame (flag ``0x80``: ``grpc-status: 0``). Every refusal comes before any
message, so it is "trailers-only", as Envoy answers it and the grpc-web, improbable-eng and
sonora clients read it: an empty body, the status in the HTTP headers (``grpc-status``,
``grpc-message`` percent-encoded, ``grpc-status-details-bin`` the base64 of the same
``google.rpc.Status`` gRPC sends). The metadata are the request's headers
(``authorization``, ``accept-language``, ``x-zitadel-orgid``); ``grpc-timeout`` is honoured.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from chronik.api.rpc.methods import Data, Method, all_methods, serve
from chronik.api.rpc.protojson import from_json, to_json
from chronik.api.rpc.servicer import serializer
from chronik.api.zitadel_status import zitadel_status
from chronik.errors import ChronikError, InvalidArgument
from chronik.services import Chronik

log = logging.getLogger("chronik.api.grpcweb")

_HEADER = struct.Struct(">BI")
_COMPRESSED = 0x01
_TRAILERS = 0x80
_RPC_PATH = re.compile(r"/[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+/[A-Za-z_]\w*")
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
Serialize = Callable[[Data], bytes]
_MESSAGE_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


# The statuses only the transport gives (the core never raises them).
class Unimplemented(ChronikError):
    grpc_code = 12
    http_status = 501


class DeadlineExceeded(ChronikError):
    grpc_code = 4
    http_status = 504


class Internal(ChronikError):
    grpc_code = 13
    http_status = 500


@dataclass(frozen=True, slots=True)
class Codec:
    """How a call's frames are written: base64 or not, message in proto or protojson."""

    text: bool
    json: bool

    @property
    def content_type(self) -> str:
        return (
            f"application/grpc-web{'-text' if self.text else ''}+{'json' if self.json else 'proto'}"
        )


def codec_of(content_type: str | None) -> Codec | None:
    """The codec a request's ``content-type`` names; ``None`` when it is not gRPC-web's."""
    found = re.fullmatch(
        r"application/grpc-web(-text)?(?:\+(proto|json))?",
        (content_type or "").split(";")[0].strip().lower(),
    )
    return None if found is None else Codec(text=bool(found[1]), json=found[2] == "json")


def speaks(scope: Scope) -> bool:
    """Whether a request is a gRPC-web call (for a refusal before routing, in its form)."""
    return codec_of(Headers(scope=scope).get("content-type")) is not None


def _frames(body: bytes) -> bytes:
    """The one message of a unary call's request body; a refusal when the body is not
    exactly one uncompressed message frame."""
    if len(body) < _HEADER.size:
        raise InvalidArgument(
            f"the body holds no gRPC-web message frame ({len(body)} bytes; a frame starts "
            f"with {_HEADER.size})"
        )
    flags, length = _HEADER.unpack_from(body)
    if flags & _COMPRESSED:
        raise Unimplemented("compressed messages are not supported: send grpc-encoding identity")
    if flags:
        raise InvalidArgument(f"the request frame has flags {flags:#04x}; a message has 0")
    message = body[_HEADER.size : _HEADER.size + length]
    if len(message) < length:
        raise InvalidArgument(
            f"the body ends inside its message frame: {length} bytes announced, {len(message)} sent"
        )
    if len(body) > _HEADER.size + length:
        raise InvalidArgument("a unary call takes one message frame; the body holds more")
    return message


def _unbase64(body: bytes) -> bytes:
    """A ``-text`` body decoded: base64, possibly several padded chunks one after another."""
    try:
        return b"".join(
            base64.b64decode(chunk, validate=True)
            for chunk in re.split(rb"(?<==)(?=[^=])", b"".join(body.split()))
        )
    except (binascii.Error, ValueError):
        raise InvalidArgument("the grpc-web-text body is not base64") from None


def _decode(method: Method, codec: Codec, body: bytes) -> ProtoMessage:
    message = _frames(_unbase64(body) if codec.text else body)
    if codec.json:
        try:
            data = msgspec.json.decode(message)
        except msgspec.DecodeError as exc:
            raise InvalidArgument(f"the request message is not JSON: {exc}") from None
        return from_json(method.request, data)
    try:
        return method.request.FromString(message)
    except DecodeError:
        raise InvalidArgument(
            f"the request message is not a valid {method.request.DESCRIPTOR.full_name}"
        ) from None


def _frame(flags: int, payload: bytes) -> bytes:
    return _HEADER.pack(flags, len(payload)) + payload


def _timeout(value: str | None) -> float | None:
    """The seconds of a ``grpc-timeout`` header (``100m``, ``5S``)."""
    if value is None:
        return None
    found = _TIMEOUT.fullmatch(value.strip())
    if found is None:
        raise InvalidArgument(f"grpc-timeout {value!r} is not a timeout (e.g. 100m, 5S)")
    return int(found[1]) * _UNITS[found[2]]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def status_headers(err: ChronikError, codec: Codec | None) -> dict[str, str]:
    """The headers of a trailers-only answer: ``err``'s status, its message percent-encoded
    and the ``google.rpc.Status`` gRPC would send (unpadded base64, as gRPC writes it)."""
    details = base64.b64encode(zitadel_status(err).SerializeToString()).rstrip(b"=")
    return {
        "content-type": (codec or Codec(text=False, json=False)).content_type,
        "grpc-status": str(err.grpc_code),
        "grpc-message": quote(err.message, safe=_MESSAGE_SAFE),
        "grpc-status-details-bin": details.decode("ascii"),
    }


async def refuse(
    err: ChronikError, scope: Scope, send: Send, *, codec: Codec | None = None, http: int = 200
) -> None:
    """Answer a call ``err`` ends before any message, trailers-only."""
    if codec is None:
        codec = codec_of(Headers(scope=scope).get("content-type"))
    headers = [(k.encode(), v.encode("latin-1")) for k, v in status_headers(err, codec).items()]
    await send({"type": "http.response.start", "status": http, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _call(
    method: Method, serialize: Serialize, codec: Codec, scope: Scope, receive: Receive
) -> bytes:
    """The encoded response message of a call; a refusal is a :class:`ChronikError`."""
    headers = Headers(scope=scope)
    chronik: Chronik = scope["app"].state.chronik

    async def read(_: type[ProtoMessage]) -> ProtoMessage:
        return _decode(method, codec, await _body(receive))

    deadline = asyncio.timeout(_timeout(headers.get("grpc-timeout")))
    try:
        async with deadline:
            data = await serve(method, chronik, headers.get, read)
    except TimeoutError:
        if deadline.expired():
            raise DeadlineExceeded("the call's grpc-timeout passed") from None
        raise
    if codec.json:
        return msgspec.json.encode(to_json(method.response, data))
    return serialize(data)


async def _answer(
    method: Method, serialize: Serialize, scope: Scope, receive: Receive, send: Send
) -> None:
    headers = Headers(scope=scope)
    codec = codec_of(headers.get("content-type"))
    if codec is None:
        refusal = InvalidArgument(
            f"{method.path} speaks gRPC-web: the content type must be application/grpc-web, "
            "application/grpc-web+proto, application/grpc-web-text or application/grpc-web+json"
        )
        await refuse(refusal, scope, send, http=415)
        return
    if scope["method"] != "POST":
        await refuse(InvalidArgument("a gRPC-web call is a POST request"), scope, send, http=405)
        return
    try:
        payload = await _call(method, serialize, codec, scope, receive)
    except ChronikError as err:
        await refuse(err, scope, send, codec=codec)
        return
    except ClientDisconnect:
        raise
    except Exception:
        log.exception("unexpected error in %s", method.path)
        internal = Internal("internal error; the server log has the details")
        await refuse(internal, scope, send, codec=codec)
        return
    body = _frame(0, payload) + _frame(_TRAILERS, b"grpc-status: 0\r\n")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", codec.content_type.encode())],
        }
    )
    await send(
        {"type": "http.response.body", "body": base64.b64encode(body) if codec.text else body}
    )


class Rpc(BaseRoute):
    """The route of one RPC (its gRPC path), or, without a method, of every other path
    shaped like one (``/package.Service/Method``), which answers ``UNIMPLEMENTED``. The
    request metrics count each by its ``path``."""

    def __init__(self, method: Method | None) -> None:
        self.method = method
        # The gRPC transport's: it keeps the messages of recently answered events.
        self.serialize = serializer(method.response) if method is not None else None
        self.path = method.path if method is not None else "/{service}/{method}"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        found = path == self.path if self.method else _RPC_PATH.fullmatch(path) is not None
        return (Match.FULL, {"route": self}) if found else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.method is not None and self.serialize is not None:
            await _answer(self.method, self.serialize, scope, receive, send)
            return
        name = scope["path"].removeprefix(scope.get("root_path", ""))
        await refuse(Unimplemented(f"no such method: {name}"), scope, send)


def routes(methods: Iterable[Method] | None = None) -> list[BaseRoute]:
    """One route per RPC of ``methods`` (by default :func:`all_methods`), then the route
    that answers ``UNIMPLEMENTED`` for any other gRPC path."""
    chosen: Mapping[str, Method] = {
        m.path: m for m in (all_methods() if methods is None else methods)
    }
    return [*(Rpc(m) for m in chosen.values()), Rpc(None)]
