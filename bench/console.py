"""The console's pages on a big log: server time per page (issue 16).

    python -m bench.console [--backend sqlite|postgres|all] [--quick] [--events 1000000]
                            [--requests 50] [--keep]

Per backend: a database filled with ``--events`` events of the benchmark's event mix
(:mod:`bench.data`) through Chronik's own append, 100 events per append and 8 appenders, as
``bench.log`` loads its log (so the table and its indexes are what an install has);
the built-in views are not run, so their lag is the whole log. PostgreSQL's table is
vacuumed and analysed after the load, as autovacuum would do. Then, in process, the app of
``chronik serve`` over that database answers a signed-in console session (an ``IAM_OWNER``
token of the biggest tenant, which holds 80 % of the events) through httpx's
``ASGITransport``: each page is asked ``--requests`` times after three unmeasured requests,
one at a time, and the time from sending the request to having the whole answer is its
server time (no network; the client's share is a few hundredths of a millisecond).
Target: the median of every page under 150 ms (issue 16); p95 reported.

``--keep`` keeps the loaded database (a SQLite file under ``bench/results/``, the PostgreSQL
database ``chronik_bench_console``) and reuses it on the next run with ``--keep``.
"""

from __future__ import annotations

import contextlib
import gc
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import common
from bench.common import RESULTS_DIR, Result, check, log, median, percentile
from bench.data import EVENT_TYPES
from bench.log import (
    DEFAULT_ADMIN_URL,
    FULL,
    QUICK,
    create_pg_database,
    drop_pg_database,
    load,
)
from chronik import Chronik, Settings
from chronik.api import create_app
from chronik.records import EventQuery

TARGET_MS = 150.0
DATABASE = "chronik_bench_console"
OLDER = re.compile(r'href="(/console/events\?page=[^"]+)" rel="next"')


@contextlib.asynccontextmanager
async def _database(backend: str, args: Any) -> AsyncIterator[tuple[str, Path, bool]]:
    """The database URL, a data directory and whether it holds the log already."""
    if backend == "sqlite":
        kept = RESULTS_DIR / "console-sqlite"
        if args.keep:
            kept.mkdir(parents=True, exist_ok=True)
            yield f"sqlite:///{kept / 'chronik.db'}", kept, (kept / "chronik.db").exists()
            return
        tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-console-"))
        try:
            yield f"sqlite:///{tmp / 'chronik.db'}", tmp, False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    url, existed = create_pg_database(args.postgres_url, DATABASE, keep=args.keep)
    with tempfile.TemporaryDirectory(prefix="chronik-bench-console-") as scratch:
        try:
            yield url, Path(scratch), existed
        finally:
            if not args.keep:
                drop_pg_database(args.postgres_url, DATABASE)


async def _older(client: httpx.AsyncClient, path: str, params: dict[str, str], pages: int) -> str:
    """The path of the page ``pages`` "older" links after the first of ``path``."""
    answer = await client.get(path, params=params)
    for _ in range(pages):
        found = OLDER.search(answer.text)
        assert found, f"no older page after {answer.url}"
        path = found[1].replace("&amp;", "&")
        answer = await client.get(path)
    return path


async def _time(
    client: httpx.AsyncClient, path: str, params: dict[str, str], n: int
) -> list[float]:
    for _ in range(3):
        answer = await client.get(path, params=params)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        answer = await client.get(path, params=params)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return samples


