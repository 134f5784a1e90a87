"""Runs views: reads each tenant's events after a view's position, hands them to its
handler in batches, and commits the position, the view's rows and its failed events in
one transaction.

Exactly once: the commit is a compare-and-set on the position the batch started from (and
the view's generation and owner), so a runner that lost the view meanwhile (to a reset, an
operator who removed the event it waited on, or another node after its lease ran out)
writes nothing and starts over from what is stored. Several nodes may run the same views:
each (view, tenant) is leased to one of them at a time, and a lease that is not renewed
runs out after ``lease_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chronik.ids import new_ulid
from chronik.records import Event, EventFilter, FailedEvent, FailureUpdate, ViewCommit, ViewState
from chronik.retries import error_text
from chronik.storage.ports import Database
from chronik.views.rows import Rows
from chronik.views.view import Registry, Unprocessable, View

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_POSITION_EVERY = 1.0
"""Seconds between commits that only move a view's position past events of other types."""
_COUNT_EVERY = 5.0
"""Seconds between counts of a view's failed events (for the metrics), unless it changed."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Step(enum.Enum):
    """What one step of a (view, tenant) did."""

    PROGRESSED = "progressed"  # handled events or moved the position
    IDLE = "idle"  # caught up
    WAITING = "waiting"  # on a failed event's backoff, or stopped for an operator
    PAUSED = "paused"
    ELSEWHERE = "elsewhere"  # another node holds the lease
    LOST = "lost"  # the commit was refused; the next step starts from what is stored


@dataclass
class _Lease:
    state: ViewState
    until: float  # monotonic
    rows: Rows
    committed: float = 0.0  # monotonic
    counted: float = 0.0  # monotonic: when its failed events were last counted
    ahead: tuple[int, asyncio.Task[_Page]] | None = None
    """The page after a sequence, read while the batch before it is handled."""

    def drop_ahead(self) -> None:
        if self.ahead is not None:
            self.ahead[1].cancel()
            self.ahead = None


_Page = tuple[int, list[Event]]  # the head read before the page, and the page


def _forget_failure(task: asyncio.Task[_Page]) -> None:
    if not task.cancelled():
        task.exception()  # a page read ahead and not used: its failure is not news


@dataclass
class Stats:
    """Per view, since the runner started: handled events, failures, handler seconds; and
    per tenant the position, the tenant's head it last saw, and its last event's time."""

    handled: int = 0
    failures: int = 0
    handler_seconds: float = 0.0
    positions: dict[str, int] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    event_times: dict[str, datetime] = field(default_factory=dict)


class ViewRunner:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        owner: str | None = None,
        clock: Clock = utc_now,
        lease_seconds: float = 10.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._db = db
        self._store = db.views
        self._events = db.events
        self.registry = registry
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._wake = asyncio.Event()
        self._progress: asyncio.Event | None = None
        self._due: dict[str, datetime] = {}
        self._skipped: dict[tuple[str, str], float] = {}
        """When a view that skips a tenant last stepped there (monotonic)."""
        self.stats: dict[str, Stats] = {v.name: Stats() for v in registry}
        """Per view name; views registered after the runner was made join on first step."""

    def wake(self) -> None:
        """Look again now (an operator retried, removed or reset something)."""
        self._wake.set()

    def due(self, view_name: str) -> datetime | None:
        """When the earliest failed event of ``view_name`` that a step waits on is due (and
        forget it: the next step notes it again)."""
        return self._due.pop(view_name, None)

    def progress_signal(self) -> asyncio.Event:
        """An event set by this runner's next commit (of any view and tenant): take it
        before reading a position, wait on it after."""
        if self._progress is None:
            self._progress = asyncio.Event()
        return self._progress

    # -- one step --------------------------------------------------------------------------

    async def step(self, view: View, tenant_id: str) -> Step:
        """Process at most one batch of ``view`` for ``tenant_id``."""
        lease = await self._lease(view, tenant_id)
        if lease is None:
            return Step.ELSEWHERE
        try:
            return await self._step(view, tenant_id, lease)
        except BaseException:
            # Whatever the handlers wrote in memory is not stored: forget it all, and read
            # the view's state again next time.
            lease.rows.forget()
            lease.drop_ahead()
            self._leases.pop((view.name, tenant_id), None)
            raise

    def _stats(self, view: View) -> Stats:
        stats = self.stats.get(view.name)
        if stats is None:  # called per event: no new Stats() unless it is missing
            stats = self.stats[view.name] = Stats()
        return stats

    async def _step(self, view: View, tenant_id: str, lease: _Lease) -> Step:
        if time.monotonic() - lease.counted > _COUNT_EVERY:
            count = await self._store.count_failed(tenant_id, view.name)
            self._stats(view).failed[tenant_id] = count
            lease.counted = time.monotonic()
        state = lease.state
        if state.paused:
            return Step.PAUSED
        now = self._clock()
        batch = ViewCommit(
            view=view.name,
            tenant_id=tenant_id,
            owner=self.owner,
            generation=state.generation,
            expected_position=state.position,
            position=state.position,
            event_at=None,
            now=now,
            lease_until=now + timedelta(seconds=self._lease_seconds),
        )
        pending = await self._store.pending(view.name, tenant_id)
        rows = lease.rows
        for failed in pending:
            if failed.sequence <= state.position and _due(failed, now):
                await self._retry_skipped(view, tenant_id, failed, rows, batch)
        waiting_on = next((f for f in pending if f.sequence > state.position), None)
        outcome = Step.IDLE
        if waiting_on is not None and not _due(waiting_on, now):
            outcome = Step.WAITING
            self._note_due(view.name, waiting_on.retry_at)
        else:
            outcome = await self._batch(view, lease, waiting_on, batch)
            if outcome is Step.WAITING and batch.failures:
                self._note_due(view.name, batch.failures[-1].retry_at)
        batch.puts, batch.deletes = rows.changes()
        handled = batch.event_at is not None or batch.failures or batch.resolved
        if not handled and not batch.puts and not batch.deletes:
            # Only the head moved past events of other types: worth a write now and then
            # (the position shows in views/_search), not after every append of the log.
            quiet = time.monotonic() - lease.committed < _POSITION_EVERY
            if batch.position == state.position or quiet:
                return Step.IDLE if outcome is Step.IDLE else outcome
        if not await self._store.commit(batch):
            lease.rows.forget()
            lease.drop_ahead()
            self._leases.pop((view.name, tenant_id), None)
            return Step.LOST
        rows.committed()
        lease.committed = time.monotonic()
        if self._progress is not None:
            self._progress.set()
            self._progress = None
        if batch.failures or batch.resolved:
            lease.counted = 0.0
        lease.state = _advanced(state, batch)
        lease.until = time.monotonic() + self._lease_seconds / 2
        stats = self._stats(view)
        stats.positions[tenant_id] = batch.position
        if lease.state.event_at is not None:
            stats.event_times[tenant_id] = lease.state.event_at
        return Step.PROGRESSED if outcome is Step.IDLE else outcome

    def _note_due(self, view_name: str, at: datetime | None) -> None:
        """Remember when a failed event of ``view_name`` is due, to wake up for it."""
        if at is not None:
            known = self._due.get(view_name)
            self._due[view_name] = at if known is None else min(known, at)

    async def _page(self, view: View, tenant_id: str, after: int) -> _Page:
        """The next batch of ``view``'s events after ``after``, and the head read before it
        (all events up to that head are visible to the read)."""
        head = await self._events.head(tenant_id)
        events = await self._events.search(
            EventFilter(
                tenant_id=tenant_id,
                asc=True,
                limit=view.batch,
                after=after,
                event_types=view.event_types,
                aggregate_types=view.aggregate_types,
            )
        )
        return head, events

    async def _batch(
        self, view: View, lease: _Lease, waiting_on: FailedEvent | None, batch: ViewCommit
    ) -> Step:
        state, rows, tenant_id = lease.state, lease.rows, batch.tenant_id
        if view.skips is not None and waiting_on is None and await view.skips(tenant_id):
            lease.drop_ahead()
            head = await self._events.head(tenant_id)
            self._stats(view).heads[tenant_id] = head
            batch.position = max(batch.position, head)
            return Step.IDLE
        ahead, lease.ahead = lease.ahead, None
        if ahead is not None and ahead[0] == state.position:
            head, events = await ahead[1]
        else:
            if ahead is not None:
                ahead[1].cancel()
            head, events = await self._page(view, tenant_id, state.position)
        stats = self._stats(view)
        stats.heads[tenant_id] = max(head, events[-1].sequence if events else 0)
        if len(events) == view.batch:
            # Catching up: read the next page while this one is handled and committed.
            task = asyncio.create_task(self._page(view, tenant_id, events[-1].sequence))
            task.add_done_callback(_forget_failure)
            lease.ahead = (events[-1].sequence, task)
        failures = {waiting_on.sequence: waiting_on} if waiting_on else {}
        for event in events:
            if time.monotonic() >= lease.until and not await self._renew(view, lease, batch):
                return Step.IDLE  # another node has the view now: this batch cannot commit
            failed = failures.get(event.sequence)
            error, hopeless = await self._handle(view, event, rows)
            if error is None:
                batch.position = event.sequence
                batch.event_at = event.created_at
                if failed is not None:
                    batch.resolved.append(event.sequence)
                continue
            count = (failed.failure_count if failed else 0) + 1
            if hopeless:
                count = max(count, view.max_failures)
            exhausted = count >= view.max_failures
            retry_at = (
                None if exhausted else batch.now + timedelta(seconds=view.backoff.delay(count))
            )
            if exhausted and not view.keep_exhausted:
                if failed is not None:
                    batch.resolved.append(event.sequence)
            else:
                batch.failures.append(
                    FailureUpdate(
                        sequence=event.sequence,
                        failure_count=count,
                        error=error,
                        retry_at=retry_at,
                    )
                )
            if not exhausted:
                return Step.WAITING
            halt = view.exhausted is not None and await view.exhausted(event, error)
            if hopeless or view.on_exhausted == "skip":
                batch.position = event.sequence
                batch.event_at = event.created_at
                if not halt:
                    continue
            return Step.WAITING
        if len(events) < view.batch:
            batch.position = max(batch.position, head)
        return Step.IDLE

    async def _handle(self, view: View, event: Event, rows: Rows) -> tuple[str | None, bool]:
        """Run the handler: the error text to record (None when it succeeded), and whether
        the event can never be processed (:class:`Unprocessable`)."""
        stats = self._stats(view)
        started = time.perf_counter()
        try:
            await view.handler(event, rows)
        except Exception as exc:
            rows.drop_event()
            stats.failures += 1
            text = error_text(exc)
            log.info(
                "view %s failed on event %s of tenant %s: %s",
                view.name,
                event.sequence,
                event.tenant_id,
                text,
            )
            return text, isinstance(exc, Unprocessable)
        finally:
            stats.handler_seconds += time.perf_counter() - started
        rows.keep_event()
        stats.handled += 1
        return None, False

    async def _retry_skipped(
        self, view: View, tenant_id: str, failed: FailedEvent, rows: Rows, batch: ViewCommit
    ) -> None:
        """An operator asked to retry an event the view had skipped: run it again now."""
        found = await self._events.read_after(tenant_id, failed.sequence - 1, 1)
        if not found or found[0].sequence != failed.sequence:
            batch.resolved.append(failed.sequence)  # the event is gone (cannot happen)
            return
        error, _ = await self._handle(view, found[0], rows)
        if error is None:
            batch.resolved.append(failed.sequence)
            return
        batch.failures.append(
            FailureUpdate(
                sequence=failed.sequence,
                failure_count=failed.failure_count + 1,
                error=error,
                retry_at=None,
            )
        )

    async def _renew(self, view: View, lease: _Lease, batch: ViewCommit) -> bool:
        """Renew the lease in the middle of a long batch (slow handlers): False when
        another node took the view meanwhile."""
        now = self._clock()
        until = now + timedelta(seconds=self._lease_seconds)
        state = await self._store.claim(
            view.name,
            view.database,
            batch.tenant_id,
            self.owner,
            now,
            until,
            create=view.own_state,
        )
        if state is None or state.generation != lease.state.generation:
            return False
        batch.lease_until = until
        lease.until = time.monotonic() + self._lease_seconds / 2
        return True

    async def _lease(self, view: View, tenant_id: str) -> _Lease | None:
        key = (view.name, tenant_id)
        lease = self._leases.get(key)
        if lease is not None and time.monotonic() < lease.until:
            stored = await self._store.state(view.name, tenant_id)
            if stored is not None and _same(stored, lease.state):
                return lease
        now = self._clock()
        until = now + timedelta(seconds=self._lease_seconds)
        state = await self._store.claim(
            view.name, view.database, tenant_id, self.owner, now, until, create=view.own_state
        )
        if state is None:
            if lease is not None:
                lease.drop_ahead()
            self._leases.pop(key, None)
            return None
        if lease is None or not _same(state, lease.state):
            if lease is not None:
                lease.drop_ahead()
            lease = _Lease(state, 0.0, Rows(self._store, view.name, tenant_id))
        lease.state = state
        lease.until = time.monotonic() + self._lease_seconds / 2
        self._leases[key] = lease
        return lease

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every registered view for every tenant until cancelled."""
        try:
            await asyncio.gather(*(self._run_view(view) for view in self.registry))
        finally:
            await self.release()

    async def _run_view(self, view: View) -> None:
        while True:
            signal = self._events.commit_signal()
            wake = self._wake
            busy = False
            self._due.pop(view.name, None)
            try:
                # One step per tenant in turn, so that a busy tenant never starves the others.
                tenants = [t.id for t in await self._db.tenants.list()]
                while tenants:
                    moving = []
                    for tenant_id in tenants:
                        if await self._skipping(view, tenant_id):
                            continue
                        if await self.step(view, tenant_id) in (Step.PROGRESSED, Step.LOST):
                            moving.append(tenant_id)
                    busy = busy or bool(moving)
                    tenants = moving
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("view %s: a step failed; trying again", view.name)
                await asyncio.sleep(self._poll_seconds)
            if busy:
                continue
            timeout = self._poll_seconds
            due = self._due.get(view.name)
            if due is not None:
                timeout = max(0.0, min(timeout, (due - self._clock()).total_seconds()))
            waits = [asyncio.ensure_future(wake.wait())]
            if view.on_commit:
                waits.append(asyncio.ensure_future(signal.wait()))
            try:
                await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
            finally:
                for w in waits:
                    w.cancel()
            if wake.is_set():
                self._wake = asyncio.Event()

    async def _skipping(self, view: View, tenant_id: str) -> bool:
        """Whether to leave out a tenant the view skips: it steps there (to move its position
        and look at its failed events) at most once a second."""
        if view.skips is None or not await view.skips(tenant_id):
            return False
        key = (view.name, tenant_id)
        now = time.monotonic()
        if now - self._skipped.get(key, 0.0) < _POSITION_EVERY:
            return True
        self._skipped[key] = now
        return False

    async def catch_up(self, view: View, tenant_id: str, *, limit: int = 1_000_000) -> Step:
        """Step until the view stops progressing (for tests and one-shot runs)."""
        outcome = Step.IDLE
        for _ in range(limit):
            outcome = await self.step(view, tenant_id)
            if outcome not in (Step.PROGRESSED, Step.LOST):
                return outcome
        return outcome

    async def release(self) -> None:
        """Give up every lease (on a graceful stop), so another node takes over at once."""
        for (view_name, tenant_id), lease in list(self._leases.items()):
            lease.drop_ahead()
            with contextlib.suppress(Exception):
                await self._store.release(view_name, tenant_id, self.owner)
        self._leases.clear()


def _due(failed: FailedEvent, now: datetime) -> bool:
    return failed.retry_at is not None and failed.retry_at <= now


def _same(a: ViewState, b: ViewState) -> bool:
    return (a.position, a.generation, a.paused, a.owner) == (
        b.position,
        b.generation,
        b.paused,
        b.owner,
    )


def _advanced(state: ViewState, batch: ViewCommit) -> ViewState:
    return ViewState(
        view=state.view,
        tenant_id=state.tenant_id,
        database=state.database,
        position=batch.position,
        event_at=batch.event_at or state.event_at,
        last_run=batch.now,
        generation=state.generation,
        paused=state.paused,
        owner=state.owner,
        lease_until=batch.lease_until,
    )
