"""The event log: append, read, search and follow, for every capability built on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime

import msgspec

from chronik.errors import NotFound
from chronik.events import paging
from chronik.events.append import prepare, refuse_reserved
from chronik.events.commit import GroupCommitter
from chronik.events.fanout import Fanout, Subscription
from chronik.events.query import page_filter, search_cursor, stream_cursor
from chronik.ids import is_ulid
from chronik.records import Editor, Event, EventQuery, ExpectedVersion, NewEvent, Page, reserved
from chronik.settings import Settings
from chronik.storage.ports import Database

BeforeAppend = Callable[[str, Sequence[NewEvent]], Awaitable[Sequence[NewEvent]]]
"""Runs before an append is checked and queued (the pre-append flows of actions): returns
the events to append, perhaps with more in their payloads, or raises to refuse them all."""


class EventLog:
    """The async core of the log; :class:`chronik.sync.SyncChronik` wraps it for sync code."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._store = db.events
        self._settings = settings
        self._committer = GroupCommitter(db.events, max_events=settings.max_batch_events)
        self._paging_key: bytes | None = None
        self.before_append: BeforeAppend | None = None
        self._fanout = Fanout(
            lambda tenant_id, after: self.follow_batches(tenant_id, after=after),
            self._store.search,
            bound=settings.subscribe_queue_events,
        )

    async def append(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        *,
        expected: Iterable[ExpectedVersion] = (),
        request_id: str | None = None,
        editor: Editor | None = None,
        flows: bool = True,
    ) -> list[Event]:
        """Append ``events`` atomically and return them as stored.

        Raises :class:`~chronik.errors.Conflict` (writing nothing) when an aggregate is not
        at its expected version. A retry returns the events the first attempt stored and stores
        nothing, when the caller chose the locators or named the ``request_id`` (the events'
        locators then derive from it). Raises :class:`~chronik.errors.InvalidArgument` for an
        event of a reserved aggregate type (``chronik.…``). ``flows=False`` skips
        :attr:`before_append` (a restore keeps history as it was).
        """
        refuse_reserved(events)
        if flows and self.before_append is not None:
            given, events = events, await self.before_append(tenant_id, events)
            if events is not given:
                refuse_reserved(events)
        return await self._submit(tenant_id, events, expected, request_id, editor)

    async def append_own(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        *,
        expected: Iterable[ExpectedVersion] = (),
        request_id: str | None = None,
        editor: Editor | None = None,
    ) -> list[Event]:
        """Append Chronik's own records: for the service that owns them, after its own
        validation. Every event must be of a reserved aggregate type; no flow runs on them."""
        for event in events:
            if not reserved(event.aggregate_type):
                raise ValueError(f"{event.aggregate_type!r} is not one of Chronik's own types")
        return await self._submit(tenant_id, events, expected, request_id, editor)

    async def _submit(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        expected: Iterable[ExpectedVersion],
        request_id: str | None,
        editor: Editor | None,
    ) -> list[Event]:
        pending = prepare(
            tenant_id,
            events,
            expected=expected,
            request_id=request_id,
            editor=editor,
            max_payload_bytes=self._settings.max_payload_bytes,
            max_events=self._settings.max_batch_events,
            retried_by_request=True,
        )
        return await self._committer.submit(pending)

    async def get(self, tenant_id: str, locator: str) -> Event:
        event = await self._store.get(tenant_id, locator) if is_ulid(locator) else None
        if event is None:
            raise NotFound(f"event {locator!r} not found")
        return event

    async def of_request(self, tenant_id: str, request_id: str) -> list[Event]:
        """The events one append stored, in order; empty for an unknown request."""
        if not is_ulid(request_id):
            return []
        return await self._store.of_request(tenant_id, request_id)

    async def _key(self) -> bytes:
        if self._paging_key is None:
            self._paging_key = await self._db.secret("paging")
        return self._paging_key

    async def _page(self, cursor: paging.Cursor) -> Page:
        events = await self._store.search(await page_filter(self._store, cursor))
        if events:
            cursor = msgspec.structs.replace(cursor, position=events[-1].sequence)
        return Page(events, paging.encode(cursor, await self._key()))

    async def search(self, tenant_id: str, query: EventQuery) -> Page:
        """One page of ZITADEL ListEvents semantics."""
        s = self._settings
        cursor = search_cursor(
            tenant_id, query, default_limit=s.search_default_limit, max_limit=s.search_max_limit
        )
        return await self._page(cursor)

    async def stream(
        self,
        tenant_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        event_type: str | None = None,
        page_size: int | None = None,
        system: bool = False,
    ) -> Page:
        """The first page of a Socotra event stream, in sequence order; Chronik's own
        records only when ``system``."""
        s = self._settings
        cursor = stream_cursor(
            tenant_id,
            start=start,
            end=end,
            event_type=event_type,
            page_size=page_size,
            system=system,
            default_limit=s.search_default_limit,
            max_limit=s.search_max_limit,
        )
        return await self._page(cursor)

    async def next_page(self, tenant_id: str, paging_token: str) -> Page:
        """The page after the one ``paging_token`` came with (the same filters)."""
        return await self._page(paging.decode(paging_token, await self._key(), tenant_id))

    async def follow_batches(
        self, tenant_id: str | None = None, *, after: int | dict[str, int] = 0, batch: int = 1000
    ) -> AsyncGenerator[list[Event], None]:
        """The tenant's events after sequence ``after`` in sequence order, in batches,
        forever: woken by commits (in this process, or by NOTIFY on PostgreSQL) and polling
        as a fallback.

        Without a tenant, every tenant's: each batch is one tenant's, in its order, and
        ``after`` is where each tenant starts (a number for all of them, or one per tenant
        id; a tenant missing from it, or made later, starts at its beginning). Sequences are
        per tenant, so there is no order across tenants to keep."""
        poll = self._settings.follow_poll_seconds
        if tenant_id is not None:
            start = after if isinstance(after, int) else after.get(tenant_id, 0)
            cursors = {tenant_id: start}
        else:
            cursors = dict(after) if isinstance(after, dict) else {}
            every = after if isinstance(after, int) else 0
        while True:
            signal = self._store.commit_signal()
            if tenant_id is None:
                for known in await self._db.tenants.list():
                    cursors.setdefault(known.id, every)
                every = 0  # tenants made from now on start at their beginning
            full = False
            for of, position in cursors.items():
                events = await self._store.read_after(of, position, batch)
                if events:
                    cursors[of] = events[-1].sequence
                    full = full or len(events) == batch
                    yield events
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), poll)

    async def follow(
        self, tenant_id: str | None = None, *, after: int | dict[str, int] = 0
    ) -> AsyncIterator[Event]:
        async for events in self.follow_batches(tenant_id, after=after):
            for event in events:
                yield event

    async def subscribe(
        self, tenant_id: str, query: EventQuery, *, after: int | None = None
    ) -> Subscription:
        """A live subscription to the events of ``tenant_id`` that ``query``'s filters match
        (ordering, limit, sequence and time bounds are its own), after sequence ``after``: by
        default the head, so new events only. Raises
        :class:`~chronik.errors.InvalidArgument` for filters the search would refuse."""
        s = self._settings
        cursor = search_cursor(
            tenant_id,
            msgspec.structs.replace(
                query, asc=True, limit=0, sequence=0, creation_date=None, since=None, until=None
            ),
            default_limit=s.search_default_limit,
            max_limit=s.search_max_limit,
        )
        start = await self.head(tenant_id) if after is None else after
        return self._fanout.subscribe(cursor, start)

    @property
    def subscribers(self) -> tuple[int, int]:
        """Live subscribers now, and those dropped for falling behind so far."""
        return self._fanout.live, self._fanout.dropped

    async def first_at(self, tenant_id: str, at: datetime) -> int:
        """The sequence of the tenant's first event created at or after ``at`` (past its
        head: ``head + 1``)."""
        return await self._store.sequence_at(tenant_id, at, inclusive=True)

    async def head(self, tenant_id: str) -> int:
        """The tenant's last sequence (0 before its first event)."""
        return await self._store.head(tenant_id)

    async def heads(self) -> dict[str, int]:
        """Every tenant's last sequence, by tenant id."""
        return {t.id: await self._store.head(t.id) for t in await self._db.tenants.list()}

    async def close(self) -> None:
        self._fanout.close()
        await self._committer.close()
