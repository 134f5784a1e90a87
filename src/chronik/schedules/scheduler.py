"""Fires due schedules: claims them with a lease, appends each one's event and moves it to
its next fire time in one transaction, and turns a firing that fails into a failed job.

Any number of nodes may run a scheduler against one database: a claim takes schedules no
other live claim holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a firing commits
only while its claim holds, so each fire time appends its event once. A claim that runs out
unfinished (its node died while firing) counts as a failed firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chronik.errors import FailedPrecondition
from chronik.events.append import prepare
from chronik.ids import new_ulid
from chronik.records import (
    Editor,
    Firing,
    FiringFailure,
    NewEvent,
    PendingAppend,
    Schedule,
    reserved,
)
from chronik.retries import Backoff, error_text
from chronik.schedules import rules
from chronik.settings import Settings
from chronik.storage.ports import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OnFire = Callable[[Schedule, NewEvent], Awaitable[NewEvent]]
"""A hook run before a firing commits (the on-fire flows of actions): it returns the event
to append (perhaps with more in its payload); raising fails the firing."""

SERVICE = "chronik.scheduler"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SchedulerStats:
    fired: int = 0
    missed: int = 0
    failed: int = 0


class Scheduler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        owner: str | None = None,
        clock: Clock = utc_now,
        hooks: Sequence[OnFire] = (),
    ) -> None:
        self._db = db
        self._store = db.schedules
        self._settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"
        self._clock = clock
        self._hooks = list(hooks)
        self._lease = timedelta(seconds=settings.schedule_lease_seconds)
        self._threshold = timedelta(seconds=settings.misfire_threshold_seconds)
        self._backoff = Backoff(first=settings.schedule_retry_seconds, factor=2.0, longest=3600.0)
        self._wake = asyncio.Event()
        self.stats = SchedulerStats()

    def wake(self) -> None:
        """Look again now (a schedule was created, changed or resumed in this process)."""
        self._wake.set()

    async def tick(self, limit: int = 500) -> int:
        """Claim and fire what is due now; how many schedules it handled."""
        now = self._clock()
        claimed = await self._store.claim(self.owner, now, now + self._lease, limit)
        firings: list[Firing] = []
        failures: list[FiringFailure] = []
        for schedule, previous, failed_before in claimed:
            if previous is not None:
                message = f"the firing by {previous} did not finish within its lease"
                failures.append(self._failure(schedule, failed_before + 1, message, now))
                continue
            try:
                firing = self._firing(schedule, now)
                if firing.append is not None and self._hooks:
                    event = _event_of(schedule)
                    for hook in self._hooks:
                        event = await hook(schedule, event)
                    firing.append = self._prepared(schedule, event)
            except Exception as exc:
                failures.append(self._failure(schedule, failed_before + 1, error_text(exc), now))
                continue
            firings.append(firing)
        if firings:
            failures += await self._commit(firings, claimed, now)
        for failure in failures:
            await self._store.fail(failure)
        self.stats.failed += len(failures)
        return len(claimed)

    async def _commit(
        self,
        firings: list[Firing],
        claimed: list[tuple[Schedule, str | None, int]],
        now: datetime,
    ) -> list[FiringFailure]:
        """Fire all in one transaction; if that fails, one by one, to find the culprit."""
        try:
            held = await self._store.fire(firings)
            self._count(firings, held)
            return []
        except Exception:
            if len(firings) == 1:
                raise
        by_key = {(s.tenant_id, s.group, s.name): (s, n) for s, _, n in claimed}
        failures = []
        for firing in firings:
            try:
                self._count([firing], await self._store.fire([firing]))
            except Exception as exc:
                schedule, failed_before = by_key[(firing.tenant_id, firing.group, firing.name)]
                failures.append(self._failure(schedule, failed_before + 1, error_text(exc), now))
        return failures

    def _count(self, firings: Sequence[Firing], held: Sequence[bool]) -> None:
        for firing, ok in zip(firings, held, strict=True):
            if ok:
                self.stats.fired += firing.fired
                self.stats.missed += firing.missed

    def _firing(self, s: Schedule, now: datetime) -> Firing:
        due = s.next_fire_at
        assert due is not None, "only schedules with a fire time are claimed"
        fired, missed = 1, 0
        if now - due > self._threshold:
            count, upcoming = rules.missed_between(s.rule, due, now)
            if s.misfire == "skip_to_next":
                fired, missed = 0, count
            else:
                missed = count - 1
        else:
            upcoming = rules.after(s.rule, due)
        limit = s.rule.repeat_limit
        if limit is not None and s.fired + fired >= limit:
            upcoming = None
        return Firing(
            tenant_id=s.tenant_id,
            group=s.group,
            name=s.name,
            owner=self.owner,
            next_fire_at=upcoming,
            append=self._prepared(s, _event_of(s)) if fired else None,
            fired=fired,
            missed=missed,
            now=now,
            due=due,
        )

    def _prepared(self, s: Schedule, event: NewEvent) -> PendingAppend:
        if reserved(event.aggregate_type):  # stored before the namespace was reserved
            raise FailedPrecondition(
                f"aggregate type {event.aggregate_type!r} is reserved for Chronik's own "
                "records: replace the schedule with another aggregate type"
            )
        return prepare(
            s.tenant_id,
            [event],
            request_id=new_ulid(),
            editor=Editor(user_id=f"{s.group}/{s.name}", service=SERVICE),
            max_payload_bytes=self._settings.max_payload_bytes,
            max_events=1,
        )

    def _failure(self, s: Schedule, count: int, error: str, now: datetime) -> FiringFailure:
        quit_ = count >= self._settings.schedule_max_failures
        retry_at = now + timedelta(seconds=self._backoff.delay(count))
        log.info("schedule %s/%s of %s failed (%d): %s", s.group, s.name, s.tenant_id, count, error)
        return FiringFailure(
            tenant_id=s.tenant_id,
            group=s.group,
            name=s.name,
            owner=self.owner,
            failure_count=count,
            state="quit" if quit_ else "queued",
            error=error,
            next_fire_at=s.next_fire_at if quit_ else retry_at,
            now=now,
        )

    async def run(self) -> None:
        """Fire due schedules until cancelled; sleep until the next fire time, a wake-up or
        the poll interval (other nodes may create schedules)."""
        poll = self._settings.follow_poll_seconds
        while True:
            wake = self._wake
            try:
                if await self.tick() > 0:
                    continue
                due = await self._store.next_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the scheduler failed a round; trying again")
                due = None
            timeout = poll
            if due is not None:
                timeout = max(0.0, min(poll, (due - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            if wake.is_set():
                self._wake = asyncio.Event()


def _event_of(s: Schedule) -> NewEvent:
    """The event a firing appends: on the policy's aggregate, or on the schedule's own."""
    return NewEvent(
        aggregate_type=s.aggregate_type,
        aggregate_id=s.policy_locator or f"{s.group}/{s.name}",
        type=s.event_type,
        payload=s.payload,
    )
