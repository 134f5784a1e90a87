"""What benchmarks do to a running ``chronik serve``: read its ``/metrics`` and its
processes' CPU time (``/proc``, Linux), create and bind actions, keep requests in flight."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


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


def create_action(client: httpx.Client, name: str, script: str, timeout: str = "5s") -> str:
    answer = client.post(
        "/management/v1/actions", json={"name": name, "script": script, "timeout": timeout}
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def bind_pre_append(client: httpx.Client, action: str) -> None:
    client.post(
        "/management/v1/flows/FLOW_TYPE_EVENTS/trigger/TRIGGER_TYPE_PRE_APPEND",
        json={"actionIds": [action]},
    ).raise_for_status()


@dataclass
class Load:
    """Threads that keep ``count`` requests of ``body`` to ``path`` in flight."""

    base: str
    token: str
    path: str
    body: dict[str, Any]
    count: int
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[tuple[str, float]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for _ in range(self.count):
            thread = threading.Thread(target=self._spin, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _spin(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=60) as client:
            while not self.stop.is_set():
                answer = client.post(self.path, json=self.body)
                body = answer.json() if answer.status_code == 200 else {}
                outcome = body.get("outcome", f"HTTP {answer.status_code}")
                self.outcomes.append((outcome, float(body.get("durationMs", 0.0))))

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
