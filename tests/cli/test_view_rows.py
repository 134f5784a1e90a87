"""``chronik views rows``: reading what a view wrote, as a user reads it, with no SQL; and the
operator commands on a view that another process registered."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from chronik.services import Chronik
from chronik.views import installed
from tests.cli.conftest import TIMEOUT, Cli, new
from tests.cli.test_views import SAMPLE, eventually
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends

HEAD = 3


def _processed(cli: Cli) -> None:
    """Three events of two users appended, and the sample views run over them in-process
    (``counts`` then holds ``count:u1`` 2, ``count:u2`` 1 and ``seen`` [1, 2, 3])."""
    cli.append(new("u1"), new("u2"), new("u1"))

    async def run_views() -> None:
        async with await Chronik.open(cli.settings, views=installed((SAMPLE,))) as chronik:
            tenant = (await chronik.default_tenant()).id
            chronik.start_views()
            for view in ("counts", "slow"):
                await chronik.views.rows(tenant, view, min_sequence=HEAD, wait_seconds=TIMEOUT)

    asyncio.run(run_views())


def test_rows_lists_every_row_of_a_view_in_json_with_its_position(cli: Cli) -> None:
    _processed(cli)
    listed = cli.json("views", "rows", "counts", "-o", "json")
    assert listed == [
        {"key": "count:u1", "value": 2, "position": HEAD},
        {"key": "count:u2", "value": 1, "position": HEAD},
        {"key": "seen", "value": [1, 2, 3], "position": HEAD},
    ]


def test_rows_prints_a_table_and_the_position_on_stderr(sqlite_cli: Cli) -> None:
    _processed(sqlite_cli)
    shown = sqlite_cli("views", "rows", "counts")
    assert shown.stdout.splitlines() == [
        "key       value",
        "count:u1  2",
        "count:u2  1",
        "seen      [1,2,3]",
    ]
    assert shown.stderr == f"as of sequence {HEAD}\n"


def test_rows_reads_every_page(cli: Cli) -> None:
    _processed(cli)
    listed = cli.json("views", "rows", "counts", "--page-size", "1", "-o", "json")
    assert [r["key"] for r in listed] == ["count:u1", "count:u2", "seen"]


def test_rows_with_a_prefix_lists_only_the_keys_that_start_with_it(cli: Cli) -> None:
    _processed(cli)
    listed = cli.json("views", "rows", "counts", "--prefix", "count:", "-o", "json")
    assert [r["key"] for r in listed] == ["count:u1", "count:u2"]


def test_a_row_by_key_is_one_json_document(cli: Cli) -> None:
    _processed(cli)
    assert cli.json("views", "rows", "counts", "seen", "-o", "json") == {
        "key": "seen",
        "value": [1, 2, 3],
        "position": HEAD,
    }


def test_a_missing_key_exits_1_with_one_line(cli: Cli) -> None:
    _processed(cli)
    refused = cli("views", "rows", "counts", "nope", code=1)
    assert (refused.stdout, refused.stderr) == ("", "error: view 'counts' has no row 'nope'\n")


def test_no_rows_says_so(sqlite_cli: Cli) -> None:
    _processed(sqlite_cli)
    shown = sqlite_cli("views", "rows", "counts", "--prefix", "nothing:")
    assert (shown.stdout, shown.stderr) == ("", "no rows\n")


def test_a_view_behind_min_sequence_exits_1_once_the_wait_ran_out(cli: Cli) -> None:
    _processed(cli)
    refused = cli("views", "rows", "counts", "--min-sequence", "99", "--wait-seconds", "0", code=1)
    assert refused.stderr == f"error: view 'counts' is at sequence {HEAD}, not yet at 99\n"


def test_a_key_and_a_prefix_together_are_a_usage_error(sqlite_cli: Cli) -> None:
    refused = sqlite_cli("views", "rows", "counts", "seen", "--prefix", "s", code=2)
    assert "give KEY or --prefix, not both" in refused.stderr


def _counts(cli: Cli) -> dict[str, Any]:
    """The ``counts`` view as ``views list`` shows it without --views: once it has run."""
    listed = cli.json("views", "list", "-o", "json")
    return next((v for v in listed if v["view"] == "counts"), {"position": None})


def _position(cli: Cli) -> int | None:
    position: int | None = _counts(cli)["position"]
    return position


def _paused(cli: Cli) -> bool:
    return bool(_counts(cli)["paused"])


def test_operators_act_on_a_view_another_process_registered_without_views(cli: Cli) -> None:
    cli.append(new("u1"))
    with cli.popen("worker", "--views", SAMPLE) as worker:
        eventually(lambda: _position(cli) == 1, "the worker's first event")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(TIMEOUT) == 0
    assert cli("views", "pause", "counts").stderr == "paused view 'counts'\n"
    assert _paused(cli)
    assert cli("views", "resume", "counts").stderr == "resumed view 'counts'\n"
    assert not _paused(cli)
    reset = cli("views", "reset", "counts")
    assert reset.stderr == "reset view 'counts': it rebuilds from sequence 0\n"
    assert cli("views", "rows", "counts").stderr == "no rows\n"
