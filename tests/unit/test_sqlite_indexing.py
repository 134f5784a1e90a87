"""SQLite's deferred filter indexes: an event is found by every filter whether an index pass
has taken it yet or not, and pending events do not stay pending."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.contract.test_search import append_number

from chronik import Chronik, NewEvent, Settings
from chronik.errors import Unavailable
from chronik.events import EventQuery
from chronik.records import Event, EventFilter
from chronik.storage import queries, search
from chronik.storage.sqlite import events as sqlite_events
from chronik.storage.sqlite.database import Q
from chronik.storage.sqlite.events import SQLiteEventStore


@pytest.fixture(autouse=True)
def no_index_passes_but_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes run only when a test asks (or at the first commit of a store, and at close)."""
    monkeypatch.setattr(sqlite_events, "INDEX_EVERY", 10**9)
    monkeypatch.setattr(sqlite_events, "INDEX_IDLE_SECONDS", 3600.0)


def _pending(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return int(con.execute("SELECT count(*) FROM events WHERE pending = 1").fetchone()[0])


FILTERS: list[tuple[dict[str, object], Callable[[Event], bool]]] = [
    ({}, lambda e: True),
    ({"event_types": ("user.added",)}, lambda e: e.type == "user.added"),
    (
        {"event_types": ("org.changed", "project.added")},
        lambda e: e.type in ("org.changed", "project.added"),
    ),
    ({"aggregate_types": ("org",)}, lambda e: e.aggregate_type == "org"),
    ({"aggregate_types": ("org", "user")}, lambda e: e.aggregate_type in ("org", "user")),
    ({"aggregate_id": "user-1"}, lambda e: e.aggregate_id == "user-1"),
    ({"editor_user_id": "editor-2"}, lambda e: e.editor_user_id == "editor-2"),
    ({"resource_owner": "owner-1"}, lambda e: e.resource_owner == "owner-1"),
    ({"correlation_id": "conversation-1"}, lambda e: e.correlation_id == "conversation-1"),
]


async def test_every_filter_finds_indexed_and_pending_events_alike(tmp_path: Path) -> None:
    path = tmp_path / "chronik.db"
    async with await Chronik.open(Settings(database_url=f"sqlite:///{path}")) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        other = (await chronik.tenants.create("globex")).id
        stored: list[Event] = []
        for i in range(30):
            stored += await append_number(chronik, tenant, i)
            await append_number(chronik, other, i)
            if i == 14:
                await chronik.db.events.index_pending()  # type: ignore[attr-defined]
        assert 0 < _pending(path) < 60  # some events indexed, the last ones pending

        for filters, wanted in FILTERS:
            expected = [e.sequence for e in stored if wanted(e)]
            for asc in (True, False):
                order = expected if asc else expected[::-1]
                for limit in (1, 4, 100):  # pages that cross the indexed/pending boundary
                    seen: list[int] = []
                    page = await chronik.events.search(
                        tenant,
                        EventQuery(asc=asc, limit=limit, **filters),  # type: ignore[arg-type]
                    )
                    while page.events:
                        seen += [e.sequence for e in page.events]
                        page = await chronik.events.next_page(tenant, page.paging_token)
                    assert seen == order, (filters, asc, limit)

        tail = await chronik.events.stream(tenant, page_size=7)
        followed: list[int] = []
        while tail.events:
            followed += [e.sequence for e in tail.events]
            tail = await chronik.events.next_page(tenant, tail.paging_token)
        assert followed == [e.sequence for e in stored]
        followed = [e.sequence for e in await chronik.db.events.read_after(tenant, 0, 1000)]
        assert followed == [e.sequence for e in stored]
        for event in (stored[3], stored[-1]):
            assert await chronik.events.of_request(tenant, event.request_id) == [event]


async def test_pending_events_left_by_a_crash_are_found_and_indexed_by_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chronik.db"
    settings = Settings(database_url=f"sqlite:///{path}")

    async def crashed(self: SQLiteEventStore) -> None:
        """A process that dies before any index pass (close runs one)."""

    with monkeypatch.context() as patched:
        patched.setattr(SQLiteEventStore, "index_pending", crashed)
        async with await Chronik.open(settings) as chronik:
            tenant = (await chronik.tenants.create("acme")).id
            stored = [e for i in range(6) for e in await append_number(chronik, tenant, i)]
    assert _pending(path) == 6

    async with await Chronik.open(settings) as chronik:
        found = await chronik.events.search(tenant, EventQuery(aggregate_types=("org",)))
        assert [e.sequence for e in found.events] == [
            e.sequence for e in stored[::-1] if e.aggregate_type == "org"
        ]
        await append_number(chronik, tenant, 6)  # the first commit starts an index pass
        await chronik.db.events.index_pending()  # type: ignore[attr-defined]
        assert _pending(path) == 0


async def test_passes_run_by_count_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_events, "INDEX_EVERY", 5)
    path = tmp_path / "chronik.db"
    async with await Chronik.open(Settings(database_url=f"sqlite:///{path}")) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        for i in range(4):
            await append_number(chronik, tenant, i)
        assert _pending(path) >= 3  # below the count: still pending
        await chronik.events.append(
            tenant,
            [NewEvent(aggregate_type="user", aggregate_id="u", type="user.added")] * 5,
        )
        for _ in range(100):
            if not _pending(path):
                break
            await chronik.events.head(tenant)  # lets the loop run the pass
        assert _pending(path) == 0
        await append_number(chronik, tenant, 9)
        assert _pending(path) == 1
    assert _pending(path) == 0


@pytest.mark.parametrize(("filters", "_"), FILTERS)
@pytest.mark.parametrize("asc", [True, False])
def test_a_search_reads_pending_events_by_the_primary_key_only(
    filters: dict[str, object], _: object, asc: bool
) -> None:
    """The pending part of a search is a range of the primary key: never a scan of the
    tenant's events through another index, which grows with the log."""
    con = sqlite3.connect(":memory:")
    for _version, _name, script in queries.migrations("chronik.storage.sqlite"):
        con.executescript(script)
    query = EventFilter(tenant_id="t", limit=10, asc=asc, after=5, **filters)  # type: ignore[arg-type]
    lead, scans = search.split(query)
    for scan in scans:
        sql, params = search.compose(Q, lead, scan, json.dumps)
        params["tenant_key"] = 1
        plan = [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        reads = [step for step in plan if step.startswith(("SEARCH events", "SCAN events"))]
        assert len(reads) == 2, plan
        assert reads[0].startswith("SEARCH events USING INDEX events_"), plan
        assert reads[1] == "SEARCH events USING INTEGER PRIMARY KEY (rowid>?)", plan


async def test_a_failed_pass_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_events, "INDEX_IDLE_SECONDS", 0.01)
    path = tmp_path / "chronik.db"
    async with await Chronik.open(Settings(database_url=f"sqlite:///{path}")) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        db = chronik.db
        write = db.write  # type: ignore[attr-defined]
        failed: list[str] = []

        async def busy_once(fn: Callable[[sqlite3.Connection], object]) -> object:
            if fn.__name__ == "index" and not failed:
                failed.append(fn.__name__)
                raise Unavailable("the database is busy; try again")
            return await write(fn)

        monkeypatch.setattr(db, "write", busy_once)
        await append_number(chronik, tenant, 0)  # its commit starts the first pass: it fails
        for _ in range(200):
            if failed and not _pending(path):
                break
            await asyncio.sleep(0.01)
        assert failed == ["index"]
        assert _pending(path) == 0
