"""Consumer groups on PostgreSQL: hand-outs lock the rows they take (``SKIP LOCKED``), and
the read position moves by compare-and-set, so that nodes never hand out one event twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

from chronik.errors import AlreadyExists
from chronik.records import ConsumerGroup, Lent
from chronik.storage.groups import DATABASE, encode, failure, group, unacknowledged
from chronik.storage.postgres.database import Q, as_is

if TYPE_CHECKING:
    from chronik.storage.postgres.database import PostgresDatabase


class PostgresGroupStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, made: ConsumerGroup, position: int) -> None:
        try:
            async with self._db.connection() as conn, conn.transaction():
                tenant = await self._keys.key(conn, made.tenant_id)
                await conn.execute(
                    Q["group_insert"], (tenant, made.name, encode(made.settings), made.created_at)
                )
                for query in ("view_reset_failed", "view_forget"):
                    await conn.execute(Q[query], (tenant, made.view))
                await conn.execute(Q["view_start"], (made.view, tenant, DATABASE, position))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"consumer group {made.name!r} exists") from None

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup | None:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["group_get"], (tenant, name))
            row = await cur.fetchone()
        return None if row is None else group(tenant_id, row, as_is)

    async def of_tenant(self, tenant_id: str) -> list[ConsumerGroup]:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["group_list"], (tenant,))
            return [group(tenant_id, r, as_is) for r in await cur.fetchall()]

    async def delete(self, tenant_id: str, name: str, view: str) -> bool:
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["group_delete"], (tenant, name))
            if cur.rowcount != 1:
                return False
            await conn.execute(Q["group_inflight_clear"], (tenant, name))
            for query in ("view_reset_failed", "view_forget"):
                await conn.execute(Q[query], (tenant, view))
            return True

    async def reclaim(
        self, lender: ConsumerGroup, consumer: str, now: datetime, limit: int
    ) -> list[Lent]:
        until = now + timedelta(seconds=lender.settings.ack_timeout_seconds)
        top = lender.settings.max_deliveries
        name, view = lender.name, lender.view
        lent: list[Lent] = []
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, lender.tenant_id)
            cur = await conn.execute(Q["group_expired"], (tenant, name, now, limit))
            for sequence, deliveries in await cur.fetchall():
                if deliveries >= top:
                    await conn.execute(Q["group_release"], (tenant, name, sequence))
                    await conn.execute(
                        Q["failed_upsert"],
                        failure(
                            lender, tenant, sequence, deliveries, unacknowledged(lender), as_is, now
                        ),
                    )
                    continue
                await conn.execute(
                    Q["group_lend"], (tenant, name, sequence, consumer, until, deliveries + 1)
                )
                lent.append(Lent(sequence, deliveries + 1))
            cur = await conn.execute(Q["group_due"], (tenant, view, now, limit - len(lent)))
            for sequence, failures in await cur.fetchall():
                await conn.execute(Q["failed_resolve"], (tenant, view, sequence))
                await conn.execute(
                    Q["group_lend"], (tenant, name, sequence, consumer, until, failures + 1)
                )
                lent.append(Lent(sequence, failures + 1))
        return sorted(lent, key=lambda e: e.sequence)

    async def advance(
        self,
        lender: ConsumerGroup,
        expected: int,
        position: int,
        sequences: Sequence[int],
        consumer: str,
        now: datetime,
    ) -> bool:
        until = now + timedelta(seconds=lender.settings.ack_timeout_seconds)
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, lender.tenant_id)
            cur = await conn.execute(
                Q["group_advance"], (position, now, tenant, lender.view, expected)
            )
            if cur.rowcount != 1:
                return False
            async with conn.cursor() as many:
                await many.executemany(
                    Q["group_lend"],
                    [(tenant, lender.name, s, consumer, until, 1) for s in sequences],
                )
            return True

    async def settle(
        self,
        lender: ConsumerGroup,
        sequences: Sequence[int],
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> list[int]:
        settled = []
        async with self._db.connection() as conn, conn.transaction():
            tenant = await self._keys.key(conn, lender.tenant_id)
            for sequence in sequences:
                cur = await conn.execute(Q["group_release"], (tenant, lender.name, sequence))
                found = await cur.fetchone()
                if found is None:
                    continue
                settled.append(sequence)
                if error is not None:
                    parked = found[0] >= lender.settings.max_deliveries
                    await conn.execute(
                        Q["failed_upsert"],
                        failure(
                            lender,
                            tenant,
                            sequence,
                            found[0],
                            error,
                            as_is,
                            now,
                            None if parked else retry_at,
                        ),
                    )
        return settled

    async def in_flight(self, tenant_id: str, name: str) -> int:
        async with self._db.connection() as conn:
            tenant = await self._keys.key(conn, tenant_id)
            cur = await conn.execute(Q["group_inflight_count"], (tenant, name))
            row = await cur.fetchone()
        return int(row[0]) if row else 0
