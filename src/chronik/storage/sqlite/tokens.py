"""Personal access tokens on SQLite."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronik.records import TokenRecord
from chronik.storage.sqlite.database import Q, from_micros, micros

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row[0],
        tenant_id=row[1],
        name=row[2],
        secret_hash=bytes(row[3]),
        organisation_id=row[4],
        roles=tuple(json.loads(row[5])),
        created_at=from_micros(row[6]),
        expires_at=from_micros(row[7]) if row[7] is not None else None,
        revoked_at=from_micros(row[8]) if row[8] is not None else None,
    )


def _insert(con: sqlite3.Connection, tenant: int, token: TokenRecord) -> None:
    con.execute(
        Q["insert_token"],
        (
            token.id,
            tenant,
            token.name,
            token.secret_hash,
            token.organisation_id,
            json.dumps(list(token.roles)),
            micros(token.created_at),
            micros(token.expires_at) if token.expires_at else None,
        ),
    )


class SQLiteTokenStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def create(self, token: TokenRecord) -> None:
        await self._db.write(
            lambda con: _insert(con, self._db.keys.key(con, token.tenant_id), token)
        )

    async def create_first(self, token: TokenRecord) -> bool:
        """One write transaction (``BEGIN IMMEDIATE``) holds the file's write lock from the
        check to the insert, so two processes cannot both see no token."""

        def insert_if_none(con: sqlite3.Connection) -> bool:
            tenant = self._db.keys.key(con, token.tenant_id)
            if con.execute(Q["tenant_has_tokens"], (tenant,)).fetchone()[0]:
                return False
            _insert(con, tenant, token)
            return True

        return await self._db.write(insert_if_none)

    async def find(self, secret_hash: bytes) -> TokenRecord | None:
        row = await self._db.read(
            lambda con: con.execute(Q["token_by_hash"], (secret_hash,)).fetchone()
        )
        return _token(row) if row else None

    async def list(self, tenant_id: str) -> list[TokenRecord]:
        def run(con: sqlite3.Connection) -> list[Any]:
            tenant = self._db.keys.key(con, tenant_id)
            return con.execute(Q["list_tokens"], (tenant,)).fetchall()

        return [_token(r) for r in await self._db.read(run)]

    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool:
        def run(con: sqlite3.Connection) -> bool:
            tenant = self._db.keys.key(con, tenant_id)
            return con.execute(Q["revoke_token"], (micros(at), token_id, tenant)).rowcount == 1

        return await self._db.write(run)
