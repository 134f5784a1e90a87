"""View positions, failed events and view rows on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronik.errors import NotFound
from chronik.records import FailedEvent, ViewCommit, ViewState
from chronik.storage.postgres.database import Q, as_is
from chronik.storage.views import failed_event, rows_page, rows_read, view_state

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase


class PostgresViewStore:
    def __init__(self, db: PostgresDatabase) -> None:
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
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            if create:
                await conn.execute(Q["view_insert"], (view, tenant, database))
            cur = await conn.execute(
                Q["view_claim"],
                {
                    "view": view,
                    "tenant": tenant,
                    "database": database,
                    "owner": owner,
                    "now": now,
                    "until": until,
                },
            )
            row = await cur.fetchone()
        return None if row is None else view_state(tenant_id, row, as_is)

    async def release(self, view: str, tenant_id: str, owner: str) -> None:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            await conn.execute(Q["view_release"], (view, tenant, owner))

    async def state(self, view: str, tenant_id: str) -> ViewState | None:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["view_state"], (tenant, view))
            row = await cur.fetchone()
        return None if row is None else view_state(tenant_id, row, as_is)

    async def rows(self, view: str, tenant_id: str, keys: Sequence[str]) -> dict[str, str]:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["view_rows"], (view, tenant, list(keys)))
            return dict(await cur.fetchall())

    async def rows_with_prefix(self, view: str, tenant_id: str, prefix: str) -> dict[str, str]:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["view_rows_prefix"], (view, tenant, prefix))
            return dict(await cur.fetchall())

    async def read_rows(
        self, view: str, tenant_id: str, *, prefix: str, after: str | None, limit: int
    ) -> tuple[int, list[tuple[str, str]]] | None:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            query, params = rows_page(view, tenant, prefix, after, limit)
            cur = await conn.execute(Q[query], params)
            return rows_read(await cur.fetchall())

    async def commit(self, batch: ViewCommit) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, batch.tenant_id)
            cur = await conn.execute(
                Q["view_advance"],
                {
                    "view": batch.view,
                    "tenant": tenant,
                    "position": batch.position,
                    "event_at": batch.event_at,
                    "now": batch.now,
                    "until": batch.lease_until,
                    "expected": batch.expected_position,
                    "generation": batch.generation,
                    "owner": batch.owner,
                },
            )
            advanced = await cur.fetchone()
            if advanced is None:
                return False
            database = advanced[0]
            async with conn.cursor() as c:
                if batch.puts:
                    await c.executemany(
                        Q["view_row_put"],
                        [(batch.view, tenant, k, v) for k, v in batch.puts.items()],
                    )
                if batch.deletes:
                    await c.executemany(
                        Q["view_row_delete"], [(batch.view, tenant, k) for k in batch.deletes]
                    )
                if batch.resolved:
                    await c.executemany(
                        Q["failed_resolve"], [(tenant, batch.view, s) for s in batch.resolved]
                    )
                if batch.failures:
                    await c.executemany(
                        Q["failed_upsert"],
                        [
                            {
                                "view": batch.view,
                                "tenant": tenant,
                                "sequence": f.sequence,
                                "database": database,
                                "count": f.failure_count,
                                "error": f.error,
                                "now": batch.now,
                                "retry_at": f.retry_at,
                            }
                            for f in batch.failures
                        ],
                    )
        return True

    async def pending(self, view: str, tenant_id: str) -> list[FailedEvent]:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["failed_pending"], (tenant, view))
            return [failed_event(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def states(self, tenant_id: str) -> list[ViewState]:
        async with self._db.connection() as conn:
            try:
                tenant = await self._keys.key(conn, tenant_id)
            except NotFound:
                return []
            cur = await conn.execute(Q["view_states"], (tenant,))
            return [view_state(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def failed(
        self,
        tenant_id: str,
        *,
        view: str | None = None,
        min_failures: int = 0,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> list[FailedEvent]:
        async with self._db.connection() as conn:
            try:
                tenant = await self._keys.key(conn, tenant_id)
            except NotFound:
                return []
            after_view, after_sequence = after or ("", -1)
            cur = await conn.execute(
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
            return [failed_event(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def count_failed(self, tenant_id: str, view: str) -> int:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["failed_count"], (tenant, view))
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["failed_remove"], (tenant, view, sequence))
            if await cur.fetchone() is None:
                return False
            await conn.execute(Q["view_skip_to"], (sequence, tenant, view, sequence))
            return True

    async def failed_again(
        self, tenant_id: str, view: str, sequence: int, error: str, at: datetime
    ) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["failed_again"], (error, at, tenant, view, sequence))
            return cur.rowcount == 1

    async def retry_failed(
        self, tenant_id: str, view: str, sequence: int | None, at: datetime
    ) -> int:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            params: dict[str, Any] = {
                "at": at,
                "tenant": tenant,
                "view": view,
                "sequence": sequence,
            }
            cur = await conn.execute(Q["failed_retry"], params)
            return cur.rowcount

    async def reset(self, tenant_id: str, view: str) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["view_reset"], (tenant, view))
            found = cur.rowcount > 0
            await conn.execute(Q["view_reset_failed"], (tenant, view))
            await conn.execute(Q["view_reset_rows"], (tenant, view))
            return found

    async def set_paused(self, tenant_id: str, view: str, database: str, paused: bool) -> None:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            await conn.execute(Q["view_insert"], (view, tenant, database))
            await conn.execute(Q["view_pause"], (paused, tenant, view))
