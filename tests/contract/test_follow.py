"""Following the log: every committed event exactly once, in order, woken by commits."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from dataclasses import replace

from chronik.records import Event, NewEvent
from chronik.services import Chronik
from chronik.settings import Settings


def ev(i: int, aggregate: str = "a") -> NewEvent:
    return NewEvent(
        aggregate_type="thing",
        aggregate_id=f"{aggregate}{i % 7}",
        type="thing.happened",
        payload={"i": i},
    )


async def collect(
    chronik: Chronik, tenant: str | None, count: int, after: int | dict[str, int] = 0
) -> list[Event]:
    got: list[Event] = []
    async for event in chronik.events.follow(tenant, after=after):
        got.append(event)
        if len(got) == count:
            break
    return got


async def test_follow_yields_stored_then_new_events_of_its_tenant(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    first = await chronik.events.append(tenant, [ev(0), ev(1)])
    await chronik.events.append(other_tenant, [ev(2)])
    follower = asyncio.create_task(collect(chronik, tenant, 4))
    await asyncio.sleep(0.05)
    later = await chronik.events.append(tenant, [ev(3), ev(4)])
    got = await asyncio.wait_for(follower, 10)
    assert got == first + later


async def test_each_tenant_numbers_its_own_events_from_one(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    a = await chronik.events.append(tenant, [ev(0), ev(1)])
    b = await chronik.events.append(other_tenant, [ev(2)])
    c = await chronik.events.append(tenant, [ev(3)])
    assert [e.sequence for e in a + c] == [1, 2, 3]
    assert [e.sequence for e in b] == [1]
    assert (await chronik.events.heads())[tenant] == 3
    assert await chronik.events.head(other_tenant) == 1


async def test_follow_all_tenants_from_each_ones_position(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    """Across tenants there is no order: each batch is one tenant's, in its order; a tenant
    missing from the positions starts at its beginning."""
    a = await chronik.events.append(tenant, [ev(0)])
    b = await chronik.events.append(other_tenant, [ev(1)])
    c = await chronik.events.append(tenant, [ev(2), ev(3)])
    got = await asyncio.wait_for(collect(chronik, None, 3, after={tenant: a[0].sequence}), 10)
    assert [e for e in got if e.tenant_id == tenant] == c
    assert [e for e in got if e.tenant_id == other_tenant] == b


async def test_follow_all_tenants_takes_up_a_tenant_made_later_from_its_beginning(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [ev(0)])
    follower = asyncio.create_task(collect(chronik, None, 2, after=1))
    await asyncio.sleep(0.1)
    newcomer = (await chronik.tenants.create("newcomer")).id
    stored = await chronik.events.append(newcomer, [ev(1), ev(2)])
    assert await asyncio.wait_for(follower, 10) == stored


async def test_a_commit_wakes_the_follower_without_waiting_for_the_poll(
    settings: Settings, tenant: str
) -> None:
    """Polling is set to a minute, so only the commit notification can deliver in time
    (on PostgreSQL the commit comes from another connection pool, through NOTIFY)."""
    quiet = replace(settings, follow_poll_seconds=60.0)
    async with await Chronik.open(quiet) as watcher:
        follower = asyncio.create_task(collect(watcher, tenant, 1))
        await asyncio.sleep(0.2)
        if settings.resolved_database_url.startswith("sqlite"):
            # SQLite has no cross-process notification: a commit of this process wakes it,
            # and another process's commit is found by the poll.
            stored = await watcher.events.append(tenant, [ev(9)])
        else:
            async with await Chronik.open(quiet) as writer:
                stored = await writer.events.append(tenant, [ev(9)])
        assert await asyncio.wait_for(follower, 10) == stored


_WRITER = textwrap.dedent(
    """
    import sys
    from chronik import NewEvent, Settings, SyncChronik
    url, tenant, name, appends = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    most, places = int(sys.argv[5]), tuple(filter(None, sys.argv[6].split(",")))
    settings = Settings(database_url=url, tenant_databases=places)
    with SyncChronik.open(settings, migrate=False) as c:
        for i in range(appends):
            event = NewEvent(aggregate_type="thing", aggregate_id=f"{name}{i % 5}",
                             type="thing.happened", payload={"i": i})
            c.events.append(tenant, [event] * (1 + i % most))
    """
)


async def _race(settings: Settings, tenants: list[str], round_: int, most: int = 3) -> None:
    """Writers append 1 to ``most`` events at a time (1: only lone events, PostgreSQL's
    lean path once a writer has recorded the type names), spread over ``tenants``; a reader
    per tenant follows it."""
    writers = [await Chronik.open(settings, migrate=False) for _ in range(8)]
    reader = await Chronik.open(settings, migrate=False)
    try:
        starts = {t: await reader.events.head(t) for t in tenants}
        done = asyncio.Event()
        seen: dict[str, list[int]] = {t: [] for t in tenants}

        async def read(tenant: str) -> None:
            last = starts[tenant]
            while True:
                finished = done.is_set()
                batch = await reader.db.events.read_after(tenant, last, 500)
                seen[tenant].extend(e.sequence for e in batch)
                if batch:
                    last = batch[-1].sequence
                elif finished:
                    return

        async def write(w: Chronik, tenant: str, name: str) -> None:
            for i in range(40):
                await w.events.append(tenant, [ev(i, name)] * (1 + i % most))

        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _WRITER,
                settings.resolved_database_url,
                tenants[n % len(tenants)],
                f"p{round_}{n}",
                "40",
                str(most),
                ",".join(settings.tenant_databases),
                stderr=subprocess.PIPE,
            )
            for n in range(2)
        ]
        readers = [asyncio.create_task(read(t)) for t in tenants]
        await asyncio.gather(
            *(write(w, tenants[n % len(tenants)], f"w{round_}{n}") for n, w in enumerate(writers))
        )
        for proc in procs:
            _, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()
        done.set()
        await asyncio.wait_for(asyncio.gather(*readers), 60)

        for tenant in tenants:
            committed = [
                e.sequence
                for e in await reader.db.events.read_after(tenant, starts[tenant], 1_000_000)
            ]
            writing = 10 // len(tenants)
            assert len(committed) == writing * sum(1 + i % most for i in range(40))
            assert committed == list(range(starts[tenant] + 1, starts[tenant] + 1 + len(committed)))
            assert seen[tenant] == committed
    finally:
        for w in [*writers, reader]:
            await w.close()


async def test_a_tailing_reader_sees_every_event_once_in_order_under_concurrent_writers(
    settings: Settings, tenant: str, other_tenant: str
) -> None:
    """Eight writers on their own connections plus two writer processes, spread over two
    tenants, race a reader per tenant that reads ``sequence > last`` as fast as it can: each
    must see every event its tenant committed exactly once, numbered without a gap.
    Repeated, because a wrong ordering scheme loses events only now and then."""
    for round_ in range(3):
        await _race(settings, [tenant, other_tenant], round_)


async def test_a_tailing_reader_sees_every_lone_event_once_in_order_under_concurrent_writers(
    settings: Settings, tenant: str, other_tenant: str
) -> None:
    """The same race with one event per append, each writer's type names recorded by its
    first append: the commonest append keeps the order too."""
    for round_ in range(2):
        await _race(settings, [tenant, other_tenant], round_, most=1)


async def test_a_lone_append_of_a_recorded_type_wakes_a_follower_on_another_node(
    settings: Settings, tenant: str
) -> None:
    """PostgreSQL's lean path notifies as the group path does (SQLite has no cross-process
    notification: there the watcher's own commit wakes it)."""
    quiet = replace(settings, follow_poll_seconds=60.0)
    async with await Chronik.open(quiet) as watcher, await Chronik.open(quiet) as other:
        writer = watcher if settings.resolved_database_url.startswith("sqlite") else other
        [first] = await writer.events.append(tenant, [ev(1)])
        follower = asyncio.create_task(collect(watcher, tenant, 1, after=first.sequence))
        await asyncio.sleep(0.2)
        stored = await writer.events.append(tenant, [ev(2)])
        assert await asyncio.wait_for(follower, 10) == stored
