"""Sharing the action workers between tenants: one tenant's long runs never make another
tenant's run wait for them to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chronik.actions.pool import Pool
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings

ORG = "org-a"
SPIN = "function spin(ctx, api) { for (;;) {} }"
TRIVIAL = "function seen(ctx, api) { api.setField('seen', true) }"


class Fake:
    """A worker without a process: the pool's rules are about who gets one, not what it runs."""

    alive = True

    def kill(self) -> None:
        self.alive = False

    async def stop(self) -> int:
        self.alive = False
        return -9


class Starts:
    """Starts fake workers while the gate is open; counts them."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.count = 0

    async def __call__(self) -> Fake:
        await self.gate.wait()
        self.count += 1
        return Fake()


async def settle() -> None:
    """Let the pool's pending starts and hand-overs run (fake starts take one step each)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def starts() -> Starts:
    return Starts()


@pytest.fixture
async def pool(starts: Starts) -> AsyncIterator[Pool[Fake]]:
    made = Pool(starts, size=2, burst=2, linger=0)
    yield made
    await made.close()


async def test_a_tenant_alone_uses_every_worker_and_no_more(pool: Pool[Fake]) -> None:
    await pool.acquire("a")
    await pool.acquire("a")
    third = asyncio.create_task(pool.acquire("a"))
    await settle()
    assert pool.running == {"a": 2}
    assert not third.done()
    third.cancel()


async def test_a_tenant_with_none_going_starts_at_once_on_the_warm_spare(
    pool: Pool[Fake], starts: Starts
) -> None:
    held = [await pool.acquire("a"), await pool.acquire("a")]
    queued = asyncio.create_task(pool.acquire("a"))
    await settle()
    starts.gate.clear()  # no worker can start now: the spare must already be there
    assert await pool.acquire("b") not in held
    assert pool.running == {"a": 2, "b": 1}
    assert not queued.done()
    queued.cancel()


async def test_past_the_burst_a_newcomer_gets_the_next_free_worker_before_a_busy_tenant(
    starts: Starts,
) -> None:
    pool = Pool(starts, size=2, burst=1)
    try:
        first = await pool.acquire("a")
        await pool.acquire("a")
        queued = asyncio.create_task(pool.acquire("a"))
        await pool.acquire("b")
        late = asyncio.create_task(pool.acquire("c"))
        await settle()
        assert not late.done()
        pool.release(first)
        await late
        assert pool.running == {"a": 1, "b": 1, "c": 1}
        assert not queued.done()
        queued.cancel()
    finally:
        await pool.close()


async def test_the_burst_workers_stop_once_idle(pool: Pool[Fake]) -> None:
    held = [await pool.acquire(key) for key in ("a", "a", "b", "c")]
    assert len(pool.workers) == 4
    for worker in held:
        pool.release(worker)
    await settle()
    assert len(pool.workers) == 3  # two workers and the spare
    assert [worker.alive for worker in held].count(False) == 1


# -- through the log, on every backend ---------------------------------------------------------


async def bind(chronik: Chronik, tenant: str, name: str, script: str) -> None:
    action = await chronik.actions.create(tenant, ORG, name=name, script=script, timeout=20)
    await chronik.actions.set_trigger(
        tenant, ORG, "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND", [action.id]
    )


def event(n: int) -> NewEvent:
    return NewEvent(
        aggregate_type="user", aggregate_id=str(n), type="user.added", resource_owner=ORG
    )


async def test_an_append_does_not_wait_for_another_tenants_runaway_actions(
    settings: Settings,
) -> None:
    chronik = await Chronik.open(settings)
    a = (await chronik.tenants.create("a")).id
    b = (await chronik.tenants.create("b")).id
    await bind(chronik, a, "spin", SPIN)
    await bind(chronik, b, "seen", TRIVIAL)
    runtime = chronik.actions.runtime
    spinning = [asyncio.create_task(chronik.events.append(a, [event(n)])) for n in range(3)]
    try:
        for _ in range(1000):
            if runtime.running.get(a) == 2:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("tenant a's runs never took both workers")
        (appended,) = await chronik.events.append(b, [event(0)])
        assert appended.payload == {"seen": True}
        assert runtime.running.get(a) == 2
        assert not any(task.done() for task in spinning)
    finally:
        for task in spinning:
            task.cancel()
        await asyncio.gather(*spinning, return_exceptions=True)
        await chronik.close()
