"""The blocking Python API: the async core run on a private event loop thread.

    with SyncChronik.open(Settings()) as chronik:
        tenant = chronik.default_tenant()
        chronik.append(tenant.id, [NewEvent(aggregate_type="user", aggregate_id="1",
                                            type="user.added", payload={"name": "Ada"})])

Every method calls the same coroutine the async API has; nothing is implemented twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from chronik.events import EventQuery, Page
from chronik.records import Editor, Event, ExpectedVersion, NewEvent, Tenant
from chronik.services import Chronik
from chronik.settings import Settings


class SyncChronik:
    def __init__(self, portal: BlockingPortal, chronik: Chronik, stack: ExitStack) -> None:
        self._portal = portal
        self._chronik = chronik
        self._stack = stack

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> SyncChronik:
        stack = ExitStack()
        portal = stack.enter_context(start_blocking_portal())
        try:
            chronik = portal.call(lambda: Chronik.open(settings, migrate=migrate))
        except BaseException:
            stack.close()
            raise
        return cls(portal, chronik, stack)

    def append(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        *,
        expected: Iterable[ExpectedVersion] = (),
        request_id: str | None = None,
        editor: Editor | None = None,
    ) -> list[Event]:
        async def call() -> list[Event]:
            return await self._chronik.events.append(
                tenant_id, events, expected=expected, request_id=request_id, editor=editor
            )

        return self._portal.call(call)

    def get(self, tenant_id: str, locator: str) -> Event:
        return self._portal.call(self._chronik.events.get, tenant_id, locator)

    def search(self, tenant_id: str, query: EventQuery) -> Page:
        return self._portal.call(self._chronik.events.search, tenant_id, query)

    def stream(
        self,
        tenant_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        event_type: str | None = None,
        page_size: int | None = None,
    ) -> Page:
        async def call() -> Page:
            return await self._chronik.events.stream(
                tenant_id, start=start, end=end, event_type=event_type, page_size=page_size
            )

        return self._portal.call(call)

    def next_page(self, tenant_id: str, paging_token: str) -> Page:
        return self._portal.call(self._chronik.events.next_page, tenant_id, paging_token)

    def follow(self, tenant_id: str | None = None, *, after: int = 0) -> Iterator[Event]:
        """Every event after ``after``, blocking for new ones; stop by breaking out."""
        batches = self._chronik.events.follow_batches(tenant_id, after=after)
        try:
            while True:
                yield from self._portal.call(batches.__anext__)
        finally:
            self._portal.call(batches.aclose)

    def default_tenant(self) -> Tenant:
        return self._portal.call(self._chronik.default_tenant)

    def create_tenant(self, name: str) -> Tenant:
        return self._portal.call(self._chronik.tenants.create, name)

    def close(self) -> None:
        try:
            self._portal.call(self._chronik.close)
        finally:
            self._stack.close()

    def __enter__(self) -> SyncChronik:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
