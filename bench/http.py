"""HTTP benchmarks: a real ``chronik serve`` process on loopback, loaded by ``wrk``.

    python -m bench.http [--backend sqlite|postgres|all] [--events 1000000] [--quick]
                         [--workers 1,2] [--servers uvicorn,granian]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Per backend, in one run:

- the log is filled with ``--events`` events (the same mix as ``bench.log``) and a token of
  the biggest tenant is issued;
- the library's own rate of single-event appends from 32 concurrent tasks is measured
  in-process, on uvloop like the server, against the same database;
- for each worker count of ``--workers`` (default 1 and 2) and each HTTP server of
  ``--servers`` (default ``uvicorn``, what ``chronik serve`` runs; ``granian``, if
  installed, serves the same app for comparison), the server is started and ``wrk`` (one
  thread, in its own process) sends ``POST /admin/v1/events/_search`` returning 100
  events from 16 connections (p50, p99, requests/s), then single-event
  ``POST /v1/events`` from 32 connections (events/s, as a ratio of the library rate);
- the server's resident memory (with its workers') is read from ``/proc`` after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

from bench import common
from bench.common import Result, check, log
from bench.log import DEFAULT_ADMIN_URL, FULL, QUICK, create_pg_database, drop_pg_database, load
from chronik import Chronik, NewEvent, Settings
from chronik.cli.serve import SETTINGS_VARIABLE, encode_settings

SEARCH_LUA = """
wrk.method = "POST"
wrk.body = '{"limit": 100}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer TOKEN"
"""

APPEND_LUA = """
counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer TOKEN"}
request = function()
  counter = counter + 1
  local body = '{"events": [{"aggregateType": "bench", "aggregateId": "h' .. counter ..
    '", "type": "bench.appended", "payload": {"n": ' .. counter .. '}}]}'
  return wrk.format("POST", "/v1/events", headers, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wrk(script: str, token: str, url: str, connections: int, seconds: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script.replace("TOKEN", token))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, int(seconds))}s",
                "--latency",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(f.name)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            raise RuntimeError(f"no {label}% latency in wrk output:\n{out}")
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": float(re.search(r"(\d+) requests in", out)[1]),  # type: ignore[index]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": float(errors[1]) if errors else 0.0,
    }


async def _library_rate(settings: Settings, tenant: str, seconds: float) -> float:
    async with await Chronik.open(settings) as chronik:
        counter = 0
        stop = time.perf_counter() + seconds

        async def appender() -> int:
            nonlocal counter
            done = 0
            while time.perf_counter() < stop:
                counter += 1
                await chronik.events.append(
                    tenant,
                    [
                        NewEvent(
                            aggregate_type="bench",
                            aggregate_id=f"l{counter}",
                            type="bench.appended",
                            payload={"n": counter},
                        )
                    ],
                )
                done += 1
            return done

        start = time.perf_counter()
        total = sum(await asyncio.gather(*(appender() for _ in range(32))))
        return total / (time.perf_counter() - start)


async def _prepare(settings: Settings, events: int, backend: str) -> tuple[str, str, Result]:
    sizes = FULL if events >= FULL.events else QUICK
    async with await Chronik.open(settings) as chronik:
        loaded = await load(chronik, sizes, events, backend)
        tenant = (await chronik.tenants.get("bench-main")).id
        _, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"], name="bench")
    return tenant, token, loaded


def _serve(
    data: Path, url: str, workers: int, server_name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ)
    if server_name == "uvicorn":
        command = [
            *(sys.executable, "-m", "chronik", "serve", "--port", str(port), "--data", str(data)),
            *("--log-level", "warning", "--workers", str(workers)),
            *(("--database-url", url) if url else ()),
        ]
    else:
        # The app of `chronik serve`, as its worker processes build it, under granian.
        env[SETTINGS_VARIABLE] = encode_settings(Settings(database_url=url, data_dir=data))
        command = [
            *(sys.executable, "-c", "from granian.cli import cli; cli()"),
            *("--interface", "asgi", "--factory", "--port", str(port), "--workers", str(workers)),
            *("--log-level", "warning", "--no-ws", "chronik.cli.serve:worker_app"),
        ]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the server did not become ready")
        time.sleep(0.2)


