"""What operators do with views: list them with their position and state, list failed
events, retry or remove them, reset, pause and resume a view. Every call is scoped to one
tenant.

A view's state is read from the leases the runners keep in the database, so every surface
(CLI, native API) tells the same, whichever process asks: ``running`` only while a node's
lease on it is live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from chronik.errors import NotFound
from chronik.records import FailedEvent, ViewState
from chronik.storage.ports import Database
from chronik.views.runner import Clock, ViewRunner, utc_now
from chronik.views.view import Registry

_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
"""The retry time an operator's retry sets: due on every node, whatever its clock says."""


@dataclass(frozen=True, slots=True)
class ViewStatus:
    """A registered view in one tenant: where it stands, and how far the log has gone."""

    state: ViewState
    head: int
    failed: int
    node: str | None = None
    """The node whose lease on the view was live when it was read: the one running it."""

    @property
    def lag(self) -> int:
        """Sequences between the view's position and the log's head (of all tenants)."""
        return max(0, self.head - self.state.position)

    @property
    def activity(self) -> Literal["running", "idle", "paused"]:
        """``paused``; ``running`` while a node holds a live lease on it; else ``idle`` (no
        server or worker runs it, or the one that did stopped and its lease ran out)."""
        if self.state.paused:
            return "paused"
        return "idle" if self.node is None else "running"


class Views:
    def __init__(self, db: Database, registry: Registry, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._store = db.views
        self._clock = clock
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
        head = await self._db.events.head()
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
            what = "failed events" if sequence is None else f"a failed event at {sequence}"
            raise NotFound(f"view {view!r} has no {what}")
        self._woken()
        return count

    async def reset(self, tenant_id: str, view: str) -> None:
        """Rebuild ``view`` from sequence 0: its rows and failed events are cleared."""
        self.registry.get(view)
        await self._store.reset(tenant_id, view)
        self._woken()

    async def pause(self, tenant_id: str, view: str) -> None:
        await self._store.set_paused(tenant_id, view, self.registry.get(view).database, True)

    async def resume(self, tenant_id: str, view: str) -> None:
        await self._store.set_paused(tenant_id, view, self.registry.get(view).database, False)
        self._woken()


def _live_owner(state: ViewState, now: datetime) -> str | None:
    """The node holding the view's lease, if it has not run out (a runner renews it at half
    its length; one that stops gives it up, one that dies lets it run out)."""
    if state.owner is not None and state.lease_until is not None and state.lease_until > now:
        return state.owner
    return None
