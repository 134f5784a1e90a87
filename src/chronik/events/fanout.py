"""Live subscriptions to the log: one follower per tenant reads each new batch once (through
:meth:`~chronik.events.log.EventLog.follow_batches`, so woken by commits and NOTIFY, with
polling as a fallback) and hands it to every subscriber's bounded queue.

A subscriber that resumes after a sequence first catches up with keyset pages of the search,
joins its tenant's follower once a page comes back short, then reads once more: the follower
delivers everything after its position, the last read everything up to the head it saw, and
what both hold is passed over by sequence, so nothing is missed or repeated at the seam. A
subscriber whose queue grows past its bound is dropped (its queue freed) and told the
sequence to resume after; nothing is buffered without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable

from chronik.events.paging import Cursor
from chronik.events.query import bounded
from chronik.records import Event, EventFilter, reserved

log = logging.getLogger("chronik.events.fanout")

CATCH_UP_PAGE = 1000
"""Events per page while a subscriber catches up."""

Follow = Callable[[str, int], AsyncGenerator[list[Event], None]]
Read = Callable[[EventFilter], Awaitable[list[Event]]]


class FellBehind(Exception):
    """The subscriber's queue passed its bound: it was dropped; ``after`` is the sequence of
    the last event it was given, where it resumes."""

    def __init__(self, after: int) -> None:
        super().__init__(f"the subscriber fell behind; resume after {after}")
        self.after = after


class Subscription:
    """One subscriber: :meth:`next` gives its events in sequence order, once each."""

    def __init__(self, fanout: Fanout, cursor: Cursor, after: int, bound: int) -> None:
        self._fanout = fanout
        self._cursor = cursor
        self._bound = bound
        self._queue: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._feed: Feed | None = None
        self.last = after
        """The sequence of the last event given out (or the start): where to resume."""
        self.live = False
        """Caught up: from now on events come from the follower."""
        self.dropped = False
        self.ended = False

    @property
    def tenant_id(self) -> str:
        return self._cursor.tenant_id

    def matches(self, e: Event) -> bool:
        c = self._cursor
        return (
            (not c.event_types or e.type in c.event_types)
            and (not c.aggregate_types or e.aggregate_type in c.aggregate_types)
            and (not c.aggregate_id or e.aggregate_id == c.aggregate_id)
            and (not c.editor_user_id or e.editor_user_id == c.editor_user_id)
            and (not c.resource_owner or e.resource_owner == c.resource_owner)
            and (not c.correlation_id or e.correlation_id == c.correlation_id)
            and not (c.users_only and reserved(e.aggregate_type))
        )

    def offer(self, events: list[Event]) -> None:
        """Take the subscriber's share of a batch the follower read; past the bound, drop it."""
        if self.dropped or self.ended:
            return
        added = False
        for e in events:
            if self.matches(e):
                self._queue.append(e)
                added = True
        if len(self._queue) > self._bound:
            self.dropped = True
            self._fanout.dropped += 1
            self._queue.clear()
            self._leave()
            self._wake.set()
        elif added:
            self._wake.set()

    def end(self) -> None:
        """End the subscription (the server shuts down): :meth:`next` returns ``None``."""
        self.ended = True
        self._queue.clear()
        self._leave()
        self._wake.set()

    def _leave(self) -> None:
        if self._feed is not None:
            self._feed.remove(self)
            self._feed = None

    async def next(self, idle: float) -> list[Event] | None:
        """The next events: a page while catching up, then what the follower brought; an
        empty list after ``idle`` seconds without any (or on becoming :attr:`live`);
        ``None`` once ended. Raises :class:`FellBehind` once dropped."""
        if not self.live:
            return await self._catch_up()
        while True:
            if self.dropped:
                raise FellBehind(self.last)
            if self.ended:
                return None
            if self._queue:
                batch = [e for e in self._queue if e.sequence > self.last]
                self._queue.clear()
                if batch:
                    self.last = batch[-1].sequence
                    return batch
            self._wake.clear()
            try:
                async with asyncio.timeout(idle):
                    await self._wake.wait()
            except TimeoutError:
                return []

    async def _catch_up(self) -> list[Event] | None:
        if self.dropped:
            raise FellBehind(self.last)
        if self.ended:
            return None
        page = await self._fanout.read(
            bounded(self._cursor, after=self.last, asc=True, limit=CATCH_UP_PAGE)
        )
        if page:
            self.last = page[-1].sequence
        if len(page) < CATCH_UP_PAGE and not (self.ended or self.dropped):
            if self._feed is not None:
                # This read began after joining: the follower has everything after it.
                self.live = True
            else:
                self._feed = self._fanout.join(self)
        return page

    def close(self) -> None:
        """Leave the follower (the subscriber went away)."""
        self.ended = True
        self._queue.clear()
        self._leave()


class Feed:
    """One tenant's follower: reads each new batch once and offers it to its subscribers."""

    def __init__(self, fanout: Fanout, tenant_id: str, position: int) -> None:
        self._fanout = fanout
        self.tenant_id = tenant_id
        self.position = position
        self.subscribers: set[Subscription] = set()
        self._task = asyncio.create_task(self._run(), name=f"chronik-feed-{tenant_id}")

    async def _run(self) -> None:
        try:
            batches = self._fanout.follow(self.tenant_id, self.position)
            async with contextlib.aclosing(batches):
                async for events in batches:
                    # No await between these: a subscriber that joins sees every event
                    # after ``position`` offered to it.
                    for subscriber in list(self.subscribers):
                        subscriber.offer(events)
                    self.position = events[-1].sequence
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following tenant %s failed; ending its subscriptions", self.tenant_id)
            for subscriber in list(self.subscribers):
                subscriber.end()

    def remove(self, subscriber: Subscription) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self._fanout.forget(self)

    def stop(self) -> None:
        self._task.cancel()


class Fanout:
    """The followers of one process, one per tenant that has subscribers."""

    def __init__(self, follow: Follow, read: Read, *, bound: int) -> None:
        self.follow = follow
        self.read = read
        self.bound = bound
        self._feeds: dict[str, Feed] = {}
        self.dropped = 0
        """Subscribers dropped for falling behind, since the process started."""

    @property
    def live(self) -> int:
        """Subscribers that receive from a follower now."""
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    def subscribe(self, cursor: Cursor, after: int) -> Subscription:
        """A subscriber of ``cursor``'s tenant and filters, after sequence ``after``."""
        return Subscription(self, cursor, after, self.bound)

    def join(self, subscriber: Subscription) -> Feed:
        feed = self._feeds.get(subscriber.tenant_id)
        if feed is None:
            feed = Feed(self, subscriber.tenant_id, subscriber.last)
            self._feeds[subscriber.tenant_id] = feed
        feed.subscribers.add(subscriber)
        return feed

    def forget(self, feed: Feed) -> None:
        if self._feeds.get(feed.tenant_id) is feed:
            del self._feeds[feed.tenant_id]
        feed.stop()

    def close(self) -> None:
        """End every subscription (the process shuts down)."""
        for feed in list(self._feeds.values()):
            for subscriber in list(feed.subscribers):
                subscriber.end()
            feed.stop()
        self._feeds.clear()
