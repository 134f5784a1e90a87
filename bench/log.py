"""Benchmarks of the event log against the raw limit of the same database, in one run.

    python -m bench.log --backend sqlite|postgres|all [--events 1000000] [--quick]

Per backend, in one process:

1. ``batch100``   appends of 100 events, one client: Chronik ``append`` vs raw
   ``BEGIN; executemany; COMMIT`` (SQLite) / one transaction with a COPY of 100 rows
   (PostgreSQL) vs eventsourcing ``insert_events`` of 100 ``StoredEvent``;
2. ``single``     one event per append, one client: vs raw single-row commits;
3. ``concurrent32`` 32 asyncio tasks appending one event each on one Chronik, vs the raw
   single-client single-row commit rate of (2) (eventsourcing: 32 threads);
   ``cold``     the same on a fresh database and tenant as a fresh Chronik's first work,
   against the same after one sequential append, and its second burst;
   ``tenants``  32 concurrent one-event appenders over 16 tenants vs on one tenant;
   ``nodes``    the same over 4 processes (nodes) of 8 appenders, each on tenants of its own
   (PostgreSQL);
   ``placed``   tenants placed across two databases (PostgreSQL): 32 appenders on one
   tenant routed by the directory vs its database opened directly, 16 tenants over two
   databases vs one, and a move of a tenant under 8 appenders (its time and write pause);
4. ``search``     with ``--events`` events stored (loaded with Chronik's own append), the p99
   latency of each ListEvents filter shape, and page 1 vs page 5,000 of a Socotra stream;
5. ``follow``     ``EventLog.follow_batches`` over all tenants from sequence 0.

Each write workload gives two lines: Chronik against raw (its own target), and
"x eventsourcing", Chronik against the peer library from the same rounds (target >= 1.0).
Rates are medians of interleaved rounds (raw, Chronik, eventsourcing, raw, ...); results go
to the terminal and to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench import common
from bench.common import Result, Run, check, log, median, percentile, timed_async, timed_sync
from bench.data import TENANTS, Batch, Model, new_events
from bench.es import ESRecorder
from bench.raw import RawPostgres, RawSQLite
from chronik import Chronik, Event, EventQuery, NewEvent, NotFound, Settings

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PEER_TARGET = 1.0  # Chronik / eventsourcing on every write shape (issue 13)


@dataclass(frozen=True, slots=True)
class Sizes:
    duration: float  # seconds per timed run
    warmup: float  # seconds of untimed warm-up per implementation and workload
    rounds: int  # interleaved rounds; the median is reported
    events: int  # events stored for the search and follow workloads
    samples: int  # timed searches per filter shape
    page_depth: int  # the deep page of the stream workload
    page_repeats: int  # timed fetches of page 1 and of the deep page, each
    load_batch: int  # events per append while loading
    load_concurrency: int  # concurrent appenders while loading


FULL = Sizes(
    duration=3.0,
    warmup=1.0,
    rounds=3,
    events=1_000_000,
    samples=1000,
    page_depth=5000,
    page_repeats=300,
    load_batch=100,
    load_concurrency=8,
)
QUICK = Sizes(
    duration=0.4,
    warmup=0.15,
    rounds=1,
    events=20_000,
    samples=60,
    page_depth=100,
    page_repeats=30,
    load_batch=100,
    load_concurrency=8,
)


# -- databases -------------------------------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    """``url`` with another database, as a ``postgresql://`` URL (what Chronik accepts)."""
    from urllib.parse import quote

    info = psycopg.conninfo.conninfo_to_dict(url)
    user = quote(str(info.get("user", "postgres")))
    password = f":{quote(str(info['password']))}" if info.get("password") else ""
    host = info.get("host", "127.0.0.1")
    port = info.get("port", 5432)
    return f"postgresql://{user}{password}@{host}:{port}/{quote(name)}"


def create_pg_database(admin_url: str, name: str, *, keep: bool = False) -> tuple[str, bool]:
    """A PostgreSQL database ``name``; with ``keep`` an existing one is reused.
    Returns its URL and whether it existed."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )
        if exists and keep:
            return _with_db(admin_url, name), True
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_db(admin_url, name), False


def drop_pg_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.asynccontextmanager
async def fresh_database(backend: str, admin_url: str, name: str) -> AsyncIterator[str]:
    """The URL of a new, empty database of ``backend`` (a temporary SQLite file, or the
    PostgreSQL database ``name``), removed afterwards."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        try:
            yield f"sqlite:///{tmp / 'bench.db'}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    url, _ = create_pg_database(admin_url, name)
    try:
        yield url
    finally:
        drop_pg_database(admin_url, name)


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings = {}
        for name in ("synchronous_commit", "fsync", "shared_buffers", "wal_level"):
            value = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            settings[name] = value[0] if value else "?"
    assert row is not None
    return f"{row[0]} ({', '.join(f'{k}={v}' for k, v in settings.items())})"


async def tenants_of(chronik: Chronik) -> list[str]:
    """The ids of the benchmark's tenants, created when missing, in ``TENANTS`` order."""
    ids = []
    for name, _ in TENANTS:
        try:
            tenant = await chronik.tenants.get(name)
        except NotFound:
            tenant = await chronik.tenants.create(name)
        ids.append(tenant.id)
    return ids


# -- the write workloads --------------------------------------------------------------------


Op = Callable[[], Awaitable[int]]


def cycle(items: list[Any]) -> Callable[[], Any]:
    i = -1

    def take() -> Any:
        nonlocal i
        i = (i + 1) % len(items)
        return items[i]

    return take


