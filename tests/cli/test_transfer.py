"""``chronik events export`` and ``chronik events import``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec

from chronik import Editor, EventQuery, Settings
from chronik.records import Schedule, TimeRule
from chronik.services import Chronik
from tests.cli.conftest import Cli, new

# What the importing database assigns anew; everything else must survive the round trip.
ASSIGNED = ("sequence", "tenant_id", "created_at")


def kept(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ASSIGNED} for e in events]


def read(path: Path) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def fill(cli: Cli) -> list[dict[str, Any]]:
    """Appends of several shapes (one by an editor over two aggregates, with correlation and
    causation ids and metadata, three more on one of them, and one of another tenant in
    between); returns the default tenant's events."""
    with cli.api() as chronik:
        default = chronik.default_tenant().id
        editor = Editor(user_id="u", service="svc")
        traced = new("1", payload={"a": 1}, correlation_id="c-1", metadata={"ip": "10.0.0.1"})
        stored = chronik.events.append(
            default, [traced, new("2", causation_id="e-0")], editor=editor
        )
        chronik.events.append(chronik.tenants.create("other").id, [new("1")])
        for first in (0, 2, 4):
            changes = range(first, min(first + 2, 5))
            stored += chronik.events.append(
                default,
                [new("1", "user.changed", resource_owner="o", payload={"i": i}) for i in changes],
            )
    return [msgspec.to_builtins(e) for e in stored]


def test_export_then_import_into_another_database_keeps_every_append(
    cli: Cli, other_cli: Cli, tmp_path: Path
) -> None:
    source = fill(cli)
    exported = cli("events", "export", str(tmp_path / "a.ndjson"))
    assert exported.stdout == ""
    assert exported.stderr == "exported 7 events\n"
    assert read(tmp_path / "a.ndjson") == source

    imported = other_cli("events", "import", str(tmp_path / "a.ndjson"))
    assert imported.stderr == "imported 7 events; 0 were already present\n"
    copy = other_cli.lines("events", "export")
    assert kept(copy) == kept(source)
    assert [e["sequence"] for e in copy] == list(range(1, 8))


def test_importing_twice_writes_nothing_the_second_time(
    cli: Cli, other_cli: Cli, tmp_path: Path
) -> None:
    fill(cli)
    export = tmp_path / "a.ndjson"
    cli("events", "export", str(export))
    other_cli("events", "import", stdin=export.read_bytes())
    again = other_cli("events", "import", "--in-flight", "1", stdin=export.read_bytes())
    assert again.stderr == "imported 0 events; 7 were already present\n"
    with other_cli.api() as chronik:
        assert (
            chronik.events.search(chronik.default_tenant().id, EventQuery()).events[0].sequence == 7
        )


def test_export_of_all_tenants_holds_every_tenants_events_in_their_order(sqlite_cli: Cli) -> None:
    fill(sqlite_cli)
    everything = sqlite_cli.lines("events", "export", "--all-tenants")
    by_tenant: dict[str, list[int]] = {}
    for e in everything:
        by_tenant.setdefault(e["tenant_id"], []).append(e["sequence"])
    assert len(everything) == 8
    assert sorted(by_tenant.values(), key=len) == [[1], list(range(1, 8))]


