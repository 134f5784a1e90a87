"""AdminService on gRPC: the caller from the call's metadata as the JSON routes take it from
headers (``authorization: Bearer <token>``, ``accept-language``), then the RPC's translation,
and a :class:`~chronik.errors.ChronikError` as the call's status.

ZITADEL's Admin API acts on the whole instance, so, as on the JSON routes, the token alone
names the tenant and ``x-zitadel-orgid`` does not change what AdminService answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc
from grpc import aio

from chronik.api.proto.zitadel import admin_pb2, admin_pb2_grpc
from chronik.api.rpc import admin
from chronik.api.zitadel_status import zitadel_status
from chronik.auth.principal import Principal
from chronik.errors import ChronikError
from chronik.events.catalogue import pick_language
from chronik.services import Chronik

log = logging.getLogger("chronik.api.grpc")

R = TypeVar("R")
Q = TypeVar("Q")
Context = aio.ServicerContext[object, object]

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


def _metadata(context: Context, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else None
    return None


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """Serves AdminService's RPCs from one :class:`Chronik`."""

    def __init__(self, chronik: Chronik) -> None:
        self._chronik = chronik

    async def _serve(
        self,
        translate: Callable[[Chronik, Principal, Q, str], Awaitable[R]],
        request: Q,
        context: Context,
    ) -> R:
        """Authenticate the call, then answer ``request`` with its RPC's translation."""
        try:
            caller = await self._chronik.authenticator.authenticate(
                _metadata(context, "authorization")
            )
            language = pick_language(_metadata(context, "accept-language"))
            return await translate(self._chronik, caller, request, language)
        except ChronikError as err:
            await abort(context, err)
        except Exception:
            log.exception("unexpected error in an AdminService call")
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error; the server log has the details"
            )

    async def ListEvents(
        self, request: admin_pb2.ListEventsRequest, context: Context
    ) -> admin_pb2.ListEventsResponse:
        return await self._serve(admin.list_events, request, context)

    async def ListEventTypes(
        self, request: admin_pb2.ListEventTypesRequest, context: Context
    ) -> admin_pb2.ListEventTypesResponse:
        return await self._serve(admin.list_event_types, request, context)

    async def ListAggregateTypes(
        self, request: admin_pb2.ListAggregateTypesRequest, context: Context
    ) -> admin_pb2.ListAggregateTypesResponse:
        return await self._serve(admin.list_aggregate_types, request, context)

    async def ListFailedEvents(
        self, request: admin_pb2.ListFailedEventsRequest, context: Context
    ) -> admin_pb2.ListFailedEventsResponse:
        return await self._serve(admin.list_failed_events, request, context)

    async def RemoveFailedEvent(
        self, request: admin_pb2.RemoveFailedEventRequest, context: Context
    ) -> admin_pb2.RemoveFailedEventResponse:
        return await self._serve(admin.remove_failed_event, request, context)

    async def ListViews(
        self, request: admin_pb2.ListViewsRequest, context: Context
    ) -> admin_pb2.ListViewsResponse:
        return await self._serve(admin.list_views, request, context)
