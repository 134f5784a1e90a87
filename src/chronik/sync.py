"""The blocking Python API: the async core, run on a private event-loop thread.

    with SyncChronik.open(Settings()) as chronik:
        tenant = chronik.default_tenant()
        chronik.events.append(tenant.id, [NewEvent(aggregate_type="user", aggregate_id="1",
                                                   type="user.added", payload={"name": "Ada"})])
        for event in chronik.events.follow(tenant.id):
            ...

:class:`SyncChronik` has the shape of :class:`~chronik.services.Chronik` because it is a
:class:`Blocking` proxy of one, and so is every service reached through it: one rule turns
any async object into a blocking one, so a method added to the async core is there at once
and nothing is implemented twice.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from typing import TYPE_CHECKING

from anyio.from_thread import start_blocking_portal

from chronik.blocking import Blocking, BlockingIterator, Loop
from chronik.services import Chronik
from chronik.settings import Settings

if TYPE_CHECKING:
    from chronik.actions import Actions
    from chronik.auth.tokens import Tokens
    from chronik.events import Catalogue, EventLog
    from chronik.schedules import Schedules
    from chronik.storage import TenantStore
    from chronik.views import Registry, Views

__all__ = ["Blocking", "BlockingIterator", "SyncChronik"]


class SyncChronik(Blocking[Chronik]):
    """The blocking Python API: :class:`~chronik.services.Chronik`'s attributes and methods,
    as blocking calls (see :class:`Blocking`); ``with SyncChronik.open(Settings()) as c:``."""

    __slots__ = ("_closed", "_stack")

    if TYPE_CHECKING:
        settings: Settings
        events: Blocking[EventLog]
        tenants: Blocking[TenantStore]
        catalogue: Blocking[Catalogue]
        tokens: Blocking[Tokens]
        views: Blocking[Views]
        schedules: Blocking[Schedules]
        actions: Blocking[Actions]

    def __init__(self, chronik: Chronik, loop: Loop, stack: ExitStack) -> None:
        super().__init__(chronik, loop)
        self._stack = stack
        self._closed = False

    @classmethod
    def open(
        cls, settings: Settings, *, migrate: bool = True, views: Registry | None = None
    ) -> SyncChronik:
        """Start the event-loop thread and open ``settings``'s database on it, as
        :meth:`Chronik.open <chronik.services.Chronik.open>` does."""
        stack = ExitStack()
        portal = stack.enter_context(start_blocking_portal())
        try:
            opening = functools.partial(Chronik.open, settings, migrate=migrate, views=views)
            chronik = portal.call(opening)
        except BaseException:
            stack.close()
            raise
        return cls(chronik, Loop(portal), stack)

    def close(self) -> None:
        """Stop what is still iterating, close the database, and end the thread; closing
        again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.close_iterators()
            self._loop.portal.call(self._target.close)
        finally:
            self._stack.close()

    def __enter__(self) -> SyncChronik:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