def test_import_into_another_tenant_of_the_same_database_needs_new_locators(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    source = fill(sqlite_cli)
    with sqlite_cli.api() as chronik:
        chronik.tenants.create("copy")
    export = sqlite_cli("events", "export").stdout
    refused = sqlite_cli("events", "import", "--tenant", "copy", stdin=export, code=1)
    assert "import with --new-locators" in refused.stderr
    for summary in ("imported 7 events; 0", "imported 0 events; 7"):
        copied = sqlite_cli("events", "import", "--tenant", "copy", "--new-locators", stdin=export)
        assert copied.stderr.startswith(summary)
    copy = sqlite_cli.lines("events", "export", "--tenant", "copy")
    assert kept(copy) != kept(source)
    assert [{**e, "locator": ""} for e in kept(copy)] == [
        {**e, "locator": ""} for e in kept(source)
    ]


def test_import_refuses_an_aggregate_whose_history_differs(sqlite_cli: Cli, tmp_path: Path) -> None:
    source = Cli(Settings(data_dir=tmp_path / "source"))
    fill(source)
    sqlite_cli.append(new("1"))
    refused = sqlite_cli("events", "import", stdin=source("events", "export").stdout, code=1)
    assert refused.stderr.splitlines() == [
        "imported 0 events; 0 were already present",
        "error: line 1: aggregate user/1 is at version 1, not the expected 0",
    ]


def test_a_malformed_export_line_is_named(sqlite_cli: Cli) -> None:
    refused = sqlite_cli("events", "import", stdin=b'{"sequence": 1}\n', code=1)
    assert refused.stderr.endswith("error: line 1: Object missing required field `locator`\n")


def test_an_import_runs_no_flow(cli: Cli, other_cli: Cli, tmp_path: Path) -> None:
    source = fill(cli)
    script = tmp_path / "refuse.js"
    script.write_text("function refuse(ctx, api) { api.reject('no') }")
    other_cli("actions", "create", "refuse", "--script", str(script))
    other_cli("flows", "set", "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND", "refuse")
    cli("events", "export", str(tmp_path / "a.ndjson"))
    other_cli("events", "import", str(tmp_path / "a.ndjson"))
    imported = [e for e in other_cli.lines("events", "export") if e["aggregate_type"] == "user"]
    assert kept(imported) == kept(source)


def test_a_backup_restores_actions_flows_and_schedules(
    cli: Cli, other_cli: Cli, tmp_path: Path
) -> None:
    """What the restored database does is what the original did: the bound action runs on
    the next append, the paused schedule is still paused."""
    asyncio.run(_stamp_and_nightly(cli.settings))
    exported = cli("events", "export", str(tmp_path / "backup.ndjson"))
    assert exported.stderr == "exported 3 events and 1 schedule\n"

    imported = other_cli("events", "import", str(tmp_path / "backup.ndjson"))
    assert imported.stderr == "imported 3 events and 1 schedule; 0 were already present\n"
    [action] = other_cli.json("actions", "list", "-o", "json")
    assert action["name"] == "stamp"
    assert other_cli.json("schedules", "show", "nightly")["state"] == "PAUSED"
    (stored,) = other_cli.lines("events", "append", "-o", "json", stdin=json.dumps(USER))
    assert stored["payload"] == {"stamped": True}
    again = other_cli("events", "import", str(tmp_path / "backup.ndjson"))
    assert again.stderr == "imported 0 events; 4 were already present\n"


USER = {"aggregateType": "user", "aggregateId": "1", "type": "user.added", "payload": {}}


async def _stamp_and_nightly(settings: Settings) -> None:
    """A bound pre-append action and a paused cron schedule in the default tenant."""
    async with await Chronik.open(settings) as chronik:
        tenant = (await chronik.default_tenant()).id
        script = "function stamp(ctx, api) { api.setField('stamped', true) }"
        action = await chronik.actions.create(tenant, "", name="stamp", script=script)
        await chronik.actions.set_trigger(
            tenant, "", "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND", [action.id]
        )
        await chronik.schedules.create(
            Schedule(
                tenant_id=tenant,
                name="nightly",
                event_type="report.due",
                rule=TimeRule(kind="cron", cron="0 2 * * *"),
            )
        )
        await chronik.schedules.pause(tenant, "DEFAULT", "nightly")


def test_an_import_refuses_a_chronik_record_its_service_would_not_write(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    """A tampered backup: a flow record without its flow type (the record that stalled the
    action list) is refused with its line, and nothing of it is written."""
    forged = {
        "sequence": 1,
        "locator": "01J00000000000000000000001",
        "tenant_id": "t",
        "aggregate_type": "chronik.flow",
        "aggregate_id": "org/FLOW_TYPE_EVENTS",
        "aggregate_version": 1,
        "resource_owner": "org",
        "type": "flow.cleared",
        "revision": 1,
        "payload": {},
        "editor_user_id": "",
        "editor_service": "",
        "request_id": "01J00000000000000000000002",
        "created_at": "2026-01-01T00:00:00Z",
    }
    refused = sqlite_cli("events", "import", stdin=json.dumps(forged) + "\n", code=1)
    assert "line 1: chronik.flow event 'flow.cleared'" in refused.stderr
    assert "flowType" in refused.stderr
    assert sqlite_cli.json("events", "search", "--system", "-o", "json")["events"] == []
