"""The remote Python client: Chronik's embedded calls over the native HTTP API.

    with Client("http://127.0.0.1:8080", token=token) as chronik:
        tenant = chronik.tenant_id()
        chronik.events.append(tenant, [NewEvent(aggregate_type="user", aggregate_id="1",
                                                type="user.added")])

:class:`AsyncClient` is the core; :class:`Client` is its blocking view (as
:class:`~chronik.sync.SyncChronik` is the embedded core's). Answers are the embedded API's
records (:class:`~chronik.records.Event`, :class:`~chronik.records.Page`…), errors its
error tree (:mod:`chronik.errors`).
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from anyio.from_thread import start_blocking_portal

from chronik.blocking import Blocking, Loop
from chronik.client.core import AsyncClient

if TYPE_CHECKING:
    from chronik.client.services import RemoteEvents, RemoteViews

__all__ = ["AsyncClient", "Client"]


class Client(Blocking[AsyncClient]):
    """The blocking remote client: :class:`AsyncClient`'s calls as blocking calls, its
    iterators as iterators; ``with Client(url, token=...) as chronik:``. The arguments
    are :class:`AsyncClient`'s."""

    __slots__ = ("_closed", "_stack")

    if TYPE_CHECKING:
        events: Blocking[RemoteEvents]
        views: Blocking[RemoteViews]

    def __init__(self, url: str, *, token: str, **options: Any) -> None:
        stack = ExitStack()
        portal = stack.enter_context(start_blocking_portal())
        try:
            client = portal.call(functools.partial(_open, url, token=token, **options))
        except BaseException:
            stack.close()
            raise
        super().__init__(client, Loop(portal))
        self._stack = stack
        self._closed = False

    def close(self) -> None:
        """Stop what is still iterating, close the connections and end the thread; closing
        again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.close_iterators()
            self._loop.portal.call(self._target.close)
        finally:
            self._stack.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _open(url: str, **options: Any) -> AsyncClient:
    return AsyncClient(url, **options)