async def interleaved(
    impls: dict[str, Callable[[float], Awaitable[Run]]],
    sizes: Sizes,
    settle: Callable[[], Awaitable[None]],
) -> dict[str, list[Run]]:
    """Warm every implementation up, then time them in interleaved rounds. Before each run
    ``settle`` puts the database in the same state (its log checkpointed), untimed, so no
    run pays for the log another one left behind."""
    for fn in impls.values():
        await settle()
        await fn(sizes.warmup)
    runs: dict[str, list[Run]] = {name: [] for name in impls}
    for _ in range(sizes.rounds):
        for name, fn in impls.items():
            await settle()
            gc.collect()
            runs[name].append(await fn(sizes.duration))
    return runs


def summary(runs: list[Run]) -> dict[str, Any]:
    rates = [r.rate for r in runs]
    return {
        "rates": [round(x, 1) for x in rates],
        "median": median(rates),
        "best": max(rates),
        "items": [r.items for r in runs],
        "seconds": [round(r.seconds, 3) for r in runs],
    }


class Writes:
    """The three write workloads on one fresh database of one backend."""

    def __init__(self, backend: str, sizes: Sizes, model: Model) -> None:
        self.backend = backend
        self.sizes = sizes
        self.model = model
        self.results: list[Result] = []
        self.raw_single_rate = float("nan")

    async def run(
        self,
        chronik: Chronik,
        raw: Any,
        es: ESRecorder,
        es32: ESRecorder,
        settle: Callable[[], Awaitable[None]],
    ) -> None:
        tenant_ids = await tenants_of(chronik)
        model = self.model
        pg = self.backend == "postgres"

        async def chronik_op(batches: list[Batch]) -> Callable[[float], Awaitable[Run]]:
            take = cycle([(tenant_ids[b.tenant], b.editor, new_events(b)) for b in batches])

            async def op() -> int:
                tenant, editor, events = take()
                return len(await chronik.events.append(tenant, events, editor=editor))

            return lambda d: timed_async(op, d)

        def raw_fn(batches: list[Batch], method: str) -> Callable[[float], Awaitable[Run]]:
            take = cycle(batches)
            if pg:
                call = getattr(raw, method)

                async def op() -> int:
                    return int(await call(take()))

                return lambda d: timed_async(op, d)
            sync_call = getattr(raw, method)

            async def run_sync(d: float) -> Run:
                return timed_sync(lambda: sync_call(take()), d)

            return run_sync

        def es_fn(batches: list[Batch], method: str) -> Callable[[float], Awaitable[Run]]:
            take = cycle(batches)
            call = getattr(es, method)

            async def run_sync(d: float) -> Run:
                return timed_sync(lambda: call(take()), d)

            return run_sync

        # 1. batches of 100 events
        batches = model.batches(400, 100)
        log(f"{self.backend}: batch100")
        runs = await interleaved(
            {
                "raw": raw_fn(batches, "batch"),
                "chronik": await chronik_op(batches),
                "eventsourcing": es_fn(batches, "batch"),
            },
            self.sizes,
            settle,
        )
        raw_kind = "COPY of 100 rows per transaction" if pg else "BEGIN; executemany; COMMIT"
        self._add(
            "1. batch of 100 events, 1 client",
            runs,
            ">=",
            0.8,
            f"raw: {raw_kind}; target Chronik >= 0.80 x raw",
        )

        # 2. one event per append, one client
        singles = model.batches(20_000, 1)
        log(f"{self.backend}: single")
        runs = await interleaved(
            {
                "raw": raw_fn(singles, "single"),
                "chronik": await chronik_op(singles),
                "eventsourcing": es_fn(singles, "single"),
            },
            self.sizes,
            settle,
        )
        raw_kind = (
            "autocommit single-row INSERT (AsyncConnection)"
            if pg
            else "BEGIN; INSERT; COMMIT per row"
        )
        self._add(
            "2. 1 event per append, 1 client",
            runs,
            ">=",
            0.7,
            f"raw: {raw_kind}; target Chronik >= 0.70 x raw",
        )
        self.raw_single_rate = median([r.rate for r in runs["raw"]])

        # 3. 32 concurrent single-event appenders (ratio to the raw single-client rate)
        log(f"{self.backend}: concurrent32")
        single_events = [(tenant_ids[b.tenant], b.editor, new_events(b)) for b in singles]

        async def chronik32(duration: float) -> Run:
            return await appenders(chronik, single_events, duration)

        async def es_threads(duration: float) -> Run:
            items, seconds = es32.concurrent(singles, 32, duration)
            return Run(items, seconds)

        runs = await interleaved(
            {"chronik": chronik32, "eventsourcing": es_threads}, self.sizes, settle
        )
        chronik_rate = median([r.rate for r in runs["chronik"]])
        es_rate = median([r.rate for r in runs["eventsourcing"]])
        ratio = chronik_rate / self.raw_single_rate
        workload = "3. 32 concurrent 1-event appenders"
        self.results.append(
            Result(
                backend=self.backend,
                workload=workload,
                unit="ev/s",
                raw=self.raw_single_rate,
                chronik=chronik_rate,
                eventsourcing=es_rate,
                ratio=ratio,
                target=">= 3.00 x raw single" if pg else "report (no target)",
                status=check(ratio, ">=", 3.0) if pg else "INFO",
                note="raw = the single-client single-row commit rate of workload 2; "
                "eventsourcing: 32 threads",
                details={
                    "chronik": summary(runs["chronik"]),
                    "eventsourcing": summary(runs["eventsourcing"]),
                    "eventsourcing_ratio": es_rate / self.raw_single_rate,
                },
            )
        )
        self._add_peer(workload, chronik_rate, es_rate, "eventsourcing: 32 threads")

    def _add(
        self, workload: str, runs: dict[str, list[Run]], op: str, limit: float, note: str
    ) -> None:
        raw = median([r.rate for r in runs["raw"]])
        chronik = median([r.rate for r in runs["chronik"]])
        es = median([r.rate for r in runs["eventsourcing"]])
        ratio = chronik / raw
        self.results.append(
            Result(
                backend=self.backend,
                workload=workload,
                unit="ev/s",
                raw=raw,
                chronik=chronik,
                eventsourcing=es,
                ratio=ratio,
                target=f"{op} {limit:.2f} x raw",
                status=check(ratio, op, limit),
                note=note,
                details={name: summary(r) for name, r in runs.items()}
                | {"eventsourcing_ratio": es / raw},
            )
        )
        self._add_peer(workload, chronik, es, "same rounds as the line above")

    def _add_peer(self, workload: str, chronik: float, es: float, note: str) -> None:
        """The line judging Chronik against the peer library on the same shape, from the
        rates of the same interleaved rounds as the raw line (so it costs no extra run)."""
        ratio = chronik / es
        self.results.append(
            Result(
                backend=self.backend,
                workload=f"{workload}, x eventsourcing",
                unit="ev/s",
                raw=None,
                chronik=chronik,
                eventsourcing=es,
                ratio=ratio,
                target=f">= {PEER_TARGET:.2f} x eventsourcing",
                status=check(ratio, ">=", PEER_TARGET),
                note=f"ratio = Chronik / eventsourcing; {note}",
                details={"compared_with": workload},
            )
        )


