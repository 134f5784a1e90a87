"""The test command where a service is missing: a small pytest run of its own, with the
suite's fixtures, against a PostgreSQL that is not there, a server that lacks its database,
or no browser. Outside CI the rest runs and the last line says what did not; with CI=true
the run fails."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.acceptance.server import free_port

ROOT = Path(__file__).resolve().parents[2]
NEEDS_A_DATABASE = """
from chronik.services import Chronik


async def test_opens(chronik: Chronik) -> None:
    assert await chronik.tenants.create("acme")
"""
NEEDS_A_BROWSER = """
from playwright.sync_api import Browser


def test_browses(browser: Browser) -> None:
    assert browser.is_connected()


def test_without_a_browser() -> None:
    assert True
"""


def run_suite(
    tmp_path: Path, source: str, fixtures: str, ci: bool, **settings: str
) -> subprocess.CompletedProcess[str]:
    """pytest on one test file with the suite's root fixtures and hooks and those of the
    module ``fixtures``; its exit code and output."""
    test_file = tmp_path / "test_service.py"
    test_file.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_TEST_") and k != "CI"}
    env |= {"CI": "true"} if ci else {}
    env |= settings
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml")),
            *("--rootdir", str(ROOT), "-p", "tests.conftest", "-p", fixtures),
            *("-p", "no:cacheprovider", str(test_file)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


ROOT_FIXTURES = "tests.conftest"
BROWSER_FIXTURES = "tests.browser.conftest"


def closed_port_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/test"


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.strip().splitlines()[-1]


def test_without_postgresql_the_rest_runs_and_the_last_line_says_what_did_not(
    tmp_path: Path,
) -> None:
    url = closed_port_url()

    done = run_suite(
        tmp_path, NEEDS_A_DATABASE, ROOT_FIXTURES, False, CHRONIK_TEST_POSTGRES_URL=url
    )

    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    assert last_line(done).startswith(f"NOT RUN: 1 test, no PostgreSQL at {url} (")
    assert "Connection refused" in last_line(done)


def test_without_postgresql_a_ci_run_fails(tmp_path: Path) -> None:
    url = closed_port_url()

    done = run_suite(tmp_path, NEEDS_A_DATABASE, ROOT_FIXTURES, True, CHRONIK_TEST_POSTGRES_URL=url)

    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 error" in done.stdout
    assert f"no PostgreSQL at {url}" in done.stdout
    assert "NOT RUN" not in done.stdout


def test_a_server_without_the_test_database_gets_it(tmp_path: Path, postgres_database: str) -> None:
    name = f"chronik_missing_{uuid.uuid4().hex[:8]}"
    url = urlsplit(postgres_database)._replace(path=f"/{name}").geturl()
    try:
        done = run_suite(
            tmp_path, NEEDS_A_DATABASE, ROOT_FIXTURES, True, CHRONIK_TEST_POSTGRES_URL=url
        )
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    assert done.returncode == 0, done.stdout
    assert "2 passed" in done.stdout


def test_without_a_browser_the_rest_runs_and_the_last_line_says_what_did_not(
    tmp_path: Path,
) -> None:
    done = run_suite(
        tmp_path,
        NEEDS_A_BROWSER,
        BROWSER_FIXTURES,
        False,
        CHRONIK_TEST_CHROMIUM=str(tmp_path / "no-chromium"),
    )

    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    assert last_line(done).startswith(f"NOT RUN: 1 test, no Chromium at {tmp_path}/no-chromium")


def test_without_a_browser_a_ci_run_fails(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        NEEDS_A_BROWSER,
        BROWSER_FIXTURES,
        True,
        CHRONIK_TEST_CHROMIUM=str(tmp_path / "no-chromium"),
    )

    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 error" in done.stdout
    assert "no Chromium at" in done.stdout
