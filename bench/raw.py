"""The raw limit: plain inserts of equivalent rows through the same driver into a table
identical to Chronik's ``events`` table (same columns, same indexes), in the same database.

SQLite: ``raw_events`` is made by copying the ``CREATE`` statements of ``events`` and its
indexes from ``sqlite_master``; the connection uses WAL and ``synchronous = NORMAL`` as
Chronik's does, and rows are written as Chronik's appends write them: marked ``pending``,
which keeps them out of the partial filter indexes (Chronik's index passes, which put them
there later, count against Chronik). PostgreSQL: ``CREATE TABLE raw_events (LIKE events
INCLUDING ALL)``, written through a psycopg ``AsyncConnection``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.data import Batch, RawRows

SQLITE_INSERT = """
INSERT INTO raw_events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                        aggregate_version, resource_owner, type, revision, payload,
                        editor_user_id, editor_service, request_id, created_at, pending)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
"""
SQLITE_INSERT_ALL_INDEXED = SQLITE_INSERT.replace(", pending)", ")").replace(", 1)", ")")
POSTGRES_INSERT = """
INSERT INTO raw_events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                        aggregate_version, resource_owner, type, revision, payload,
                        editor_user_id, editor_service, request_id, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)
"""
POSTGRES_COPY = """
COPY raw_events (sequence, tenant_key, locator, aggregate_type, aggregate_id,
                 aggregate_version, resource_owner, type, revision, payload, editor_user_id,
                 editor_service, request_id, created_at) FROM STDIN
"""


class RawSQLite:
    def __init__(self, path: Path, durability: str = "NORMAL") -> None:
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        mode = self.con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        assert mode.lower() == "wal", mode
        self.con.execute(f"PRAGMA synchronous = {durability}")
        self.con.execute("PRAGMA busy_timeout = 5000")
        self._create()
        self.rows = RawRows()
        columns = {r[1] for r in self.con.execute("PRAGMA table_info(raw_events)")}
        # Before migration 0009 (a base commit run for comparison) there is no mark.
        self.insert = SQLITE_INSERT if "pending" in columns else SQLITE_INSERT_ALL_INDEXED

    def _create(self) -> None:
        """``raw_events`` and its indexes, from the very statements that made ``events``."""
        statements = self.con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'events' "
            "AND sql IS NOT NULL ORDER BY type DESC"
        ).fetchall()
        assert any(t == "table" for t, _, _ in statements), "Chronik's events table is missing"
        self.con.execute("DROP TABLE IF EXISTS raw_events")
        for kind, name, sql in statements:
            if kind == "table":
                sql = re.sub(r"^CREATE TABLE (\"?)events\1", "CREATE TABLE raw_events", sql)
            else:
                sql = re.sub(
                    rf"INDEX (\"?){name}\1 ON (\"?)events\2 ",
                    f"INDEX raw_{name} ON raw_events ",
                    sql,
                )
            assert "raw_events" in sql, sql
            self.con.execute(sql)

    @property
    def statements(self) -> list[str]:
        return [
            r[0]
            for r in self.con.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'raw_events' AND sql IS NOT NULL"
            )
        ]

    def batch(self, batch: Batch) -> int:
        """One ``BEGIN; executemany; COMMIT`` for the whole batch."""
        rows = self.rows.rows(batch, time.time_ns() // 1000)
        con = self.con
        con.execute("BEGIN")
        con.executemany(self.insert, rows)
        con.execute("COMMIT")
        return len(rows)

    def single(self, batch: Batch) -> int:
        """``BEGIN; INSERT; COMMIT`` per row."""
        rows = self.rows.rows(batch, time.time_ns() // 1000)
        con = self.con
        for row in rows:
            con.execute("BEGIN")
            con.execute(self.insert, row)
            con.execute("COMMIT")
        return len(rows)

    def close(self) -> None:
        self.con.close()


class RawPostgres:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.rows = RawRows()
        self.insert = POSTGRES_INSERT
        self.copy = POSTGRES_COPY

    @classmethod
    async def open(cls, url: str) -> RawPostgres:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        await conn.execute("DROP TABLE IF EXISTS raw_events")
        await conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        return cls(conn)

    async def batch(self, batch: Batch) -> int:
        """One transaction with a COPY of the batch's rows."""
        rows = self.rows.rows(batch, datetime.now(UTC))
        async with self.conn.transaction(), self.conn.cursor().copy(self.copy) as copy:
            for row in rows:
                await copy.write_row(row)
        return len(rows)

    async def single(self, batch: Batch) -> int:
        """One autocommit ``INSERT`` per row."""
        rows = self.rows.rows(batch, datetime.now(UTC))
        for row in rows:
            await self.conn.execute(self.insert, row)
        return len(rows)

    async def indexes(self) -> list[str]:
        cur = await self.conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'raw_events' ORDER BY indexname"
        )
        return [r[0] for r in await cur.fetchall()]

    async def close(self) -> None:
        await self.conn.close()
