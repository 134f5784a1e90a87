"""View positions, failed events and view rows on SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronik.errors import NotFound
from chronik.records import FailedEvent, ViewCommit, ViewState
from chronik.storage.sqlite.database import Q, from_micros, micros
from chronik.storage.views import failed_event, rows_page, rows_read, view_state

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase


def _state(tenant_id: str, r: Any) -> ViewState:
    return view_state(tenant_id, r, from_micros)


def _failed(tenant_id: str, r: Any) -> FailedEvent:
    return failed_event(tenant_id, r, from_micros)


class SQLiteViewStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def claim(
        self,
        view: str,
        database: str,
        tenant_id: str,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        create: bool = True,
    ) -> ViewState | None:
        def claim(con: sqlite3.Connection) -> ViewState | None:
            tenant = self._keys.key(con, tenant_id)
            if create:
                con.execute(Q["view_insert"], (view, tenant, database))
            row = con.execute(
                Q["view_claim"],
                {
                    "view": view,
                    "tenant": tenant,
                    "database": database,
                    "owner": owner,
                    "now": micros(now),
                    "until": micros(until),
                },
            ).fetchone()
            return None if row is None else _state(tenant_id, row)

        return await self._db.write(claim)

    async def release(self, view: str, tenant_id: str, owner: str) -> None:
        def release(con: sqlite3.Connection) -> None:
            con.execute(Q["view_release"], (view, self._keys.key(con, tenant_id), owner))

        await self._db.write(release)

    async def state(self, view: str, tenant_id: str) -> ViewState | None:
        def read(con: sqlite3.Connection) -> ViewState | None:
            row = con.execute(Q["view_state"], (self._keys.key(con, tenant_id), view)).fetchone()
            return None if row is None else _state(tenant_id, row)

        return await self._db.read(read)

    async def rows(self, view: str, tenant_id: str, keys: Sequence[str]) -> dict[str, str]:
        def read(con: sqlite3.Connection) -> dict[str, str]:
            tenant = self._keys.key(con, tenant_id)
            found = con.execute(Q["view_rows"], (view, tenant, json.dumps(list(keys))))
            return dict(found.fetchall())

        return await self._db.read(read)

    async def rows_with_prefix(self, view: str, tenant_id: str, prefix: str) -> dict[str, str]:
        def read(con: sqlite3.Connection) -> dict[str, str]:
            tenant = self._keys.key(con, tenant_id)
            return dict(con.execute(Q["view_rows_prefix"], (view, tenant, prefix)).fetchall())

        return await self._db.read(read)

    async def read_rows(
        self, view: str, tenant_id: str, *, prefix: str, after: str | None, limit: int
    ) -> tuple[int, list[tuple[str, str]]] | None:
        def read(con: sqlite3.Connection) -> tuple[int, list[tuple[str, str]]] | None:
            query, params = rows_page(view, self._keys.key(con, tenant_id), prefix, after, limit)
            return rows_read(con.execute(Q[query], params).fetchall())

        return await self._db.read(read)

    async def commit(self, batch: ViewCommit) -> bool:
        def commit(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, batch.tenant_id)
            advanced = con.execute(
                Q["view_advance"],
                {
                    "view": batch.view,
                    "tenant": tenant,
                    "position": batch.position,
                    "event_at": None if batch.event_at is None else micros(batch.event_at),
                    "now": micros(batch.now),
                    "until": micros(batch.lease_until),
                    "expected": batch.expected_position,
                    "generation": batch.generation,
                    "owner": batch.owner,
                },
            ).fetchone()
            if advanced is None:
                return False
            database = advanced[0]
            if batch.puts:
                con.executemany(
                    Q["view_row_put"],
                    [(batch.view, tenant, k, v) for k, v in batch.puts.items()],
                )
            if batch.deletes:
                con.executemany(
                    Q["view_row_delete"], [(batch.view, tenant, k) for k in batch.deletes]
                )
            if batch.resolved:
                con.executemany(
                    Q["failed_resolve"], [(tenant, batch.view, s) for s in batch.resolved]
                )
            now = micros(batch.now)
            for f in batch.failures:
                con.execute(
                    Q["failed_upsert"],
                    {
                        "view": batch.view,
                        "tenant": tenant,
                        "sequence": f.sequence,
                        "database": database,
                        "count": f.failure_count,
                        "error": f.error,
                        "now": now,
                        "retry_at": None if f.retry_at is None else micros(f.retry_at),
                    },
                )
            return True

        return await self._db.write(commit)

    async def pending(self, view: str, tenant_id: str) -> list[FailedEvent]:
        def read(con: sqlite3.Connection) -> list[FailedEvent]:
            tenant = self._keys.key(con, tenant_id)
            rows = con.execute(Q["failed_pending"], (tenant, view)).fetchall()
            return [_failed(tenant_id, r) for r in rows]

        return await self._db.read(read)

    async def states(self, tenant_id: str) -> list[ViewState]:
        def read(con: sqlite3.Connection) -> list[ViewState]:
            try:
                tenant = self._keys.key(con, tenant_id)
            except NotFound:
                return []
            return [_state(tenant_id, r) for r in con.execute(Q["view_states"], (tenant,))]

        return await self._db.read(read)

    async def failed(
        self,
        tenant_id: str,
        *,
        view: str | None = None,
        min_failures: int = 0,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[FailedEvent]:
        def read(con: sqlite3.Connection) -> list[FailedEvent]:
            try:
                tenant = self._keys.key(con, tenant_id)
            except NotFound:
                return []
            after_view, after_sequence = after or ("", -1)
            rows = con.execute(
                Q["failed_list"],
                {
                    "tenant": tenant,
                    "view": view,
                    "min_failures": min_failures,
                    "after_view": after_view,
                    "after_sequence": after_sequence,
                    "limit": limit,
                },
            )
            return [_failed(tenant_id, r) for r in rows]

        return await self._db.read(read)

    async def count_failed(self, tenant_id: str, view: str) -> int:
        def read(con: sqlite3.Connection) -> int:
            tenant = self._keys.key(con, tenant_id)
            return int(con.execute(Q["failed_count"], (tenant, view)).fetchone()[0])

        return await self._db.read(read)

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> bool:
        def remove(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            if con.execute(Q["failed_remove"], (tenant, view, sequence)).fetchone() is None:
                return False
            con.execute(Q["view_skip_to"], (sequence, tenant, view, sequence))
            return True

        return await self._db.write(remove)

    async def failed_again(
        self, tenant_id: str, view: str, sequence: int, error: str, at: datetime
    ) -> bool:
        def update(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            params = (error, micros(at), tenant, view, sequence)
            return con.execute(Q["failed_again"], params).rowcount == 1

        return await self._db.write(update)

    async def retry_failed(
        self, tenant_id: str, view: str, sequence: int | None, at: datetime
    ) -> int:
        def retry(con: sqlite3.Connection) -> int:
            tenant = self._keys.key(con, tenant_id)
            params = {"at": micros(at), "tenant": tenant, "view": view, "sequence": sequence}
            return int(con.execute(Q["failed_retry"], params).rowcount)

        return await self._db.write(retry)

    async def reset(self, tenant_id: str, view: str) -> bool:
        def reset(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            found = con.execute(Q["view_reset"], (tenant, view)).rowcount > 0
            con.execute(Q["view_reset_failed"], (tenant, view))
            con.execute(Q["view_reset_rows"], (tenant, view))
            return found

        return await self._db.write(reset)

    async def set_paused(self, tenant_id: str, view: str, database: str, paused: bool) -> None:
        def pause(con: sqlite3.Connection) -> None:
            tenant = self._keys.key(con, tenant_id)
            con.execute(Q["view_insert"], (view, tenant, database))
            con.execute(Q["view_pause"], (int(paused), tenant, view))

        await self._db.write(pause)
