"""``chronik webhooks`` as an operator drives it, and deliveries by a ``chronik worker`` told
by ``--webhook-allowed-hosts`` that a receiver on 127.0.0.1 may be reached.

Most commands run in this process (typer's runner: a subprocess costs 0.7 s each, and these
tests run dozens); the worker, and one test of the commands, run as a user runs them.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from chronik import Settings
from chronik.cli import app
from chronik.cli.serve import _decode, encode_settings
from tests.cli.conftest import TIMEOUT, Cli, new
from tests.receiver import Delivery, Receiver, receiving

T = TypeVar("T")
LOOPBACK = ("--webhook-allowed-hosts", "127.0.0.1")
NOBODY = "http://127.0.0.1:9/hook"
"""A loopback URL nothing answers at: enough to create webhooks that deliver nowhere."""
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


class Inline(Cli):
    """:class:`Cli` with its commands run in this process, by typer's runner; the settings
    of the developer's environment do not reach them, those of ``env`` do."""

    def __init__(
        self, settings: Settings, *, create: bool = True, env: dict[str, str] | None = None
    ):
        super().__init__(settings, create=create)
        self.env: dict[str, str | None] = {
            "CHRONIK_DATABASE_URL": None,
            "CHRONIK_WEBHOOK_ALLOWED_HOSTS": None,
            **(env or {}),
        }

    def __call__(
        self, *args: str, stdin: str | bytes = b"", code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        done = CliRunner(env=self.env).invoke(
            app, [*args, *self.database], input=stdin, prog_name="chronik"
        )
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            raise done.exception
        assert done.exit_code == code, done.stderr
        return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


@pytest.fixture
def inline(tmp_path: Path) -> Inline:
    return Inline(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def created(cli: Cli, *args: str, url: str = NOBODY) -> dict[str, Any]:
    hook: dict[str, Any] = cli.json(
        "webhooks", "create", "--name", "orders", "--url", url, *LOOPBACK, "-o", "json", *args
    )
    return hook


def eventually(read: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + TIMEOUT
    while not (found := read()):
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT} s"
        time.sleep(0.1)
    return found


def arrived(receiver: Receiver, count: int) -> list[Delivery]:
    return asyncio.run(receiver.wait_for(count, seconds=TIMEOUT))


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(TIMEOUT) == 0


# -- create, show, list ----------------------------------------------------------------------


def test_create_prints_the_secret_once_and_show_leaves_it_out(inline: Cli) -> None:
    hook = created(inline, "--hmac")
    assert hook["definition"]["endpoint"]["secret"].startswith("whsec_")
    shown = inline.json("webhooks", "show", hook["locator"], "-o", "json")
    assert "secret" not in shown["definition"]["endpoint"]
    assert shown["status"] == {
        "position": 0,
        "head": 0,
        "lag": 0,
        "retrying": None,
        "diverted": 0,
        "node": None,
    }
    table = inline("webhooks", "show", hook["locator"]).stdout
    assert "whsec_" not in table and "hmac         yes" in table


def test_create_takes_every_option_of_the_definition(inline: Cli) -> None:
    hook = created(
        inline,
        "--event-type",
        "order.placed",
        "--event-type",
        "order.paid",
        "--header",
        "X-Team: billing",
        "--header",
        "X-Team: ops",
        "--trigger",
        "5xx",
        "--trigger",
        "timeout",
        "--retries",
        "4",
        "--interval",
        "2.5",
        "--pattern",
        "linear",
        "--divert",
        "--suspend",
        "--alert-url",
        "http://127.0.0.1:9/alerts",
        "--disabled",
    )
    definition = hook["definition"]
    assert definition["event_types"] == ["order.placed", "order.paid"]
    assert definition["enabled"] is False
    assert definition["endpoint"]["headers"] == {"X-Team": ["billing", "ops"]}
    assert definition["endpoint"]["hmac_enabled"] is False
    assert definition["failure_handling"] == {
        "triggers": ["5xx", "timeout"],
        "alert_endpoint": {
            "url": "http://127.0.0.1:9/alerts",
            "hmac_enabled": False,
            "secret": None,
            "secure_ssl": True,
            "tag": "",
            "headers": {},
        },
        "retry_strategy": {"retries": 4, "interval_seconds": 2.5, "pattern": "linear"},
        "divert": True,
        "suspend": True,
    }


def test_list_shows_each_webhook_with_its_lag(inline: Cli) -> None:
    hook = created(inline, "--event-type", "order.placed")
    inline.append(new("u1"), new("u2"))
    lines = inline("webhooks", "list").stdout.splitlines()
    assert lines[0].split() == [
        "locator",
        "name",
        "enabled",
        "suspended",
        "url",
        "event",
        "types",
        "lag",
    ]
    assert lines[1].split() == [hook["locator"], "orders", "yes", "no", NOBODY, "order.placed", "2"]
    [listed] = inline.json("webhooks", "list", "-o", "json")
    assert (listed["locator"], listed["lag"]) == (hook["locator"], 2)
    assert "secret" not in listed["definition"]["endpoint"]


def test_an_empty_list_says_so_on_stderr(inline: Cli) -> None:
    empty = inline("webhooks", "list")
    assert (empty.stdout, empty.stderr) == ("", "no webhooks\n")
    assert inline.json("webhooks", "list", "-o", "json") == []


# -- update, unsuspend, delete ---------------------------------------------------------------


def test_update_changes_what_is_given_and_keeps_the_rest(inline: Cli) -> None:
    hook = created(
        inline,
        "--event-type",
        "a",
        "--event-type",
        "b",
        "--retries",
        "2",
        "--alert-url",
        NOBODY,
    )
    changed = inline.json(
        "webhooks",
        "update",
        hook["locator"],
        "--add-event-type",
        "c",
        "--remove-event-type",
        "a",
        "--add-trigger",
        "409",
        "--remove-trigger",
        "4xx",
        "--no-retries",
        "--no-alert",
        "--disabled",
        *LOOPBACK,
        "-o",
        "json",
    )["definition"]
    assert changed["name"] == "orders" and changed["endpoint"]["url"] == NOBODY
    assert changed["event_types"] == ["b", "c"]
    assert changed["enabled"] is False
    handling = changed["failure_handling"]
    assert handling["triggers"] == ["5xx", "timeout", "409"]
    assert (handling["retry_strategy"], handling["alert_endpoint"]) == (None, None)


def test_update_replaces_lists_and_merges_the_retry_strategy(inline: Cli) -> None:
    hook = created(inline, "--event-type", "a", "--retries", "2", "--header", "X-A: 1")
    changed = inline.json(
        "webhooks",
        "update",
        hook["locator"],
        "--event-type",
        "z",
        "--trigger",
        "503",
        "--header",
        "X-B: 2",
        "--interval",
        "30",
        "--name",
        "renamed",
        "-o",
        "json",
    )["definition"]
    assert (changed["name"], changed["event_types"]) == ("renamed", ["z"])
    assert changed["endpoint"]["headers"] == {"X-B": ["2"]}
    assert changed["failure_handling"]["triggers"] == ["503"]
    assert changed["failure_handling"]["retry_strategy"] == {
        "retries": 2,
        "interval_seconds": 30.0,
        "pattern": "exponential",
    }


def test_update_that_turns_signing_on_prints_the_new_secret_once(inline: Cli) -> None:
    hook = created(inline)
    signed = inline.json("webhooks", "update", hook["locator"], "--hmac", "-o", "json")
    assert signed["definition"]["endpoint"]["secret"].startswith("whsec_")
    renamed = inline.json("webhooks", "update", hook["locator"], "--name", "x", "-o", "json")
    assert "secret" not in renamed["definition"]["endpoint"]


def test_update_with_nothing_to_change_exits_1(inline: Cli) -> None:
    hook = created(inline)
    refused = inline("webhooks", "update", hook["locator"], code=1)
    assert refused.stderr == "error: nothing to change: give at least one option\n"


def test_unsuspend_of_a_webhook_that_is_not_suspended_says_so(inline: Cli) -> None:
    hook = created(inline)
    said = inline("webhooks", "unsuspend", hook["locator"]).stderr
    assert said == f"webhook {hook['locator']} is not suspended\n"


def test_delete_removes_the_webhook(inline: Cli) -> None:
    hook = created(inline)
    said = inline("webhooks", "delete", hook["locator"]).stderr
    assert said == f"deleted webhook {hook['locator']}\n"
    assert inline.json("webhooks", "list", "-o", "json") == []


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("show", UNKNOWN),
        ("update", UNKNOWN, "--name", "x"),
        ("unsuspend", UNKNOWN),
        ("delete", UNKNOWN),
        ("diverted", UNKNOWN),
        ("resend", UNKNOWN, UNKNOWN),
        ("delete-diverted", UNKNOWN, UNKNOWN),
        ("show", "not-a-locator"),
    ],
    ids=lambda c: " ".join(c[:1]),
)
def test_an_unknown_webhook_is_one_line_and_exit_1(inline: Cli, command: tuple[str, ...]) -> None:
    refused = inline("webhooks", *command, code=1)
    assert refused.stderr == f"error: webhook {command[1]!r} not found\n"


