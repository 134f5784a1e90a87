"""Schedules and failed jobs on SQLite. One writer at a time, so a claim is a read of the
due schedules and an update of their owner in the same write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronik.errors import NotFound
from chronik.records import FailedJob, Firing, FiringFailure, Schedule
from chronik.storage.schedules import (
    definition,
    failed_job,
    restored,
    restored_job,
    schedule,
    taken,
    with_failed_job,
)
from chronik.storage.sqlite.database import Q, from_micros, micros

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase
    from chronik.storage.sqlite.events import Written


def _micros(at: datetime | None) -> int | None:
    return None if at is None else micros(at)


def _stamp(s: Schedule) -> datetime:
    at = s.updated_at or s.created_at
    assert at is not None, "the service stamps a schedule before storing it"
    return at


class SQLiteScheduleStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, schedules: Sequence[Schedule]) -> None:
        def insert(con: sqlite3.Connection) -> None:
            for s in schedules:
                tenant = self._keys.key(con, s.tenant_id)
                params = definition(s, tenant, micros(_stamp(s)), _micros(s.next_fire_at))
                try:
                    con.execute(Q["schedule_insert"], params)
                except sqlite3.IntegrityError:
                    raise taken(s) from None

        await self._db.write(insert)

    async def replace(self, s: Schedule) -> bool:
        def update(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, s.tenant_id)
            params = definition(s, tenant, micros(_stamp(s)), _micros(s.next_fire_at))
            return con.execute(Q["schedule_replace"], params).rowcount > 0

        return await self._db.write(update)

    async def get(self, tenant_id: str, group: str, name: str) -> Schedule | None:
        def read(con: sqlite3.Connection) -> Schedule | None:
            try:
                tenant = self._keys.key(con, tenant_id)
            except NotFound:
                return None
            row = con.execute(Q["schedule_get"], (tenant, group, name)).fetchone()
            return None if row is None else schedule(tenant_id, row, from_micros)

        return await self._db.read(read)

    async def find(
        self,
        tenant_id: str,
        *,
        group: str | None = None,
        policy_locator: str | None = None,
        offset: int = 0,
        count: int = 1000,
    ) -> list[Schedule]:
        def read(con: sqlite3.Connection) -> list[Schedule]:
            params = {
                "tenant": self._keys.key(con, tenant_id),
                "grp": group,
                "policy": policy_locator,
                "offset": offset,
                "count": count,
            }
            rows = con.execute(Q["schedule_list"], params).fetchall()
            return [schedule(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)

    async def delete(self, tenant_id: str, group: str, name: str) -> bool:
        def delete(con: sqlite3.Connection) -> bool:
            key = (self._keys.key(con, tenant_id), group, name)
            con.execute(Q["failed_job_delete"], key)
            return con.execute(Q["schedule_delete"], key).rowcount > 0

        return await self._db.write(delete)

    async def set_paused(
        self, tenant_id: str, group: str, name: str, paused: bool, now: datetime
    ) -> bool:
        def pause(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            params = (int(paused), micros(now), tenant, group, name)
            changed = con.execute(Q["schedule_pause"], params)
            return changed.rowcount > 0

        return await self._db.write(pause)

    async def resume_failed(self, tenant_id: str, group: str, name: str, now: datetime) -> bool:
        def resume(con: sqlite3.Connection) -> bool:
            params = {
                "tenant": self._keys.key(con, tenant_id),
                "grp": group,
                "name": name,
                "now": micros(now),
            }
            return con.execute(Q["schedule_resume_failed"], params).rowcount > 0

        return await self._db.write(resume)

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[tuple[Schedule, str | None, int]]:
        def claim(con: sqlite3.Connection) -> list[tuple[Schedule, str | None, int]]:
            rows = con.execute(Q["schedule_due"], {"now": micros(now), "limit": limit}).fetchall()
            con.executemany(
                Q["schedule_claim"], [(owner, micros(until), r[0], r[1], r[2]) for r in rows]
            )
            return [
                (schedule(self._keys.id(con, r[0]), r, from_micros), r[15], r[19]) for r in rows
            ]

        return await self._db.write(claim)

    async def next_due(self) -> datetime | None:
        def read(con: sqlite3.Connection) -> datetime | None:
            value = con.execute(Q["schedule_next_due"]).fetchone()[0]
            return None if value is None else from_micros(value)

        return await self._db.read(read)

    async def fire(self, firings: Sequence[Firing]) -> list[bool]:
        events = self._db.events
        written: list[Written] = []

        def fire(con: sqlite3.Connection) -> list[bool]:
            held = []
            for f in firings:
                tenant = self._keys.key(con, f.tenant_id)
                params: dict[str, Any] = {
                    "tenant": tenant,
                    "grp": f.group,
                    "name": f.name,
                    "owner": f.owner,
                    "next": _micros(f.next_fire_at),
                    "fired": f.fired,
                    "missed": f.missed,
                    "now": micros(f.now),
                }
                ok = con.execute(Q["schedule_fired"], params).fetchone() is not None
                if ok:
                    con.execute(Q["failed_job_delete"], (tenant, f.group, f.name))
                held.append(ok)
            appends = [f.append for f, ok in zip(firings, held, strict=True) if ok and f.append]
            written[:] = [events.append_in(con, appends)]
            failed = [o for o in written[0].outcomes if not isinstance(o, list)]
            if failed:
                raise failed[0]
            return held

        held = await self._db.write(fire)
        events.committed(written[0])
        return held

    async def fail(self, failure: FiringFailure) -> bool:
        def fail(con: sqlite3.Connection) -> bool:
            params: dict[str, Any] = {
                "tenant": self._keys.key(con, failure.tenant_id),
                "grp": failure.group,
                "name": failure.name,
                "owner": failure.owner,
                "next": _micros(failure.next_fire_at),
                "error": int(failure.state == "quit"),
                "now": micros(failure.now),
                "count": failure.failure_count,
                "state": failure.state,
            }
            if con.execute(Q["schedule_failed"], params).fetchone() is None:
                return False
            con.execute(Q["failed_job_upsert"], {**params, "error": failure.error})
            return True

        return await self._db.write(fail)

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
        def read(con: sqlite3.Connection) -> list[FailedJob]:
            params = {
                "tenant": self._keys.key(con, tenant_id),
                "state": state,
                "policy": policy_locator,
                "grp": group,
                "offset": offset,
                "count": count,
            }
            rows = con.execute(Q["failed_job_list"], params).fetchall()
            return [failed_job(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)

    async def failed_job_counts(self, tenant_id: str) -> dict[str, int]:
        def read(con: sqlite3.Connection) -> dict[str, int]:
            params = {"tenant": self._keys.key(con, tenant_id)}
            return dict(con.execute(Q["failed_job_counts"], params).fetchall())

        return await self._db.read(read)

    async def delete_failed(self, tenant_id: str, group: str, name: str) -> bool:
        def delete(con: sqlite3.Connection) -> bool:
            key = (self._keys.key(con, tenant_id), group, name)
            return con.execute(Q["failed_job_delete"], key).rowcount > 0

        return await self._db.write(delete)

    async def export(
        self, tenant_id: str, after: tuple[str, str], limit: int
    ) -> list[tuple[Schedule, FailedJob | None]]:
        def read(con: sqlite3.Connection) -> list[tuple[Schedule, FailedJob | None]]:
            params = {
                "tenant": self._keys.key(con, tenant_id),
                "grp": after[0],
                "name": after[1],
                "count": limit,
            }
            rows = con.execute(Q["schedule_export"], params).fetchall()
            return [with_failed_job(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)

    async def restore(self, s: Schedule, job: FailedJob | None) -> bool:
        def insert(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, s.tenant_id)
            if con.execute(Q["schedule_restore"], restored(s, tenant, micros)).rowcount == 0:
                return False
            if job is not None:
                con.execute(Q["failed_job_restore"], restored_job(job, tenant, micros))
            return True

        return await self._db.write(insert)
