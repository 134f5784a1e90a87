"""What operators do with views: list them with their position and state, list failed
events, retry or remove them, reset, pause and resume a view; and what readers do: read a
view's rows, once it has reached a sequence. Every call is scoped to one tenant.

A view is known when this process registered it or the tenant holds its stored state (a
position), so that operators act on views another process runs.

A view's state is read from the leases the runners keep in the database, so every surface
(CLI, native API) tells the same, whichever process asks: ``running`` only while a node's
lease on it is live."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import msgspec

from chronik.errors import NotFound, ViewBehind
from chronik.records import FailedEvent, Row, RowPage, ViewState, ViewStatus
from chronik.storage.ports import Database
from chronik.views.reading import checked, next_token, resume
from chronik.views.runner import Clock, ViewRunner, utc_now
from chronik.views.view import Registry

_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
"""The retry time an operator's retry sets: due on every node, whatever its clock says."""


class Views:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        clock: Clock = utc_now,
        poll_seconds: float = 0.1,
    ) -> None:
        self._db = db
        self._store = db.views
        self._clock = clock
        self._poll_seconds = poll_seconds
        """How often a read that waits for a view looks at its stored position."""
        self.registry = registry
        self.runner: ViewRunner | None = None
        """The runner of this process, if it runs one: woken by operators' changes."""

    def _woken(self) -> None:
        if self.runner is not None:
            self.runner.wake()

    async def statuses(self, tenant_id: str) -> list[ViewStatus]:
        """Every registered view (those that never ran at position 0), and views that
        are no longer registered but left a position behind."""
        stored = {s.view: s for s in await self._store.states(tenant_id)}
        head = await self._db.events.head(tenant_id)
        states = [
            stored.get(v.name) or ViewState(view=v.name, tenant_id=tenant_id, database=v.database)
            for v in self.registry
        ]
        states += [s for name, s in stored.items() if name not in {v.name for v in self.registry}]
        now = self._clock()
        return [
            ViewStatus(
                state=s,
                head=head,
                failed=await self._store.count_failed(tenant_id, s.view),
                node=_live_owner(s, now),
            )
            for s in sorted(states, key=lambda s: (s.database, s.view))
        ]

    async def failed(
        self,
        tenant_id: str,
        *,
        view: str | None = None,
        min_failures: int = 0,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[FailedEvent]:
        return await self._store.failed(
            tenant_id, view=view, min_failures=min_failures, after=after, limit=limit
        )

    async def all_failed(
        self, tenant_id: str, *, view: str | None = None, min_failures: int = 0
    ) -> list[FailedEvent]:
        """Every failed event (of ``view``, failed at least ``min_failures`` times)."""
        found: list[FailedEvent] = []
        after: tuple[str, int] | None = None
        while page := await self.failed(
            tenant_id, view=view, min_failures=min_failures, after=after
        ):
            found += page
            after = (page[-1].view, page[-1].sequence)
        return found

    async def failed_event(self, tenant_id: str, view: str, sequence: int) -> FailedEvent:
        found = await self.failed(tenant_id, view=view, after=(view, sequence - 1), limit=1)
        if not found or found[0].sequence != sequence:
            raise NotFound(f"view {view!r} has no failed event at sequence {sequence}")
        return found[0]

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> None:
        """Forget a failed event; a view that waits on it moves past it."""
        if not await self._store.remove_failed(tenant_id, view, sequence):
            raise NotFound(f"view {view!r} has no failed event at sequence {sequence}")
        self._woken()

    async def retry(self, tenant_id: str, view: str, sequence: int | None = None) -> int:
        """Run one failed event (or every one) of ``view`` through it again now. Returns
        how many were scheduled; the runner records the outcome."""
        count = await self._store.retry_failed(tenant_id, view, sequence, _AT_ONCE)
        if not count:
            at = "" if sequence is None else f" at sequence {sequence}"
            raise NotFound(f"view {view!r} has no failed event{at}")
        self._woken()
        return count

    async def reset(self, tenant_id: str, view: str) -> None:
        """Rebuild ``view`` from sequence 0: its rows and failed events are cleared."""
        await self._database(tenant_id, view)
        await self._store.reset(tenant_id, view)
        self._woken()

    async def pause(self, tenant_id: str, view: str) -> None:
        database = await self._database(tenant_id, view)
        await self._store.set_paused(tenant_id, view, database, True)

    async def resume(self, tenant_id: str, view: str) -> None:
        database = await self._database(tenant_id, view)
        await self._store.set_paused(tenant_id, view, database, False)
        self._woken()

    async def _database(self, tenant_id: str, view: str) -> str:
        """The database of a known view; :class:`NotFound` for any other."""
        checked(view=view)
        try:
            return self.registry.get(view).database
        except NotFound:
            state = await self._store.state(view, tenant_id)
            if state is None:
                raise
            return state.database

    # -- reading rows ------------------------------------------------------------------------

    async def rows(
        self,
        tenant_id: str,
        view: str,
        *,
        prefix: str = "",
        page_size: int = 100,
        paging_token: str | None = None,
        min_sequence: int = 0,
        wait_seconds: float = 5.0,
    ) -> RowPage:
        """A page of ``view``'s rows whose keys start with ``prefix``, ordered by key, and
        the position they reflect; once the view has reached ``min_sequence`` (the sequence
        an append returned: read your writes), waiting up to ``wait_seconds`` (at most 30)
        before :class:`ViewBehind`. ``paging_token`` goes on after the page that gave it."""
        wait = checked(
            page_size=page_size,
            min_sequence=min_sequence,
            wait_seconds=wait_seconds,
            view=view,
            prefix=prefix,
        )
        after = None
        if paging_token:
            prefix, after = resume(paging_token, view, prefix)
        position, found = await self._read(
            tenant_id, view, prefix, after, page_size + 1, min_sequence, wait
        )
        page = found[:page_size]
        token = next_token(view, prefix, page[-1][0]) if len(found) > page_size else ""
        return RowPage(
            rows=[Row(key, _decode(text), position) for key, text in page],
            position=position,
            paging_token=token,
        )

    async def row(
        self,
        tenant_id: str,
        view: str,
        key: str,
        *,
        min_sequence: int = 0,
        wait_seconds: float = 5.0,
    ) -> Row:
        """The row of ``view`` at ``key`` (:class:`NotFound` when there is none), waiting
        for ``min_sequence`` as :meth:`rows` does."""
        wait = checked(min_sequence=min_sequence, wait_seconds=wait_seconds, view=view, key=key)
        # The first key that starts with ``key`` is ``key`` itself, when there is one.
        position, found = await self._read(tenant_id, view, key, None, 1, min_sequence, wait)
        if not found or found[0][0] != key:
            raise NotFound(f"view {view!r} has no row {key!r}", key=key)
        return Row(key, _decode(found[0][1]), position)

    async def _read(
        self,
        tenant_id: str,
        view: str,
        prefix: str,
        after: str | None,
        limit: int,
        min_sequence: int,
        wait_seconds: float,
    ) -> tuple[int, list[tuple[str, str]]]:
        deadline = time.monotonic() + wait_seconds
        while True:
            if min_sequence:
                await self._reach(tenant_id, view, min_sequence, deadline)
            read = await self._store.read_rows(
                view, tenant_id, prefix=prefix, after=after, limit=limit
            )
            if read is None:
                self.registry.get(view)  # known, but it never ran in this tenant
                read = 0, []
            if read[0] >= min_sequence:
                return read
            # A reset moved the view back after it had reached min_sequence: wait again.

    async def _reach(self, tenant_id: str, view: str, sequence: int, deadline: float) -> None:
        """Return once ``view`` is at ``sequence`` or later; :class:`ViewBehind` at
        ``deadline``. The stored position is what counts (whichever process runs the view);
        this process's runner, if it runs views, wakes the wait as it commits."""
        while True:
            signal = None if self.runner is None else self.runner.progress_signal()
            state = await self._store.state(view, tenant_id)
            if state is None:
                self.registry.get(view)
            position = 0 if state is None else state.position
            if position >= sequence:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise ViewBehind(view, position, sequence)
            timeout = min(left, self._poll_seconds)
            if signal is None:
                await asyncio.sleep(timeout)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), timeout)


_decode = msgspec.json.decode


def _live_owner(state: ViewState, now: datetime) -> str | None:
    """The node holding the view's lease, if it has not run out (a runner renews it at half
    its length; one that stops gives it up, one that dies lets it run out)."""
    if state.owner is not None and state.lease_until is not None and state.lease_until > now:
        return state.owner
    return None
