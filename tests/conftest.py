"""Fixtures shared by every test: a clean database per test on each backend.

The backends to run come from ``CHRONIK_TEST_BACKENDS`` (default ``sqlite,postgres``).
PostgreSQL is reached at ``CHRONIK_TEST_POSTGRES_URL`` (default the local server, database
``test``); each test run works in a database of its own, created from it. An unreachable
PostgreSQL fails the tests that need it: it never skips them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from chronik.services import Chronik
from chronik.settings import Settings

ADMIN_URL = os.environ.get("CHRONIK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("CHRONIK_TEST_BACKENDS", "sqlite,postgres").split(",") if b]

if os.environ.get("CI") == "true" and "postgres" not in BACKENDS:
    raise pytest.UsageError(
        "CI must run the PostgreSQL tests: CHRONIK_TEST_BACKENDS lacks postgres"
    )


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session's own; dropped at the end."""
    name = f"chronik_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({exc}). Start it (see README), or "
            "run only SQLite with CHRONIK_TEST_BACKENDS=sqlite outside CI."
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database on the test's backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'chronik.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, follow_poll_seconds=0.05)


@pytest.fixture
async def chronik(settings: Settings) -> AsyncIterator[Chronik]:
    opened = await Chronik.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def tenant(chronik: Chronik) -> str:
    return (await chronik.tenants.create("acme")).id


@pytest.fixture
async def other_tenant(chronik: Chronik) -> str:
    return (await chronik.tenants.create("globex")).id


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failed run: nothing may quietly not run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        print(f"\nCI: {len(skipped)} skipped test(s); failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
