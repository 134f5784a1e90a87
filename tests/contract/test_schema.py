"""Schema: migrations build exactly schema.sql, run once, and refuse newer databases."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from chronik.errors import FailedPrecondition
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage import queries


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").replace("IF NOT EXISTS ", "").strip()


def _sqlite_catalog(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    return {(t, n, _normal(s)) for t, n, s in rows}


def _postgres_catalog(url: str) -> set[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity"
            " FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall()
        functions = conn.execute(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        ).fetchall()
        triggers = conn.execute(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    return (
        {("column", *c) for c in columns}
        | {("trigger", *t) for t in triggers}
        | {("index", *i) for i in indexes}
        | {("function", *f) for f in functions}
    )


def test_sqlite_migrations_build_schema_sql(tmp_path: Path) -> None:
    migrated, declared = tmp_path / "migrated.db", tmp_path / "declared.db"
    with sqlite3.connect(migrated) as con:
        con.execute("CREATE TABLE chronik_schema (version INTEGER NOT NULL)")
        for _, _, script in queries.migrations("chronik.storage.sqlite"):
            con.executescript(script)
    with sqlite3.connect(declared) as con:
        con.executescript(queries.schema("chronik.storage.sqlite"))
    assert _sqlite_catalog(migrated) == _sqlite_catalog(declared)


def test_postgres_migrations_build_schema_sql(postgres_database: str) -> None:
    from tests.conftest import empty_postgres

    empty_postgres(postgres_database)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE chronik_schema (version integer NOT NULL)")
        for _, _, script in queries.migrations("chronik.storage.postgres"):
            conn.execute(script.encode())
    migrated = _postgres_catalog(postgres_database)
    empty_postgres(postgres_database)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(queries.schema("chronik.storage.postgres").encode())
    assert _postgres_catalog(postgres_database) == migrated


def test_both_backends_define_the_same_queries() -> None:
    """Each backend may add queries for its own scheme (listed here, so that adding one is a
    decision), but every query the other backend names must exist in both."""
    sqlite = set(queries.load("chronik.storage.sqlite"))
    postgres = set(queries.load("chronik.storage.postgres"))
    only_sqlite = {
        "aggregate_version",
        "insert_event",
        "insert_name",
        "indexing_pass",
        "indexing_position",
        "last_created_at",
        "sequence_at_pending",
        "schedule_claim",
        "schedule_due",
        "tenant_id",
    } | {n for n in sqlite if n.startswith(("index_", "probe_"))}
    only_postgres = {
        "append",
        "append_one",
        "append_many",
        "bootstrap_lock",
        "listen_commits",
        "migration_lock",
        "schedule_claim_due",
        "schema_table_exists",
        "tenant_ids",
        "tenants_moved",
        "failed_jobs_delete_fired",
    }
    assert sqlite - only_sqlite == postgres - only_postgres


async def test_migrating_twice_applies_nothing_the_second_time(settings: Settings) -> None:
    async with await Chronik.open(settings) as first:
        assert await first.db.migrate() == []
        assert await first.db.schema_version() == len(
            queries.migrations(type(first.db).__module__.rsplit(".", 1)[0])
        )


async def test_a_database_from_a_newer_chronik_is_refused(settings: Settings) -> None:
    async with await Chronik.open(settings) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        url = settings.resolved_database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            con.execute("UPDATE chronik_schema SET version = 999")
    else:
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE chronik_schema SET version = 999")
    for migrate in (True, False):
        with pytest.raises(FailedPrecondition, match="newer than this Chronik"):
            await Chronik.open(settings, migrate=migrate)
    del tenant
