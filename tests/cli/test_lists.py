"""Every command that prints a list: one table style, one message when it found nothing (on
stderr, so that stdout stays empty), and ``-o json`` for scripts."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

EMPTY = {
    ("tokens", "list"): "tokens",
    ("failed", "list"): "failed events",
    ("schedules", "list"): "schedules",
    ("schedules", "failed"): "failed jobs",
    ("actions", "list"): "actions",
    ("actions", "runs"): "runs",
}
"""The lists of a fresh database that are empty, and the things each one lists."""

ALWAYS = [("tenants", "list"), ("views", "list")]
"""Lists that are never empty: the tenant 'default', the built-in views."""

BOXES = set("─│┃━┏┓┗┛┡┩└┘├┤╭╮╰╯")


@pytest.mark.parametrize("command", list(EMPTY), ids=" ".join)
def test_an_empty_list_says_no_things_on_stderr_and_prints_nothing(
    cli: Cli, command: tuple[str, str]
) -> None:
    shown = cli(*command)
    assert (shown.stdout, shown.stderr) == ("", f"no {EMPTY[command]}\n")


@pytest.mark.parametrize("command", list(EMPTY), ids=" ".join)
def test_an_empty_list_in_json_is_an_empty_array(cli: Cli, command: tuple[str, str]) -> None:
    assert cli.json(*command, "-o", "json") == []


@pytest.mark.parametrize("command", ALWAYS, ids=" ".join)
def test_a_list_in_json_is_an_array_of_objects(cli: Cli, command: tuple[str, str]) -> None:
    listed = cli.json(*command, "--output", "json")
    assert listed and all(isinstance(item, dict) for item in listed)


def test_tokens_list_is_a_plain_table_like_every_other_list(sqlite_cli: Cli) -> None:
    sqlite_cli("tokens", "create", "--role", "IAM_OWNER", "--name", "ci")
    tokens = sqlite_cli("tokens", "list").stdout.splitlines()
    tenants = sqlite_cli("tenants", "list").stdout.splitlines()
    assert tokens[0].split() == ["id", "name", "roles", "org", "created", "expires", "revoked"]
    assert tenants[0].split() == ["id", "name", "created", "at"]
    assert [len(tokens), len(tenants)] == [2, 2]  # a header and a row: no rules, no boxes
    assert not BOXES & set("".join(tokens + tenants))


def test_tokens_list_in_json_names_each_token(sqlite_cli: Cli) -> None:
    sqlite_cli("tokens", "create", "--role", "IAM_OWNER", "--name", "ci")
    [token] = sqlite_cli.json("tokens", "list", "-o", "json")
    assert (token["name"], token["roles"], token["revokedAt"]) == ("ci", "IAM_OWNER", "")
