"""ZITADEL's RPCs as grpc-gateway serves them: one JSON route per RPC, read from its
``google.api.http`` rule.

The request message is the body (rule ``body: "*"``) or the query string (no body), with the
path's ``{field}`` segments set on top; it is read as protojson (unknown fields and enum names
ignored, ``null`` as the default). The answer is the translation's, written as protojson. A
refusal is raised for the app's error handler, which answers it as a ``google.rpc.Status``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chronik.api.http import JSON, services
from chronik.api.rpc.methods import Method, all_methods, serve
from chronik.api.rpc.protojson import field_named, from_json, to_json
from chronik.errors import InvalidArgument

_decoder = msgspec.json.Decoder()


async def _fields(request: Request, method: Method) -> Any:
    """The request's fields as JSON names them: body or query string, then the path's (a
    body that is no JSON object is left for :func:`from_json` to refuse)."""
    data: Any
    if method.http.body == "*":
        raw = await request.body()
        try:
            data = _decoder.decode(raw) if raw.strip() else {}
        except msgspec.DecodeError as exc:
            raise InvalidArgument(f"the body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            return data
    else:
        data = {}
        descriptor: Any = method.request.DESCRIPTOR
        for key, value in request.query_params.multi_items():
            field = field_named(descriptor, key)
            if field is None:
                continue  # as grpc-gateway ignores what the message lacks
            if field.is_repeated:
                data.setdefault(field.name, []).append(value)
            else:
                data[field.name] = value
    data.update(request.path_params)
    return data


def _endpoint(method: Method) -> Any:
    async def endpoint(request: Request) -> Response:
        async def read(message: type[Message]) -> Message:
            return from_json(message, await _fields(request, method))

        data = await serve(method, services(request), request.headers.get, read)
        return JSON(to_json(method.response, data))

    endpoint.__name__ = method.name
    return endpoint


def routes() -> list[Route]:
    """A route for every RPC of :func:`~chronik.api.rpc.methods.all_methods`."""
    return [
        Route(m.http.path, _endpoint(m), methods=[m.http.verb], name=m.name) for m in all_methods()
    ]