async def write_workloads(backend: str, sizes: Sizes, admin_url: str) -> list[Result]:
    model = Model(seed=1)
    writes = Writes(backend, sizes, model)
    tmp: Path | None = None
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-"))
        path = tmp / "writes.db"
        url = f"sqlite:///{path}"
    else:
        url, _ = create_pg_database(admin_url, "chronik_bench")
    chronik = await Chronik.open(Settings(database_url=url))
    try:
        if backend == "sqlite":
            raw: Any = RawSQLite(path)
            es = ESRecorder.sqlite(path)
            es32 = ESRecorder.sqlite(path, pool_size=32)
        else:
            raw = await RawPostgres.open(url)
            es = ESRecorder.postgres(url)
            es32 = ESRecorder.postgres(url, pool_size=32)

        async def settle() -> None:
            if backend == "sqlite":
                # Chronik's own background checkpoint may be running: retry until the WAL
                # is empty (it never takes long once the appenders are idle).
                con = sqlite3.connect(path)
                try:
                    for _ in range(200):
                        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                        if not busy:
                            break
                        await asyncio.sleep(0.025)
                    else:
                        log("sqlite: the settling checkpoint could not truncate the WAL")
                finally:
                    con.close()
            else:
                await raw.conn.execute("CHECKPOINT")

        try:
            await writes.run(chronik, raw, es, es32, settle)
        finally:
            if backend == "sqlite":
                raw.close()
            else:
                await raw.close()
            es.close()
            es32.close()
    finally:
        await chronik.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            drop_pg_database(admin_url, "chronik_bench")
    return writes.results


async def appenders(
    chronik: Chronik, events: list[tuple[str, Any, Any]], seconds: float, tasks: int = 32
) -> Run:
    """``tasks`` asyncio tasks appending one event each, round robin over ``events``, for
    ``seconds``."""
    stop = time.perf_counter() + seconds
    counts = [0] * tasks

    async def task(i: int) -> None:
        j = i
        while time.perf_counter() < stop:
            tenant, editor, batch = events[j % len(events)]
            counts[i] += len(await chronik.events.append(tenant, batch, editor=editor))
            j += tasks

    start = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(tasks)))
    return Run(sum(counts), time.perf_counter() - start)


async def cold_workload(backend: str, sizes: Sizes, admin_url: str) -> list[Result]:
    """32 concurrent 1-event appenders on a new database and tenant, as the first thing a
    fresh Chronik does ("cold"), against the same after one sequential append ("warm"); each
    round on a database of its own. "then" is a second burst on the cold round's Chronik right
    after its first: a cold start must not leave the process slow."""
    model = Model(seed=3)
    singles = [b for b in model.batches(20_000, 1) if b.tenant == 0]
    runs: dict[str, list[Run]] = {"cold": [], "then": [], "warm": []}
    for _ in range(sizes.rounds):
        for mode in ("cold", "warm"):
            async with fresh_database(backend, admin_url, "chronik_bench_cold") as url:
                chronik = await Chronik.open(Settings(database_url=url))
                try:
                    tenant = (await tenants_of(chronik))[0]
                    events = [(tenant, b.editor, new_events(b)) for b in singles]
                    if mode == "warm":
                        await chronik.events.append(tenant, events[-1][2], editor=events[-1][1])
                    gc.collect()
                    runs[mode].append(await appenders(chronik, events, sizes.duration))
                    if mode == "cold":
                        runs["then"].append(await appenders(chronik, events, sizes.duration))
                finally:
                    await chronik.close()
    rates = {mode: median([r.rate for r in mode_runs]) for mode, mode_runs in runs.items()}
    results = []
    for mode in ("cold", "then"):
        ratio = rates[mode] / rates["warm"]
        results.append(
            Result(
                backend=backend,
                workload="3b. 32 concurrent 1-event appenders, cold tenant"
                + (", its second burst" if mode == "then" else ""),
                unit="ev/s",
                raw=None,
                chronik=rates[mode],
                eventsourcing=None,
                ratio=ratio,
                target=">= 0.80 x warm",
                status=check(ratio, ">=", 0.8),
                note="warm = the same on a fresh database after one sequential append; "
                "each round on a new database",
                details={name: summary(r) for name, r in runs.items()},
            )
        )
    return results


