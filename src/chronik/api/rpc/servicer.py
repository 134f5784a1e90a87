"""ZITADEL's services on gRPC: one generic handler per service, built from
:mod:`chronik.api.rpc.methods`. The call's metadata stands in for the JSON routes' headers
(``authorization: Bearer <token>``, ``accept-language``, ``x-zitadel-orgid``); a
:class:`~chronik.errors.ChronikError` ends the call with its status.

ZITADEL's Admin API acts on the whole instance, so, as on the JSON routes, the token alone
names the tenant there; Management calls act in the organisation ``x-zitadel-orgid`` names.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc import aio

from chronik.api.rpc.methods import Data, Kept, Method, Shared, serve
from chronik.api.zitadel_status import zitadel_status
from chronik.errors import ChronikError
from chronik.services import Chronik

log = logging.getLogger("chronik.api.grpc")

Context = aio.ServicerContext[Any, Any]

_CODES = {code.value[0]: code for code in grpc.StatusCode}


async def abort(context: Context, err: ChronikError) -> NoReturn:
    """End the call with ``err``'s status: its gRPC code and message, and in the
    ``grpc-status-details-bin`` trailer the same ``google.rpc.Status`` (with its details)
    that the JSON routes answer."""
    details = zitadel_status(err).SerializeToString()
    await context.abort(
        _CODES.get(err.grpc_code, grpc.StatusCode.UNKNOWN),
        err.message,
        trailing_metadata=(("grpc-status-details-bin", details),),
    )


def _handler(chronik: Chronik, method: Method) -> grpc.RpcMethodHandler[Any, Any]:
    async def handle(request: Message, context: Context) -> Data:
        metadata = {
            name: value
            for name, value in context.invocation_metadata() or ()
            if isinstance(value, str)
        }

        async def read(_: type[Message]) -> Message:
            return request

        try:
            return await serve(method, chronik, metadata.get, read)
        except ChronikError as err:
            await abort(context, err)
        except Exception:
            log.exception("unexpected error in %s", method.path)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error; the server log has the details"
            )

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=method.request.FromString,
        response_serializer=serializer(method.response),
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _entry(number: int, message: type[Message]) -> Callable[[Shared], bytes]:
    """The wire bytes of one element of repeated message field ``number``: its tag, its
    length and the message built from the data."""
    tag = _varint(number << 3 | 2)  # wire type 2: length-delimited
    return lambda data: tag + _varint(len(body := message(**data).SerializeToString())) + body


def serializer(response: type[Message]) -> Callable[[Data], bytes]:
    """The wire bytes of a translation's answer. Building a message from plain data costs
    about 20 µs per event, so the encoded entries of :class:`Shared` data in the answer's
    lists (the events of ListEvents) are kept and reused. A message's encoding is the
    concatenation of its fields' encodings, in any order, so the kept entries follow the
    encoding of the rest of the answer."""
    descriptor: Any = response.DESCRIPTOR
    lists = {}
    for f in descriptor.fields:
        if f.is_repeated and f.type == FieldDescriptor.TYPE_MESSAGE:
            entry = _entry(f.number, GetMessageClass(f.message_type))
            lists[f.name] = (entry, Kept(entry))

    def serialize(data: Data) -> bytes:
        entries: list[bytes] = []
        for name, (entry, kept) in lists.items():
            items = data.get(name)
            if items and any(type(i) is Shared for i in items):
                entries += [kept(i) if type(i) is Shared else entry(i) for i in items]
                data = {k: v for k, v in data.items() if k != name}
        return response(**data).SerializeToString() + b"".join(entries)

    return serialize


def handlers(chronik: Chronik, methods: Iterable[Method]) -> list[grpc.GenericRpcHandler]:
    """One generic handler per service of ``methods``, answering from ``chronik``."""
    by_service: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = defaultdict(dict)
    for method in methods:
        by_service[method.service][method.name] = _handler(chronik, method)
    return [grpc.method_handlers_generic_handler(s, h) for s, h in by_service.items()]
