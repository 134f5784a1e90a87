"""Execution records of actions on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chronik.records import ActionRun
from chronik.storage.actions import action_run, run_params
from chronik.storage.sqlite.database import Q, from_micros, micros

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase


class SQLiteActionRunStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def add(self, runs: Sequence[ActionRun]) -> None:
        def insert(con: sqlite3.Connection) -> None:
            con.executemany(
                Q["action_run_insert"],
                [
                    run_params(self._keys.key(con, r.tenant_id), r, micros(r.started_at))
                    for r in runs
                ],
            )

        if runs:
            await self._db.write(insert)

    async def list(
        self,
        tenant_id: str,
        *,
        organisation_id: str | None = None,
        action_id: str | None = None,
        outcome: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[ActionRun]:
        def read(con: sqlite3.Connection) -> list[ActionRun]:
            rows = con.execute(
                Q["action_runs"],
                {
                    "tenant": self._keys.key(con, tenant_id),
                    "organisation": organisation_id,
                    "action": action_id,
                    "outcome": outcome,
                    "before": before,
                    "limit": limit,
                },
            ).fetchall()
            return [action_run(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)
