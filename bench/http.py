"""HTTP benchmarks: a real ``chronik serve`` process on loopback, loaded by ``wrk`` and
``h2load``.

    python -m bench.http [--backend sqlite|postgres|all] [--events 1000000] [--quick]
                         [--workers 1,2] [--servers uvicorn,granian] [--transports json,grpc]

Needs ``wrk`` (Debian: ``apt-get install wrk``) and, for ``grpc``, ``h2load`` (Debian:
``apt-get install nghttp2-client``). Per backend, in one run:

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
- with ``grpc`` in ``--transports`` (the default; ``json`` alone is the ``wrk`` rows above),
  ``chronik serve`` also serves AdminService on ``--grpc-port`` and one tool, ``h2load`` (one
  thread, one request in flight per client), loads both transports the same way: the JSON
  search above over HTTP/1.1 beside ``ListEvents`` with ``limit`` 100 over gRPC, from 16
  clients (p99 from h2load's per-request log; target: gRPC's p99 at most JSON's), then the
  same reads with ``limit`` 1 from 32 clients (requests/s, reported). AdminService has no
  append RPC, so a one-event read is the single-event unary call compared with its JSON
  twin. Every answer is checked: a 2xx status and exactly the bytes of the answer a real
  client (``httpx``, ``grpcio``: ``grpc-status`` 0) got just before, since a gRPC error
  is an HTTP 200 whose body is empty. The gRPC port is ``chronik serve``'s own
  ``grpc.aio`` server, so it is measured under uvicorn only;
- the server's resident memory (with its workers') is read from ``/proc`` after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx
import uvloop

from bench import common
from bench.common import Result, check, free_port, log, wait_ready
from bench.log import DEFAULT_ADMIN_URL, FULL, QUICK, create_pg_database, drop_pg_database, load
from chronik import Chronik, NewEvent, Settings
from chronik.api.proto.zitadel import admin_pb2, admin_pb2_grpc
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

SEARCH_PATH = "/admin/v1/events/_search"
LIST_EVENTS_PATH = "/zitadel.admin.v1.AdminService/ListEvents"


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


def _h2load(
    url: str, body: bytes, headers: dict[str, str], connections: int, load: str, *, h1: bool
) -> dict[str, float]:
    """``h2load`` (one thread, its own process, one request in flight per client) posting
    ``body`` to ``url``, for ``load`` (``-n N``: N requests; ``-D S``: S seconds):
    requests, requests/s, p50 and p99 (ms, of the 2xx answers, from its per-request log),
    ``non_2xx`` (failed streams too), ``logged_2xx`` and ``body_bytes`` (all the answers'
    bodies). Only ``-n`` counts exactly: a timed run stops with answers half received."""
    with tempfile.TemporaryDirectory(prefix="chronik-h2load-") as tmp:
        body_file, requests_log = Path(tmp, "body"), Path(tmp, "requests")
        body_file.write_bytes(body)
        out = subprocess.run(
            [
                *("h2load", "-t1", f"-c{connections}", "-m1", *load.split()),
                *("-d", str(body_file), f"--log-file={requests_log}"),
                *(("--h1",) if h1 else ()),
                *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        rows = [line.split("\t") for line in requests_log.read_text().splitlines()]

    def number(pattern: str) -> float:
        match = re.search(pattern, out)
        if not match:
            raise RuntimeError(f"no {pattern!r} in h2load output:\n{out}")
        return float(match[1])

    done = number(r"requests: \d+ total, \d+ started, (\d+) done")
    ok = number(r"status codes: (\d+) 2xx")
    latencies = [int(row[2]) / 1000 for row in rows if row[1].startswith("2")]
    return {
        "requests": done,
        "rps": number(r"finished in [\d.]+m?s, ([\d.]+) req/s"),
        "p50": common.percentile(latencies, 50),
        "p99": common.percentile(latencies, 99),
        "non_2xx": done - ok,
        "logged_2xx": len(latencies),
        "body_bytes": number(r"\((\d+)\) data"),
    }


def _json_answer_bytes(base: str, token: str, limit: int) -> int:
    """The size of the body of a JSON search for ``limit`` events, checked to hold them."""
    answer = httpx.post(
        f"{base}{SEARCH_PATH}",
        json={"limit": limit},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()
    if len(answer.json()["events"]) != limit:
        raise RuntimeError(f"the JSON search did not answer {limit} events")
    return len(answer.content)


def _grpc_answer_bytes(port: int, token: str, limit: int) -> int:
    """The size of the body of a ListEvents call for ``limit`` events: ``grpcio`` raises
    unless its ``grpc-status`` is 0 (OK), and the answer must hold the events."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer = admin_pb2_grpc.AdminServiceStub(channel).ListEvents(
            admin_pb2.ListEventsRequest(limit=limit),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30,
            wait_for_ready=True,
        )
    if len(answer.events) != limit:
        raise RuntimeError(f"ListEvents did not answer {limit} events")
    return 5 + answer.ByteSize()  # one message behind its 5-byte length prefix


