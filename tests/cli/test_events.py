"""``chronik events append`` and ``chronik events search``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chronik import Editor, EventQuery, NewEvent, Settings
from tests.cli.conftest import Cli, event, ndjson, new
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

REQUEST = "01J" + "0" * 22 + "A"


def test_json_append_from_stdin_is_one_append_found_by_search(cli: Cli) -> None:
    events = [
        event("1", payload={"name": "Ada"}, resourceOwner="org-1"),
        event("1", "user.renamed", payload={"name": "Ada L."}, resourceOwner="org-1"),
    ]
    stored = cli.lines(
        "events", "append", "-o", "json", "--editor-user", "u-7", stdin=json.dumps(events)
    )
    found = cli.search("--asc")
    assert found == stored
    assert [e["payload"] for e in found] == [{"name": "Ada"}, {"name": "Ada L."}]
    assert [e["aggregate_version"] for e in found] == [1, 2]
    assert {e["request_id"] for e in found} == {stored[0]["request_id"]}
    assert {(e["editor_user_id"], e["resource_owner"]) for e in found} == {("u-7", "org-1")}


def test_ndjson_append_from_stdin_is_stored_in_atomic_batches(cli: Cli) -> None:
    lines = ndjson(*(event(str(i), payload={"i": i}) for i in range(5)))
    cli("events", "append", "--batch-size", "2", stdin=lines)
    found = cli.search("--asc")
    assert [e["payload"]["i"] for e in found] == [0, 1, 2, 3, 4]
    requests = [e["request_id"] for e in found]
    assert requests[0] == requests[1] != requests[2] == requests[3] != requests[4]


def test_snake_case_fields_and_a_batch_object_are_accepted(sqlite_cli: Cli) -> None:
    batch = {
        "events": [{"aggregate_type": "user", "aggregate_id": "1", "type": "user.added"}],
        "expected_versions": [{"aggregate_type": "user", "aggregate_id": "1", "version": 0}],
        "requestId": REQUEST,
    }
    (stored,) = sqlite_cli.lines("events", "append", "-o", "json", stdin=json.dumps(batch))
    assert stored["request_id"] == REQUEST


def test_stale_expected_version_exits_1_and_writes_nothing(cli: Cli) -> None:
    batch = {
        "events": [event("1"), event("2")],
        "expectedVersions": [{"aggregateType": "user", "aggregateId": "1", "version": 3}],
    }
    refused = cli("events", "append", stdin=json.dumps(batch), code=1)
    assert refused.stderr == "error: aggregate user/1 is at version 0, not the expected 3\n"
    assert refused.stdout == ""
    assert cli.stored() == []


def test_appending_a_reserved_type_exits_1_and_names_it(sqlite_cli: Cli) -> None:
    forged = {"aggregateType": "chronik.flow", "aggregateId": "f", "type": "flow.cleared"}
    refused = sqlite_cli("events", "append", stdin=json.dumps(forged), code=1)
    assert "'chronik.flow' is reserved" in refused.stderr
    assert sqlite_cli.stored() == []


@pytest.mark.parametrize(
    ("stdin", "where"),
    [
        ('{\n  "aggregateType": "user",\n  oops\n}\n', "line 3, column 3"),
        (
            '{"aggregateType": "user", "aggregateId": "1", "type": "t"}\n{"aggregateType":\n',
            "line 2",
        ),
        ('{"aggregateType": "user", "aggregateId": 1, "type": "t"}', "$.aggregateId"),
    ],
    ids=["json", "ndjson", "wrong-type"],
)
def test_bad_input_names_its_place_and_writes_nothing(
    sqlite_cli: Cli, stdin: str, where: str
) -> None:
    refused = sqlite_cli("events", "append", stdin=stdin, code=1)
    assert refused.stderr.startswith("error: ")
    assert where in refused.stderr
    assert sqlite_cli.stored() == []


def test_an_error_in_a_later_batch_names_its_line_and_keeps_earlier_batches(
    sqlite_cli: Cli,
) -> None:
    lines = ndjson(event("1"), event("2"), event("3", type=""))
    refused = sqlite_cli("events", "append", "--batch-size", "2", stdin=lines, code=1)
    assert refused.stderr == (
        "error: line 3: type must not be empty (the 2 events before it are stored)\n"
    )
    assert len(sqlite_cli.stored()) == 2


def test_an_unknown_tenant_exits_1(sqlite_cli: Cli) -> None:
    refused = sqlite_cli("events", "search", "--tenant", "nobody", code=1)
    assert refused.stderr == "error: tenant 'nobody' not found\n"


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, list[Any]]]:
    """One database searched by every filter case: six events, oldest first."""
    cli = Cli(Settings(data_dir=tmp_path_factory.mktemp("populated")))
    stored = cli.append(
        new("1", resource_owner="org-a"),
        new("2", resource_owner="org-b"),
        NewEvent(aggregate_type="person", aggregate_id="1", type="user.renamed"),
    )
    stored += cli.append(
        new("3", "user.removed"),
        new("1", "user.renamed", correlation_id="order-7"),
        new("4", correlation_id="order-7"),
        editor=Editor(user_id="ed"),
    )
    yield cli, stored


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), [5, 4, 3, 2, 1, 0]),
        (("--asc",), [0, 1, 2, 3, 4, 5]),
        (("--type", "user.renamed"), [4, 2]),
        (("--type", "user.renamed", "--type", "user.removed"), [4, 3, 2]),
        (("--aggregate-type", "person"), [2]),
        (("--aggregate-id", "1", "--aggregate-type", "user"), [4, 0]),
        (("--editor-user", "ed"), [5, 4, 3]),
        (("--resource-owner", "org-b"), [1]),
        (("--correlation-id", "order-7"), [5, 4]),
        (("--correlation-id", "order-7", "--type", "user.added"), [5]),
        (("--sequence", "3", "--asc"), [3, 4, 5]),
        (("--sequence", "3"), [1, 0]),
        (("--limit", "2"), [5, 4]),
        (("--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02"), []),
        (("--creation-date", "2000-01-01T00:00:00+02:00", "--asc"), [0, 1, 2, 3, 4, 5]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_search_filters(
    populated: tuple[Cli, list[Any]], filters: tuple[str, ...], expected: list[int]
) -> None:
    cli, stored = populated
    assert cli.search(*filters) == [stored[i] for i in expected]


def test_search_refuses_an_unreadable_time(populated: tuple[Cli, list[Any]]) -> None:
    cli, _ = populated
    refused = cli("events", "search", "--since", "yesterday", code=2)
    assert "ISO 8601" in refused.stderr


def test_paging_token_continues_the_search(cli: Cli) -> None:
    stored = cli.append(*map(new, "abc"))
    first = cli.json("events", "search", "-o", "json", "--limit", "2")
    token = first["pagingToken"]
    second = cli.json("events", "search", "-o", "json", "--paging-token", token)
    assert first["events"] == stored[:0:-1]
    assert second["events"] == stored[:1]


def test_paging_token_with_a_filter_is_a_usage_error(sqlite_cli: Cli) -> None:
    with sqlite_cli.api() as chronik:
        token = chronik.events.search(chronik.default_tenant().id, EventQuery()).paging_token
    refused = sqlite_cli("events", "search", "--paging-token", token, "--asc", code=2)
    assert "give no filter" in refused.stderr


def test_search_prints_a_table_and_the_next_token_on_stderr(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(event("42", payload={"name": "[bold]Ada"})))
    sqlite_cli("events", "append", str(events_file))
    shown = sqlite_cli("events", "search")
    header, row = shown.stdout.splitlines()
    assert header.split() == [
        "sequence",
        "created",
        "at",
        "type",
        "aggregate",
        "version",
        "editor",
        "payload",
    ]
    assert "user/42" in row and '{"name":"[bold]Ada"}' in row
    assert shown.stderr.startswith("next page: --paging-token ")
