"""Emptying a test's PostgreSQL database fast: a migrated schema is kept and its rows put
back to what migrating leaves, instead of being dropped and migrated again per test.

Migrating an empty schema takes some 60 ms of DDL per test (and more of the server's CPU,
which shares the machine with the tests), about a minute of the suite. A schema is kept
only when its catalogue is exactly that of a fresh migration (tables, columns, indexes,
constraints, functions and their source, the schema version), so a test that changed the
schema (or stamped another version) gets the slow, certain reset: drop it all.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import psycopg
from psycopg import sql

from chronik.settings import Settings
from chronik.storage.open import open_database

FINGERPRINT = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
  SELECT format('col %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) AS item
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('rel %s %s', relname, relkind) FROM pg_class
  WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
  SELECT format('con %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
  WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('fn %s %s', p.oid::regprocedure, md5(p.prosrc)) FROM pg_proc p
  WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('trg %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
) AS catalogue
"""
TABLES = (
    "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
)
SEQUENCES = (
    "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
)


@dataclass(frozen=True)
class Migrated:
    """What a fresh migration leaves: its catalogue's fingerprint, the rows of each table
    (COPY text; the schema version and the seeded names), the sequences' values."""

    fingerprint: str
    rows: dict[str, bytes]
    sequences: dict[str, int | None]


def migrated(url: str) -> Migrated:
    """Migrate the empty database at ``url`` and describe the result."""

    async def migrate() -> None:
        db = await open_database(Settings(database_url=url))
        await db.close()

    asyncio.run(migrate())
    with psycopg.connect(url, autocommit=True) as conn:
        fingerprint = _fingerprint(conn)
        rows = {}
        for (table,) in conn.execute(TABLES).fetchall():
            out = io.BytesIO()
            copy = sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))
            with conn.cursor().copy(copy) as data:
                for chunk in data:
                    out.write(chunk)
            rows[table] = out.getvalue()
        sequences: dict[str, int | None] = {
            str(name): value if isinstance(value, int) else None
            for name, value in conn.execute(SEQUENCES).fetchall()
        }
    return Migrated(fingerprint, rows, sequences)


def _fingerprint(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(FINGERPRINT).fetchone()
    return str(row[0]) if row else ""


def reset(url: str, fresh: Migrated | None) -> None:
    """Put the database at ``url`` back to ``fresh`` when its schema is that one, else drop
    its schema (the test migrates it again)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if fresh is not None and _fingerprint(conn) == fresh.fingerprint:
            with conn.transaction():
                # Foreign keys unchecked while the rows go and come back in any order.
                conn.execute("SET LOCAL session_replication_role = replica")
                for table, data in fresh.rows.items():
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                    if data:
                        copy = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
                        with conn.cursor().copy(copy) as into:
                            into.write(data)
                for name, value in fresh.sequences.items():
                    conn.execute(
                        "SELECT setval(%s, %s, %s)",
                        (name, value if value is not None else 1, value is not None),
                    )
            return
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
