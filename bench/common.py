"""Timing, statistics, the results table and the JSON file every benchmark shares."""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# -- timing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One timed run: ``items`` units of work (events) in ``seconds``."""

    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


async def timed_async(op: Callable[[], Awaitable[int]], duration: float) -> Run:
    """Call ``op`` (which returns how many items it did) back to back for ``duration``."""
    items = 0
    start = time.perf_counter()
    deadline = start + duration
    while True:
        items += await op()
        now = time.perf_counter()
        if now >= deadline:
            return Run(items, now - start)


def timed_sync(op: Callable[[], int], duration: float) -> Run:
    items = 0
    start = time.perf_counter()
    deadline = start + duration
    while True:
        items += op()
        now = time.perf_counter()
        if now >= deadline:
            return Run(items, now - start)


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by nearest rank: p99 of 1,000 samples is the 990th."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    """One line of the table.

    ``raw``, ``chronik`` and ``eventsourcing`` are rates (events/s) or latencies (ms), as
    ``unit`` says; ``ratio`` is what the target is checked against.
    """

    backend: str
    workload: str
    unit: str
    raw: float | None
    chronik: float | None
    eventsourcing: float | None
    ratio: float | None
    target: str
    status: str  # PASS, FAIL or INFO (reported, no target on this backend)
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def check(value: float | None, op: str, limit: float) -> str:
    if value is None or value != value:  # None or NaN
        return "FAIL"
    ok = value >= limit if op == ">=" else value <= limit
    return "PASS" if ok else "FAIL"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f}"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def table(results: Sequence[Result]) -> str:
    headers = [
        "backend",
        "workload",
        "unit",
        "raw",
        "chronik",
        "eventsourcing",
        "ratio",
        "target",
        "status",
    ]
    rows = [
        [
            r.backend,
            r.workload,
            r.unit,
            _fmt(r.raw, r.unit),
            _fmt(r.chronik, r.unit),
            _fmt(r.eventsourcing, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            r.target,
            r.status,
        ]
        for r in results
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    right = {3, 4, 5, 6}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def markdown_table(results: Sequence[Result]) -> str:
    headers = [
        "backend",
        "workload",
        "unit",
        "raw",
        "Chronik",
        "eventsourcing",
        "ratio",
        "target",
        "status",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in results:
        cells = [
            r.backend,
            r.workload,
            r.unit,
            _fmt(r.raw, r.unit),
            _fmt(r.chronik, r.unit),
            _fmt(r.eventsourcing, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            r.target.replace("|", "\\|"),
            f"**{r.status}**" if r.status == "FAIL" else r.status,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine(postgres_version: str | None = None) -> dict[str, Any]:
    try:
        cpu = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cpu = str(os.cpu_count())
    model = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import chronik

    try:
        root = Path(__file__).resolve().parent.parent
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit = head + (" (src modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {
        "chronik": str(Path(chronik.__file__).parent),
        "commit": commit,
        "nproc": cpu,
        "cpu": model,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres_version,
    }


def write_json(results: Sequence[Result], meta: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(
        json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2, default=str)
        + "\n"
    )
    return path


def parser(prog: str, description: str | None, default_admin_url: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --backend, --quick, --postgres-url."""
    made = argparse.ArgumentParser(
        prog=f"python -m {prog}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    made.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    made.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    made.add_argument("--postgres-url", default=default_admin_url)
    return made


def run_each_backend(
    prog: str,
    argv: list[str] | None,
    args: Any,
    run_backend: Callable[[str, Any], Coroutine[Any, Any, list[Result]]],
) -> None:
    """Run ``run_backend`` for each backend of ``args.backend`` (on uvloop), measuring what
    other programs take meanwhile, then :func:`finish`."""
    import uvloop

    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    started = time.time()
    results: list[Result] = []
    noise: dict[str, Any] = {}
    for backend in backends:
        meter = ForeignLoad()
        results += uvloop.run(run_backend(backend, args))
        noise[backend] = meter.report()
    meta = {
        "command": f"python -m {prog} " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "other_programs": noise,
    }
    finish(results, meta)


def finish(results: Sequence[Result], meta: dict[str, Any]) -> None:
    """Print the table, write the JSON and Markdown files, and say how many failed."""
    print()
    print(table(results))
    print()
    path = write_json(results, meta)
    path.with_suffix(".md").write_text(markdown_table(results) + "\n")
    failed = [r for r in results if r.status == "FAIL"]
    print(f"{len(results)} figures, {len(failed)} FAIL; {meta['seconds']} s; results: {path}")


class ForeignLoad:
    """How much CPU other programs took while the benchmark ran.

    The machine has few cores and is shared; a ratio taken while another program burns a
    core is worth less. ``/proc/stat``'s busy time minus this process's CPU and the
    PostgreSQL server's CPU is what the others used (PostgreSQL backends of other clients
    count as ours, so this is a lower bound; the kernel's softirq work for our own loopback
    traffic counts as foreign, a few hundredths).
    """

    def __init__(self) -> None:
        self.start = self._sample()
        self.start_load = os.getloadavg()

    @staticmethod
    def _cpu() -> tuple[float, float]:
        """Busy and stolen CPU seconds of the whole machine (stolen: the hypervisor gave
        our virtual CPUs' time to someone else)."""
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except OSError:
            return 0.0, 0.0
        values = [int(x) for x in fields] + [0] * 8
        tick = os.sysconf("SC_CLK_TCK")
        busy = values[0] + values[1] + values[2] + values[5] + values[6]
        return busy / tick, values[7] / tick

    @staticmethod
    def _postgres() -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.find("(") + 1 : stat.rfind(")")]
            if name.startswith("postgres"):
                rest = stat[stat.rfind(")") + 2 :].split()
                # utime, stime, and cutime, cstime: the time of backends that already
                # ended is added to the postmaster's children's time.
                total += sum(int(x) for x in rest[11:15]) / tick
        return total

    def _sample(self) -> tuple[float, float, float, float, float]:
        t = os.times()
        busy, steal = self._cpu()
        return time.monotonic(), busy, t.user + t.system, self._postgres(), steal

    def report(self) -> dict[str, float]:
        end = self._sample()
        wall = end[0] - self.start[0]
        foreign = (end[1] - self.start[1]) - (end[2] - self.start[2]) - (end[3] - self.start[3])
        steal = end[4] - self.start[4]
        return {
            "wall_seconds": round(wall, 1),
            "foreign_cpu_per_second": round(max(0.0, foreign) / wall, 3) if wall else 0.0,
            "stolen_cpu_per_second": round(steal / wall, 3) if wall else 0.0,
            "loadavg_at_start": round(self.start_load[0], 2),
            "loadavg_at_end": round(os.getloadavg()[0], 2),
        }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 no one listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: subprocess.Popen[bytes], base: str, seconds: float = 60) -> None:
    """Wait until the server at ``base`` answers ``/readyz``; kill it if it never does."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the server did not become ready")
        time.sleep(0.2)
