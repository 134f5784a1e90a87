"""The CLI driven as a user drives it: ``python -m chronik ...`` in a subprocess.

Every command gets the database on the command line; the environment of the subprocess is
built here (never by editing ``os.environ``), without any ``CHRONIK_DATABASE_URL`` of the
developer's.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import msgspec
import psycopg
import pytest
from psycopg import sql

from chronik import Editor, EventQuery, NewEvent, Settings, SyncChronik

TIMEOUT = 30.0
ENV = {k: v for k, v in os.environ.items() if k != "CHRONIK_DATABASE_URL"}

# A shell may start the tests with SIGINT ignored, and exec keeps that; the child should
# see Ctrl-C as a terminal would deliver it.
_WITH_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'chronik', *sys.argv[1:]])"
)


class Cli:
    """Runs ``chronik`` against one database: ``cli("events", "search", "-o", "json")``;
    :meth:`api` opens the same database in-process, to arrange what a test is not about.

    Unless told not to, it creates the database first, as ``chronik migrate`` does: the
    other commands refuse one that does not exist."""

    def __init__(self, settings: Settings, *, create: bool = True) -> None:
        self.settings = settings
        if settings.database_url:
            self.database = ["--database-url", settings.database_url]
        else:
            self.database = ["--data", str(settings.data_dir)]
        if create:
            with self.api() as chronik:
                chronik.default_tenant()

    def api(self) -> SyncChronik:
        return SyncChronik.open(self.settings)

    def append(self, *events: NewEvent, editor: Editor | None = None) -> list[dict[str, Any]]:
        """One append to the default tenant, in-process; the events as the CLI prints them."""
        with self.api() as chronik:
            stored = chronik.events.append(chronik.default_tenant().id, events, editor=editor)
        return [msgspec.to_builtins(e) for e in stored]

    def stored(self) -> list[dict[str, Any]]:
        """The default tenant's events, oldest first, read in-process."""
        with self.api() as chronik:
            page = chronik.events.search(chronik.default_tenant().id, EventQuery(asc=True))
        return [msgspec.to_builtins(e) for e in page.events]

    def argv(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "chronik", *args, *self.database]

    def __call__(
        self, *args: str, stdin: str | bytes = b"", code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(args),
            input=stdin.encode() if isinstance(stdin, str) else stdin,
            capture_output=True,
            env=ENV,
            timeout=TIMEOUT,
            check=False,
        )
        result = subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str, stdin: str | bytes = b"") -> Any:
        return msgspec.json.decode(self(*args, stdin=stdin).stdout)

    def lines(self, *args: str, stdin: str | bytes = b"") -> list[dict[str, Any]]:
        return [msgspec.json.decode(line) for line in self(*args, stdin=stdin).stdout.splitlines()]

    def search(self, *args: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("events", "search", "-o", "json", *args)["events"]
        return found

    @contextmanager
    def popen(self, *args: str) -> Iterator[subprocess.Popen[bytes]]:
        """The command running alongside the test; killed if the test leaves it running."""
        argv = [sys.executable, "-c", _WITH_SIGINT, *args, *self.database]
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
        ) as process:
            try:
                yield process
            finally:
                if process.poll() is None:
                    process.kill()


class Lines:
    """The lines of a child's pipe, read on a thread so that every wait has a timeout."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                self._queue.put(line)
        except ValueError:  # the test is over and closed the pipe
            pass
        self._queue.put(None)

    def next(self) -> bytes:
        line = self._queue.get(timeout=TIMEOUT)
        assert line is not None, "the stream ended"
        return line


def interrupt(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)


def event(aggregate_id: str, type: str = "user.added", **fields: Any) -> dict[str, Any]:
    """An event as the CLI reads it."""
    return {"aggregateType": "user", "aggregateId": aggregate_id, "type": type, **fields}


def new(aggregate_id: str, type: str = "user.added", **fields: Any) -> NewEvent:
    """An event as the Python API takes it."""
    return NewEvent(aggregate_type="user", aggregate_id=aggregate_id, type=type, **fields)


def ndjson(*events: dict[str, Any]) -> bytes:
    return msgspec.json.Encoder().encode_lines(events)


@pytest.fixture
def cli(database_url: str) -> Cli:
    return Cli(Settings(database_url=database_url))


@pytest.fixture(scope="session")
def second_postgres_database(postgres_database: str) -> Iterator[str]:
    """A second database of this session, to import into."""
    name = f"{urlsplit(postgres_database).path.lstrip('/')}_second"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(postgres_database)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def other_cli(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Cli:
    """The CLI against a second, empty database on the test's backend."""
    if backend == "sqlite":
        return Cli(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"))
    url: str = request.getfixturevalue("second_postgres_database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return Cli(Settings(database_url=url))


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """The CLI on the embedded default, for behaviour that does not depend on the backend."""
    return Cli(Settings(data_dir=tmp_path / "data"))
