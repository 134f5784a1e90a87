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
from typing import TYPE_CHECKING

from chronik.blocking import Blocking, BlockingIterator, Owning
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


class SyncChronik(Owning[Chronik]):
    """The blocking Python API: :class:`~chronik.services.Chronik`'s attributes and methods,
    as blocking calls (see :class:`Blocking`); ``with SyncChronik.open(Settings()) as c:``."""

    __slots__ = ()

    if TYPE_CHECKING:
        settings: Settings
        events: Blocking[EventLog]
        tenants: Blocking[TenantStore]
        catalogue: Blocking[Catalogue]
        tokens: Blocking[Tokens]
        views: Blocking[Views]
        schedules: Blocking[Schedules]
        actions: Blocking[Actions]

    @classmethod
    def open(
        cls, settings: Settings, *, migrate: bool = True, views: Registry | None = None
    ) -> SyncChronik:
        """Start the event-loop thread and open ``settings``'s database on it, as
        :meth:`Chronik.open <chronik.services.Chronik.open>` does."""
        opening = functools.partial(Chronik.open, settings, migrate=migrate, views=views)
        return cls(*Owning.start(opening))
