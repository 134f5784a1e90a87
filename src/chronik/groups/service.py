"""Consumer groups (KurrentDB's persistent subscriptions): a named position of a tenant that
several consumers pull from, each event handed to one of them at a time.

A group is a view driven from outside: its read position is the view ``group.<name>``'s
(``chronik views list`` shows it with its lag), and the events its consumers gave up on are
that view's failed events, so that operators list, replay and remove parked events with the
verbs they use for views. What sets it apart is the hand-out: an event is lent to the
consumer that fetched it for ``ack_timeout_seconds``; an acknowledgement ends it, a
``nack`` either retries it (after ``retry_seconds``) or parks it, and one not acknowledged
in time goes to the next consumer that fetches. Handed out ``max_deliveries`` times, it is
parked. Order is the log's within a fetch; across consumers and retries, each consumer
sees events in order but not the group's whole order (as in KurrentDB's round robin).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from chronik.errors import InvalidArgument, NotFound
from chronik.records import ConsumerGroup, Event, EventFilter, FailedEvent, GroupSettings
from chronik.storage.ports import Database

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FETCH = 1000
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Handed:
    """An event lent to a consumer, and how many times it has been handed out."""

    event: Event
    deliveries: int


@dataclass(frozen=True, slots=True)
class GroupStatus:
    group: ConsumerGroup
    position: int
    """The last sequence the group has handed out for the first time."""
    head: int
    in_flight: int
    parked: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class ConsumerGroups:
    def __init__(
        self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._store = db.groups
        self._clock = clock

    async def create(
        self,
        tenant_id: str,
        name: str,
        settings: GroupSettings | None = None,
        *,
        start: Literal["head", "beginning"] = "head",
    ) -> ConsumerGroup:
        """A new group that hands out the events appended from now on (``head``) or every
        event of the log (``beginning``); :class:`AlreadyExists` if the name is taken."""
        group = ConsumerGroup(
            tenant_id=tenant_id,
            name=_named(name),
            settings=_checked(settings or GroupSettings()),
            created_at=self._clock(),
        )
        if start not in ("head", "beginning"):
            raise InvalidArgument("start: head or beginning", field="start")
        position = await self._db.events.head(tenant_id) if start == "head" else 0
        await self._store.create(group, position)
        return group

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup:
        found = await self._store.get(tenant_id, name) if _NAME.fullmatch(name) else None
        if found is None:
            raise NotFound(f"consumer group {name!r} not found")
        return found

    async def find(self, tenant_id: str) -> list[ConsumerGroup]:
        return await self._store.of_tenant(tenant_id)

    async def delete(self, tenant_id: str, name: str) -> None:
        group = await self.get(tenant_id, name)
        if not await self._store.delete(tenant_id, name, group.view):
            raise NotFound(f"consumer group {name!r} not found")

    async def status(self, tenant_id: str, name: str) -> GroupStatus:
        group = await self.get(tenant_id, name)
        state = await self._db.views.state(group.view, tenant_id)
        return GroupStatus(
            group=group,
            position=0 if state is None else state.position,
            head=await self._db.events.head(tenant_id),
            in_flight=await self._store.in_flight(tenant_id, name),
            parked=len(await self.parked(tenant_id, name)),
        )

    # -- consumers ---------------------------------------------------------------------------

    async def fetch(
        self,
        tenant_id: str,
        name: str,
        consumer: str,
        *,
        limit: int = 100,
        wait_seconds: float = 0.0,
    ) -> list[Handed]:
        """Up to ``limit`` events lent to ``consumer``: first those to hand out again (not
        acknowledged in time, retried), then new ones in sequence order. With
        ``wait_seconds`` (at most 30), waits that long for one when there is none."""
        if not 1 <= limit <= MAX_FETCH:
            raise InvalidArgument(f"limit: 1 to {MAX_FETCH}", field="limit")
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise InvalidArgument(f"waitSeconds: 0 to {MAX_WAIT_SECONDS:g}", field="waitSeconds")
        if not 1 <= len(consumer) <= 200 or "\x00" in consumer:
            raise InvalidArgument("consumer: 1 to 200 characters", field="consumer")
        group = await self.get(tenant_id, name)
        deadline = time.monotonic() + wait_seconds
        while True:
            signal = self._db.events.commit_signal()
            handed = await self._fetch(group, consumer, limit)
            left = deadline - time.monotonic()
            if handed or left <= 0:
                return handed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), min(left, 0.5))

    async def _fetch(self, group: ConsumerGroup, consumer: str, limit: int) -> list[Handed]:
        now = self._clock()
        tenant = group.tenant_id
        handed = [
            Handed(await self._event(tenant, lent.sequence), lent.deliveries)
            for lent in await self._store.reclaim(group, consumer, now, limit)
        ]
        for _ in range(10):  # another consumer may move the position meanwhile
            if len(handed) >= limit:
                break
            state = await self._db.views.state(group.view, tenant)
            position = 0 if state is None else state.position
            page = await self._db.events.search(
                EventFilter(
                    tenant_id=tenant,
                    asc=True,
                    limit=limit - len(handed),
                    after=position,
                    event_types=group.settings.event_types,
                    users_only=True,
                )
            )
            if not page:
                break
            sequences = [e.sequence for e in page]
            if await self._store.advance(group, position, sequences[-1], sequences, consumer, now):
                handed += [Handed(e, 1) for e in page]
                break
        return handed

    async def _event(self, tenant_id: str, sequence: int) -> Event:
        found = await self._db.events.read_after(tenant_id, sequence - 1, 1)
        return found[0]

    async def ack(self, tenant_id: str, name: str, sequences: Sequence[int]) -> list[int]:
        """Done with these: the ones that were in flight (returned) are settled for good."""
        group = await self.get(tenant_id, name)
        return await self._store.settle(group, _sequences(sequences), self._clock())

    async def nack(
        self,
        tenant_id: str,
        name: str,
        sequences: Sequence[int],
        *,
        action: Literal["retry", "park"] = "retry",
        reason: str = "",
    ) -> list[int]:
        """Not done: hand these out again after ``retry_seconds`` (``retry``; parked once
        handed out ``max_deliveries`` times), or park them now (``park``)."""
        if action not in ("retry", "park"):
            raise InvalidArgument("action: retry or park", field="action")
        if len(reason) > 2000 or "\x00" in reason:
            raise InvalidArgument("reason: at most 2000 characters", field="reason")
        group = await self.get(tenant_id, name)
        now = self._clock()
        retry_at = None
        if action == "retry":
            retry_at = now + timedelta(seconds=group.settings.retry_seconds)
        error = reason or (
            "retried by its consumer" if action == "retry" else "parked by its consumer"
        )
        return await self._store.settle(
            group, _sequences(sequences), now, error=error, retry_at=retry_at
        )

    # -- operators: parked events --------------------------------------------------------------

    async def parked(self, tenant_id: str, name: str) -> list[FailedEvent]:
        """The group's parked events (failed, not waiting for a retry), by sequence."""
        group = await self.get(tenant_id, name)
        found: list[FailedEvent] = []
        after = (group.view, 0)
        views = self._db.views
        while page := await views.failed(tenant_id, view=group.view, after=after, limit=1000):
            found += [f for f in page if f.retry_at is None]
            after = (group.view, page[-1].sequence)
        return found

    async def replay(self, tenant_id: str, name: str, sequence: int | None = None) -> int:
        """Hand parked events (one, or all) out again with the next fetch."""
        group = await self.get(tenant_id, name)
        count = await self._db.views.retry_failed(tenant_id, group.view, sequence, _AT_ONCE)
        if not count:
            at = "" if sequence is None else f" at sequence {sequence}"
            raise NotFound(f"consumer group {name!r} has no parked event{at}")
        return count

    async def delete_parked(self, tenant_id: str, name: str, sequence: int) -> None:
        group = await self.get(tenant_id, name)
        if not await self._db.views.remove_failed(tenant_id, group.view, sequence):
            raise NotFound(f"consumer group {name!r} has no parked event at sequence {sequence}")


