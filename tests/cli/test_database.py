"""Which database a command opens: only ``serve``, ``worker`` and ``migrate`` create one; every
other command refuses a database that is missing, empty or unreachable, at once, with the
reason and exit code 2, and writes nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from chronik import Settings
from chronik.errors import DatabaseUnavailable
from chronik.storage.postgres.database import PostgresDatabase
from tests.cli.conftest import Cli


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def test_a_mistyped_sqlite_database_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    Cli(Settings(data_dir=tmp_path / "chronik-data"))
    before = _files(tmp_path)
    typo = Cli(Settings(data_dir=tmp_path / "chronik-dta"), create=False)
    nowhere = Cli(Settings(database_url=f"sqlite:///{tmp_path}/nonexistent/dir/x.db"), create=False)
    for cli, command, looked_for in (
        (typo, ("events", "search"), tmp_path / "chronik-dta" / "chronik.db"),
        (nowhere, ("tenants", "create", "acme"), tmp_path / "nonexistent" / "dir" / "x.db"),
    ):
        refused = cli(*command, code=2)
        assert refused.stdout == ""
        assert refused.stderr.startswith(f"error: no Chronik database at {looked_for}: run ")
        assert "`chronik migrate`" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert _files(tmp_path) == before


def test_a_database_without_chronik_schema_is_refused_and_left_as_it_was(
    backend: str, empty_database_url: str
) -> None:
    database_url = empty_database_url
    empty = Cli(Settings(database_url=database_url), create=False)
    if backend == "sqlite":
        Path(database_url.removeprefix("sqlite:///")).touch()
    refused = empty("events", "search", code=2)
    assert "`chronik migrate`" in refused.stderr and len(refused.stderr.splitlines()) == 1
    if backend == "sqlite":
        assert Path(database_url.removeprefix("sqlite:///")).stat().st_size == 0
    else:
        assert "holds no Chronik schema" in refused.stderr
        with psycopg.connect(database_url) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)


@pytest.mark.parametrize(
    ("part", "value", "reason"),
    [
        ("path", "/chronik_no_such_database", 'database "chronik_no_such_database" does not exist'),
        ("user", "chronik_no_such_role", 'role "chronik_no_such_role" does not exist'),
    ],
)
def test_a_misconfigured_postgres_fails_at_once_with_the_servers_reason(
    postgres_database: str, part: str, value: str, reason: str
) -> None:
    url = urlsplit(postgres_database)
    if part == "user":
        url = url._replace(netloc=f"{value}@{url.hostname}:{url.port}")
    else:
        url = url._replace(path=value)
    refused = Cli(Settings(database_url=url.geturl()), create=False)("events", "search", code=2)
    [line] = refused.stderr.splitlines()  # no "error connecting" lines of the pool's retries
    assert line.startswith("error: cannot connect to PostgreSQL at ")
    assert line.endswith(f": {reason}")


async def test_a_refused_connection_is_retried_briefly_then_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    db = PostgresDatabase(f"postgresql://postgres@127.0.0.1:{port}/x", connect_seconds=0.3)
    with caplog.at_level(logging.INFO), pytest.raises(DatabaseUnavailable) as refused:
        await db.open()
    assert f"port={port}: Connection refused" in refused.value.message
    assert refused.value.message.endswith("(tried for 0.3 s)")
    assert caplog.records == []
    await db.close()