async def run_backend(backend: str, args: Any) -> list[Result]:
    sizes = QUICK if args.quick else FULL
    events = args.events or sizes.events
    results: list[Result] = []
    async with _database(backend, args) as (url, data, loaded):
        settings = Settings(database_url=url, data_dir=data)
        async with await Chronik.open(settings) as chronik:
            if not loaded:
                results.append(await load(chronik, sizes, events, backend))
            else:
                total = sum((await chronik.events.heads()).values())
                log(f"{backend}: reusing the loaded log ({total:,} events)")
            if backend == "postgres":
                # As autovacuum would in any install (this test server runs without it):
                # without statistics the planner joins the tenant's whole index range to
                # the request's few rows (87 ms for that query of the detail page, not 0.2).
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute("VACUUM ANALYZE events")
            tenant = (await chronik.tenants.get("bench-main")).id
            _, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"], name="bench-console")
            head = await chronik.events.head(tenant)
            middle = await chronik.events.search(tenant, EventQuery(limit=1, sequence=head // 2))
            sample = middle.events[0]
            span = await chronik.events.search(tenant, EventQuery(limit=1, sequence=head * 2 // 5))
            since, until = span.events[0].created_at, sample.created_at
            rarest = EVENT_TYPES[-1][0]
            deep = 4 if args.quick else 20
            app = create_app(settings, chronik=chronik)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                signed = await client.post("/console/sign-in", data={"token": token})
                assert signed.status_code == 303, signed.text
                moment = "%Y-%m-%dT%H:%M:%S.%f"
                pages: list[tuple[str, str, dict[str, str]]] = [
                    ("overview", "/console/overview", {}),
                    ("events, first page", "/console/events", {}),
                    (
                        "events of the commonest type",
                        "/console/events",
                        {"eventTypes": EVENT_TYPES[0][0]},
                    ),
                    (
                        f"events of the rarest type ({rarest})",
                        "/console/events",
                        {"eventTypes": rarest},
                    ),
                    (
                        "events of one aggregate",
                        "/console/events",
                        {"aggregateId": sample.aggregate_id},
                    ),
                    (
                        "events of the commonest type and one resource owner",
                        "/console/events",
                        {"eventTypes": EVENT_TYPES[0][0], "resourceOwner": sample.resource_owner},
                    ),
                    ("events of a type no event has", "/console/events", {"eventTypes": "nope"}),
                    (
                        "events of the commonest type by an editor with none (worst case)",
                        "/console/events",
                        {"eventTypes": EVENT_TYPES[0][0], "editorUserId": "no-such-editor"},
                    ),
                    (
                        "events in a time range (from/until)",
                        "/console/events",
                        {"from": since.strftime(moment), "until": until.strftime(moment)},
                    ),
                    (
                        f"events, page {deep + 1} (paging token)",
                        await _older(client, "/console/events", {}, deep),
                        {},
                    ),
                    (
                        f"events of the rarest type, page {deep // 4 + 1} (paging token)",
                        await _older(client, "/console/events", {"eventTypes": rarest}, deep // 4),
                        {},
                    ),
                    ("an event's detail", f"/console/events/{sample.locator}", {}),
                    ("live tail page", "/console/events/tail", {}),
                    ("views", "/console/views", {}),
                    ("failed jobs", "/console/jobs", {}),
                ]
                gc.collect()
                for name, path, params in pages:
                    samples = await _time(client, path, params, args.requests)
                    p50, p95 = median(samples), percentile(samples, 95)
                    log(f"{backend}: {name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
                    results.append(
                        Result(
                            backend=backend,
                            workload=f"{name}: p50 ({len(samples)} requests; p95 {p95:.1f} ms)",
                            unit="ms",
                            raw=None,
                            chronik=p50,
                            eventsourcing=None,
                            ratio=None,
                            target=f"<= {TARGET_MS:.0f} ms",
                            status=check(p50, "<=", TARGET_MS),
                            note=f"{head:,} events in the log",
                            details={"p50": p50, "p95": p95, "path": path, "params": params},
                        )
                    )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = common.parser("bench.console", __doc__, DEFAULT_ADMIN_URL)
    parser.add_argument("--events", type=int, default=0, help="events to load (default 1M)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep and reuse the loaded log")
    args = parser.parse_args(argv)
    common.run_each_backend("bench.console", argv, args, run_backend)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
