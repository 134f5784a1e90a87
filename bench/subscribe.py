"""Live subscriptions: SSE fan-out from a real ``chronik serve`` process on loopback.

    python -m bench.subscribe [--backend sqlite|postgres|all] [--quick]
                              [--rate 1000] [--subscribers 50] [--seconds 20] [--batch 10]

Per backend: a fresh database and a token; ``chronik serve`` (one process, what it runs by
default); ``--subscribers`` clients open ``GET /v1/events/subscribe`` (plain asyncio sockets,
so that the client's own parsing stays small) and wait for ``: live``; one task appends
``--rate`` events/s for ``--seconds``, ``--batch`` events per ``POST /v1/events`` on a fixed
schedule. A sample of lag is one event at one subscriber: from the moment its append was sent
(so the commit is in it) to the moment the subscriber read the frame that holds its ``id:``.
The first second is warm-up and not counted. Every subscriber must get every event exactly
once, in order; anything else is a FAIL. Target: p99 lag <= 100 ms (issue 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import common
from bench.common import Result, check, free_port, log, percentile, wait_ready
from bench.log import DEFAULT_ADMIN_URL, create_pg_database, drop_pg_database
from chronik import Chronik, Settings

TARGET_MS = 100.0
WARM_UP = 1.0
ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)


def _serve(data: Path, url: str) -> tuple[subprocess.Popen[bytes], str, int]:
    port = free_port()
    command = [
        *(sys.executable, "-m", "chronik", "serve", "--port", str(port), "--data", str(data)),
        *("--log-level", "warning"),
        *(("--database-url", url) if url else ()),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_ready(server, base)
    return server, base, port


class Subscriber:
    """One SSE client: the sequences it read, and when."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.seen: list[tuple[int, float]] = []
        self.live = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            b"GET /v1/events/subscribe HTTP/1.1\r\nHost: bench\r\n"
            b"Authorization: Bearer " + self.token.encode() + b"\r\n\r\n"
        )
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            assert b" 200 " in head.split(b"\r\n", 1)[0], head
            # Chunked transfer: the chunk-size lines never look like an ``id:`` line, so the
            # frames are found in the raw bytes without undoing the chunking.
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    return
                now = time.perf_counter()
                if not self.live.is_set() and b": live" in data:
                    self.live.set()
                self.seen.extend((int(m), now) for m in ID.findall(data))
        finally:
            writer.close()


async def _append(base: str, token: str, rate: int, seconds: float, batch: int) -> dict[int, float]:
    """Append ``rate`` events/s for ``seconds``; when each event's append was sent."""
    sent: dict[int, float] = {}
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        start = time.perf_counter()
        n = 0
        pending: set[asyncio.Task[None]] = set()

        async def one(at: float, first: int) -> None:
            body = {
                "events": [
                    {
                        "aggregateType": "bench",
                        "aggregateId": f"s{first + i}",
                        "type": "bench.sse",
                        "payload": {"n": first + i},
                    }
                    for i in range(batch)
                ]
            }
            answer = await http.post("/v1/events", json=body)
            answer.raise_for_status()
            for event in answer.json()["events"]:
                sent[int(event["sequence"])] = at

        while (due := start + n / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(one(time.perf_counter(), n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += batch
        await asyncio.gather(*pending)
    return sent


async def run_backend(backend: str, args: Any) -> list[Result]:
    seconds = 5.0 if args.quick else args.seconds
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chronik-bench-sse-") as tmp:
        data = Path(tmp)
        url = ""
        if backend == "postgres":
            url, _ = create_pg_database(args.postgres_url, "chronik_bench_subscribe")
        try:
            settings = Settings(database_url=url, data_dir=data)
            async with await Chronik.open(settings) as chronik:
                tenant = await chronik.default_tenant()
                _, token = await chronik.tokens.issue(tenant.id, ["IAM_OWNER"], name="bench")
            server, base, port = _serve(data, url)
            try:
                subscribers = [Subscriber(port, token) for _ in range(args.subscribers)]
                for s in subscribers:
                    s.task = asyncio.create_task(s.run())
                async with asyncio.timeout(30):
                    await asyncio.gather(*(s.live.wait() for s in subscribers))
                log(f"{backend}: {len(subscribers)} subscribers live; appending {args.rate}/s")
                server_cpu = common_cpu(server.pid)
                sent = await _append(base, token, args.rate, seconds, args.batch)
                await asyncio.sleep(1.0)
                server_cpu = common_cpu(server.pid) - server_cpu
            finally:
                server.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(40)
            for s in subscribers:
                if s.task is not None:
                    s.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await s.task
        finally:
            if backend == "postgres":
                drop_pg_database(args.postgres_url, "chronik_bench_subscribe")
    wanted = sorted(sent)
    start = min(sent.values())
    lags: list[float] = []
    wrong = 0
    for s in subscribers:
        sequences = [seq for seq, _ in s.seen]
        if sequences != wanted:
            wrong += 1
        lags += [
            (at - sent[seq]) * 1000
            for seq, at in s.seen
            if seq in sent and sent[seq] >= start + WARM_UP
        ]
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    status = check(p99, "<=", TARGET_MS) if wrong == 0 else "FAIL"
    return [
        Result(
            backend=backend,
            workload=f"SSE fan-out {args.rate:,} ev/s to {args.subscribers} subscribers, p99 lag",
            unit="ms",
            raw=None,
            chronik=p99,
            eventsourcing=None,
            ratio=None,
            target=f"<= {TARGET_MS:.0f} ms",
            status=status,
            note=f"p50 {p50:.1f} ms, max {max(lags, default=float('nan')):.1f} ms; "
            f"{wrong} subscribers missed or repeated events",
            details={
                "events": len(wanted),
                "samples": len(lags),
                "p50_ms": p50,
                "p99_ms": p99,
                "max_ms": max(lags, default=None),
                "subscribers_wrong": wrong,
                "server_cpu_seconds": server_cpu,
                "seconds": seconds,
                "load_average_before": load_before,
            },
        )
    ]


def common_cpu(pid: int) -> float:
    """User and system CPU seconds of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    parser = common.parser("bench.subscribe", __doc__, DEFAULT_ADMIN_URL)
    parser.add_argument("--rate", type=int, default=1000, help="events appended per second")
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=10, help="events per append request")
    args = parser.parse_args(argv)
    common.run_each_backend("bench.subscribe", argv, args, run_backend)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
