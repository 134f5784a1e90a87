"""The executor keeps a tenant's bindings for a while, but never what a read that began
before a change here brought back: a change made through this process applies at once."""

from __future__ import annotations

import asyncio
from typing import Any

from chronik.actions.execution import Executor
from chronik.settings import Settings


class SlowViews:
    """A views store whose first read of bindings waits until it is let go."""

    def __init__(self) -> None:
        self.reads = 0
        self.go = asyncio.Event()

    async def rows_with_prefix(self, view: str, tenant_id: str, prefix: str) -> dict[str, str]:
        self.reads += 1
        if self.reads == 1:
            await self.go.wait()
        return {}

    async def rows(self, view: str, tenant_id: str, keys: Any) -> dict[str, str]:
        return {}


class FakeDatabase:
    def __init__(self) -> None:
        self.views = SlowViews()
        self.action_runs = None


async def test_a_read_begun_before_a_change_is_not_kept() -> None:
    db = FakeDatabase()
    executor = Executor(db, runtime=None, settings=Settings())  # type: ignore[arg-type]

    before = asyncio.create_task(executor._bound("t"))
    await asyncio.sleep(0)
    executor.changed("t")  # the bindings changed while that read was under way
    db.views.go.set()
    await before
    await executor._bound("t")
    await executor._bound("t")

    assert db.views.reads == 2, "the stale read was dropped; the fresh one is kept"
