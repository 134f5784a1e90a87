"""Personal access tokens on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronik.records import TokenRecord
from chronik.storage.postgres.database import Q

if TYPE_CHECKING:
    import psycopg

    from chronik.storage.postgres.database import PostgresDatabase


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row[0],
        tenant_id=row[1],
        name=row[2],
        secret_hash=bytes(row[3]),
        organisation_id=row[4],
        roles=tuple(json.loads(row[5])),
        created_at=row[6],
        expires_at=row[7],
        revoked_at=row[8],
    )


async def _insert(conn: psycopg.AsyncConnection[Any], tenant: int, token: TokenRecord) -> None:
    await conn.execute(
        Q["insert_token"],
        (
            token.id,
            tenant,
            token.name,
            token.secret_hash,
            token.organisation_id,
            json.dumps(list(token.roles)),
            token.created_at,
            token.expires_at,
        ),
    )


class PostgresTokenStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(self, token: TokenRecord) -> None:
        async with self._db.connection() as conn:
            await _insert(conn, await self._db.keys.key(conn, token.tenant_id), token)

    async def create_first(self, token: TokenRecord) -> bool:
        """A transaction-scoped advisory lock orders the deciders; each one's check runs
        after the lock, in a snapshot that sees the token of any decider before it."""
        async with self._db.connection() as conn:
            tenant = await self._db.keys.key(conn, token.tenant_id)
            async with conn.transaction():
                await conn.execute(Q["bootstrap_lock"])
                cur = await conn.execute(Q["tenant_has_tokens"], (tenant,))
                row = await cur.fetchone()
                if row is None or row[0]:
                    return False
                await _insert(conn, tenant, token)
                return True

    async def find(self, secret_hash: bytes) -> TokenRecord | None:
        async with self._db.connection() as conn:
            cur = await conn.execute(Q["token_by_hash"], (secret_hash,))
            row = await cur.fetchone()
        return _token(row) if row else None

    async def list(self, tenant_id: str) -> list[TokenRecord]:
        async with self._db.connection() as conn:
            tenant = await self._db.keys.key(conn, tenant_id)
            cur = await conn.execute(Q["list_tokens"], (tenant,))
            return [_token(r) for r in await cur.fetchall()]

    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool:
        async with self._db.connection() as conn:
            tenant = await self._db.keys.key(conn, tenant_id)
            cur = await conn.execute(Q["revoke_token"], (at, token_id, tenant))
            return cur.rowcount == 1
