"""Views the CLI tests run with ``--views <this file>:views``.

``counts`` counts events per aggregate and lists every sequence it saw (so a test can tell
an event applied twice or lost); an event whose payload names a ``poisonFile`` fails while
that file exists. ``slow`` does the same after a pause per event, so that a test can kill
its worker in the middle of a batch.
"""

from __future__ import annotations

import asyncio
import os

from chronik import Event
from chronik.views import Backoff, Registry, Rows

views = Registry()


class Poisoned(Exception):
    error_id = "TEST-POISON"


async def _count(event: Event, rows: Rows) -> None:
    poison = event.payload.get("poisonFile")
    if isinstance(poison, str) and os.path.exists(poison):  # noqa: ASYNC240 - a test file
        raise Poisoned(f"{poison} exists")
    key = f"count:{event.aggregate_id}"
    rows.put(key, await rows.get(key, 0) + 1)
    rows.put("seen", [*await rows.get("seen", []), event.sequence])


@views.view("counts", database="tests", max_failures=2, backoff=Backoff(first=0.1, longest=0.1))
async def counts(event: Event, rows: Rows) -> None:
    await _count(event, rows)


@views.view("slow", database="tests", batch=20)
async def slow(event: Event, rows: Rows) -> None:
    await asyncio.sleep(0.02)
    await _count(event, rows)