async def tenants_workload(backend: str, sizes: Sizes, admin_url: str) -> list[Result]:
    """32 concurrent 1-event appenders spread over 16 tenants (two each) against the same on
    one tenant, back to back on one fresh database: what appends keyed by tenant gain."""
    model = Model(seed=4)
    singles = model.batches(4_000, 1)
    async with fresh_database(backend, admin_url, "chronik_bench_tenants") as url:
        chronik = await Chronik.open(Settings(database_url=url))
        try:
            tenants = [(await chronik.tenants.create(f"bench-{i:02}")).id for i in range(16)]
            spread = [(tenants[i % 16], b.editor, new_events(b)) for i, b in enumerate(singles)]
            one = [(tenants[0], editor, events) for _, editor, events in spread]

            async def settle() -> None:
                await asyncio.sleep(0.2)

            runs = await interleaved(
                {
                    "16 tenants": lambda d: appenders(chronik, spread, d),
                    "1 tenant": lambda d: appenders(chronik, one, d),
                },
                sizes,
                settle,
            )
        finally:
            await chronik.close()
    spread_rate = median([r.rate for r in runs["16 tenants"]])
    one_rate = median([r.rate for r in runs["1 tenant"]])
    ratio = spread_rate / one_rate
    pg = backend == "postgres"
    return [
        Result(
            backend=backend,
            workload="3c. 32 concurrent 1-event appenders over 16 tenants",
            unit="ev/s",
            raw=None,
            chronik=spread_rate,
            eventsourcing=None,
            ratio=ratio,
            target=">= 2.00 x one tenant" if pg else "report (one writer)",
            status=check(ratio, ">=", 2.0) if pg else "INFO",
            note=f"one tenant: {one_rate:,.0f} ev/s in the same rounds",
            details={name: summary(r) for name, r in runs.items()},
        )
    ]


@contextlib.asynccontextmanager
async def placed_databases(admin_url: str) -> AsyncIterator[tuple[str, str, str]]:
    """A directory and two tenant databases, new and empty, dropped afterwards."""
    async with (
        fresh_database("postgres", admin_url, "chronik_bench_dir") as directory,
        fresh_database("postgres", admin_url, "chronik_bench_a") as a,
        fresh_database("postgres", admin_url, "chronik_bench_b") as b,
    ):
        yield directory, a, b


async def placed_workload(backend: str, sizes: Sizes, admin_url: str) -> list[Result]:
    """Tenants placed across two databases (of the same server): what routing by tenant
    costs an append, what 16 tenants over two databases give against one database, and a
    move of a tenant under 8 writers (its duration and the writers' pause)."""
    if backend != "postgres":
        return []
    model = Model(seed=5)
    singles = model.batches(4_000, 1)
    results = []
    async with (
        placed_databases(admin_url) as (directory, a, b),
        fresh_database(backend, admin_url, "chronik_bench_one") as one_url,
    ):
        placed = await Chronik.open(Settings(database_url=directory, tenant_databases=(a, b)))
        direct = await Chronik.open(Settings(database_url=a))
        one = await Chronik.open(Settings(database_url=one_url))
        try:
            spread_placed = [(await placed.tenants.create(f"bench-{i:02}")).id for i in range(16)]
            spread_one = [(await one.tenants.create(f"bench-{i:02}")).id for i in range(16)]
            first = spread_placed[0]  # in a: routed through the directory, or a itself

            def work(tenants: list[str]) -> list[tuple[str, Any, Any]]:
                return [(tenants[i % 16], b.editor, new_events(b)) for i, b in enumerate(singles)]

            on_first = [(first, editor, events) for _, editor, events in work(spread_placed)]

            async def settle() -> None:
                await asyncio.sleep(0.2)

            runs = await interleaved(
                {
                    "routed": lambda d: appenders(placed, on_first, d),
                    "direct": lambda d: appenders(direct, on_first, d),
                    "16 tenants, 2 databases": lambda d: appenders(placed, work(spread_placed), d),
                    "16 tenants, 1 database": lambda d: appenders(one, work(spread_one), d),
                },
                sizes,
                settle,
            )
            rates = {name: median([r.rate for r in found]) for name, found in runs.items()}
            details = {name: summary(found) for name, found in runs.items()}
            results.append(
                Result(
                    backend=backend,
                    workload="3e. 32 concurrent 1-event appenders on one tenant, routed by the "
                    "directory",
                    unit="ev/s",
                    raw=None,
                    chronik=rates["routed"],
                    eventsourcing=None,
                    ratio=rates["routed"] / rates["direct"],
                    target=">= 0.90 x its database opened directly",
                    status=check(rates["routed"] / rates["direct"], ">=", 0.9),
                    note=f"directly: {rates['direct']:,.0f} ev/s in the same rounds",
                    details=details,
                )
            )
            two = rates["16 tenants, 2 databases"]
            results.append(
                Result(
                    backend=backend,
                    workload="3f. 32 concurrent 1-event appenders over 16 tenants placed in "
                    "2 databases of one server",
                    unit="ev/s",
                    raw=None,
                    chronik=two,
                    eventsourcing=None,
                    ratio=two / rates["16 tenants, 1 database"],
                    target="report (one server, one machine)",
                    status="INFO",
                    note=f"one database: {rates['16 tenants, 1 database']:,.0f} ev/s in the "
                    "same rounds",
                    details=details,
                )
            )
            results.append(await _move_under_load(placed, first, sizes, b))
        finally:
            for chronik in (placed, direct, one):
                await chronik.close()
    return results


