"""Upgrading a database numbered across tenants (SQLite 0011, PostgreSQL 0014) to sequences
per tenant keeps each tenant's events in their order and moves every stored position with
them; a paging token made before is refused with a message that says what to do."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from chronik.errors import InvalidArgument
from chronik.events import paging
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage import queries

BEFORE = {"sqlite": 11, "postgres": 14}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Global sequences 1..9, alternating between the tenants as the old numbering did.
OWNERS = [1, 2, 1, 1, 2, 1, 2, 2, 1]


def _old_database(backend: str, url: str) -> None:
    """The schema as of ``BEFORE`` with nine events of two tenants and positions into them."""
    package = f"chronik.storage.{backend}"
    steps = [s for s in queries.migrations(package) if s[0] <= BEFORE[backend]]
    rows = [
        (
            seq,
            tenant,
            f"01J{seq:023d}",
            "user",
            f"u{seq}",
            1,
            "org",
            "user.added",
            1,
            f'{{"n": {seq}}}',
            "",
            "",
            f"01R{seq:023d}",
            T0 + timedelta(seconds=seq),
        )
        for seq, tenant in enumerate(OWNERS, 1)
    ]
    positions = [("counts", 1, "chronik", 6), ("counts", 2, "chronik", 7)]
    failed = [
        ("counts", 1, 4, "chronik", 1, "boom", T0, T0),
        ("counts", 2, 8, "chronik", 2, "x", T0, T0),
    ]
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE chronik_schema (version INTEGER NOT NULL)")
            con.execute("INSERT INTO chronik_schema VALUES (?)", (BEFORE[backend],))
            for _, _, script in steps:
                con.executescript(script)
            con.executemany(
                "INSERT INTO tenants (key, id, name, created_at) VALUES (?, ?, ?, 0)",
                [(1, "t-one", "one"), (2, "t-two", "two")],
            )
            con.executemany(
                "INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,"
                " aggregate_version, resource_owner, type, revision, payload, editor_user_id,"
                " editor_service, request_id, created_at) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r[:13], int(r[13].timestamp() * 1_000_000)) for r in rows],
            )
            con.execute("UPDATE event_index_position SET upto = 9")
            con.executemany(
                "INSERT INTO view_positions (view, tenant_key, database, position)"
                " VALUES (?, ?, ?, ?)",
                positions,
            )
            con.executemany(
                "INSERT INTO failed_events (view, tenant_key, sequence, database, failure_count,"
                " error, first_failed, last_failed) VALUES (?, ?, ?, ?, ?, ?, 0, 0)",
                [f[:6] for f in failed],
            )
        return
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("CREATE TABLE chronik_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO chronik_schema VALUES (%s)", (BEFORE[backend],))
        for _, _, script in steps:
            conn.execute(script.encode())
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES"
            " ('t-one', 'one', now()), ('t-two', 'two', now())"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (sequence, tenant_key, locator, aggregate_type, aggregate_id,"
                " aggregate_version, resource_owner, type, revision, payload, editor_user_id,"
                " editor_service, request_id, created_at) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            cur.executemany(
                "INSERT INTO view_positions (view, tenant_key, database, position)"
                " VALUES (%s, %s, %s, %s)",
                positions,
            )
            cur.executemany(
                "INSERT INTO failed_events (view, tenant_key, sequence, database, failure_count,"
                " error, first_failed, last_failed) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                failed,
            )


@pytest.fixture
async def upgraded(backend: str, empty_database_url: str) -> Any:
    _old_database(backend, empty_database_url)
    chronik = await Chronik.open(Settings(database_url=empty_database_url))
    try:
        yield chronik
    finally:
        await chronik.close()


async def test_each_tenants_events_are_numbered_from_one_in_their_order(upgraded: Chronik) -> None:
    for tenant, old in (("t-one", [1, 3, 4, 6, 9]), ("t-two", [2, 5, 7, 8])):
        events = await upgraded.db.events.read_after(tenant, 0, 100)
        assert [e.aggregate_id for e in events] == [f"u{s}" for s in old]
        assert [e.sequence for e in events] == list(range(1, len(old) + 1))
        assert await upgraded.events.head(tenant) == len(old)


async def test_positions_and_failed_events_move_to_the_new_numbers(upgraded: Chronik) -> None:
    # t-one's view had taken global 1..6: its events u1, u3, u4, u6 (now 1..4); t-two's up
    # to global 7: u2, u5, u7 (now 1..3).
    for tenant, position in (("t-one", 4), ("t-two", 3)):
        state = await upgraded.db.views.state("counts", tenant)
        assert state is not None and state.position == position
    failed_one = await upgraded.db.views.failed("t-one", view="counts")
    failed_two = await upgraded.db.views.failed("t-two", view="counts")
    # Global 4 was t-one's third event; global 8 is t-two's fourth.
    assert [(f.sequence, f.error) for f in failed_one] == [(3, "boom")]
    assert [(f.sequence, f.error) for f in failed_two] == [(4, "x")]


async def test_the_next_append_continues_each_tenants_numbers(upgraded: Chronik) -> None:
    [event] = await upgraded.events.append(
        "t-two", [NewEvent(aggregate_type="user", aggregate_id="u7", type="user.renamed")]
    )
    assert (event.sequence, event.aggregate_version) == (5, 2)


def test_a_paging_token_from_before_is_refused_with_what_to_do() -> None:
    key = b"k" * 32
    cursor = paging.Cursor(tenant_id="t", asc=True, limit=10, position=40)
    token = paging.encode(cursor, key)
    body, _ = token.split(".")
    old = b"1" + paging.unb64(body)[1:]
    mac = hmac.new(key, old, hashlib.sha256).digest()[:16]
    with pytest.raises(InvalidArgument, match="start again without it") as refused:
        paging.decode(f"{paging.b64(old)}.{paging.b64(mac)}", key, "t")
    assert refused.value.details["field"] == "pagingToken"
    assert paging.decode(token, key, "t") == cursor
