"""Webhooks on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chronik.records import Webhook
from chronik.storage.postgres.database import Q, as_is
from chronik.storage.webhooks import DATABASE, encode, webhook

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase


class PostgresWebhookStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, hook: Webhook, position: int) -> None:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, hook.tenant_id)
            await conn.execute(
                Q["webhook_insert"],
                (
                    tenant,
                    hook.locator,
                    encode(hook.definition),
                    hook.created_at,
                    hook.updated_at,
                ),
            )
            await conn.execute(Q["view_start"], (hook.view, tenant, DATABASE, position))

    async def get(self, tenant_id: str, locator: str) -> Webhook | None:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["webhook_get"], (tenant, locator))
            row = await cur.fetchone()
        return None if row is None else webhook(tenant_id, row, as_is)

    async def of_tenant(self, tenant_id: str) -> list[Webhook]:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["webhook_list"], (tenant,))
            return [webhook(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def unsuspended(self) -> list[Webhook]:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["webhook_unsuspended"])
            return [webhook(r[0], r[1:], as_is) for r in await cur.fetchall()]

    async def replace(self, hook: Webhook) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, hook.tenant_id)
            params = (encode(hook.definition), hook.updated_at, tenant, hook.locator)
            cur = await conn.execute(Q["webhook_replace"], params)
            return cur.rowcount == 1

    async def set_suspended(self, tenant_id: str, locator: str, at: datetime | None) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["webhook_suspend"], (at, tenant, locator))
            return cur.rowcount == 1

    async def delete(self, tenant_id: str, locator: str, view: str) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["webhook_delete"], (tenant, locator))
            if cur.rowcount != 1:
                return False
            for query in ("view_reset_failed", "view_reset_rows", "view_forget"):
                await conn.execute(Q[query], (tenant, view))
            return True
