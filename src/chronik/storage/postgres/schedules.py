"""Schedules and failed jobs on PostgreSQL. A claim takes due rows with ``FOR UPDATE SKIP
LOCKED``, so that nodes claiming at the same time take different schedules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors

from chronik.errors import NotFound
from chronik.records import FailedJob, Firing, FiringFailure, Schedule
from chronik.storage.postgres.database import Q, as_is
from chronik.storage.schedules import (
    definition,
    failed_job,
    restored,
    restored_job,
    schedule,
    taken,
    with_failed_job,
)

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase


class PostgresScheduleStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, schedules: Sequence[Schedule]) -> None:
        async with self._db.connection() as conn:
            params = [
                definition(
                    s,
                    await self._keys.key(conn, s.tenant_id),
                    s.updated_at or s.created_at,
                    s.next_fire_at,
                )
                for s in schedules
            ]
            try:
                async with conn.transaction(), conn.cursor() as cur:
                    await cur.executemany(Q["schedule_insert"], params)
            except pg_errors.UniqueViolation:
                for s, p in zip(schedules, params, strict=True):
                    cur = await conn.execute(Q["schedule_get"], (p["tenant"], s.group, s.name))
                    if await cur.fetchone() is not None:
                        raise taken(s) from None
                raise taken(schedules[0]) from None  # a key repeated within the batch

    async def replace(self, s: Schedule) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, s.tenant_id)
            params = definition(s, tenant, s.updated_at or s.created_at, s.next_fire_at)
            cur = await conn.execute(Q["schedule_replace"], params)
            return cur.rowcount > 0

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule | None:
        async with self._db.connection() as conn:
            try:
                tenant = await self._keys.key(conn, tenant_id)
            except NotFound:
                return None
            cur = await conn.execute(Q["schedule_get"], (tenant, group, name))
            row = await cur.fetchone()
        return None if row is None else schedule(tenant_id, row, as_is)

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[Schedule]:
        async with self._db.connection() as conn:
            params = {
                "tenant": await self._keys.key(conn, tenant_id),
                "grp": group,
                "policy": policy_locator,
                "offset": offset,
                "count": count,
            }
            cur = await conn.execute(Q["schedule_list"], params)
            return [schedule(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def delete(self, tenant_id: str, group: str, name: str) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            key = (await self._keys.key(conn, tenant_id), group, name)
            await conn.execute(Q["failed_job_delete"], key)
            cur = await conn.execute(Q["schedule_delete"], key)
            return cur.rowcount > 0

    async def set_paused(
        self, tenant_id: str, group: str, name: str, paused: bool, now: datetime
    ) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["schedule_pause"], (paused, now, tenant, group, name))
            return cur.rowcount > 0

    async def resume_failed(self, tenant_id: str, group: str, name: str, now: datetime) -> bool:
        async with self._db.connection() as conn:
            params = {
                "tenant": await self._keys.key(conn, tenant_id),
                "grp": group,
                "name": name,
                "now": now,
            }
            cur = await conn.execute(Q["schedule_resume_failed"], params)
            return cur.rowcount > 0

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[tuple[Schedule, str | None, int]]:
        async with self._db.connection() as conn:
            params = {"owner": owner, "now": now, "until": until, "limit": limit}
            params["moved"] = await _moved(conn)
            cur = await conn.execute(Q["schedule_claim_due"], params)
            rows = await cur.fetchall()
            await self._keys.learn(conn, (r[0] for r in rows))
        ids = self._keys.ids
        return [(schedule(ids[r[0]], r, as_is), r[19], r[20]) for r in rows]

    async def next_due(self) -> datetime | None:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["schedule_next_due"], (await _moved(conn),))
            row = await cur.fetchone()
        return row[0] if row else None

    async def fire(self, firings: Sequence[Firing]) -> list[bool]:
        events = self._db.events
        async with self._db.connection() as conn:
            async with conn.transaction():
                params: list[dict[str, Any]] = [
                    {
                        "tenant": await self._keys.key(conn, f.tenant_id),
                        "grp": f.group,
                        "name": f.name,
                        "owner": f.owner,
                        "next": f.next_fire_at,
                        "fired": f.fired,
                        "missed": f.missed,
                        "now": f.now,
                    }
                    for f in firings
                ]
                # Pipelined: one round trip for the whole group, not one per schedule.
                async with conn.cursor() as cur:
                    await cur.executemany(Q["schedule_fired"], params, returning=True)
                    held = []
                    while True:
                        held.append(await cur.fetchone() is not None)
                        if not cur.nextset():
                            break
                    done = [
                        (p["tenant"], p["grp"], p["name"])
                        for p, ok in zip(params, held, strict=True)
                        if ok
                    ]
                    if done:
                        columns = [list(c) for c in zip(*done, strict=True)]
                        await cur.execute(Q["failed_jobs_delete_fired"], columns)
                appends = [f.append for f, ok in zip(firings, held, strict=True) if ok and f.append]
                outcomes, call = await events.append_in(conn, appends) if appends else ([], None)
                failed = [o for o in outcomes if not isinstance(o, list)]
                if failed:
                    raise failed[0]
            if call is not None:
                events.committed(call)
        return held

    async def fail(self, failure: FiringFailure) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            params: dict[str, Any] = {
                "tenant": await self._keys.key(conn, failure.tenant_id),
                "grp": failure.group,
                "name": failure.name,
                "owner": failure.owner,
                "next": failure.next_fire_at,
                "error": failure.state == "quit",
                "now": failure.now,
                "count": failure.failure_count,
                "state": failure.state,
            }
            cur = await conn.execute(Q["schedule_failed"], params)
            if await cur.fetchone() is None:
                return False
            await conn.execute(Q["failed_job_upsert"], {**params, "error": failure.error})
            return True

    async def failed_jobs(
        self,
        tenant_id: str,
        *,
        policy_locator: str | None = None,
        group: str | None = None,
        state: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[FailedJob]:
        async with self._db.connection() as conn:
            params = {
                "tenant": await self._keys.key(conn, tenant_id),
                "state": state,
                "policy": policy_locator,
                "grp": group,
                "offset": offset,
                "count": count,
            }
            cur = await conn.execute(Q["failed_job_list"], params)
            return [failed_job(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def failed_job_counts(self, tenant_id: str) -> dict[str, int]:
        async with self._db.connection() as conn:
            params = {"tenant": await self._keys.key(conn, tenant_id)}
            cur = await conn.execute(Q["failed_job_counts"], params)
            return {str(state): int(n) for state, n in await cur.fetchall()}

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> bool:
        async with self._db.connection() as conn:
            key = (await self._keys.key(conn, tenant_id), group, name)
            cur = await conn.execute(Q["failed_job_delete"], key)
            return cur.rowcount > 0

    async def export(
        self, tenant_id: str, after: tuple[str, str], limit: int
    ) -> list[tuple[Schedule, FailedJob | None]]:
        async with self._db.connection() as conn:
            params = {
                "tenant": await self._keys.key(conn, tenant_id),
                "grp": after[0],
                "name": after[1],
                "count": limit,
            }
            cur = await conn.execute(Q["schedule_export"], params)
            return [with_failed_job(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def restore(self, s: Schedule, job: FailedJob | None) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, s.tenant_id)
            cur = await conn.execute(Q["schedule_restore"], restored(s, tenant, as_is))
            if cur.rowcount == 0:
                return False
            if job is not None:
                await conn.execute(Q["failed_job_restore"], restored_job(job, tenant, as_is))
            return True


async def _moved(conn: psycopg.AsyncConnection[Any]) -> list[int]:
    """The keys of the tenants moved out of this database: their schedules fire elsewhere."""
    cur = await conn.execute(Q["tenants_moved"])
    row = await cur.fetchone()
    return list(row[0]) if row else []