async def _move_under_load(placed: Chronik, tenant: str, sizes: Sizes, to: str) -> Result:
    """Load the tenant to ``sizes.events // 10`` events, then move it while 8 appenders
    write it; the slowest single append is the pause a writer saw."""
    total = sizes.events // 10
    have = await placed.events.head(tenant)
    batch = [NewEvent(aggregate_type="load", aggregate_id=f"l{i}", type="load") for i in range(100)]
    for _ in range(max(0, total - have) // 100):
        await placed.events.append(tenant, batch)
    stop = asyncio.Event()
    slowest = [0.0]
    written = [0]

    async def writer(i: int) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await placed.events.append(
                tenant, [NewEvent(aggregate_type="w", aggregate_id=f"w{i}", type="w")]
            )
            slowest[0] = max(slowest[0], time.perf_counter() - started)
            written[0] += 1

    writers = [asyncio.create_task(writer(i)) for i in range(8)]
    await asyncio.sleep(0.5)
    slowest[0], written[0] = 0.0, 0
    started = time.perf_counter()
    moved = await placed.move_tenant(tenant, to)
    seconds = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*writers)
    return Result(
        backend="postgres",
        workload=f"3g. move a tenant of {moved.events:,} events under 8 appenders",
        unit="s",
        raw=None,
        chronik=seconds,
        eventsourcing=None,
        ratio=None,
        target="report",
        status="INFO",
        note=f"writes paused {moved.paused_seconds * 1000:,.0f} ms (the slowest append: "
        f"{slowest[0] * 1000:,.0f} ms); {written[0]:,} appends during the move; of its "
        f"{moved.seconds:.1f} s, 3 s wait for the nodes' placement cache (2 s) to run out "
        "before the source's rows are deleted",
        details={"move_seconds": moved.seconds, "paused_seconds": moved.paused_seconds},
    )


def _node(url: str, tenants: list[str], seconds: float, start_at: float) -> int:
    """One node of ``nodes_workload``: a Chronik of its own process with 8 one-event
    appenders over ``tenants``, from ``start_at`` (a shared wall-clock start) for
    ``seconds``; the events it appended."""

    async def run() -> int:
        chronik = await Chronik.open(Settings(database_url=url), migrate=False)
        try:
            model = Model(seed=len(tenants))
            events = [
                (tenants[i % len(tenants)], b.editor, new_events(b))
                for i, b in enumerate(model.batches(2_000, 1))
            ]
            await asyncio.sleep(max(0.0, start_at - time.time()))
            return (await appenders(chronik, events, seconds, tasks=8)).items
        finally:
            await chronik.close()

    return asyncio.run(run())


async def nodes_workload(backend: str, sizes: Sizes, admin_url: str) -> list[Result]:
    """Four nodes (processes) of 8 one-event appenders each, every node on 4 tenants of its
    own (16 in all), against the same four nodes all on one tenant: what ordering per tenant
    gains an installation of several nodes, where one node's groups would otherwise wait on
    the others' lock. PostgreSQL only (SQLite has one writer)."""
    import concurrent.futures
    import multiprocessing

    if backend != "postgres":
        return []
    async with fresh_database(backend, admin_url, "chronik_bench_nodes") as url:
        chronik = await Chronik.open(Settings(database_url=url))
        try:
            tenants = [(await chronik.tenants.create(f"node-{i:02}")).id for i in range(16)]
        finally:
            await chronik.close()
        shapes = {
            "16 tenants": [tenants[n * 4 : n * 4 + 4] for n in range(4)],
            "1 tenant": [tenants[:1]] * 4,
        }
        rates: dict[str, list[float]] = {name: [] for name in shapes}
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(4, mp_context=context) as pool:
            for round_ in range(sizes.rounds + 1):  # the first round warms up
                for name, per_node in shapes.items():
                    start_at = time.time() + 3.0  # every process opened and ready
                    counts = list(
                        pool.map(
                            _node,
                            [url] * 4,
                            per_node,
                            [sizes.duration] * 4,
                            [start_at] * 4,
                        )
                    )
                    if round_:
                        rates[name].append(sum(counts) / sizes.duration)
                        log(f"{backend}: nodes, {name}: {rates[name][-1]:,.0f} ev/s")
    spread, one = median(rates["16 tenants"]), median(rates["1 tenant"])
    ratio = spread / one
    return [
        Result(
            backend=backend,
            workload="3d. 4 nodes x 8 one-event appenders, 16 tenants (4 per node)",
            unit="ev/s",
            raw=None,
            chronik=spread,
            eventsourcing=None,
            ratio=ratio,
            target=">= 2.00 x one tenant",
            status=check(ratio, ">=", 2.0),
            note=f"the same four nodes on one tenant: {one:,.0f} ev/s in the same rounds",
            details={name: [round(r) for r in values] for name, values in rates.items()},
        )
    ]


# -- the read workloads ----------------------------------------------------------------------


