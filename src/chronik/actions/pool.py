"""Who gets the next free action worker, and how many workers there are.

A run may take as long as its timeout, so a tenant whose runs hold every worker would make
everyone else wait that long. Hence: a tenant may use all ``size`` workers, never more, and
while ``size`` runs are going only a run of a tenant that has none going may start. It starts
at once on a warm spare that the pool keeps for it; the pool then warms another, up to
``burst`` workers beyond ``size``, and stops the surplus once it has been idle a while. Runs
that wait are served tenant by tenant in turn. With ``burst=0`` there is no spare: runs
queue for the ``size`` workers, tenants in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

from chronik.errors import Unavailable

SPARE_LINGER = 10.0
"""Seconds a worker the pool no longer wants stays warm before it is stopped, so that a
tenant coming and going does not start a process per run."""


class Member(Protocol):
    """What the pool needs of a worker."""

    @property
    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    async def stop(self) -> int: ...


W = TypeVar("W", bound=Member)


class Pool(Generic[W]):
    """Workers started by ``start``, lent to runs by key (a tenant); call :meth:`close`."""

    def __init__(
        self,
        start: Callable[[], Awaitable[W]],
        *,
        size: int,
        burst: int = 0,
        linger: float = SPARE_LINGER,
    ) -> None:
        if size < 1:
            raise ValueError("a runtime needs at least one worker")
        if burst < 0:
            raise ValueError("burst workers cannot be negative")
        self._start = start
        self._size = size
        self._burst = burst
        self._linger = linger
        self.workers: set[W] = set()
        self._idle: deque[W] = deque()
        self._holders: dict[W, str] = {}
        self._held: Counter[str] = Counter()
        self._waiters: dict[str, deque[asyncio.Future[W]]] = {}
        """Runs waiting for a worker, by key; the first key whose run may start goes next,
        then to the back of the turn."""
        self._spawning = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._spawns: set[asyncio.Task[Any]] = set()
        self._trim_timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def running(self) -> dict[str, int]:
        """Workers lent out now, by key."""
        return dict(self._held)

    async def acquire(self, key: str) -> W:
        """A live worker for a run of ``key``: give it back with :meth:`release` or
        :meth:`discard`."""
        while True:
            if self._closed:
                raise Unavailable("the action runtime is closed")
            waiter: asyncio.Future[W] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(key, deque()).append(waiter)
            self._dispatch()
            try:
                worker = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self.release(waiter.result())
                else:
                    self._forget(key, waiter)
                raise
            if worker.alive:
                return worker
            self.discard(worker)

    def release(self, worker: W) -> None:
        """Take back a worker whose run ended as it should: it serves the next run."""
        self._unhold(worker)
        if self._closed or worker not in self.workers:
            self.discard(worker)
            return
        self._idle.append(worker)
        self._dispatch()

    def discard(self, worker: W) -> None:
        """Take a worker out of the pool for good: kill and reap it (another starts)."""
        self._unhold(worker)
        if worker in self.workers:
            self._drop(worker)
            self._dispatch()

    async def close(self) -> None:
        """Kill the workers and wait for them to exit; runs still waiting for one fail."""
        self._closed = True
        if self._trim_timer is not None:
            self._trim_timer.cancel()
        for queue in self._waiters.values():
            for waiter in queue:
                if not waiter.done():
                    waiter.set_exception(Unavailable("the action runtime is closed"))
        self._waiters.clear()
        for task in self._spawns:
            task.cancel()
        for worker in list(self.workers):
            self._drop(worker)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _dispatch(self) -> None:
        """Hand idle workers to the waiting runs that may start, then size the pool."""
        if self._closed:
            return
        while self._idle and (key := self._next()) is not None:
            queue = self._waiters.pop(key)
            waiter = queue.popleft()
            if queue:
                self._waiters[key] = queue
            if waiter.done():  # cancelled; its run is gone
                continue
            worker = self._take_idle()
            self._holders[worker] = key
            self._held[key] += 1
            waiter.set_result(worker)
        self._fill()
        if self._trim_timer is None and self._idle and len(self.workers) > self._wanted():
            self._trim_timer = asyncio.get_running_loop().call_later(self._linger, self._trim)

    def _take_idle(self) -> W:
        """Of the idle workers the ``size`` slots not in use would rotate through (the most
        recently used), the one idle longest: a worker prepares its next run after answering,
        so rotating hides that, while the rest (the spare) stay cold and are the ones a trim
        stops."""
        slots = max(1, self._size - len(self._holders))
        index = max(0, len(self._idle) - slots)
        worker = self._idle[index]
        del self._idle[index]
        return worker

    def _next(self) -> str | None:
        """The first key in turn whose run may take an idle worker now."""
        for key in self._waiters:
            if not self._held[key]:
                return key
            # A tenant already running leaves the last idle worker, the spare, to the others.
            if len(self._holders) < self._size and (len(self._idle) > 1 or not self._can_grow()):
                return key
        return None

    def _can_grow(self) -> bool:
        return len(self.workers) + self._spawning < self._size + self._burst

    def _wanted(self) -> int:
        """Workers to have: ``size``, or those in use and claimed by waiting runs plus a spare."""
        if not self._burst:
            return self._size
        busy = len(self._holders)
        newcomers = sum(1 for key in self._waiters if not self._held[key])
        queued = sum(len(queue) for queue in self._waiters.values()) - newcomers
        more = max(0, min(queued, self._size - busy - newcomers))
        return min(self._size + self._burst, max(self._size + 1, busy + newcomers + more + 1))

    def _fill(self) -> None:
        while not self._closed and len(self.workers) + self._spawning < self._wanted():
            self._spawning += 1
            spawn = self._background(self._spawn())
            self._spawns.add(spawn)
            spawn.add_done_callback(self._spawns.discard)

    async def _spawn(self) -> None:
        try:
            worker = await self._start()
        finally:
            self._spawning -= 1
        if self._closed:
            await worker.stop()
            return
        self.workers.add(worker)
        self._idle.append(worker)
        self._dispatch()

    def _trim(self) -> None:
        self._trim_timer = None
        surplus = len(self.workers) - self._wanted()
        while surplus > 0 and self._idle:
            self._drop(self._idle.popleft())
            surplus -= 1
        self._dispatch()

    def _drop(self, worker: W) -> None:
        self.workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        worker.kill()
        self._background(worker.stop())

    def _unhold(self, worker: W) -> None:
        key = self._holders.pop(worker, None)
        if key is not None:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]

    def _forget(self, key: str, waiter: asyncio.Future[W]) -> None:
        queue = self._waiters.get(key)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._waiters[key]

    def _background(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
