"""View benchmarks: catch-up, live lag, and the cost of a poison event.

    python -m bench.views [--backend sqlite|postgres|all] [--events 1000000] [--quick]

Per backend, on a fresh database filled with ``--events`` events (the mix of ``bench.log``):

1. catch-up: a counting view (one row per tenant, +1 per event) processes every tenant's
   events from 0 with :class:`~chronik.views.ViewRunner`; its rate is compared with
   following the log alone (``follow_batches`` over all tenants) in the same run,
   interleaved, the median of three rounds each. Target: >= 0.5.
2. live lag: the runner runs in the background (as in ``chronik serve``) while four tasks
   append single events at 1,000 per second together for ``--live-seconds``; the time from an
   append's return (its commit) to the commit of the view batch that includes it, p50/p99.
   Target: p99 <= 100 ms.
3. poison: 1,000 events, one of which fails three times (backoff 0.05 s, then 0.1 s) and is
   skipped; the extra time over the same events without the poison event. Target: no more
   than the backoff schedule (0.15 s) plus 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import time

import psycopg

from bench import common
from bench.common import Result, check, log, median, percentile
from bench.log import (
    DEFAULT_ADMIN_URL,
    FULL,
    QUICK,
    follow_from_zero,
    fresh_database,
    load,
)
from chronik import Chronik, Event, NewEvent, Settings
from chronik.records import ViewCommit
from chronik.views import Backoff, Registry, Rows, View, ViewRunner

BACKOFF = Backoff(first=0.05, factor=2.0, longest=1.0)
BACKOFF_SCHEDULE = 0.05 + 0.1
APPENDERS = 4


async def count(event: Event, rows: Rows) -> None:
    rows.put("n", await rows.get("n", 0) + 1)


async def poisonous(event: Event, rows: Rows) -> None:
    if event.payload.get("poison"):
        raise ValueError("poison")
    await count(event, rows)


async def follow_all(chronik: Chronik, head: int) -> float:
    n, seconds = await follow_from_zero(chronik, head)
    return n / seconds


async def catch_up_all(chronik: Chronik, head: int, round_: int) -> float:
    registry = Registry()
    view = registry.add(View(name=f"bench_count_{round_}", handler=count))
    runner = ViewRunner(chronik.db, registry, owner="bench")
    tenants = [t.id for t in await chronik.tenants.list()]
    start = time.perf_counter()
    for tenant in tenants:
        await runner.catch_up(view, tenant)
    seconds = time.perf_counter() - start
    total = 0
    for tenant in tenants:
        total += await Rows(chronik.db.views, view.name, tenant).get("n", 0)
    assert total == head, (total, head)
    await runner.release()
    return head / seconds


async def catch_up_workload(chronik: Chronik, backend: str, rounds: int) -> Result:
    head = sum((await chronik.events.heads()).values())
    follow_rates: list[float] = []
    view_rates: list[float] = []
    for r in range(rounds):
        gc.collect()
        follow_rates.append(await follow_all(chronik, head))
        gc.collect()
        view_rates.append(await catch_up_all(chronik, head, r))
        log(f"{backend}: follow {follow_rates[-1]:,.0f} ev/s, view {view_rates[-1]:,.0f} ev/s")
    follow, view = median(follow_rates), median(view_rates)
    return Result(
        backend=backend,
        workload=f"1. catch-up of a counting view ({head:,} events)",
        unit="ev/s",
        raw=follow,
        chronik=view,
        eventsourcing=None,
        ratio=view / follow,
        target=">= 0.50 x following the log",
        status=check(view / follow, ">=", 0.5),
        note="raw = follow_batches over all tenants (decoded events, nothing else); "
        f"median of {rounds} interleaved rounds",
        details={"follow": follow_rates, "view": view_rates},
    )


async def live_lag_workload(chronik: Chronik, backend: str, seconds: float) -> Result:
    """Appends at 1,000/s while the runner runs; commit of the append -> commit of the view."""
    tenant = (await chronik.default_tenant()).id
    registry = Registry()
    registry.add(View(name="bench_live", handler=count, event_types=("bench.live",)))
    runner = ViewRunner(chronik.db, registry, owner="bench-live", poll_seconds=0.5)
    store = chronik.db.views
    committed: list[tuple[float, int]] = []
    commit = store.commit

    async def timed_commit(batch: ViewCommit) -> bool:
        ok = await commit(batch)
        if ok and batch.view == "bench_live" and batch.tenant_id == tenant:
            committed.append((time.perf_counter(), batch.position))
        return ok

    store.commit = timed_commit  # type: ignore[method-assign]
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(1.0)  # the view starts and finds nothing of its type
    appended: list[tuple[int, float]] = []
    start = time.perf_counter()
    n = int(seconds * 1000)

    async def appender(first: int) -> None:
        """Every APPENDERS-th append of the schedule: one client alone cannot make 1,000
        commits a second on PostgreSQL (each waits for its WAL flush)."""
        for i in range(first, n, APPENDERS):
            delay = start + i / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            event = NewEvent(aggregate_type="live", aggregate_id=str(i % 50), type="bench.live")
            [stored] = await chronik.events.append(tenant, [event])
            appended.append((stored.sequence, time.perf_counter()))

    await asyncio.gather(*(appender(k) for k in range(APPENDERS)))
    rate = n / (time.perf_counter() - start)
    appended.sort()
    last = appended[-1][0]
    deadline = time.perf_counter() + 10
    while (not committed or committed[-1][1] < last) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    store.commit = commit  # type: ignore[method-assign]
    lags = []
    k = 0
    for sequence, at in appended:
        while k < len(committed) and committed[k][1] < sequence:
            k += 1
        if k < len(committed):
            lags.append((committed[k][0] - at) * 1000)
    p99 = percentile(lags, 99) if len(lags) == len(appended) else float("nan")
    return Result(
        backend=backend,
        workload=f"2. live lag at {rate:,.0f} appends/s: p99 (p50 {percentile(lags, 50):.1f} ms)",
        unit="ms",
        raw=None,
        chronik=p99,
        eventsourcing=None,
        ratio=None,
        target="p99 <= 100 ms",
        status=check(p99, "<=", 100),
        note="the time from an append's return to the commit of the view's batch holding it; "
        "runner and appender in one process, as in `chronik serve`",
        details={"appends": len(appended), "measured": len(lags), "rate": rate},
    )


async def poison_workload(chronik: Chronik, backend: str) -> Result:
    """The extra time a poison event costs the stream, against its backoff schedule."""
    tenant = (await chronik.default_tenant()).id
    timings: dict[bool, float] = {}
    for poisoned in (False, True):
        kind = f"bench.poison.{int(poisoned)}"
        stored = await chronik.events.append(
            tenant,
            [
                NewEvent(
                    aggregate_type="poison",
                    aggregate_id=str(i),
                    type=kind,
                    payload={"poison": poisoned and i == 500},
                )
                for i in range(1000)
            ],
        )
        registry = Registry()
        name = f"bench_poison_{int(poisoned)}"
        registry.add(
            View(
                name=name,
                handler=poisonous,
                event_types=(kind,),
                max_failures=3,
                backoff=BACKOFF,
                batch=100,
            )
        )
        runner = ViewRunner(chronik.db, registry, owner="bench-poison", poll_seconds=5.0)
        start = time.perf_counter()
        task = asyncio.create_task(runner.run())
        while (runner.stats[name].positions.get(tenant) or 0) < stored[-1].sequence:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        timings[poisoned] = time.perf_counter() - start
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    extra = timings[True] - timings[False]
    return Result(
        backend=backend,
        workload="3. poison event (3 failures, then skipped): extra time",
        unit="s",
        raw=timings[False],
        chronik=timings[True],
        eventsourcing=None,
        ratio=extra,
        target=f"<= {BACKOFF_SCHEDULE + 0.05:.2f} s",
        status=check(extra, "<=", BACKOFF_SCHEDULE + 0.05),
        note="raw = the same 1,000 events without the poison one; ratio = the difference; "
        f"the backoff schedule is {BACKOFF_SCHEDULE:.2f} s",
    )


async def run_backend(backend: str, args: argparse.Namespace) -> list[Result]:
    sizes = QUICK if args.quick else FULL
    total = args.events or sizes.events
    results: list[Result] = []
    async with fresh_database(backend, args.postgres_url, "chronik_bench_views") as url:
        chronik = await Chronik.open(Settings(database_url=url))
        try:
            log(f"{backend}: loading {total:,} events")
            results.append(await load(chronik, sizes, total, backend))
            if backend == "postgres":
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute("VACUUM ANALYZE events")
            log(f"{backend}: catch-up")
            results.append(await catch_up_workload(chronik, backend, sizes.rounds))
            log(f"{backend}: live lag")
            results.append(await live_lag_workload(chronik, backend, args.live_seconds))
            log(f"{backend}: poison")
            results.append(await poison_workload(chronik, backend))
        finally:
            await chronik.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = common.parser("bench.views", __doc__, DEFAULT_ADMIN_URL)
    parser.add_argument("--events", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    common.run_each_backend("bench.views", argv, args, run_backend)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
