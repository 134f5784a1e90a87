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
from typing import TYPE_CHECKING, Any

from chronik.blocking import Blocking, Owning
from chronik.client.core import AsyncClient

if TYPE_CHECKING:
    from chronik.client.groups import RemoteGroups
    from chronik.client.schedules import RemoteSchedules
    from chronik.client.services import RemoteEvents, RemoteViews
    from chronik.client.tokens import RemoteTokens
    from chronik.client.webhooks import RemoteWebhooks

__all__ = ["AsyncClient", "Client"]


class Client(Owning[AsyncClient]):
    """The blocking remote client: :class:`AsyncClient`'s calls as blocking calls, its
    iterators as iterators; ``with Client(url, token=...) as chronik:``. The arguments
    are :class:`AsyncClient`'s; :meth:`close` closes the connections and ends the thread."""

    __slots__ = ()

    if TYPE_CHECKING:
        events: Blocking[RemoteEvents]
        views: Blocking[RemoteViews]
        schedules: Blocking[RemoteSchedules]
        tokens: Blocking[RemoteTokens]
        webhooks: Blocking[RemoteWebhooks]
        groups: Blocking[RemoteGroups]

    def __init__(self, url: str, *, token: str, **options: Any) -> None:
        super().__init__(*Owning.start(functools.partial(_open, url, token=token, **options)))


async def _open(url: str, **options: Any) -> AsyncClient:
    return AsyncClient(url, **options)
