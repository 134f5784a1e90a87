"""Webhooks on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from chronik.records import Webhook
from chronik.storage.sqlite.database import Q, from_micros, micros
from chronik.storage.webhooks import DATABASE, encode, webhook

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase


class SQLiteWebhookStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, hook: Webhook, position: int) -> None:
        def insert(con: sqlite3.Connection) -> None:
            tenant = self._keys.key(con, hook.tenant_id)
            con.execute(
                Q["webhook_insert"],
                (
                    tenant,
                    hook.locator,
                    encode(hook.definition),
                    micros(hook.created_at),
                    micros(hook.updated_at),
                ),
            )
            con.execute(Q["view_start"], (hook.view, tenant, DATABASE, position))

        await self._db.write(insert)

    async def get(self, tenant_id: str, locator: str) -> Webhook | None:
        def read(con: sqlite3.Connection) -> Webhook | None:
            row = con.execute(
                Q["webhook_get"], (self._keys.key(con, tenant_id), locator)
            ).fetchone()
            return None if row is None else webhook(tenant_id, row, from_micros)

        return await self._db.read(read)

    async def of_tenant(self, tenant_id: str) -> list[Webhook]:
        def read(con: sqlite3.Connection) -> list[Webhook]:
            rows = con.execute(Q["webhook_list"], (self._keys.key(con, tenant_id),))
            return [webhook(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)

    async def unsuspended(self) -> list[Webhook]:
        def read(con: sqlite3.Connection) -> list[Webhook]:
            rows = con.execute(Q["webhook_unsuspended"])
            return [webhook(r[0], r[1:], from_micros) for r in rows]

        return await self._db.read(read)

    async def replace(self, hook: Webhook) -> bool:
        def update(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, hook.tenant_id)
            params = (encode(hook.definition), micros(hook.updated_at), tenant, hook.locator)
            return con.execute(Q["webhook_replace"], params).rowcount == 1

        return await self._db.write(update)

    async def set_suspended(self, tenant_id: str, locator: str, at: datetime | None) -> bool:
        def update(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            stamp = None if at is None else micros(at)
            return con.execute(Q["webhook_suspend"], (stamp, tenant, locator)).rowcount == 1

        return await self._db.write(update)

    async def delete(self, tenant_id: str, locator: str, view: str) -> bool:
        def delete(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            if con.execute(Q["webhook_delete"], (tenant, locator)).rowcount != 1:
                return False
            for query in ("view_reset_failed", "view_reset_rows", "view_forget"):
                con.execute(Q[query], (tenant, view))
            return True

        return await self._db.write(delete)
