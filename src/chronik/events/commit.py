"""Group commit: appends that arrive while a commit runs share the next transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from chronik.errors import ChronikError, Unavailable
from chronik.records import Event, PendingAppend
from chronik.storage.ports import EventStore

log = logging.getLogger(__name__)
_Waiting = tuple[PendingAppend, "asyncio.Future[list[Event]]"]


class GroupCommitter:
    """Queues appends and commits them in groups of up to ``max_events`` events.

    Each append keeps its own outcome: the backend commits a group in one transaction but
    refuses or accepts every append in it on its own. ``store.committers`` groups may be in
    flight at once (one on SQLite, whose writer is single; more on PostgreSQL, where one
    group can be prepared while another waits for its commit).
    """

    def __init__(self, store: EventStore, *, max_events: int = 10_000) -> None:
        self._store = store
        self._max_events = max_events
        self._queue: deque[_Waiting] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._inflight = 0
        self._settled = asyncio.Event()

    async def submit(self, append: PendingAppend) -> list[Event]:
        if self._closing:
            raise Unavailable("the event log is shutting down")
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._queue.append((append, future))
        if self._store.commits_inline and not self._inflight:
            try:
                await self._commit_here(future)
            except BaseException:
                if future.done() and not future.cancelled():
                    future.exception()  # raised here instead: not "never retrieved"
                raise
            return future.result()
        self._wake()
        return await future

    async def _commit_here(self, future: asyncio.Future[list[Event]]) -> None:
        """Be the committer in the caller's task until ``future``'s append is committed: a
        hand-off to the committer task and back fewer, which was a quarter of a one-event
        append on SQLite. It yields once first, so that the appends of tasks ready to run
        join its group (and a caller appending in a loop does not starve the others)."""
        self._inflight += 1
        try:
            await asyncio.sleep(0)
            while not future.done():
                await self._commit(self._take())
        finally:
            self._inflight -= 1
            self._settled.set()
            if self._queue:
                self._wake()

    def _wake(self) -> None:
        self._ready.set()
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"chronik-commit-{i}")
                for i in range(self._store.committers)
            ]

    def _take(self) -> list[_Waiting]:
        group = [self._queue.popleft()]
        size = len(group[0][0].events)
        while self._queue and size + len(self._queue[0][0].events) <= self._max_events:
            item = self._queue.popleft()
            size += len(item[0].events)
            group.append(item)
        return group

    async def _commit(self, group: list[_Waiting]) -> None:
        """Commit ``group`` and settle each of its appends' futures."""
        try:
            outcomes = await self._store.commit_group([a for a, _ in group])
        except ChronikError as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException as exc:  # the backend's bug, or a cancelled caller's commit
            for _, future in group:
                if not future.done():
                    future.set_exception(Unavailable(f"the commit failed: {exc!r}"))
            if not isinstance(exc, Exception):
                raise
            log.exception("a group commit failed")  # the next group is committed as usual
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, ChronikError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            if self._inflight >= self._store.committers:  # a caller is committing
                self._settled.clear()
                await self._settled.wait()
                continue
            self._inflight += 1
            try:
                await self._commit(self._take())
            finally:
                self._inflight -= 1
                self._settled.set()

    async def close(self) -> None:
        """Refuse new appends, let the queued ones commit, then stop."""
        self._closing = True
        while self._queue or self._inflight:
            self._settled.clear()
            await self._settled.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
