"""Nodes that start together on a fresh database: the bootstrap (the tenant ``default`` and
its admin token, shown once) happens exactly once, whatever the race.

Several real processes run ``chronik serve``'s first start together on a fresh database,
round after round: each one opens it (migrating it, creating the tenant), says it is ready
and waits until all of them are; then all are let go into the bootstrap at once. On SQLite
they share the data directory (the database is in it), as ``serve --workers`` and a second
``serve`` on the same directory do; on PostgreSQL each has its own, as nodes on different
machines. The processes live for all rounds, so that a round costs no interpreter start."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chronik.services import Chronik
from chronik.settings import Settings
from tests.acceptance.server import child_env

PROCESSES = 4
ROUNDS = 5
FILE = "bootstrap-token"

FIRST_START = """
import asyncio, json, sys
from pathlib import Path
from chronik.auth.bootstrap import bootstrap
from chronik.services import Chronik
from chronik.settings import Settings

async def first_start(settings):
    # chronik serve's first start, held back just before the bootstrap until all are there
    async with await Chronik.open(settings) as chronik:
        tenant = await chronik.default_tenant()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        return await bootstrap(chronik.tokens, tenant, settings.data_dir, None)

for line in sys.stdin:
    url, data = json.loads(line)
    token = asyncio.run(first_start(Settings(database_url=url, data_dir=Path(data))))
    print(token or "-", flush=True)
"""


class Nodes:
    """``PROCESSES`` children that run a first start whenever they are told to."""

    def __init__(self) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_START],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=child_env(),
            )
            for _ in range(PROCESSES)
        ]

    def _tell(self, lines: list[str]) -> None:
        for process, line in zip(self.processes, lines, strict=True):
            assert process.stdin is not None
            process.stdin.write(line + "\n")
            process.stdin.flush()

    def _hear(self) -> list[str]:
        heard = []
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line, f"a node died (exit code {process.wait()}); its error is above"
            heard.append(line.strip())
        return heard

    def start_together(self, database_url: str, data_dirs: list[Path]) -> list[str]:
        """One first start per data directory, let into the bootstrap at once; what each
        printed: its token, or ``-``."""
        self._tell([json.dumps([database_url, str(data)]) for data in data_dirs])
        assert self._hear() == ["ready"] * PROCESSES
        self._tell(["go"] * PROCESSES)
        return self._hear()

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    started = Nodes()
    try:
        yield started
    finally:
        started.stop()


def empty_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


async def test_nodes_that_start_together_bootstrap_once(
    backend: str, database_url: str, tmp_path: Path, nodes: Nodes
) -> None:
    for round_ in range(ROUNDS):
        if backend == "sqlite":
            data_dirs = [tmp_path / f"round-{round_}"] * PROCESSES
            url = ""  # the embedded database in the shared data directory
        else:
            data_dirs = [tmp_path / f"round-{round_}-node-{n}" for n in range(PROCESSES)]
            url = database_url
            if round_:
                empty_postgres(url)

        printed = [out for out in nodes.start_together(url, data_dirs) if out != "-"]

        assert len(printed) == 1, (round_, printed)
        [token] = printed
        files = [d / FILE for d in dict.fromkeys(data_dirs) if (d / FILE).exists()]
        assert [f.read_text().strip() for f in files] == [token]
        settings = Settings(database_url=url, data_dir=data_dirs[0])
        async with await Chronik.open(settings) as chronik:
            tenant = await chronik.default_tenant()
            assert [t.name for t in await chronik.tokens.list(tenant.id)] == ["bootstrap admin"]
            assert (await chronik.tokens.authenticate(token)).roles == ("IAM_OWNER",)