async def load(chronik: Chronik, sizes: Sizes, total: int, backend: str) -> Result:
    """Fill the log with ``total`` events through Chronik's append, ``load_concurrency``
    appenders at a time; generating the events is not timed."""
    model = Model(seed=7)
    tenant_ids = await tenants_of(chronik)
    done = 0
    seconds = 0.0
    chunk = 100_000
    last_report = time.perf_counter()
    while done < total:
        n = min(chunk, total - done)
        batches = [model.batch(sizes.load_batch) for _ in range(max(1, n // sizes.load_batch))]
        work = [(tenant_ids[b.tenant], b.editor, new_events(b)) for b in batches]
        queue = iter(work)

        async def appender(queue: Any = queue) -> int:
            count = 0
            for tenant, editor, events in queue:
                count += len(await chronik.events.append(tenant, events, editor=editor))
            return count

        gc.collect()
        start = time.perf_counter()
        counts = await asyncio.gather(*(appender() for _ in range(sizes.load_concurrency)))
        seconds += time.perf_counter() - start
        done += sum(counts)
        if time.perf_counter() - last_report > 10:
            log(f"{backend}: loaded {done:,} events ({done / seconds:,.0f} ev/s)")
            last_report = time.perf_counter()
    return Result(
        backend=backend,
        workload=f"load {done:,} events (append {sizes.load_batch}, "
        f"{sizes.load_concurrency} concurrent)",
        unit="ev/s",
        raw=None,
        chronik=done / seconds,
        eventsourcing=None,
        ratio=None,
        target="report",
        status="INFO",
        note="Chronik's own append API; event generation not timed",
        details={"events": done, "seconds": seconds},
    )


async def sample_events(chronik: Chronik, count: int, rng: random.Random) -> list[Event]:
    """``count`` stored events picked uniformly (so 80 % of the big tenant): a tenant in
    proportion to its events, then one of its sequences."""
    heads = {t: h for t, h in (await chronik.events.heads()).items() if h}
    tenants, weights = list(heads), list(heads.values())
    out: list[Event] = []
    for _ in range(count):
        tenant = rng.choices(tenants, weights)[0]
        [event] = await chronik.db.events.read_after(tenant, rng.randrange(heads[tenant]), 1)
        out.append(event)
    return out


Shape = Callable[[Event, list[Event], random.Random], EventQuery]


def _distinct(first: str, others: list[str], n: int) -> tuple[str, ...]:
    out = [first]
    for value in others:
        if len(out) == n:
            break
        if value not in out:
            out.append(value)
    return tuple(out)


def shapes() -> dict[str, Shape]:
    """The ListEvents filter shapes; each query is drawn from stored events (of the sampled
    event's tenant), so it asks for things that exist, in their natural proportions."""

    def others(peers: list[Event], rng: random.Random) -> list[Event]:
        return rng.sample(peers, min(len(peers), 12))

    def rng_range(s: Event, peers: list[Event], rng: random.Random) -> EventQuery:
        t = rng.choice(peers).created_at
        lo, hi = sorted((s.created_at, t))
        if hi <= lo:
            hi = lo + timedelta(milliseconds=1)
        return EventQuery(limit=100, since=lo, until=hi)

    return {
        "no filter (desc)": lambda s, p, r: EventQuery(limit=100),
        "asc from a sequence": lambda s, p, r: EventQuery(limit=100, asc=True, sequence=s.sequence),
        "eventTypes (1)": lambda s, p, r: EventQuery(limit=100, event_types=(s.type,)),
        "eventTypes (3, OR)": lambda s, p, r: EventQuery(
            limit=100, event_types=_distinct(s.type, [e.type for e in others(p, r)], 3)
        ),
        "aggregateTypes (1)": lambda s, p, r: EventQuery(
            limit=100, aggregate_types=(s.aggregate_type,)
        ),
        "aggregateTypes (2)": lambda s, p, r: EventQuery(
            limit=100,
            aggregate_types=_distinct(
                s.aggregate_type, [e.aggregate_type for e in others(p, r)], 2
            ),
        ),
        "aggregateId": lambda s, p, r: EventQuery(limit=100, aggregate_id=s.aggregate_id),
        "editorUserId": lambda s, p, r: EventQuery(limit=100, editor_user_id=s.editor_user_id),
        "resourceOwner": lambda s, p, r: EventQuery(limit=100, resource_owner=s.resource_owner),
        "creationDate (desc)": lambda s, p, r: EventQuery(limit=100, creation_date=s.created_at),
        "range {since, until}": rng_range,
        "eventTypes + aggregateTypes": lambda s, p, r: EventQuery(
            limit=100, event_types=(s.type,), aggregate_types=(s.aggregate_type,)
        ),
        "aggregateTypes + resourceOwner": lambda s, p, r: EventQuery(
            limit=100, aggregate_types=(s.aggregate_type,), resource_owner=s.resource_owner
        ),
    }


async def search_workloads(chronik: Chronik, sizes: Sizes, backend: str) -> list[Result]:
    rng = random.Random(11)
    samples = await sample_events(chronik, 400, rng)
    by_tenant: dict[str, list[Event]] = {}
    for e in samples:
        by_tenant.setdefault(e.tenant_id, []).append(e)
    plan: dict[str, list[tuple[str, EventQuery]]] = {}
    for name, shape in shapes().items():
        queries = []
        for i in range(sizes.samples):
            s = samples[i % len(samples)]
            queries.append((s.tenant_id, shape(s, by_tenant[s.tenant_id], rng)))
        plan[name] = queries

    async def one(tenant: str, query: EventQuery) -> tuple[float, int]:
        start = time.perf_counter()
        page = await chronik.events.search(tenant, query)
        return time.perf_counter() - start, len(page.events)

    # Warm up (and fill the page cache the way a running server's would be).
    warm = max(20, sizes.samples // 10)
    for queries in plan.values():
        for tenant, query in queries[:warm]:
            await one(tenant, query)
    times: dict[str, list[float]] = {name: [] for name in plan}
    rows: dict[str, list[int]] = {name: [] for name in plan}
    for i in range(sizes.samples):  # round robin over the shapes, so noise is shared
        for name, queries in plan.items():
            seconds, n = await one(*queries[i])
            times[name].append(seconds * 1000)
            rows[name].append(n)
    results = []
    for name in plan:
        p99 = percentile(times[name], 99)
        results.append(
            Result(
                backend=backend,
                workload=f"4. search p99: {name}",
                unit="ms",
                raw=None,
                chronik=p99,
                eventsourcing=None,
                ratio=None,
                target="<= 10 ms" if backend == "sqlite" else "<= 10 ms (ref.)",
                status=check(p99, "<=", 10.0)
                if backend == "sqlite"
                else ("INFO" if p99 <= 10.0 else "INFO (over)"),
                note="limit 100; one client; EventLog.search end to end",
                details={
                    "samples": len(times[name]),
                    "p50_ms": percentile(times[name], 50),
                    "p90_ms": percentile(times[name], 90),
                    "p99_ms": p99,
                    "max_ms": max(times[name]),
                    "mean_rows": sum(rows[name]) / len(rows[name]),
                    "example": repr(plan[name][0][1]),
                },
            )
        )
    return results


async def stream_workload(
    chronik: Chronik, sizes: Sizes, backend: str, tenant: str, tenant_events: int
) -> Result:
    """Page 1 vs page ``page_depth`` of a Socotra stream (page size 100), reached by
    following paging tokens; only the two fetches are timed, interleaved and repeated."""
    depth = min(sizes.page_depth, max(2, tenant_events // 100))
    log(f"{backend}: following tokens to page {depth:,} of the stream")
    first = await chronik.events.stream(tenant, page_size=100)
    page = first
    start = time.perf_counter()
    for _ in range(depth - 2):
        page = await chronik.events.next_page(tenant, page.paging_token)
    walk = time.perf_counter() - start
    token = page.paging_token  # the token of page depth-1: next_page gives page ``depth``
    deep = await chronik.events.next_page(tenant, token)
    assert len(deep.events) == 100, f"page {depth} has {len(deep.events)} events"
    first_times: list[float] = []
    deep_times: list[float] = []
    for i in range(sizes.page_repeats + 20):
        t0 = time.perf_counter()
        p1 = await chronik.events.stream(tenant, page_size=100)
        t1 = time.perf_counter()
        pd = await chronik.events.next_page(tenant, token)
        t2 = time.perf_counter()
        assert len(p1.events) == len(pd.events) == 100
        if i >= 20:  # the first 20 pairs warm up
            first_times.append((t1 - t0) * 1000)
            deep_times.append((t2 - t1) * 1000)
    p50_1, p50_d = percentile(first_times, 50), percentile(deep_times, 50)
    ratio = p50_d / p50_1
    worse = max(ratio, 1 / ratio)
    return Result(
        backend=backend,
        workload=f"4. stream page {depth:,} vs page 1 (p50)",
        unit="ms",
        raw=None,
        chronik=p50_d,
        eventsourcing=None,
        ratio=ratio,
        target="within 1.5x",
        status=check(worse, "<=", 1.5),
        note=f"page 1 p50 {p50_1:.2f} ms; chronik column = page {depth} p50",
        details={
            "depth": depth,
            "page1_p50_ms": p50_1,
            "page1_p99_ms": percentile(first_times, 99),
            "deep_p50_ms": p50_d,
            "deep_p99_ms": percentile(deep_times, 99),
            "p99_ratio": percentile(deep_times, 99) / percentile(first_times, 99),
            "repeats": len(first_times),
            "walk_pages_per_s": (depth - 2) / walk if walk else None,
            "deep_first_sequence": deep.events[0].sequence,
        },
    )


async def follow_from_zero(chronik: Chronik, limit: int) -> tuple[int, float]:
    """Follow the whole log (all tenants) from 0 until ``limit`` events: (events, seconds)."""
    n = 0
    start = time.perf_counter()
    agen: AsyncIterator[list[Event]] = chronik.events.follow_batches(None, after=0)
    try:
        async for batch in agen:
            n += len(batch)
            if n >= limit:
                break
    finally:
        await agen.aclose()  # type: ignore[attr-defined]
    return n, time.perf_counter() - start


async def follow_workload(
    chronik: Chronik, backend: str, raw_read: Callable[[int], Awaitable[float]]
) -> Result:
    head = sum((await chronik.events.heads()).values())

    async def follow(limit: int) -> tuple[int, float]:
        return await follow_from_zero(chronik, limit)

    await follow(min(head, 50_000))  # warm-up
    rates: list[float] = []
    raw_rates: list[float] = []
    n = 0
    for _ in range(2):  # interleaved: Chronik, raw, Chronik, raw; the best of each
        gc.collect()
        n, seconds = await follow(head)
        rates.append(n / seconds)
        gc.collect()
        raw_rates.append(await raw_read(head))
    rate, raw_rate = max(rates), max(raw_rates)
    return Result(
        backend=backend,
        workload=f"5. follow all tenants from 0 ({n:,} events)",
        unit="ev/s",
        raw=raw_rate,
        chronik=rate,
        eventsourcing=None,
        ratio=rate / raw_rate,
        target=">= 100,000 ev/s" if backend == "sqlite" else "report",
        status=check(rate, ">=", 100_000) if backend == "sqlite" else "INFO",
        note="follow_batches (batches of 1000) decoded to Event, best of 2; raw = plain "
        "keyset SELECT of the same rows in batches of 1000, tuples only (no decoding)",
        details={"events": n, "rates": rates, "raw_rates": raw_rates},
    )


def _sqlite_raw_read(path: Path) -> Callable[[int], Awaitable[float]]:
    async def read(total: int) -> float:
        con = sqlite3.connect(path)
        q = (
            "SELECT id, tenant_key, locator, aggregate_type, aggregate_id, "
            "aggregate_version, resource_owner, type, revision, payload, editor_user_id, "
            "editor_service, request_id, created_at, sequence FROM events WHERE id > ? "
            "ORDER BY id LIMIT 1000"
        )  # the file's own order of commits (sequences are per tenant)
        n, after = 0, 0
        start = time.perf_counter()
        while n < total:
            rows = con.execute(q, (after,)).fetchall()
            if not rows:
                break
            n += len(rows)
            after = rows[-1][0]
        seconds = time.perf_counter() - start
        con.close()
        return n / seconds

    return read


def _pg_raw_read(url: str) -> Callable[[int], Awaitable[float]]:
    async def read(total: int) -> float:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            q = (
                "SELECT sequence, tenant_key, locator, aggregate_type, aggregate_id, "
                "aggregate_version, resource_owner, type, revision, payload::text, "
                "editor_user_id, editor_service, request_id, created_at FROM events "
                "WHERE (tenant_key, sequence) > (%s, %s) ORDER BY tenant_key, sequence LIMIT 1000"
            )  # keyset over the primary key: tenant by tenant (sequences are per tenant)
            n, tenant, after = 0, 0, 0
            start = time.perf_counter()
            while n < total:
                cur = await conn.execute(q, (tenant, after))
                rows = await cur.fetchall()
                if not rows:
                    break
                n += len(rows)
                tenant, after = rows[-1][1], rows[-1][0]
            return n / (time.perf_counter() - start)

    return read


def _file_sizes_mb(path: Path) -> tuple[float, float]:
    """The sizes of an SQLite file's WAL and of the file itself, in MB."""
    wal = Path(f"{path}-wal")
    wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    return round(wal_mb, 1), round(path.stat().st_size / 1e6, 1)


async def read_workloads(backend: str, sizes: Sizes, admin_url: str, reuse: bool) -> list[Result]:
    results: list[Result] = []
    tmp: Path | None = None
    name = "chronik_bench_search"
    if backend == "sqlite":
        if reuse:
            common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = common.RESULTS_DIR / f"search-sqlite-{sizes.events}.db"
        else:
            tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-"))
            path = tmp / "search.db"
        url = f"sqlite:///{path}"
        raw_read = _sqlite_raw_read(path)
    else:
        url, _ = create_pg_database(admin_url, name, keep=reuse)
        raw_read = _pg_raw_read(url)
    chronik = await Chronik.open(Settings(database_url=url))
    try:
        head = sum((await chronik.events.heads()).values())
        if head and (not reuse or head != sizes.events):
            raise SystemExit(f"{url} holds {head} events, not {sizes.events}; remove it")
        if head == 0:
            log(f"{backend}: loading {sizes.events:,} events")
            results.append(await load(chronik, sizes, sizes.events, backend))
            if backend == "sqlite":
                wal_mb, db_mb = _file_sizes_mb(path)
                results[-1].details["wal_mb_after_load"] = wal_mb
                results[-1].details["db_mb_after_load"] = db_mb
                results[-1].note += f"; WAL file {wal_mb:,.0f} MB right after the load"
            log(f"{backend}: {results[-1].chronik:,.0f} ev/s")
        else:
            log(f"{backend}: reusing {head:,} stored events ({url})")
        if backend == "postgres":
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute("VACUUM ANALYZE events")
        log(f"{backend}: search shapes")
        results += await search_workloads(chronik, sizes, backend)
        tenant = (await chronik.tenants.get(TENANTS[0][0])).id
        tenant_events = int(sizes.events * TENANTS[0][1] * 0.95)
        results.append(await stream_workload(chronik, sizes, backend, tenant, tenant_events))
        log(f"{backend}: follow")
        results.append(await follow_workload(chronik, backend, raw_read))
    finally:
        await chronik.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        elif backend == "postgres" and not reuse:
            drop_pg_database(admin_url, name)
    return results


# -- entry point -------------------------------------------------------------------------


async def run_backend(backend: str, sizes: Sizes, args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    writing = {
        "writes": write_workloads,
        "cold": cold_workload,
        "tenants": tenants_workload,
        "placed": placed_workload,
        "nodes": nodes_workload,
    }
    for name, workload in writing.items():
        if name in args.workloads:
            found = await workload(backend, sizes, args.postgres_url)
            for r in found:
                figure = (
                    f"ratio {r.ratio:.2f}" if r.ratio is not None else f"{r.chronik:,.2f} {r.unit}"
                )
                log(f"{backend}: {r.workload}: {figure} ({r.status})")
            results += found
    if "reads" in args.workloads:
        results += await read_workloads(backend, sizes, args.postgres_url, args.reuse_data)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events stored for the search and follow workloads "
        "(default 1,000,000; 20,000 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument(
        "--workloads",
        default="writes,cold,tenants,placed,nodes,reads",
        help="comma-separated: writes, cold, tenants, placed (PostgreSQL), nodes, reads "
        "(default all)",
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="keep the loaded log (SQLite: bench/results/search-sqlite-N.db; "
        "PostgreSQL: database chronik_bench_search) and reuse it next time; "
        "default: build it fresh and drop it",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_ADMIN_URL,
        help="an existing database to connect to for creating the "
        "benchmark databases (default %(default)s)",
    )
    args = parser.parse_args(argv)
    args.workloads = {w.strip() for w in args.workloads.split(",") if w.strip()}
    sizes = QUICK if args.quick else FULL
    if args.events is not None:
        sizes = Sizes(
            **{**{f: getattr(sizes, f) for f in sizes.__dataclass_fields__}, "events": args.events}
        )
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    pg_version = None
    if "postgres" in backends:
        pg_version = postgres_version(args.postgres_url)
    started = time.time()
    if os.getloadavg()[0] > 0.5:
        log(
            f"warning: the load average is {os.getloadavg()[0]:.2f} before the start; other "
            "programs are running and will skew the figures"
        )
    results: list[Result] = []
    noise: dict[str, Any] = {}
    for backend in backends:
        log(f"{backend}: start")
        meter = common.ForeignLoad()
        results += asyncio.run(run_backend(backend, sizes, args))
        noise[backend] = meter.report()
        log(
            f"{backend}: other programs used {noise[backend]['foreign_cpu_per_second']:.2f} "
            "CPU-seconds per second during the run; the hypervisor stole "
            f"{noise[backend]['stolen_cpu_per_second']:.2f}"
        )
    meta = {
        "command": "python -m bench.log "
        + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": common.machine(pg_version),
        "sizes": {f: getattr(sizes, f) for f in sizes.__dataclass_fields__},
        "rates": "median of interleaved rounds",
        "other_programs": noise,
    }
    common.finish(results, meta)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
