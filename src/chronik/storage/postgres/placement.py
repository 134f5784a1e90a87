"""The PostgreSQL side of placing tenants across databases: the directory's placement table,
and the steps of moving a tenant's rows from one database to another (each step safe to
repeat, so that an interrupted move is finished by running it again).

Rows travel with ``COPY ... (FORMAT BINARY)`` streamed from one connection to the other,
their tenant key rewritten to the target's (keys are local to a database)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from chronik.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from chronik.records import Tenant
from chronik.storage import queries as sql_files
from chronik.storage.postgres.database import PACKAGE, PostgresDatabase, Q

M = sql_files.load(PACKAGE, "placement.sql")

RECORDS = (
    "event_names",
    "view_positions",
    "failed_events",
    "view_rows",
    "schedules",
    "failed_jobs",
    "action_runs",
    "webhooks",
    "consumer_groups",
    "group_inflight",
)
"""A tenant's rows besides its events: Chronik's own records (the actions, flows, schedules'
definitions… are events) and what its views, schedules, webhooks and groups have done.
Tokens stay in the directory, where a bearer string is looked up before its tenant is known."""


def identity(url: str) -> str:
    """How the directory names a database: ``host:port/dbname``, without user or password,
    so that a changed password does not move anything."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise InvalidArgument(f"not a PostgreSQL URL: {exc}") from None
    host = info.get("host") or info.get("hostaddr") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a tenant lives, and where it is being moved to while a move is under way."""

    database: str
    moving_to: str | None = None


class Directory:
    """The placement table in the directory database."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def get(self, tenant_id: str) -> Placement | None:
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_get"], (tenant_id,))
            row = await cur.fetchone()
        return Placement(row[0], row[1]) if row else None

    async def all(self) -> dict[str, Placement]:
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_all"])
            return {r[0]: Placement(r[1], r[2]) for r in await cur.fetchall()}

    async def counts(self) -> dict[str, int]:
        """How many tenants each database holds (by placement)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_counts"])
            return {r[0]: int(r[1]) for r in await cur.fetchall()}

    async def create(self, tenant: Tenant, database: str, *, elsewhere: bool) -> None:
        """The tenant and its place, in one transaction: a name is taken once, everywhere.
        A tenant placed ``elsewhere`` than the directory's own database is marked there as
        moved out, so that a node not told of the tenant databases cannot write it here."""
        try:
            async with self.db.connection() as conn, conn.transaction():
                await conn.execute(Q["insert_tenant"], (tenant.id, tenant.name, tenant.created_at))
                await conn.execute(M["placement_insert"], (tenant.id, database, tenant.created_at))
                if elsewhere:
                    await conn.execute(M["placement_mark_elsewhere"], (database, tenant.id))
        except AlreadyExists as exc:
            raise AlreadyExists(f"a tenant named {tenant.name!r} exists") from exc

    async def place(self, tenant_id: str, database: str) -> None:
        """Record where a tenant that has no placement row lives (one of before placement)."""
        async with self.db.connection() as conn:
            await conn.execute(M["placement_insert"], (tenant_id, database, datetime.now(UTC)))

    @contextlib.asynccontextmanager
    async def mover(self, tenant_id: str) -> AsyncIterator[None]:
        """Held by the one process moving the tenant (released if it dies)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_mover_lock"], (tenant_id,))
            row = await cur.fetchone()
            if not row or not row[0]:
                raise FailedPrecondition("another process is moving this tenant right now")
            try:
                yield
            finally:
                await conn.execute(M["placement_mover_unlock"], (tenant_id,))

    async def begin_move(self, tenant_id: str, to: str) -> bool:
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_begin_move"], {"tenant": tenant_id, "to": to})
            return cur.rowcount == 1

    async def cut_over(self, tenant_id: str, to: str) -> bool:
        params = {"tenant": tenant_id, "to": to, "now": datetime.now(UTC)}
        async with self.db.connection() as conn:
            cur = await conn.execute(M["placement_cut_over"], params)
            return cur.rowcount == 1

    async def abandon(self, tenant_id: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute(M["placement_abandon"], (tenant_id,))


async def ensure_tenant(db: PostgresDatabase, tenant: Tenant) -> None:
    """The tenant's row in a tenant database (same id, name and creation time)."""
    async with db.connection() as conn:
        await conn.execute(
            M["placement_ensure_tenant"], (tenant.id, tenant.name, tenant.created_at)
        )


async def moved_to(db: PostgresDatabase, tenant_id: str) -> str | None:
    """Where the tenant's row in ``db`` says it went (None: it lives here)."""
    async with db.connection() as conn:
        cur = await conn.execute(M["placement_tenant_moved_to"], (tenant_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return str(row[1]) if row[1] is not None else None


async def _key(db: PostgresDatabase, conn: psycopg.AsyncConnection[Any], tenant_id: str) -> int:
    return await db.keys.key(conn, tenant_id)


async def head(db: PostgresDatabase, tenant_id: str) -> tuple[int, int]:
    """The tenant's last sequence and its number of events in ``db``."""
    async with db.connection() as conn:
        key = await _key(db, conn, tenant_id)
        cur = await conn.execute(M["move_head"], (key,))
        row = await cur.fetchone()
        last = int(row[0]) if row else 0
        cur = await conn.execute(M["move_count"], (key,))
        row = await cur.fetchone()
    return last, int(row[0]) if row else 0


async def freeze(db: PostgresDatabase, tenant_id: str, to: str | None) -> None:
    """Mark the tenant as moved out of ``db`` (None: back in), once every write that passed
    the fence before has committed: no write of the tenant commits in ``db`` after this."""
    async with db.connection() as conn, conn.transaction():
        key = await _key(db, conn, tenant_id)
        await conn.execute(M["move_fence_lock"], (key,))
        await conn.execute(M["move_mark"], (to, key))


async def clear(db: PostgresDatabase, tenant_id: str) -> None:
    """Delete every row of the tenant in ``db`` but its tenant row (its key stays taken)."""
    async with db.connection() as conn, conn.transaction():
        key = await _key(db, conn, tenant_id)
        await conn.execute(M["move_unfenced"])
        for table in ("events", *RECORDS):
            delete = sql.SQL("DELETE FROM {} WHERE tenant_key = %s").format(sql.Identifier(table))
            await conn.execute(delete, (key,))


async def copy_events(
    source: PostgresDatabase, target: PostgresDatabase, tenant_id: str, upto: int, batch: int
) -> int:
    """Copy the tenant's events after the target's last one, up to sequence ``upto``, in
    transactions of ``batch`` events (an interrupted copy keeps what it committed); how
    many it copied."""
    copied = 0
    while True:
        after, _ = await head(target, tenant_id)
        if after >= upto:
            return copied
        end = min(upto, after + batch)
        async with (
            source.connection() as sconn,
            target.connection() as tconn,
            tconn.transaction(),
        ):
            await tconn.execute(M["move_unfenced"])
            await _copy(source, sconn, tconn, tenant_id, "events", (after, end))
        copied += end - after


async def copy_records(
    source: PostgresDatabase, target: PostgresDatabase, tenant_id: str, upto: int
) -> None:
    """In one transaction of the target: the rest of the events up to ``upto``, the
    tenant's records as the (frozen) source has them in place of any the target held, and
    the tenant marked as living in the target."""
    async with source.connection() as sconn, target.connection() as tconn, tconn.transaction():
        await tconn.execute(M["move_unfenced"])
        tkey = await _key(target, tconn, tenant_id)
        cur = await tconn.execute(M["move_head"], (tkey,))
        row = await cur.fetchone()
        after = int(row[0]) if row else 0
        if after < upto:
            await _copy(source, sconn, tconn, tenant_id, "events", (after, upto))
        for table in RECORDS:
            delete = sql.SQL("DELETE FROM {} WHERE tenant_key = %s").format(sql.Identifier(table))
            await tconn.execute(delete, (tkey,))
            await _copy(source, sconn, tconn, tenant_id, table, None)
        await tconn.execute(M["move_mark"], (None, tkey))


_columns: dict[str, list[str]] = {}
"""Each table's columns, as the schema of this Chronik has them (read once)."""


async def _copy(
    source: PostgresDatabase,
    sconn: psycopg.AsyncConnection[Any],
    tconn: psycopg.AsyncConnection[Any],
    tenant_id: str,
    table: str,
    sequences: tuple[int, int] | None,
) -> None:
    """Stream the tenant's rows of ``table`` (events: those in the ``sequences`` range)
    from the source connection into the target's, under the target's tenant key."""
    skey = await _key(source, sconn, tenant_id)
    tkey = await tconn.execute(Q["tenant_key"], (tenant_id,))
    trow = await tkey.fetchone()
    if trow is None:
        raise NotFound(f"tenant {tenant_id!r} has no row in the target database")
    columns = _columns.get(table)
    if columns is None:
        cur = await sconn.execute(M["move_columns"], (table,))
        columns = _columns[table] = [r[0] for r in await cur.fetchall()]
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    picked = sql.SQL(", ").join(
        sql.Literal(int(trow[0])) if c == "tenant_key" else sql.Identifier(c) for c in columns
    )
    where = sql.SQL("tenant_key = {}").format(sql.Literal(skey))
    if sequences is not None:
        where = sql.SQL("{} AND sequence > {} AND sequence <= {}").format(
            where, sql.Literal(sequences[0]), sql.Literal(sequences[1])
        )
    out = sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT (FORMAT BINARY)").format(
        picked, sql.Identifier(table), where
    )
    into = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table), names)
    async with tconn.cursor().copy(into) as sink, sconn.cursor().copy(out) as rows:
        async for data in rows:
            await sink.write(data)
