"""Action benchmarks: what a pre-append action costs an append, what one run costs, and
whether CPU-bound actions slow the server down.

    python -m bench.actions [--backend sqlite|postgres|all] [--events 5000] [--seconds 5]
                            [--runs 2000] [--quick]

Needs ``wrk`` (Debian: ``apt-get install wrk``). The numbers are the issue's. First, once, in
this process (no database):

2. per-run cost: a :class:`~chronik.actions.runtime.Runtime` of two workers runs the trivial
   action (``api.setField('seen', true)``) 200 times to warm up, then ``--runs`` times one
   after another, each timed around ``Runtime.run`` (the pipe to the worker, a fresh QuickJS
   context, the script, the call, the answer): p50 (target <= 2 ms) and p99; then the rate
   of runs from 8 concurrent callers for ``--seconds``.

Then per backend, on a fresh database holding ``--events`` events of the default tenant, a
real ``chronik serve`` (one process, its default two action workers) on loopback:

1. pre-append overhead: single-event ``POST /v1/events`` from 32 ``wrk`` connections for
   ``--seconds`` with nothing bound (after 2 s of warm-up), then, on the same server, after the
   trivial action is created and bound to ``TRIGGER_TYPE_PRE_APPEND`` of ``FLOW_TYPE_EVENTS``
   through the ZITADEL management API, so that every append runs it before commit. Ratio =
   with / without, target >= 0.5. An append made after binding must come back with
   ``seen: true``, and the server's ``/metrics`` must count one succeeded pre-append run per
   event appended during the measurement, and no other outcome (else the row FAILs). The
   note gives the server's CPU time per append in both phases and the action workers' per
   run, read from ``/proc``.
3. responsiveness: the p99 of ``POST /admin/v1/events/_search`` (100 events) from 4 ``wrk``
   connections, each pausing 10 ms after every answer, so that the server is busy part of the
   time and the figure is its service time plus any wait for a CPU, not a queue of our own
   making; measured idle, then while four threads keep four runs of a CPU-bound action (a
   3 s busy loop, timeout 5 s) in flight for the whole measurement through
   ``POST /v1/actions/{id}/_test``. Ratio = busy p99 / idle p99, target <= 2. ``_test``
   rather than a post-append trigger: post-append runs go through a view, one at a time, which
   would keep one worker busy, while four test runs keep both of the server's workers
   spinning (two run, two wait for a worker) and append nothing that could change the search.
   The CPU the action workers took during the busy phase is read from ``/proc``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import common
from bench.common import Result, check, log, percentile
from bench.http import APPEND_LUA, SEARCH_LUA, _serve, _wrk
from bench.log import DEFAULT_ADMIN_URL, fresh_database
from chronik import Chronik, NewEvent, Settings
from chronik.actions.runtime import Runtime

TRIVIAL = "function trivial(ctx, api) { api.setField('seen', true) }"
SPIN = "function spin(ctx, api) { const end = Date.now() + 3000; while (Date.now() < end) {} }"
SAMPLE = {"event": {"type": "x", "payload": {}}}
APPEND_CONNECTIONS = 32
SEARCH_CONNECTIONS = 4
SEARCH_PAUSE_MS = 10
SPINNERS = 4
CALLERS = 8
WARMUP_RUNS = 200
RUNS = "chronik_action_runs_total"
APPENDED = "chronik_events_appended_total"
# wrk waits this long after each answer before a connection sends its next request.
PACED_SEARCH_LUA = SEARCH_LUA + f"delay = function() return {SEARCH_PAUSE_MS} end\n"


# -- 2. the runtime in this process ------------------------------------------------------------


async def runtime_workload(runs: int, seconds: float) -> list[Result]:
    runtime = Runtime(workers=2)
    ctx = {"event": {"type": "bench.x", "payload": {"n": 1}}}

    async def once() -> float:
        t0 = time.perf_counter()
        run = await runtime.run("trivial", TRIVIAL, timeout=5.0, ctx=ctx, trigger="pre_append")
        elapsed = (time.perf_counter() - t0) * 1000
        assert run.outcome == "succeeded" and run.fields == {"seen": True}, run
        return elapsed

    try:
        for _ in range(WARMUP_RUNS):
            await once()
        samples = [await once() for _ in range(runs)]
        done = 0
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await once()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        rate = done / (time.perf_counter() - start)
    finally:
        await runtime.close()
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    log(f"runtime: p50 {p50:.2f} ms, p99 {p99:.2f} ms, {rate:,.0f} runs/s from {CALLERS}")
    where = "in-process"
    note = (
        f"Runtime(workers=2) in this process, {runs:,} runs one after another after "
        f"{WARMUP_RUNS} of warm-up; time around Runtime.run"
    )
    return [
        Result(
            where,
            "2. one run of the trivial action, one caller: p50",
            "ms",
            None,
            p50,
            None,
            None,
            "p50 <= 2 ms",
            check(p50, "<=", 2.0),
            note=note,
            details={"runs": runs, "mean": sum(samples) / len(samples)},
        ),
        Result(
            where,
            "2. one run of the trivial action, one caller: p99",
            "ms",
            None,
            p99,
            None,
            None,
            "report",
            "INFO",
            note=note,
        ),
        Result(
            where,
            f"2. runs of the trivial action, {CALLERS} concurrent callers",
            "runs/s",
            None,
            rate,
            None,
            None,
            "report",
            "INFO",
            note=f"two workers; {done:,} runs in {seconds:g} s",
        ),
    ]


# -- the server ----------------------------------------------------------------------------


async def fill(url: str, events: int) -> str:
    """Append ``events`` events to the default tenant, 100 per append; a token of its owner."""
    async with await Chronik.open(Settings(database_url=url)) as chronik:
        tenant = (await chronik.default_tenant()).id
        for start in range(0, events, 100):
            await chronik.events.append(
                tenant,
                [
                    NewEvent(
                        aggregate_type="fill",
                        aggregate_id=str(i % 500),
                        type="bench.filled",
                        payload={"n": i},
                    )
                    for i in range(start, min(events, start + 100))
                ],
            )
        _, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"], name="bench")
    return token


def metrics(base: str) -> str:
    """The server's ``/metrics`` once the requests ``wrk`` left in flight are answered."""
    time.sleep(0.5)
    return httpx.get(f"{base}/metrics", timeout=10).text


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[1] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match[2])
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` (those that are gone count nothing)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        total += sum(int(x) for x in stat[stat.rfind(")") + 2 :].split()[11:13])
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def create_action(client: httpx.Client, name: str, script: str) -> str:
    answer = client.post(
        "/management/v1/actions", json={"name": name, "script": script, "timeout": "5s"}
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def pre_append_workload(
    backend: str, client: httpx.Client, server: int, base: str, token: str, seconds: float
) -> Result:
    _wrk(APPEND_LUA, token, base, APPEND_CONNECTIONS, 2)  # warm-up
    log(f"{backend}: appends, nothing bound")
    before = metrics(base)
    cpu0 = cpu_seconds([server])
    without = _wrk(APPEND_LUA, token, base, APPEND_CONNECTIONS, seconds)
    after = metrics(base)
    appended = metric(after, APPENDED) - metric(before, APPENDED)
    plain_cpu = (cpu_seconds([server]) - cpu0) / appended * 1000
    action = create_action(client, "trivial", TRIVIAL)
    client.post(
        "/management/v1/flows/FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND",
        json={"actionIds": [action]},
    ).raise_for_status()
    probe = {"aggregateType": "bench", "aggregateId": "probe", "type": "bench.probe"}
    answer = client.post("/v1/events", json={"events": [probe]})
    answer.raise_for_status()
    bound = answer.json()["events"][0]["payload"] == {"seen": True}
    log(f"{backend}: appends, a pre-append action bound")
    before = metrics(base)
    workers = children(server)
    cpu0, wcpu0 = cpu_seconds([server]), cpu_seconds(workers)
    with_action = _wrk(APPEND_LUA, token, base, APPEND_CONNECTIONS, seconds)
    after = metrics(base)
    appended = metric(after, APPENDED) - metric(before, APPENDED)
    action_cpu = (cpu_seconds([server]) - cpu0) / appended * 1000
    worker_cpu = (cpu_seconds(workers) - wcpu0) / appended * 1000
    runs = metric(after, RUNS, action="trivial") - metric(before, RUNS, action="trivial")
    succeeded = metric(after, RUNS, action="trivial", outcome="succeeded") - metric(
        before, RUNS, action="trivial", outcome="succeeded"
    )
    ratio = with_action["rps"] / without["rps"]
    errors = without["errors"] + with_action["errors"]
    sound = bound and errors == 0 and succeeded == runs == appended
    return Result(
        backend,
        f"1. HTTP single-event appends, {APPEND_CONNECTIONS} clients: "
        "a pre-append action bound / nothing bound",
        "ev/s",
        without["rps"],
        with_action["rps"],
        None,
        ratio,
        "ratio >= 0.5",
        check(ratio, ">=", 0.5) if sound else "FAIL",
        note=f"raw = the same server before the binding; p50 {without['p50']:.1f} -> "
        f"{with_action['p50']:.1f} ms; server CPU per append {plain_cpu:.2f} -> "
        f"{action_cpu:.2f} ms, action workers' {worker_cpu:.2f} ms per run; "
        f"{runs:,.0f} pre-append runs for {appended:,.0f} events appended, "
        f"{runs - succeeded:,.0f} not succeeded; {errors:.0f} non-2xx"
        + ("" if bound else "; THE ACTION DID NOT RUN on the probe append"),
        details={
            "without": without,
            "with": with_action,
            "runs": runs,
            "appended": appended,
            "server_cpu_ms_per_append": [plain_cpu, action_cpu],
            "worker_cpu_ms_per_run": worker_cpu,
        },
    )


@dataclass
class Spinners:
    """Threads that keep :data:`SPINNERS` test runs of the spinning action in flight."""

    base: str
    token: str
    action: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[tuple[str, float]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for _ in range(SPINNERS):
            thread = threading.Thread(target=self._spin, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _spin(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=60) as client:
            while not self.stop.is_set():
                answer = client.post(f"/v1/actions/{self.action}/_test", json=SAMPLE)
                body = answer.json() if answer.status_code == 200 else {}
                outcome = body.get("outcome", f"HTTP {answer.status_code}")
                self.outcomes.append((outcome, float(body.get("durationMs", 0.0))))

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def responsiveness_workload(
    backend: str, client: httpx.Client, server: int, base: str, token: str, seconds: float
) -> Result:
    url = f"{base}/admin/v1/events/_search"
    _wrk(PACED_SEARCH_LUA, token, url, SEARCH_CONNECTIONS, 2)  # warm-up
    log(f"{backend}: search, idle")
    t0, cpu0 = time.monotonic(), cpu_seconds([server])
    idle = _wrk(PACED_SEARCH_LUA, token, url, SEARCH_CONNECTIONS, seconds)
    idle_cpu = (cpu_seconds([server]) - cpu0) / (time.monotonic() - t0)
    spinners = Spinners(base, token, create_action(client, "spin", SPIN))
    spinners.start()
    try:
        time.sleep(0.5)  # the first two runs are spinning, two more wait for a worker
        log(f"{backend}: search, {SPINNERS} CPU-bound actions in flight")
        workers = children(server)
        t0, cpu0, wcpu0 = time.monotonic(), cpu_seconds([server]), cpu_seconds(workers)
        busy = _wrk(PACED_SEARCH_LUA, token, url, SEARCH_CONNECTIONS, seconds)
        wall = time.monotonic() - t0
        busy_cpu = (cpu_seconds([server]) - cpu0) / wall
        worker_cpu = (cpu_seconds(workers) - wcpu0) / wall
        in_flight = sum(thread.is_alive() for thread in spinners.threads)
    finally:
        spinners.finish()
    outcomes = [outcome for outcome, _ in spinners.outcomes]
    failed = len(outcomes) - outcomes.count("succeeded")
    ratio = busy["p99"] / idle["p99"]
    sound = idle["errors"] + busy["errors"] == 0 and failed == 0 and in_flight == SPINNERS
    return Result(
        backend,
        f"3. HTTP search p99, {SEARCH_CONNECTIONS} clients: {SPINNERS} CPU-bound actions "
        f"running / idle (p50 {idle['p50']:.2f} -> {busy['p50']:.2f} ms)",
        "ms",
        idle["p99"],
        busy["p99"],
        None,
        ratio,
        "ratio <= 2",
        check(ratio, "<=", 2.0) if sound else "FAIL",
        note=f"{SEARCH_CONNECTIONS} wrk connections, each pausing {SEARCH_PAUSE_MS} ms "
        f"between requests: {idle['rps']:,.0f} -> {busy['rps']:,.0f} requests/s, server "
        f"{idle_cpu:.2f} -> {busy_cpu:.2f} CPU-s/s; action workers {worker_cpu:.2f} CPU-s/s "
        f"(nice 10); {len(outcomes)} spin runs, {failed} not succeeded; "
        f"{idle['errors'] + busy['errors']:.0f} non-2xx",
        details={
            "idle": idle,
            "busy": busy,
            "server_cpu": [idle_cpu, busy_cpu],
            "worker_cpu": worker_cpu,
            "spin_runs": spinners.outcomes,
        },
    )


def measure_server(backend: str, url: str, token: str, seconds: float) -> list[Result]:
    data = Path(tempfile.mkdtemp(prefix="chronik-actions-bench-"))
    server, base = _serve(data, url, 1)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return [
                pre_append_workload(backend, client, server.pid, base, token, seconds),
                responsiveness_workload(backend, client, server.pid, base, token, seconds),
            ]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data, ignore_errors=True)


async def run_backend(backend: str, args: argparse.Namespace) -> list[Result]:
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    results: list[Result] = []
    first = "sqlite" if args.backend == "all" else args.backend
    if backend == first:
        runs = args.runs or (500 if args.quick else 2000)
        log(f"runtime: {WARMUP_RUNS} runs of warm-up, {runs:,} timed, then {CALLERS} callers")
        results += await runtime_workload(runs, seconds)
    events = args.events or (1000 if args.quick else 5000)
    async with fresh_database(backend, args.postgres_url, "chronik_bench_actions") as url:
        log(f"{backend}: appending {events:,} events")
        token = await fill(url, events)
        results += await asyncio.to_thread(measure_server, backend, url, token, seconds)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = common.parser("bench.actions", __doc__, DEFAULT_ADMIN_URL)
    parser.add_argument("--events", type=int, default=None, help="default 5,000")
    parser.add_argument("--seconds", type=float, default=None, help="per phase; default 5")
    parser.add_argument("--runs", type=int, default=None, help="timed runs; default 2,000")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    common.run_each_backend("bench.actions", argv, args, run_backend)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
