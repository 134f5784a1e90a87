"""Action benchmarks: what a pre-append action costs an append, what one run costs, whether
CPU-bound actions slow the server down, and whether one tenant's hold up another's.

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
4. fairness: tenant B (a tenant of its own, the trivial action bound pre-append) appends from
   2 ``wrk`` connections, each pausing 10 ms after every answer: B's p99 with nothing else
   running, then while 8 threads append to tenant A, whose pre-append action busy-loops until
   its 3 s timeout. Ratio = with / without, target <= 3: B must not wait for A's runs to end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import common
from bench.common import Result, check, log, percentile
from bench.http import APPEND_LUA, SEARCH_LUA, _serve, _wrk
from bench.log import DEFAULT_ADMIN_URL, fresh_database
from bench.served import (
    Load,
    bind_pre_append,
    children,
    cpu_seconds,
    create_action,
    metric,
    metrics,
)
from chronik import Chronik, NewEvent, Settings
from chronik.actions.runtime import Runtime

TRIVIAL = "function trivial(ctx, api) { api.setField('seen', true) }"
SPIN = "function spin(ctx, api) { const end = Date.now() + 3000; while (Date.now() < end) {} }"
RUNAWAY = "function runaway(ctx, api) { for (;;) {} }"
SAMPLE = {"event": {"type": "x", "payload": {}}}
APPEND_CONNECTIONS = 32
SEARCH_CONNECTIONS = 4
SEARCH_PAUSE_MS = 10
SPINNERS = 4
FAIR_A_APPENDERS = 8
FAIR_B_CONNECTIONS = 2
CALLERS = 8
WARMUP_RUNS = 200
RUNS = "chronik_action_runs_total"
APPENDED = "chronik_events_appended_total"
# wrk waits this long after each answer before a connection sends its next request.
PACED_SEARCH_LUA = SEARCH_LUA + f"delay = function() return {SEARCH_PAUSE_MS} end\n"
PACED_APPEND_LUA = APPEND_LUA + f"delay = function() return {SEARCH_PAUSE_MS} end\n"


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


async def fill(url: str, events: int) -> list[str]:
    """Append ``events`` events to the default tenant, 100 per append; tokens of its owner
    and of the owners of two more tenants, A and B of figure 4."""
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
        tenants = [tenant] + [(await chronik.tenants.create(f"bench-{n}")).id for n in "ab"]
        return [(await chronik.tokens.issue(t, ["IAM_OWNER"], name="bench"))[1] for t in tenants]


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
    bind_pre_append(client, create_action(client, "trivial", TRIVIAL))
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


def responsiveness_workload(
    backend: str, client: httpx.Client, server: int, base: str, token: str, seconds: float
) -> Result:
    url = f"{base}/admin/v1/events/_search"
    _wrk(PACED_SEARCH_LUA, token, url, SEARCH_CONNECTIONS, 2)  # warm-up
    log(f"{backend}: search, idle")
    t0, cpu0 = time.monotonic(), cpu_seconds([server])
    idle = _wrk(PACED_SEARCH_LUA, token, url, SEARCH_CONNECTIONS, seconds)
    idle_cpu = (cpu_seconds([server]) - cpu0) / (time.monotonic() - t0)
    action = create_action(client, "spin", SPIN)
    spinners = Load(base, token, f"/v1/actions/{action}/_test", SAMPLE, SPINNERS)
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


def fairness_workload(
    backend: str, base: str, a_token: str, b_token: str, seconds: float
) -> Result:
    for token, name, script, timeout in (
        (a_token, "runaway", RUNAWAY, "3s"),
        (b_token, "seen", TRIVIAL.replace("trivial", "seen"), "5s"),
    ):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            bind_pre_append(client, create_action(client, name, script, timeout))
    _wrk(PACED_APPEND_LUA, b_token, base, FAIR_B_CONNECTIONS, 2)  # warm-up
    log(f"{backend}: tenant B's appends, tenant A idle")
    before = metrics(base)
    idle = _wrk(PACED_APPEND_LUA, b_token, base, FAIR_B_CONNECTIONS, seconds)
    spin = {"aggregateType": "bench", "aggregateId": "a", "type": "bench.spun"}
    load = Load(base, a_token, "/v1/events", {"events": [spin]}, FAIR_A_APPENDERS)
    load.start()
    try:
        time.sleep(0.5)  # A's first runs hold both workers, the other six wait
        log(f"{backend}: tenant B's appends, {FAIR_A_APPENDERS} of tenant A's spinning")
        busy = _wrk(PACED_APPEND_LUA, b_token, base, FAIR_B_CONNECTIONS, seconds)
        in_flight = sum(thread.is_alive() for thread in load.threads)
    finally:
        load.finish()
    after = metrics(base)

    def runs(action: str, **outcome: str) -> float:
        return metric(after, RUNS, action=action, **outcome) - metric(
            before, RUNS, action=action, **outcome
        )

    spun, b_runs = runs("runaway"), runs("seen")
    timed_out, succeeded = (
        runs("runaway", outcome="timed_out"),
        runs("seen", outcome="succeeded"),
    )
    errors = idle["errors"] + busy["errors"]
    sound = errors == 0 and in_flight == FAIR_A_APPENDERS and 0 < spun == timed_out
    sound = sound and succeeded == b_runs
    ratio = busy["p99"] / idle["p99"]
    return Result(
        backend,
        f"4. tenant B's HTTP append p99, {FAIR_B_CONNECTIONS} clients: {FAIR_A_APPENDERS} "
        f"appenders of tenant A's runaway action / none (p50 {idle['p50']:.2f} -> "
        f"{busy['p50']:.2f} ms)",
        "ms",
        idle["p99"],
        busy["p99"],
        None,
        ratio,
        "ratio <= 3",
        check(ratio, "<=", 3.0) if sound else "FAIL",
        note=f"B: {FAIR_B_CONNECTIONS} wrk connections, each pausing {SEARCH_PAUSE_MS} ms, "
        f"{idle['rps']:,.0f} -> {busy['rps']:,.0f} appends/s, {succeeded:,.0f} of "
        f"{b_runs:,.0f} pre-append runs succeeded; A: {spun:.0f} runs, {timed_out:.0f} timed "
        f"out after 3 s; {errors:.0f} non-2xx for B",
        details={"idle": idle, "busy": busy, "a_runs": spun, "a_answers": load.outcomes},
    )


def measure_server(backend: str, url: str, tokens: list[str], seconds: float) -> list[Result]:
    token, a_token, b_token = tokens
    data = Path(tempfile.mkdtemp(prefix="chronik-actions-bench-"))
    server, base = _serve(data, url, 1, "uvicorn", None)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return [
                pre_append_workload(backend, client, server.pid, base, token, seconds),
                responsiveness_workload(backend, client, server.pid, base, token, seconds),
                fairness_workload(backend, base, a_token, b_token, seconds),
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
        tokens = await fill(url, events)
        results += await asyncio.to_thread(measure_server, backend, url, tokens, seconds)
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
