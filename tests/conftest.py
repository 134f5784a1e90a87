"""Fixtures shared by every test: a clean database per test on each backend.

The backends to run come from ``CHRONIK_TEST_BACKENDS`` (default ``sqlite,postgres``).
PostgreSQL is reached at ``CHRONIK_TEST_POSTGRES_URL`` (default the local server, database
``test``, created when the server lacks it); each test run works in a database of its own,
created from it. A service a test needs and cannot have (PostgreSQL, a browser) fails the test
with ``CI=true``; elsewhere the test does not run, and the run's last line says which tests
did not run and why.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from chronik.services import Chronik
from chronik.settings import Settings
from tests import postgres_reset

ADMIN_URL = os.environ.get("CHRONIK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("CHRONIK_TEST_BACKENDS", "sqlite,postgres").split(",") if b]

CI = os.environ.get("CI") == "true"

if CI and "postgres" not in BACKENDS:
    raise pytest.UsageError(
        "CI must run the PostgreSQL tests: CHRONIK_TEST_BACKENDS lacks postgres"
    )


def unavailable(reason: str) -> NoReturn:
    """A service the test needs cannot be had: in CI the test fails; elsewhere it does not
    run, and the run's last line gives ``reason``."""
    if CI:
        pytest.fail(f"{reason} (CI=true: the tests that need it must run)", pytrace=False)
    pytest.skip(reason)


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def connect_admin() -> psycopg.Connection[tuple[object, ...]]:
    """A connection to ``ADMIN_URL``; its database is created first when the server is up
    but lacks it (a fresh PostgreSQL has no ``test`` database)."""
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first_error = exc
    name = urlsplit(ADMIN_URL).path.lstrip("/")
    try:
        with psycopg.connect(
            with_database(ADMIN_URL, "postgres"), autocommit=True, connect_timeout=5
        ) as server:
            if (
                name
                and not server.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
            ):
                # Another test process may make it a moment before this one.
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pass
    why = str(first_error).splitlines()[0].removeprefix("connection failed: ")
    unavailable(f"no PostgreSQL at {ADMIN_URL} ({why}): start it, or set CHRONIK_TEST_POSTGRES_URL")


@contextlib.contextmanager
def own_database(prefix: str, options: str = "") -> Iterator[str]:
    """A PostgreSQL database of the caller's own (``CREATE DATABASE … options``), dropped
    at the end."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with connect_admin() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} ").format(sql.Identifier(name)) + sql.SQL(options)
        )
    try:
        yield with_database(ADMIN_URL, name)
    finally:
        with connect_admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session's own; dropped at the end."""
    with own_database("chronik_test") as url:
        yield url


_fresh: list[postgres_reset.Migrated] = []
"""What a fresh migration leaves, once per test process."""


def empty_postgres(url: str) -> None:
    """No schema at all in the database at ``url``: a test of migrating from nothing."""
    postgres_reset.reset(url, None)


def _reset_postgres(url: str) -> None:
    if not _fresh:
        with own_database("chronik_reference") as reference:
            _fresh.append(postgres_reset.migrated(reference))
    postgres_reset.reset(url, _fresh[0])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def surface_backend() -> Any:
    """A ``backend`` fixture of SQLite alone, for a module that tests how a surface (a wire
    format, the CLI's output, the Python client) translates the services, not what storage
    does: the contract suite runs every storage behaviour on both backends, and the fuzz,
    acceptance and browser suites run every surface on PostgreSQL too. Use it as
    ``backend = surface_backend()`` at a module's top level."""

    @pytest.fixture(name="backend")
    def sqlite() -> str:
        return "sqlite"

    return sqlite


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database on the test's backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'chronik.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def empty_database_url(backend: str, database_url: str) -> str:
    """The URL of a database without any schema (``database_url``'s may be a fresh
    migration's on PostgreSQL)."""
    if backend == "postgres":
        empty_postgres(database_url)
    return database_url


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


_NOT_RUN = pytest.StashKey[Counter[str]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failed run: nothing may quietly not run. Elsewhere the
    reasons of the skipped tests are kept for the run's last line."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if CI and skipped and exitstatus == 0:
        print(f"\nCI: {len(skipped)} skipped test(s); failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config.stash[_NOT_RUN] = Counter(_skip_reason(report) for report in skipped)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_unconfigure(config: pytest.Config) -> None:
    """One line after pytest's own summary: which tests did not run, and why."""
    not_run = config.stash.get(_NOT_RUN, Counter())
    if not_run and not hasattr(config, "workerinput"):
        parts = [
            f"{count} test{'s' if count > 1 else ''}, {reason}"
            for reason, count in not_run.most_common()
        ]
        config.get_terminal_writer().line(f"NOT RUN: {'; '.join(parts)}", yellow=True, bold=True)
