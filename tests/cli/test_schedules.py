"""``chronik schedules`` as a user drives it, and schedulers in ``chronik worker`` processes:
on PostgreSQL three of them fire 10,000 due schedules, each exactly once, also when one of
them is killed in the middle."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg

from chronik import EventQuery, Settings
from chronik.records import Schedule, TimeRule
from chronik.services import Chronik
from tests.cli.conftest import TIMEOUT, Cli
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends


def test_create_list_pause_and_delete_a_schedule(cli: Cli) -> None:
    created = cli(
        "schedules",
        "create",
        "nightly",
        "--event-type",
        "report.due",
        "--cron",
        "0 2 * * *",
        "--time-zone",
        "Europe/Berlin",
        "--payload",
        '{"r": 1}',
    )
    assert "created schedule DEFAULT/nightly; it fires next at" in created.stderr
    [listed] = cli.json("schedules", "list", "-o", "json")
    assert (listed["name"], listed["state"], listed["rule"]["cron"]) == (
        "nightly",
        "NORMAL",
        "0 2 * * *",
    )
    cli("schedules", "pause", "nightly")
    assert cli.json("schedules", "show", "nightly")["state"] == "PAUSED"
    cli("schedules", "resume", "nightly")
    assert cli.json("schedules", "show", "nightly")["state"] == "NORMAL"
    assert cli.json("schedules", "failed", "-o", "json") == []
    cli("schedules", "delete", "nightly")
    assert cli.json("schedules", "list", "-o", "json") == []


def test_bad_schedules_exit_1_with_the_reason(sqlite_cli: Cli) -> None:
    for args, message in (
        (("--cron", "61 * * * *"), "does not parse"),
        (("--every", "10", "--cron", "* * * * *"), "one of --every and --cron"),
        (("--at", "tomorrow"), "not an ISO 8601 time"),
        (("--cron", "* * * * *", "--time-zone", "Mars/Base"), "unknown time zone"),
        (("--at", "2030-01-01T00:00:00Z", "--payload", "[1]"), "must be a JSON object"),
    ):
        refused = sqlite_cli("schedules", "create", "x", "--event-type", "t", *args, code=1)
        assert message in refused.stderr, refused.stderr
    assert sqlite_cli.json("schedules", "list", "-o", "json") == []
    missing = sqlite_cli("schedules", "resume-failed", "nope", code=1)
    assert missing.stderr == "error: schedule DEFAULT/nope has no failed job\n"


def _create_due(cli: Cli, count: int) -> None:
    async def create() -> None:
        async with await Chronik.open(cli.settings) as chronik:
            tenant = (await chronik.default_tenant()).id
            at = datetime.now(UTC) - timedelta(seconds=5)
            at_once = asyncio.Semaphore(8)  # a few in flight: the pool's connections overlap

            async def one(i: int) -> None:
                async with at_once:
                    await chronik.schedules.create(
                        Schedule(
                            tenant_id=tenant,
                            name=f"s{i}",
                            event_type="due",
                            rule=TimeRule(kind="once", at=at),
                        )
                    )

            await asyncio.gather(*(one(i) for i in range(count)))

    asyncio.run(create())


def _fired(cli: Cli) -> Counter[str]:
    with cli.api() as chronik:
        tenant = chronik.default_tenant().id
        found: Counter[str] = Counter()
        page = chronik.events.search(tenant, EventQuery(asc=True, limit=5000))
        while page.events:
            found.update(e.aggregate_id for e in page.events)
            page = chronik.events.next_page(tenant, page.paging_token)
    return found


def _count(url: str) -> int:
    """How many events the log holds: a cheap poll (reading them all is the last check)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def test_three_postgres_schedulers_fire_5000_schedules_once_each_despite_a_kill(
    postgres_database: str,
) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_database)
    cli = Cli(Settings(database_url=postgres_database))
    total = 5_000
    _create_due(cli, total)
    lease = ("--schedule-lease-seconds", "2")
    with (
        cli.popen("worker", *lease) as a,
        cli.popen("worker", *lease) as b,
        cli.popen("worker", *lease) as c,
    ):
        deadline = time.monotonic() + TIMEOUT
        while _count(postgres_database) < total // 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        a.send_signal(signal.SIGKILL)
        a.wait(TIMEOUT)
        deadline = time.monotonic() + 2 * TIMEOUT
        while _count(postgres_database) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # a late duplicate would show now
        for worker in (b, c):
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(TIMEOUT) == 0
    fired = _fired(cli)
    assert len(fired) == total
    assert set(fired.values()) == {1}


def test_an_at_in_the_past_is_refused_unless_allowed(sqlite_cli: Cli) -> None:
    refused = sqlite_cli(
        "schedules", "create", "late", "--event-type", "t", "--at", "2026-01-01", code=1
    )
    assert refused.stderr == (
        "error: --at 2026-01-01 is in the past, so the schedule would fire at once: give a "
        "later time, or --allow-past to fire it now\n"
    )
    assert sqlite_cli.json("schedules", "list", "-o", "json") == []


def test_allow_past_creates_a_schedule_that_is_due_at_once(sqlite_cli: Cli) -> None:
    created = sqlite_cli(
        "schedules", "create", "late", "--event-type", "t", "--at", "2026-01-01", "--allow-past"
    )
    assert "it fires next at 2026-01-01T00:00:00+00:00" in created.stderr
    shown = sqlite_cli.json("schedules", "show", "late")
    assert (shown["state"], shown["next_fire_at"]) == ("NORMAL", "2026-01-01T00:00:00Z")
