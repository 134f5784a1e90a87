"""``chronik tenants`` and ``chronik migrate``."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from chronik import Settings
from tests.cli.conftest import Cli

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n")


def test_tenants_create_prints_only_the_new_id(cli: Cli) -> None:
    created = cli("tenants", "create", "acme")
    assert UUID.fullmatch(created.stdout)
    listed = cli.json("tenants", "list", "-o", "json")
    assert {(t["id"], t["name"]) for t in listed if t["name"] != "default"} == {
        (created.stdout.strip(), "acme")
    }


def test_a_taken_tenant_name_exits_1(sqlite_cli: Cli) -> None:
    sqlite_cli("tenants", "create", "acme")
    refused = sqlite_cli("tenants", "create", "acme", code=1)
    assert refused.stderr.startswith("error: a tenant named 'acme'")
    assert refused.stdout == ""


def test_events_go_to_the_tenant_named(sqlite_cli: Cli) -> None:
    with sqlite_cli.api() as chronik:
        chronik.tenants.create("acme")
    sqlite_cli(
        "events",
        "append",
        "--tenant",
        "acme",
        stdin='{"aggregateType": "a", "aggregateId": "1", "type": "t"}',
    )
    assert len(sqlite_cli.search("--tenant", "acme")) == 1
    assert sqlite_cli.stored() == []


def test_migrate_creates_a_fresh_database_with_its_default_tenant(tmp_path: Path) -> None:
    cli = Cli(Settings(data_dir=tmp_path / "fresh"), create=False)
    first = cli("migrate")
    assert first.stderr.startswith("applied migrations 1")
    assert [t["name"] for t in cli.json("tenants", "list", "-o", "json")] == ["default"]
    assert cli("migrate").stderr.startswith("the schema is current")


def test_a_database_from_a_newer_chronik_is_refused(tmp_path: Path) -> None:
    cli = Cli(Settings(data_dir=tmp_path))
    cli.api().close()
    with sqlite3.connect(tmp_path / "chronik.db") as db:
        db.execute("UPDATE chronik_schema SET version = 999")
    db.close()
    for command in (("migrate",), ("events", "search")):
        refused = cli(*command, code=1)
        assert refused.stderr.startswith("error: the database")
        assert "schema version 999, newer than this Chronik knows" in refused.stderr