def _reads(
    server_pid: int, base: str, grpc_port: int, token: str, limit: int, clients: int, seconds: float
) -> dict[str, dict[str, float]]:
    """The same read (``limit`` events, newest first) under the same ``h2load`` load on both
    transports: JSON over HTTP/1.1 and ListEvents over gRPC (HTTP/2, one call per stream).

    ``errors`` counts the non-2xx answers or, if there are none, from the body bytes, the
    2xx answers that were not the one a real client got just before (a gRPC error is a 200
    with no body): h2load sees HTTP statuses only, not ``grpc-status``."""
    request = admin_pb2.ListEventsRequest(limit=limit).SerializeToString()
    loads = {
        "json": (
            f"{base}{SEARCH_PATH}",
            f'{{"limit": {limit}}}'.encode(),
            {"content-type": "application/json"},
            _json_answer_bytes(base, token, limit),
        ),
        "grpc": (
            f"http://127.0.0.1:{grpc_port}{LIST_EVENTS_PATH}",
            b"\0" + len(request).to_bytes(4, "big") + request,
            {"content-type": "application/grpc", "te": "trailers"},
            _grpc_answer_bytes(grpc_port, token, limit),
        ),
    }
    found = {}
    for transport, (url, body, headers, answer_bytes) in loads.items():
        headers = {**headers, "authorization": f"Bearer {token}"}
        h1 = transport == "json"
        # A timed warm-up gives the rate; the measured run asks for a number of requests
        # instead, so that none is cut off mid-answer and the body bytes add up exactly.
        warm = _h2load(url, body, headers, clients, "-D 2", h1=h1)
        cpu = _cpu_seconds(server_pid)
        count = max(clients * 10, int(warm["rps"] * seconds))
        result = _h2load(url, body, headers, clients, f"-n {count}", h1=h1)
        cpu = _cpu_seconds(server_pid) - cpu
        answered = result["requests"] - result["non_2xx"]
        if result["requests"] != count or result["logged_2xx"] != answered:
            raise RuntimeError(f"h2load did not report each of its {count} requests: {result}")
        wrong = abs(answered * answer_bytes - result["body_bytes"]) / answer_bytes
        result["answer_bytes"] = answer_bytes
        # Non-2xx answers have bodies of their own; only without them do the bytes count.
        result["errors"] = result["non_2xx"] or math.ceil(wrong)
        result["server_cpu_us_per_request"] = cpu / max(1.0, result["requests"]) * 1e6
        found[transport] = result
    return found


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
    data: Path, url: str, workers: int, server_name: str, grpc_port: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ)
    if server_name == "uvicorn":
        command = [
            *(sys.executable, "-m", "chronik", "serve", "--port", str(port), "--data", str(data)),
            *("--log-level", "warning", "--workers", str(workers)),
            *(("--database-url", url) if url else ()),
            *(("--grpc-port", str(grpc_port)) if grpc_port else ()),
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
    wait_ready(server, base)
    return server, base


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
    transports: list[str],
) -> list[Result]:
    grpc_port = free_port() if "grpc" in transports and server_name == "uvicorn" else None
    server, base = _serve(data, url, workers, server_name, grpc_port)
    what = f"{backend}, {server_name}, {workers} worker(s)"
    search: dict[str, float] = {}
    appends: dict[str, float] = {}
    reads: dict[int, dict[str, dict[str, float]]] = {}
    try:
        if "json" in transports:
            _wrk(SEARCH_LUA, token, f"{base}{SEARCH_PATH}", 16, 2)  # warm-up
            log(f"{what}: search, 16 connections")
            search = _wrk(SEARCH_LUA, token, f"{base}{SEARCH_PATH}", 16, seconds)
        if grpc_port is not None:
            # Before the appends: the answers' bytes are checked against one taken first.
            for limit, clients in ((100, 16), (1, 32)):
                log(f"{what}: JSON and gRPC reads of {limit}, {clients} clients (h2load)")
                reads[limit] = _reads(server.pid, base, grpc_port, token, limit, clients, seconds)
        if "json" in transports:
            log(f"{what}: appends, 32 connections")
            cpu = _cpu_seconds(server.pid)
            appends = _wrk(APPEND_LUA, token, base, 32, seconds)
            cpu = _cpu_seconds(server.pid) - cpu
            appends["server_cpu_us_per_append"] = cpu / max(1.0, appends["requests"]) * 1e6
            log(
                f"{what}: {appends['rps']:,.0f} appends/s, "
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
    results = []
    if search and appends:
        results += _json_results(backend, label, search, appends, library)
    if reads:
        results += _grpc_results(backend, label, reads)
    results.append(
        Result(
            backend,
            f"server resident memory after the run, {label}" + (", gRPC on" if reads else ""),
            "MB",
            None,
            rss_mb,
            None,
            None,
            "<= 250 MB",
            check(rss_mb, "<=", 250.0),
            note=f"sum of VmRSS{per_process}",
        )
    )
    return results


def _json_results(
    backend: str,
    label: str,
    search: dict[str, float],
    appends: dict[str, float],
    library: float,
) -> list[Result]:
    """The ``wrk`` rows: JSON search latency and single-event appends."""
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
    ]


