"""SQLite leads a search with the narrowest of the query's wider columns, found by a bounded
probe of each one's index: a common type asked with an editor who wrote none of it walks
the editor's (empty) index, not the type's."""

from __future__ import annotations

from pathlib import Path

from chronik import Chronik, NewEvent, Settings
from chronik.events import EventQuery
from chronik.records import Editor, EventFilter
from chronik.storage import search
from chronik.storage.sqlite.database import SQLiteDatabase
from chronik.storage.sqlite.events import _narrowest


async def test_the_narrowest_column_leads_and_finds_the_same(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'chronik.db'}")
    async with await Chronik.open(settings) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        common = [
            NewEvent(aggregate_type="user", aggregate_id=f"u{i}", type="common") for i in range(500)
        ]
        for _ in range(search.PROBE // 500 + 1):  # more than a probe counts
            await chronik.events.append(tenant, common, editor=Editor(user_id="busy"))
        rare = [NewEvent(aggregate_type="org", aggregate_id="o", type="rare")]
        await chronik.events.append(tenant, rare, editor=Editor(user_id="quiet"))
    async with await Chronik.open(settings) as chronik:  # closed once: every event indexed
        db = chronik.db
        assert isinstance(db, SQLiteDatabase)

        async def lead(**filters: object) -> search.Lead | None:
            query = EventFilter(tenant_id=tenant, asc=False, limit=50, **filters)  # type: ignore[arg-type]
            return await db.read(lambda con: _narrowest(con, db.keys.key(con, tenant), query))

        assert await lead(event_types=("common",), editor_user_id="nobody") == "editor"
        assert await lead(event_types=("rare",), editor_user_id="busy") == "event_type"
        assert await lead(event_types=("common",), aggregate_types=("org",)) == "aggregate_type"
        assert await lead(event_types=("common",)) is None  # nothing to choose
        assert await lead(aggregate_id="o", event_types=("common",), editor_user_id="x") is None

        led_by_editor = EventQuery(event_types=("common", "rare"), editor_user_id="quiet")
        found = await chronik.events.search(tenant, led_by_editor)
        assert [(e.type, e.aggregate_id) for e in found.events] == [("rare", "o")]
