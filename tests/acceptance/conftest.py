"""Fixtures of the acceptance suite: where a server keeps its data, and servers that are
always stopped when a test ends, whatever it did."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.acceptance.server import Server

Start = Callable[..., Server]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The ``--data`` directory (not created: the server creates it)."""
    return tmp_path / "data"


@pytest.fixture
def server_database(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The ``--database-url`` of a server test on each backend: none on SQLite, whose
    database is then the embedded one in the data directory."""
    if backend == "sqlite":
        return None
    url: str = request.getfixturevalue("database_url")
    return url


@pytest.fixture
def start() -> Iterator[Start]:
    """``start(data, database_url=None, env=None, workers=1, args=())``: a server that is up
    (``/healthz`` answers); killed at the end of the test if it still runs."""
    started: list[Server] = []

    def start_(
        data: Path,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        workers: int = 1,
        args: Sequence[str] = (),
    ) -> Server:
        server = Server(data, database_url=database_url, env=env, workers=workers, args=args)
        started.append(server)
        server.wait_ready()
        return server

    yield start_
    for server in started:
        server.kill()