def _pids(pid: int) -> list[int]:
    """A process and its children (the workers of ``--workers N``)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return pids


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a server and its workers have used so far: per request it
    resists the noise of other programs better than requests per second."""
    total = 0
    for p in _pids(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the workers of ``--workers N``)."""
    total = 0
    for p in _pids(pid):
        status = Path(f"/proc/{p}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status)[1])  # type: ignore[index]
    return total / 1024


def _measure(
    backend: str,
    data: Path,
    url: str,
    token: str,
    workers: int,
    server_name: str,
    seconds: float,
    library: float,
) -> list[Result]:
    server, base = _serve(data, url, workers, server_name)
    try:
        _wrk(SEARCH_LUA, token, f"{base}/admin/v1/events/_search", 16, 2)  # warm-up
        log(f"{backend}, {server_name}, {workers} worker(s): search, 16 connections")
        search = _wrk(SEARCH_LUA, token, f"{base}/admin/v1/events/_search", 16, seconds)
        log(f"{backend}, {server_name}, {workers} worker(s): appends, 32 connections")
        cpu = _cpu_seconds(server.pid)
        appends = _wrk(APPEND_LUA, token, base, 32, seconds)
        cpu = _cpu_seconds(server.pid) - cpu
        appends["server_cpu_us_per_append"] = cpu / max(1.0, appends["requests"]) * 1e6
        log(
            f"{backend}, {server_name}, {workers} worker(s): {appends['rps']:,.0f} appends/s, "
            f"server CPU {appends['server_cpu_us_per_append']:.0f} us per append"
        )
        rss_mb = _rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    label = f"{workers} worker" + ("s" if workers > 1 else "")
    if server_name != "uvicorn":
        label += f", {server_name}"
    per_process = f"; {workers} processes and the parent" if workers > 1 else ""
    ratio = appends["rps"] / library
    return [
        Result(
            backend,
            f"HTTP search, 100 events/page, 16 clients, {label}: p50",
            "ms",
            None,
            search["p50"],
            None,
            None,
            "report",
            "INFO",
            note=f"{search['rps']:,.0f} requests/s",
            details=search,
        ),
        Result(
            backend,
            f"HTTP search, 100 events/page, 16 clients, {label}: p99",
            "ms",
            None,
            search["p99"],
            None,
            None,
            "p99 <= 25 ms" if backend == "sqlite" else "report",
            check(search["p99"], "<=", 25.0) if backend == "sqlite" else "INFO",
            note=f"{search['rps']:,.0f} requests/s; {search['errors']:.0f} non-2xx",
            details=search,
        ),
        Result(
            backend,
            f"HTTP single-event appends, 32 clients, {label}",
            "ev/s",
            library,
            appends["rps"],
            None,
            ratio,
            "ratio >= 0.5",
            check(ratio, ">=", 0.5) if appends["errors"] == 0 else "FAIL",
            note=f"raw column = the library's own 32-task rate; {appends['errors']:.0f} non-2xx; "
            f"server CPU {appends['server_cpu_us_per_append']:.0f} us per append",
            details=appends,
        ),
        Result(
            backend,
            f"server resident memory after the run, {label}",
            "MB",
            None,
            rss_mb,
            None,
            None,
            "<= 250 MB",
            check(rss_mb, "<=", 250.0),
            note=f"sum of VmRSS{per_process}",
        ),
    ]


def run_backend(
    backend: str,
    events: int,
    seconds: float,
    admin_url: str,
    workers: list[int],
    servers: list[str],
) -> list[Result]:
    data = Path(tempfile.mkdtemp(prefix="chronik-http-bench-"))
    url = ""
    if backend == "postgres":
        url, _ = create_pg_database(admin_url, "chronik_bench_http")
    settings = Settings(database_url=url, data_dir=data)
    try:
        log(f"{backend}: loading {events:,} events")
        tenant, token, loaded = uvloop.run(_prepare(settings, events, backend))
        log(f"{backend}: library rate, 32 concurrent single-event appends")
        library = uvloop.run(_library_rate(settings, tenant, seconds))
        results = [loaded]
        for count in workers:
            for server_name in servers:
                results += _measure(backend, data, url, token, count, server_name, seconds, library)
        return results
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if backend == "postgres":
            drop_pg_database(admin_url, "chronik_bench_http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument(
        "--workers",
        default="1,2",
        help="comma-separated worker counts of chronik serve to measure (default 1,2)",
    )
    parser.add_argument(
        "--servers",
        default="uvicorn",
        help="comma-separated HTTP servers to measure, each serving the same app: uvicorn "
        "(what chronik serve runs) and granian (pip install granian); default uvicorn",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    events = args.events or (20_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    results: list[Result] = []
    for backend in backends:
        workers = [int(w) for w in args.workers.split(",")]
        servers = args.servers.split(",")
        results += run_backend(backend, events, seconds, args.admin_url, workers, servers)
    print(common.table(results))
    print()
    print(common.markdown_table(results))
    path = common.write_json(results, {**common.machine(), "command": " ".join(sys.argv)})
    log(f"results written to {path}")


if __name__ == "__main__":
    main()
