"""Consumer groups on SQLite (its one writer orders every hand-out)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chronik.errors import AlreadyExists
from chronik.records import ConsumerGroup, Lent
from chronik.storage.groups import DATABASE, encode, failure, group, unacknowledged
from chronik.storage.sqlite.database import Q, from_micros, micros

if TYPE_CHECKING:
    from chronik.storage.sqlite.database import SQLiteDatabase


class SQLiteGroupStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._keys = db.keys

    async def create(self, made: ConsumerGroup, position: int) -> None:
        def insert(con: sqlite3.Connection) -> None:
            tenant = self._keys.key(con, made.tenant_id)
            try:
                con.execute(
                    Q["group_insert"],
                    (tenant, made.name, encode(made.settings), micros(made.created_at)),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"consumer group {made.name!r} exists") from None
            for query in ("view_reset_failed", "view_forget"):
                con.execute(Q[query], (tenant, made.view))
            con.execute(Q["view_start"], (made.view, tenant, DATABASE, position))

        await self._db.write(insert)

    async def get(self, tenant_id: str, name: str) -> ConsumerGroup | None:
        def read(con: sqlite3.Connection) -> ConsumerGroup | None:
            row = con.execute(Q["group_get"], (self._keys.key(con, tenant_id), name)).fetchone()
            return None if row is None else group(tenant_id, row, from_micros)

        return await self._db.read(read)

    async def of_tenant(self, tenant_id: str) -> list[ConsumerGroup]:
        def read(con: sqlite3.Connection) -> list[ConsumerGroup]:
            rows = con.execute(Q["group_list"], (self._keys.key(con, tenant_id),))
            return [group(tenant_id, r, from_micros) for r in rows]

        return await self._db.read(read)

    async def delete(self, tenant_id: str, name: str, view: str) -> bool:
        def delete(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, tenant_id)
            if con.execute(Q["group_delete"], (tenant, name)).rowcount != 1:
                return False
            con.execute(Q["group_inflight_clear"], (tenant, name))
            for query in ("view_reset_failed", "view_forget"):
                con.execute(Q[query], (tenant, view))
            return True

        return await self._db.write(delete)

    async def reclaim(
        self, lender: ConsumerGroup, consumer: str, now: datetime, limit: int
    ) -> list[Lent]:
        until = micros(now + timedelta(seconds=lender.settings.ack_timeout_seconds))
        top = lender.settings.max_deliveries

        def reclaim(con: sqlite3.Connection) -> list[Lent]:
            tenant = self._keys.key(con, lender.tenant_id)
            name, view = lender.name, lender.view
            lent: list[Lent] = []
            expired = con.execute(Q["group_expired"], (tenant, name, micros(now), limit))
            for sequence, deliveries in expired.fetchall():
                if deliveries >= top:
                    con.execute(Q["group_release"], (tenant, name, sequence)).fetchall()
                    con.execute(
                        Q["failed_upsert"],
                        failure(
                            lender,
                            tenant,
                            sequence,
                            deliveries,
                            unacknowledged(lender),
                            micros,
                            now,
                        ),
                    )
                    continue
                con.execute(
                    Q["group_lend"], (tenant, name, sequence, consumer, until, deliveries + 1)
                )
                lent.append(Lent(sequence, deliveries + 1))
            due = con.execute(Q["group_due"], (tenant, view, micros(now), limit - len(lent)))
            for sequence, failures in due.fetchall():
                con.execute(Q["failed_resolve"], (tenant, view, sequence))
                con.execute(
                    Q["group_lend"], (tenant, name, sequence, consumer, until, failures + 1)
                )
                lent.append(Lent(sequence, failures + 1))
            return sorted(lent, key=lambda e: e.sequence)

        return await self._db.write(reclaim)

    async def advance(
        self,
        lender: ConsumerGroup,
        expected: int,
        position: int,
        sequences: Sequence[int],
        consumer: str,
        now: datetime,
    ) -> bool:
        until = micros(now + timedelta(seconds=lender.settings.ack_timeout_seconds))

        def advance(con: sqlite3.Connection) -> bool:
            tenant = self._keys.key(con, lender.tenant_id)
            moved = con.execute(
                Q["group_advance"], (position, micros(now), tenant, lender.view, expected)
            )
            if moved.rowcount != 1:
                return False
            con.executemany(
                Q["group_lend"],
                [(tenant, lender.name, s, consumer, until, 1) for s in sequences],
            )
            return True

        return await self._db.write(advance)

    async def settle(
        self,
        lender: ConsumerGroup,
        sequences: Sequence[int],
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> list[int]:
        def settle(con: sqlite3.Connection) -> list[int]:
            tenant = self._keys.key(con, lender.tenant_id)
            settled = []
            for sequence in sequences:
                found = con.execute(Q["group_release"], (tenant, lender.name, sequence)).fetchone()
                if found is None:
                    continue
                settled.append(sequence)
                if error is not None:
                    parked = found[0] >= lender.settings.max_deliveries
                    con.execute(
                        Q["failed_upsert"],
                        failure(
                            lender,
                            tenant,
                            sequence,
                            found[0],
                            error,
                            micros,
                            now,
                            None if parked else retry_at,
                        ),
                    )
            return settled

        return await self._db.write(settle)

    async def in_flight(self, tenant_id: str, name: str) -> int:
        def read(con: sqlite3.Connection) -> int:
            tenant = self._keys.key(con, tenant_id)
            return int(con.execute(Q["group_inflight_count"], (tenant, name)).fetchone()[0])

        return await self._db.read(read)
