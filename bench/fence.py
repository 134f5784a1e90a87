"""What the fence of tenant moves costs an append, measured at the SQL level.

    python -m bench.fence [--appends 2000] [--rounds 5] [--postgres-url URL]

Every statement that writes a tenant's rows runs ``chronik_fence()`` (migration 0016), a
statement trigger that takes the tenant's lock 728392 shared and checks that the tenant has
not moved out. This calls ``chronik_append_one`` (Chronik's one-event append, the one the
fence weighs most on) from one connection, in interleaved rounds with the trigger on and
off, on a fresh database; the figures are the median appends per second.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psycopg

from bench import common
from bench.common import Result, check, log, median
from bench.log import DEFAULT_ADMIN_URL, create_pg_database, drop_pg_database, postgres_version
from chronik import Chronik, Settings
from chronik.storage.postgres.database import Q

SWITCH = "ALTER TABLE events {} TRIGGER events_fence"


def appends(conn: psycopg.Connection[tuple[object, ...]], tenant: int, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        params = (tenant, str(uuid.uuid4()), "order", f"o{i % 50}", "", "order.placed", 1)
        conn.execute(Q["append_one"], (*params, "{}", "u", "s", "r", None, None, None, None))
    return count / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fence",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    started = time.time()
    url, _ = create_pg_database(args.postgres_url, "chronik_bench_fence")
    meter = common.ForeignLoad()
    rates: dict[str, list[float]] = {"on": [], "off": []}
    try:

        async def prepare() -> None:
            async with await Chronik.open(Settings(database_url=url)) as chronik:
                await chronik.tenants.create("bench")

        asyncio.run(prepare())
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT key FROM tenants WHERE name = 'bench'").fetchone()
            assert row is not None
            appends(conn, row[0], args.appends // 4)  # warm up
            for round_ in range(args.rounds):
                for mode in ("on", "off"):
                    conn.execute(SWITCH.format("ENABLE" if mode == "on" else "DISABLE"))
                    conn.execute("CHECKPOINT")
                    rates[mode].append(appends(conn, row[0], args.appends))
                    log(f"round {round_ + 1}: fence {mode}: {rates[mode][-1]:,.0f} appends/s")
    finally:
        drop_pg_database(args.postgres_url, "chronik_bench_fence")
    on, off = median(rates["on"]), median(rates["off"])
    results = [
        Result(
            backend="postgres",
            workload="chronik_append_one from one connection, fence on / off",
            unit="appends/s",
            raw=off,
            chronik=on,
            eventsourcing=None,
            ratio=on / off,
            target=">= 0.95",
            status=check(on / off, ">=", 0.95),
            note="raw = the same with the trigger disabled",
            details={k: [round(x) for x in v] for k, v in rates.items()},
        )
    ]
    meta = {
        "command": "python -m bench.fence "
        + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": common.machine(postgres_version(args.postgres_url)),
        "rates": "median of interleaved rounds",
        "other_programs": {"postgres": meter.report()},
    }
    common.finish(results, meta)


if __name__ == "__main__":
    main()