def test_an_event_that_is_not_diverted_is_one_line_and_exit_1(inline: Cli) -> None:
    hook = created(inline)
    refused = inline("webhooks", "resend", hook["locator"], UNKNOWN, code=1)
    assert refused.stderr == f"error: event {UNKNOWN!r} is not diverted\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "ftp://example.com/hook"), "an http or https URL with a host"),
        (("--url", NOBODY), "127.0.0.1, which is not a public address"),
        (("--url", "http://10.1.2.3/hook"), "10.1.2.3, which is not a public address"),
        (("--url", NOBODY, *LOOPBACK, "--header", "no colon"), "give it as 'Name: value'"),
        (("--url", NOBODY, *LOOPBACK, "--header", "Host: x"), "'Host' cannot be set"),
        (("--url", NOBODY, *LOOPBACK, "--secret", "plain"), "whsec_ and the base64"),
        (("--url", NOBODY, *LOOPBACK, "--trigger", "200"), "'200' is none of 4xx, 5xx"),
    ],
    ids=["scheme", "loopback", "private", "header", "reserved-header", "secret", "trigger"],
)
def test_a_bad_definition_is_one_line_and_exit_1(
    inline: Cli, args: tuple[str, ...], message: str
) -> None:
    refused = inline("webhooks", "create", "--name", "x", *args, code=1)
    assert refused.stderr.startswith("error: ") and message in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert inline.json("webhooks", "list", "-o", "json") == []


