"""Webhooks: delivery rate against the single-event append rate, and delivery lag.

    python -m bench.webhooks [--backend sqlite|postgres|all] [--quick]
                             [--seconds 10] [--rate 500] [--events 20000]

Per backend, on a fresh database, one Chronik in this process (what ``chronik serve`` runs
besides its HTTP server) delivering to a receiver in another process on loopback
(``bench/receiver.py``: HTTP/1.1 keep-alive, answers 200 at once, writes down each
``webhook-id`` with its arrival time):

1. **Append rate**: one event per append, back to back, for ``--seconds``: one writer's
   rate, as a webhook is one reader (the rate of 32 concurrent appenders, which group
   commits lift, is reported beside it).
2. **Delivery rate**: ``--events`` events appended (100 per append) while no webhook
   delivers; then the deliverer starts and the time until the receiver has them all gives
   the rate. Target: >= 0.5 of the append rate (issue 15).
3. **Lag**: one event per append at ``--rate`` events/s for ``--seconds`` while the webhook
   delivers; a sample is one event, from just before its append to its arrival. The first
   second is warm-up. Target: p99 <= 200 ms (issue 15).

Every event must arrive exactly once, in order; anything else is a FAIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import Result, check, free_port, log, percentile, timed_async
from bench.log import DEFAULT_ADMIN_URL, create_pg_database, drop_pg_database
from bench.schedules import append_rate as append_rate_32
from chronik import Chronik, Settings
from chronik.records import Endpoint, NewEvent, WebhookDefinition

RATE_TARGET = 0.5
LAG_TARGET_MS = 200.0
WARM_UP = 1.0


class Receiver:
    """The receiver process, and what it reported: ``(webhook-id, arrival)`` in order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[tuple[str, float]] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None
        self._grew = asyncio.Event()

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.receiver", str(self.port), stdout=asyncio.subprocess.PIPE
        )
        assert self.process.stdout is not None
        ready = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert ready.startswith(b"ready"), ready
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            message_id, _, at = line.decode().partition(" ")
            self.arrivals.append((message_id, float(at)))
            self._grew.set()

    async def wait_for(self, count: int, seconds: float = 300.0) -> float:
        """Wait until ``count`` deliveries arrived; the arrival time of the last."""
        async with asyncio.timeout(seconds):
            while len(self.arrivals) < count:
                self._grew.clear()
                await self._grew.wait()
        return self.arrivals[count - 1][1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            await self.process.wait()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading


def _event(n: int) -> NewEvent:
    return NewEvent(
        aggregate_type="policy",
        aggregate_id=f"p{n % 100}",
        type="policy.changed",
        payload={"n": n, "premium": 1200},
    )


async def _append_rate(chronik: Chronik, tenant: str, seconds: float) -> float:
    count = 0

    async def one() -> int:
        nonlocal count
        count += 1
        await chronik.events.append(tenant, [_event(count)])
        return 1

    await timed_async(one, 1.0)  # warm-up
    return (await timed_async(one, seconds)).rate


async def _hook(chronik: Chronik, tenant: str, receiver: Receiver, path: str) -> None:
    await chronik.webhooks.create(
        tenant, WebhookDefinition(name=path, endpoint=Endpoint(url=receiver.url(path)))
    )


async def run_backend(backend: str, args: Any) -> list[Result]:
    seconds = 3.0 if args.quick else args.seconds
    events = 3000 if args.quick else args.events
    load_before = os.getloadavg()
    receiver = Receiver()
    await receiver.start()
    with tempfile.TemporaryDirectory(prefix="chronik-bench-webhooks-") as tmp:
        url = ""
        if backend == "postgres":
            url, _ = create_pg_database(args.postgres_url, "chronik_bench_webhooks")
        try:
            settings = Settings(
                database_url=url, data_dir=Path(tmp), webhook_allowed_hosts=("127.0.0.1",)
            )
            async with await Chronik.open(settings) as chronik:
                first = (await chronik.tenants.create("appends")).id
                append_rate = await _append_rate(chronik, first, seconds)
                concurrent = await append_rate_32(chronik, first, seconds)
                by_32 = f"{concurrent:,.0f}/s from 32 tasks"
                log(f"{backend}: single-event appends {append_rate:,.0f}/s ({by_32})")

                second = (await chronik.tenants.create("backlog")).id
                await _hook(chronik, second, receiver, "/backlog")
                appended: list[str] = []
                for start in range(0, events, 100):
                    stored = await chronik.events.append(
                        second, [_event(n) for n in range(start, min(events, start + 100))]
                    )
                    appended += [e.locator for e in stored]
                began = time.time()
                chronik.start_webhooks()
                last = await receiver.wait_for(events)
                delivery_rate = events / (last - began)
                backlog = [m for m, _ in receiver.arrivals[:events]]
                log(f"{backend}: deliveries {delivery_rate:,.0f}/s")

                third = (await chronik.tenants.create("live")).id
                await _hook(chronik, third, receiver, "/live")
                await asyncio.sleep(1.5)  # the deliverer has taken up the new webhook
                sent = await _paced(chronik, third, args.rate, seconds + WARM_UP)
                await receiver.wait_for(events + len(sent))
                live = receiver.arrivals[events:]
        finally:
            await receiver.stop()
            if backend == "postgres":
                drop_pg_database(args.postgres_url, "chronik_bench_webhooks")
    in_order = backlog == appended and [m for m, _ in live] == list(sent)
    began_live = min(sent.values())
    lags = [(at - sent[m]) * 1000 for m, at in live if sent[m] >= began_live + WARM_UP]
    ratio = delivery_rate / append_rate
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    details = {"events": events, "seconds": seconds, "load_average_before": load_before}
    return [
        Result(
            backend=backend,
            workload="webhook deliveries vs single-event appends",
            unit="ev/s",
            raw=append_rate,
            chronik=delivery_rate,
            eventsourcing=None,
            ratio=ratio,
            target=f">= {RATE_TARGET} x appends",
            status=check(ratio, ">=", RATE_TARGET) if in_order else "FAIL",
            note=f"{events:,} events backlog, one receiver; in order once each: {in_order}; "
            f"32 concurrent appenders {concurrent:,.0f} ev/s (x{delivery_rate / concurrent:.2f})",
            details={**details, "appends_32_tasks": concurrent},
        ),
        Result(
            backend=backend,
            workload=f"webhook delivery lag at {args.rate} ev/s, p99",
            unit="ms",
            raw=None,
            chronik=p99,
            eventsourcing=None,
            ratio=None,
            target=f"<= {LAG_TARGET_MS:.0f} ms",
            status=check(p99, "<=", LAG_TARGET_MS) if in_order else "FAIL",
            note=f"p50 {p50:.1f} ms, max {max(lags, default=float('nan')):.1f} ms",
            details={**details, "samples": len(lags), "p50_ms": p50, "p99_ms": p99},
        ),
    ]


async def _paced(chronik: Chronik, tenant: str, rate: int, seconds: float) -> dict[str, float]:
    """Append one event at a time on a fixed schedule of ``rate`` per second: each event's
    locator and the time just before its append."""
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        at = time.time()
        (stored,) = await chronik.events.append(tenant, [_event(n)])
        sent[stored.locator] = at
    return sent


def main(argv: list[str] | None = None) -> None:
    made = common.parser("bench.webhooks", __doc__, DEFAULT_ADMIN_URL)
    made.add_argument("--seconds", type=float, default=10.0)
    made.add_argument("--rate", type=int, default=500)
    made.add_argument("--events", type=int, default=20_000)
    args = made.parse_args(argv)
    common.run_each_backend("bench.webhooks", argv, args, run_backend)


if __name__ == "__main__":
    main()
