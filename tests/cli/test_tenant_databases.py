"""``chronik migrate | tenants create | list | move`` with tenants placed across PostgreSQL
databases: the commands docs/how-to/tenant-databases.md shows (it cannot run them itself,
its documents run on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chronik import NewEvent, Settings, SyncChronik
from chronik.storage.postgres.placement import identity
from tests.acceptance.server import Server
from tests.cli.conftest import Cli
from tests.conftest import BACKENDS, own_database, unavailable


@pytest.fixture
def databases() -> Iterator[tuple[str, str, str]]:
    if "postgres" not in BACKENDS:
        unavailable("tenant databases need PostgreSQL (CHRONIK_TEST_BACKENDS lacks postgres)")
    with (
        own_database("chronik_cli_dir") as directory,
        own_database("chronik_cli_a") as a,
        own_database("chronik_cli_b") as b,
    ):
        yield directory, a, b


def test_tenants_are_created_listed_and_moved_across_databases(
    databases: tuple[str, str, str],
) -> None:
    directory, a, b = databases
    places = ["--tenant-databases", f"{a},{b}"]
    cli = Cli(Settings(database_url=directory), create=False)

    migrated = cli("migrate", *places)  # (and its tenant 'default', placed in a)
    assert "schema version" in migrated.stderr
    first = cli("tenants", "create", "acme", *places)
    assert f"created tenant 'acme' in {identity(b)}" in first.stderr
    second = cli("tenants", "create", "globex", *places)
    assert f"in {identity(a)}" in second.stderr
    settings = Settings(database_url=directory, tenant_databases=(a, b))
    with SyncChronik.open(settings) as chronik:
        chronik.events.append(
            first.stdout.strip(),
            [NewEvent(aggregate_type="order", aggregate_id="o1", type="order.placed")] * 5,
        )

    listed = {t["name"]: t["database"] for t in cli.json("tenants", "list", "-o", "json", *places)}
    assert listed == {"default": identity(a), "acme": identity(b), "globex": identity(a)}

    moved = cli("tenants", "move", "acme", "--to", a, *places)
    assert f"moved tenant 'acme' (5 events) from {identity(b)} to {identity(a)}" in moved.stderr
    again = cli("tenants", "move", "acme", "--to", identity(a), *places)
    assert f"tenant 'acme' already lives in {identity(a)}" in again.stderr
    table = cli("tenants", "list", *places).stdout
    assert "database" in table and table.count(identity(a)) == 3
    with SyncChronik.open(settings) as chronik:
        assert chronik.events.head(first.stdout.strip()) == 5

    wrong = cli("tenants", "move", "acme", "--to", "nowhere", *places, code=1)
    assert "'nowhere' is not one of this node's databases" in wrong.stderr
    unplaced = cli("tenants", "move", "acme", "--to", a, code=1)
    assert "--tenant-databases" in unplaced.stderr


def test_serve_with_two_workers_routes_each_tenants_requests_to_its_database(
    databases: tuple[str, str, str], tmp_path: Path
) -> None:
    """Every worker process of `chronik serve --workers 2` gets the tenant databases; the
    bootstrap token (kept in the directory) works for the default tenant, placed in one."""
    directory, a, b = databases
    server = Server(
        tmp_path / "data",
        database_url=directory,
        workers=2,
        args=["--tenant-databases", f"{a},{b}"],
    )
    try:
        server.wait_ready()
        token = (tmp_path / "data" / "bootstrap-token").read_text().strip()
        with server.client(token) as http:
            for i in range(4):  # spread over both workers
                event = {"aggregateType": "order", "aggregateId": f"o{i}", "type": "placed"}
                done = http.post("/v1/events", json={"events": [event]})
                assert done.status_code == 200, done.text
                assert done.json()["events"][0]["sequence"] == str(i + 1)
    finally:
        assert server.terminate() == 0
    settings = Settings(database_url=directory, tenant_databases=(a, b))
    with SyncChronik.open(settings) as chronik:
        default = chronik.default_tenant().id
        assert chronik.events.head(default) == 4
    counts = {}
    for url in (directory, a, b):
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
            counts[identity(url)] = row[0] if row else None
    assert counts == {identity(directory): 0, identity(a): 4, identity(b): 0}