def test_an_allowed_host_with_a_port_allows_that_port_only(inline: Cli) -> None:
    args = ("webhooks", "create", "--name", "x", "--webhook-allowed-hosts", "127.0.0.1:9")
    inline(*args, "--url", NOBODY)
    refused = inline(*args, "--url", "http://127.0.0.1:10/hook", code=1)
    assert "not a public address" in refused.stderr


@pytest.mark.parametrize("command", ["serve", "worker", "webhooks create"])
def test_an_invalid_allowed_host_is_a_usage_error_before_anything_is_created(
    tmp_path: Path, command: str
) -> None:
    cli = Inline(Settings(data_dir=tmp_path / "data"), create=False)
    args = ("--name", "x", "--url", NOBODY) if command == "webhooks create" else ()
    refused = cli(*command.split(), *args, "--webhook-allowed-hosts", "ok.example, a b", code=2)
    assert "'a b' is not a host[:port] that webhooks may deliver to" in refused.stderr
    assert not (tmp_path / "data").exists()


def test_the_allowed_hosts_may_come_from_the_environment(tmp_path: Path) -> None:
    env = {"CHRONIK_WEBHOOK_ALLOWED_HOSTS": "example.org, 127.0.0.1:9"}
    cli = Inline(Settings(data_dir=tmp_path / "data"), env=env)
    cli("webhooks", "create", "--name", "x", "--url", NOBODY)
    refused = cli("webhooks", "create", "--name", "x", "--url", "http://127.0.0.1:10/", code=1)
    assert "not a public address" in refused.stderr


