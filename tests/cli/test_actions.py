"""``chronik actions`` and ``chronik flows`` as an operator uses them, on the embedded
default."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from chronik.services import Chronik
from tests.cli.conftest import Cli, event

ENRICH = (
    'function enrich(ctx, api) { log.info("hi " + ctx.event.type); api.setField("seen", true) }'
)
AUDIT = "function audit(ctx, api) {}"
BOOM = 'function boom(ctx, api) { throw new Error("no luck") }'
SAMPLE = {
    "type": "user.added",
    "aggregateType": "user",
    "aggregateId": "1",
    "resourceOwner": "",
    "payload": {"name": "Ada"},
}


def arrange(cli: Cli, name: str, script: str, *, pre_append: bool = False, **options: Any) -> str:
    """An action of the default tenant created in-process (for tests about something else),
    bound to the pre-append trigger if asked; its id."""

    async def create() -> str:
        async with await Chronik.open(cli.settings) as chronik:
            tenant = (await chronik.default_tenant()).id
            created = await chronik.actions.create(tenant, "", name=name, script=script, **options)
            if pre_append:
                await chronik.actions.set_trigger(
                    tenant, "", "FLOW_TYPE_EVENTS", "TRIGGER_TYPE_PRE_APPEND", [created.id]
                )
        return created.id

    return asyncio.run(create())


def listed(cli: Cli, *options: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli.json("actions", "list", "-o", "json", *options)
    return found


def rows(text: str) -> list[list[str]]:
    """A table's rows, its cells split at two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


def test_a_created_action_is_listed_with_its_settings(sqlite_cli: Cli) -> None:
    created = sqlite_cli(
        "actions",
        "create",
        "enrich",
        "--script",
        "-",
        "--timeout",
        "5",
        "--allowed-to-fail",
        stdin=ENRICH,
    )
    action_id = created.stdout.strip()
    assert rows(sqlite_cli("actions", "list").stdout) == [
        ["id", "name", "state", "timeout", "allowed to fail"],
        [action_id, "enrich", "ACTIVE", "5s", "yes"],
    ]


def test_a_script_with_a_syntax_error_is_refused_with_its_line_and_column(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    script = tmp_path / "broken.js"
    script.write_text("function broken(ctx, api) {\n  let x = ;\n}\n")
    refused = sqlite_cli("actions", "create", "broken", "--script", str(script), code=1)
    assert refused.stderr.startswith("error: script: ")
    assert "line 2" in refused.stderr and "column" in refused.stderr, refused.stderr
    assert refused.stdout == ""
    assert listed(sqlite_cli) == []


def test_update_keeps_the_fields_it_is_not_given(sqlite_cli: Cli) -> None:
    arrange(sqlite_cli, "enrich", ENRICH, timeout=5, allowed_to_fail=True)
    updated = sqlite_cli("actions", "update", "enrich", "--timeout", "7")
    assert updated.stderr == "updated action 'enrich'\n"
    [action] = listed(sqlite_cli)
    assert (action["name"], action["script"], action["timeout"], action["allowed_to_fail"]) == (
        "enrich",
        ENRICH,
        7.0,
        True,
    )


def test_a_deactivated_action_is_listed_inactive(sqlite_cli: Cli) -> None:
    arrange(sqlite_cli, "enrich", ENRICH)
    sqlite_cli("actions", "deactivate", "enrich")
    [row] = rows(sqlite_cli("actions", "list", "--state", "inactive").stdout)[1:]
    assert row[1:3] == ["enrich", "INACTIVE"]


def test_a_deleted_action_is_no_longer_listed(sqlite_cli: Cli) -> None:
    action_id = arrange(sqlite_cli, "enrich", ENRICH)
    deleted = sqlite_cli("actions", "delete", action_id)
    assert deleted.stderr == f"deleted action 'enrich' ({action_id})\n"
    assert listed(sqlite_cli) == []


def test_an_unknown_action_is_refused_by_name(sqlite_cli: Cli) -> None:
    refused = sqlite_cli("actions", "deactivate", "nope", code=1)
    assert refused.stderr == "error: no action with the id or name 'nope'\n"


def test_flows_get_shows_the_actions_flows_set_bound_in_order(sqlite_cli: Cli) -> None:
    arrange(sqlite_cli, "enrich", ENRICH)
    arrange(sqlite_cli, "audit", AUDIT)
    bound = sqlite_cli(
        "flows",
        "set",
        "FLOW_TYPE_EVENTS",
        "TRIGGER_TYPE_PRE_APPEND",
        "audit",
        "enrich",
        "--event-type",
        "user.added",
    )
    assert bound.stderr == "bound audit, enrich to TRIGGER_TYPE_PRE_APPEND of FLOW_TYPE_EVENTS\n"
    assert rows(sqlite_cli("flows", "get", "FLOW_TYPE_EVENTS").stdout) == [
        ["trigger", "actions", "event types", "aggregate types"],
        ["TRIGGER_TYPE_PRE_APPEND", "audit, enrich", "user.added", "all"],
        ["TRIGGER_TYPE_POST_APPEND", "-"],
    ]


def test_an_unknown_flow_type_is_refused_with_the_known_ones(sqlite_cli: Cli) -> None:
    refused = sqlite_cli("flows", "get", "FLOW_TYPE_NOPE", code=1)
    assert refused.stderr == (
        "error: unknown flow type 'FLOW_TYPE_NOPE'; there are FLOW_TYPE_EVENTS, "
        "FLOW_TYPE_SCHEDULES\n"
    )


def test_actions_test_prints_the_fields_set_and_the_log_lines(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    arrange(sqlite_cli, "enrich", ENRICH)
    sample = tmp_path / "event.json"
    sample.write_text(json.dumps(SAMPLE))
    shown = rows(sqlite_cli("actions", "test", "enrich", "--event", str(sample)).stdout)
    assert ["outcome", "succeeded"] in shown
    assert ["fields", '{"seen":true}'] in shown
    assert ["logs", "info", "hi user.added"] in shown


def test_actions_test_exits_1_when_the_script_throws(sqlite_cli: Cli) -> None:
    arrange(sqlite_cli, "boom", BOOM)
    failed = sqlite_cli("actions", "test", "boom", "--event", "-", stdin=json.dumps(SAMPLE), code=1)
    assert ["outcome", "failed"] in rows(failed.stdout)
    assert failed.stderr.startswith("error: the action did not succeed (failed): Error: no luck")


def test_a_pre_append_run_is_listed_as_succeeded_with_its_log_lines(sqlite_cli: Cli) -> None:
    arrange(sqlite_cli, "enrich", ENRICH, pre_append=True)
    sqlite_cli("events", "append", stdin=json.dumps(event("1")))
    header, run, log = rows(sqlite_cli("actions", "runs", "enrich", "--logs").stdout)
    assert header[:6] == ["started at", "action", "trigger", "event", "outcome", "ms"]
    assert run[1:5] == ["enrich", "TRIGGER_TYPE_PRE_APPEND", "user.added", "succeeded"]
    assert log == ["info", "hi user.added"]