def _grpc_results(
    backend: str, label: str, reads: dict[int, dict[str, dict[str, float]]]
) -> list[Result]:
    """The ``h2load`` rows: JSON's figure in the raw column, gRPC's beside it, the ratio
    gRPC / JSON; any error in either fails the row."""

    def row(workload: str, unit: str, key: str, found: dict[str, dict[str, float]]) -> Result:
        plain, rpc = found["json"], found["grpc"]
        errors = plain["errors"] + rpc["errors"]
        ratio = rpc[key] / plain[key]
        target = "gRPC p99 <= JSON's" if key == "p99" else "report"
        status = check(ratio, "<=", 1.0) if key == "p99" else "INFO"
        return Result(
            backend,
            workload,
            unit,
            plain[key],
            rpc[key],
            None,
            ratio,
            target,
            "FAIL" if errors else status,
            note=f"raw = JSON over HTTP/1.1, chronik = gRPC ListEvents, both h2load; "
            f"p50 {plain['p50']:.2f} / {rpc['p50']:.2f} ms; "
            f"{plain['rps']:,.0f} / {rpc['rps']:,.0f} requests/s; server CPU "
            f"{plain['server_cpu_us_per_request']:.0f} / {rpc['server_cpu_us_per_request']:.0f}"
            f" us per request; {plain['errors']:.0f} / {rpc['errors']:.0f} errors",
            details=found,
        )

    return [
        row(
            f"JSON vs gRPC search, 100 events/page, 16 clients, {label}: p99",
            "ms",
            "p99",
            reads[100],
        ),
        row(f"JSON vs gRPC one-event reads, 32 clients, {label}", "req/s", "rps", reads[1]),
    ]


def run_backend(
    backend: str,
    events: int,
    seconds: float,
    admin_url: str,
    workers: list[int],
    servers: list[str],
    transports: list[str],
) -> list[Result]:
    data = Path(tempfile.mkdtemp(prefix="chronik-http-bench-"))
    url = ""
    if backend == "postgres":
        url, _ = create_pg_database(admin_url, "chronik_bench_http")
    settings = Settings(database_url=url, data_dir=data)
    try:
        log(f"{backend}: loading {events:,} events")
        tenant, token, loaded = uvloop.run(_prepare(settings, events, backend))
        library = 0.0
        if "json" in transports:
            log(f"{backend}: library rate, 32 concurrent single-event appends")
            library = uvloop.run(_library_rate(settings, tenant, seconds))
        results = [loaded]
        for count in workers:
            for server_name in servers:
                results += _measure(
                    backend, data, url, token, count, server_name, seconds, library, transports
                )
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
    parser.add_argument(
        "--transports",
        default="json,grpc",
        help="comma-separated: json (wrk: search and appends) and grpc (h2load: the same "
        "reads over JSON and over gRPC's ListEvents, on chronik serve's --grpc-port); "
        "default json,grpc",
    )
    args = parser.parse_args()
    transports = args.transports.split(",")
    if not transports or not set(transports) <= {"json", "grpc"}:
        sys.exit("--transports takes json, grpc or json,grpc")
    if "json" in transports and shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if "grpc" in transports and shutil.which("h2load") is None:
        sys.exit("h2load is needed: apt-get install nghttp2-client")
    events = args.events or (20_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    results: list[Result] = []
    for backend in backends:
        workers = [int(w) for w in args.workers.split(",")]
        servers = args.servers.split(",")
        results += run_backend(
            backend, events, seconds, args.admin_url, workers, servers, transports
        )
    print(common.table(results))
    print()
    print(common.markdown_table(results))
    path = common.write_json(results, {**common.machine(), "command": " ".join(sys.argv)})
    log(f"results written to {path}")


if __name__ == "__main__":
    main()
