"""``chronik worker``, ``chronik views`` and ``chronik failed`` as an operator uses them, and
what a worker killed in the middle of a batch leaves behind: nothing applied twice."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chronik import Settings
from chronik.services import Chronik
from chronik.views import Rows
from tests.cli.conftest import TIMEOUT, Cli, new

SAMPLE = f"{Path(__file__).with_name('sample_views.py')}:views"


def eventually(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def row(cli: Cli, view: str, key: str) -> Any:
    """A row of a view of the default tenant, as stored."""

    async def read() -> Any:
        async with await Chronik.open(cli.settings) as chronik:
            tenant = (await chronik.default_tenant()).id
            return await Rows(chronik.db.views, view, tenant).get(key)

    return asyncio.run(read())


def views(cli: Cli) -> dict[str, dict[str, Any]]:
    return {v["view"]: v for v in cli.json("views", "list", "-o", "json", "--views", SAMPLE)}


def failed(cli: Cli) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli.json("failed", "list", "-o", "json", "--views", SAMPLE)
    return found


def test_an_operator_sees_a_failing_view_fixes_it_and_watches_it_catch_up(
    cli: Cli, tmp_path: Path
) -> None:
    poison = tmp_path / "poison"
    poison.touch()
    cli.append(new("u1"), new("u2", payload={"poisonFile": str(poison)}), new("u3"))
    head = len(cli.stored())
    with cli.popen("worker", "--views", SAMPLE) as worker:
        [record] = eventually(
            lambda: [f for f in failed(cli) if f["view"] == "counts"], "a failure"
        )
        assert record["sequence"] == 2 and record["database"] == "tests"
        assert "ID=TEST-POISON Message=" in record["error"]
        eventually(lambda: failed(cli)[0]["failure_count"] == 2, "the second failure")
        listed = views(cli)
        assert listed["counts"]["position"] == head and listed["counts"]["failed_events"] == 1
        assert row(cli, "counts", "seen") == [1, 3]  # skipped after two failures

        poison.unlink()
        retried = cli("failed", "retry", "counts", "--views", SAMPLE).stderr
        assert retried == "1 failed event of 'counts' will be retried now\n"
        eventually(lambda: not [f for f in failed(cli) if f["view"] == "counts"], "the retry")
        assert row(cli, "counts", "seen") == [1, 3, 2]

        cli("views", "pause", "counts", "--views", SAMPLE)
        assert views(cli)["counts"]["paused"] is True
        cli.append(new("u4"))
        time.sleep(1.0)
        assert views(cli)["counts"]["position"] == head
        cli("views", "resume", "counts", "--views", SAMPLE)
        eventually(lambda: views(cli)["counts"]["position"] == head + 1, "the resumed view")

        cli("views", "reset", "counts", "--views", SAMPLE)
        eventually(lambda: row(cli, "counts", "seen") == [1, 2, 3, 4], "the rebuild")

        refused = cli("failed", "remove", "counts", "99", "--views", SAMPLE, code=1)
        assert refused.stderr.startswith("error: view 'counts' has no failed event")
        unknown = cli("views", "reset", "nope", "--views", SAMPLE, code=1)
        assert unknown.stderr == "error: view 'nope' not found\n"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(TIMEOUT) == 0


def test_views_list_says_running_only_while_a_nodes_lease_is_live(cli: Cli) -> None:
    async def arrange() -> str:
        async with await Chronik.open(cli.settings) as chronik:
            tenant = (await chronik.default_tenant()).id
            now = datetime.now(UTC)
            hour = timedelta(hours=1)
            store = chronik.db.views
            await store.claim("counts", "tests", tenant, "node-a", now, now + hour)
            await store.claim("slow", "tests", tenant, "node-b", now - hour, now - hour / 2)
            paused = next(iter(chronik.views.registry))
            await store.claim(paused.name, paused.database, tenant, "node-c", now, now + hour)
            await store.set_paused(tenant, paused.name, paused.database, True)
            return paused.name

    paused = asyncio.run(arrange())
    listed = cli.json("views", "list", "-o", "json", "--views", SAMPLE)
    states = {v["view"]: (v["state"], v["node"]) for v in listed}
    assert states.pop("counts") == ("running", "node-a")
    assert states.pop("slow") == ("idle", None)  # its node stopped renewing the lease
    assert states.pop(paused) == ("paused", "node-c")
    assert set(states.values()) == {("idle", None)}  # never run


def test_a_worker_killed_mid_batch_applies_no_event_twice(cli: Cli) -> None:
    total = 300
    cli.append(*[new(f"u{i % 7}") for i in range(total)])
    with cli.popen("worker", "--views", SAMPLE, "--lease-seconds", "1") as worker:
        eventually(lambda: views(cli)["slow"]["position"] > 0, "the first batch")
        worker.send_signal(signal.SIGKILL)
        worker.wait(TIMEOUT)
    stopped_at = views(cli)["slow"]["position"]
    assert stopped_at < total
    with cli.popen("worker", "--views", SAMPLE, "--lease-seconds", "1") as worker:
        eventually(lambda: views(cli)["slow"]["position"] == total, "the restarted worker")
        worker.send_signal(signal.SIGTERM)
        worker.wait(TIMEOUT)
    assert row(cli, "slow", "seen") == list(range(1, total + 1))
    assert sum(row(cli, "slow", f"count:u{i}") for i in range(7)) == total


def test_bad_views_options_are_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    for spec, message in (
        ("nomodule", "give them as module:attribute"),
        (f"{tmp_path}/missing.py:views", "cannot be loaded"),
        ("tests.cli.sample_views:nothing", "cannot be loaded"),
        ("tests.cli.sample_views:Poisoned", "is neither a View nor a Registry"),
    ):
        refused = sqlite_cli("views", "list", "--views", spec, code=1)
        assert message in refused.stderr, refused.stderr


def _owner_pid(cli: Cli, view: str) -> int | None:
    async def read() -> int | None:
        async with await Chronik.open(cli.settings) as chronik:
            tenant = (await chronik.default_tenant()).id
            state = await chronik.db.views.state(view, tenant)
            return int(state.owner.split(":")[1]) if state and state.owner else None

    return asyncio.run(read())


def test_three_postgres_workers_apply_every_event_once_and_take_over_from_a_dead_one(
    postgres_database: str,
) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_database)
    cli = Cli(Settings(database_url=postgres_database))
    cli.append(*[new(f"u{i % 5}") for i in range(100)])
    with (
        cli.popen("worker", "--views", SAMPLE, "--lease-seconds", "1") as a,
        cli.popen("worker", "--views", SAMPLE, "--lease-seconds", "1") as b,
        cli.popen("worker", "--views", SAMPLE, "--lease-seconds", "1") as c,
    ):
        workers = {w.pid: w for w in (a, b, c)}
        eventually(lambda: views(cli)["slow"]["position"] > 0, "the first batch")
        owner = eventually(lambda: _owner_pid(cli, "slow"), "an owner")
        workers[owner].send_signal(signal.SIGKILL)
        workers[owner].wait(TIMEOUT)
        cli.append(*[new(f"u{i % 5}") for i in range(100)])
        eventually(lambda: views(cli)["slow"]["position"] == 200, "a surviving worker")
        successor = _owner_pid(cli, "slow")
        assert successor in workers and successor != owner
        for pid, worker in workers.items():
            if pid != owner:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(TIMEOUT) == 0
    assert row(cli, "slow", "seen") == list(range(1, 201))
    assert row(cli, "counts", "seen") == list(range(1, 201))