def _named(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"name {name!r}: 1 to 200 letters, digits, '_', '.' or '-'", field="name"
        )
    return name


def _checked(settings: GroupSettings) -> GroupSettings:
    if not 0.1 <= settings.ack_timeout_seconds <= 3600:
        raise InvalidArgument("ackTimeoutSeconds: 0.1 to 3600", field="ackTimeoutSeconds")
    if not 1 <= settings.max_deliveries <= 100:
        raise InvalidArgument("maxDeliveries: 1 to 100", field="maxDeliveries")
    if not 0 <= settings.retry_seconds <= 86_400:
        raise InvalidArgument("retrySeconds: 0 to 86400", field="retrySeconds")
    if len(settings.event_types) > 100:
        raise InvalidArgument("eventTypes: at most 100", field="eventTypes")
    for event_type in settings.event_types:
        if not 1 <= len(event_type) <= 200 or "\x00" in event_type:
            raise InvalidArgument("eventTypes[]: 1 to 200 characters", field="eventTypes")
    return settings


def _sequences(sequences: Sequence[int]) -> list[int]:
    if len(sequences) > MAX_FETCH:
        raise InvalidArgument(f"sequences: at most {MAX_FETCH}", field="sequences")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sequences):
        raise InvalidArgument("sequences: positive integers", field="sequences")
    return sorted(set(sequences))
