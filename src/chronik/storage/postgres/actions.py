"""Execution records of actions on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chronik.records import ActionRun
from chronik.storage.actions import action_run, run_params
from chronik.storage.postgres.database import Q, as_is

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase


class PostgresActionRunStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def add(self, runs: Sequence[ActionRun]) -> None:
        if not runs:
            return
        async with self._db.connection() as conn:
            params = [
                run_params(await self._keys.key(conn, r.tenant_id), r, r.started_at) for r in runs
            ]
            async with conn.cursor() as cur, conn.transaction():
                await cur.executemany(Q["action_run_insert"], params)

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
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(
                Q["action_runs"],
                {
                    "tenant": tenant,
                    "organisation": organisation_id,
                    "action": action_id,
                    "outcome": outcome,
                    "before": before,
                    "limit": limit,
                },
            )
            rows = await cur.fetchall()
        return [action_run(tenant_id, r, as_is) for r in rows]