def test_serve_workers_carry_the_webhook_settings() -> None:
    settings = Settings(
        webhook_allowed_hosts=("127.0.0.1:8000", "hooks"), webhook_timeout_seconds=2
    )
    assert _decode(encode_settings(settings)) == settings


# -- delivered by chronik worker -------------------------------------------------------------


def test_a_worker_delivers_the_events_a_webhook_asks_for(cli: Cli, receiver: Receiver) -> None:
    hook = created(cli, "--event-type", "user.added", "--hmac", url=receiver.url())
    added = cli.append(new("u1"), new("u1", "user.removed"), new("u2"))
    allowed = ("--webhook-allowed-hosts", f"127.0.0.1:{receiver.port}", "--webhook-timeout", "3")
    with cli.popen("worker", *allowed) as worker:
        got = arrived(receiver, 2)
        eventually(
            lambda: (
                cli.json("webhooks", "show", hook["locator"], "-o", "json")["status"]["lag"] == 0
            ),
            "catch-up",
        )
        stop(worker)
    assert [d.json["locator"] for d in got] == [added[0]["locator"], added[2]["locator"]]
    assert all(d.headers["webhook-signature"].startswith("v1,") for d in got)


def test_an_operator_resends_and_deletes_diverted_events(inline: Cli, receiver: Receiver) -> None:
    hook = created(inline, "--divert", url=receiver.url())
    locator = hook["locator"]
    receiver.status = 500
    events = inline.append(new("u1"), new("u2"))
    with inline.popen("worker", *LOOPBACK) as worker:
        eventually(
            lambda: len(inline.json("webhooks", "diverted", locator, "-o", "json")) == 2,
            "two diverted events",
        )
        stop(worker)
    diverted = inline.json("webhooks", "diverted", locator, "-o", "json")
    assert [d["event_locator"] for d in diverted] == [e["locator"] for e in events]
    assert diverted[0]["failure_trigger"] == "500"
    lines = inline("webhooks", "diverted", locator).stdout.splitlines()
    assert lines[0].split() == [
        "event",
        "sequence",
        "trigger",
        "failures",
        "last",
        "failure",
        "message",
    ]
    assert lines[1].startswith(events[0]["locator"]) and "500 Internal Server Error" in lines[1]

    first, second = (e["locator"] for e in events)
    refused = inline("webhooks", "resend", locator, first, *LOOPBACK, code=1)
    assert refused.stderr == (
        "error: the endpoint did not take the event: 500 Internal Server Error\n"
    )
    assert inline.json("webhooks", "diverted", locator, "-o", "json")[0]["failure_count"] == 2
    receiver.status = 200
    taken = inline("webhooks", "resend", locator, first, *LOOPBACK)
    assert taken.stderr == f"resent event {first}: the endpoint took it\n"
    deleted = inline("webhooks", "delete-diverted", locator, second)
    assert deleted.stderr == f"deleted diverted event {second} of webhook {locator}\n"
    assert inline.json("webhooks", "diverted", locator, "-o", "json") == []
    assert inline("webhooks", "diverted", locator).stderr == "no diverted events\n"


def test_a_suspended_webhook_delivers_again_once_unsuspended(
    inline: Cli, receiver: Receiver
) -> None:
    hook = created(inline, "--suspend", url=receiver.url())
    locator = hook["locator"]
    receiver.answers = [500]
    [added] = inline.append(new("u1"))
    with inline.popen("worker", *LOOPBACK) as worker:
        eventually(
            lambda: inline.json("webhooks", "show", locator, "-o", "json")["suspended_at"],
            "suspension",
        )
        listed = inline("webhooks", "list").stdout.splitlines()[1].split()
        assert listed[2:4] == ["yes", "yes"]  # enabled, suspended
        assert inline("webhooks", "unsuspend", locator).stderr == (
            f"unsuspended webhook {locator}\n"
        )
        got = arrived(receiver, 2)
        stop(worker)
    assert [d.json["locator"] for d in got] == [added["locator"]] * 2
