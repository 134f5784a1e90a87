"""Fixtures of the HTTP suite: the app on each backend, a client, tokens per role, and a
second tenant with its own token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql

from chronik.api import create_app
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage import queries
from tests.api.helpers import OTHER_ORG, Headers, bearer

SCHEMA_TABLE = "chronik_schema"


@cache
def _migrations_write_no_rows() -> bool:
    """Whether a freshly migrated PostgreSQL database holds no rows but its schema version,
    so that emptying every other table gives exactly a fresh database."""
    scripts = queries.migrations("chronik.storage.postgres")
    return not any("insert" in script.lower() for _, _, script in scripts)


def _empty_postgres(url: str) -> None:
    """Empty the test database: by deleting every row and restarting every sequence when
    that equals a fresh database (a tenth of the time of dropping the schema and migrating it
    again; TRUNCATE is slower still on tables this small), else as the root conftest."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        if SCHEMA_TABLE in tables and _migrations_write_no_rows():
            try:
                with conn.transaction():
                    for table in tables:
                        if table != SCHEMA_TABLE:
                            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                    conn.execute(
                        "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, "
                        "coalesce(start_value, 1), false) FROM pg_sequences "
                        "WHERE schemaname = 'public'"
                    )
                return
            except psycopg.errors.IntegrityError:
                pass  # rows that refer to each other: rebuild instead
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database on the test's backend (overrides the root conftest's, only faster
    on PostgreSQL: the HTTP suite has many short tests)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'chronik.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def app(settings: Settings, chronik: Chronik) -> FastAPI:
    return create_app(settings, chronik=chronik)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def owner(chronik: Chronik, tenant: str) -> Headers:
    """IAM_OWNER of ``tenant``: may do everything."""
    return await bearer(chronik, tenant, "IAM_OWNER")


@pytest.fixture
async def viewer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "IAM_OWNER_VIEWER")


@pytest.fixture
async def reader(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "EVENTS_READER")


@pytest.fixture
async def writer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "EVENTS_WRITER")


@pytest.fixture
async def org_owner(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "ORG_OWNER")


@pytest.fixture
async def org_viewer(chronik: Chronik, tenant: str) -> Headers:
    return await bearer(chronik, tenant, "ORG_OWNER_VIEWER")


@pytest.fixture
async def stranger(chronik: Chronik, other_tenant: str) -> Headers:
    """IAM_OWNER of the other tenant: may do everything, but only there."""
    return await bearer(chronik, other_tenant, "IAM_OWNER", organisation_id=OTHER_ORG)
