"""PostgreSQL: the append functions find an aggregate's version through the aggregate's own
index even on a connection that first appended to a near-empty table which has no statistics
yet (a fresh database appended to faster than autovacuum analyses it). The plans PL/pgSQL made
then took the aggregate-type index, read every event of that type, and the connection kept
them: appends ran ~20x slower for good."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from tests.conftest import own_database

from chronik.events.append import prepare
from chronik.records import NewEvent, PendingAppend
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage.postgres.events import PostgresEventStore


@pytest.fixture
def fresh_url() -> Iterator[str]:
    with own_database("chronik_plans") as url:
        yield url


@pytest.fixture
async def fresh(fresh_url: str) -> AsyncIterator[tuple[Chronik, str]]:
    """A fresh database that autovacuum leaves without statistics, and a tenant in it."""
    chronik = await Chronik.open(Settings(database_url=fresh_url))
    try:
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE events SET (autovacuum_enabled = false)")
        yield chronik, (await chronik.tenants.create("plans")).id
    finally:
        await chronik.close()


def _events(*aggregate_ids: str) -> list[NewEvent]:
    return [
        NewEvent(aggregate_type="order", aggregate_id=i, type="order.placed") for i in aggregate_ids
    ]


def _pending(tenant: str, *aggregate_ids: str) -> PendingAppend:
    return prepare(tenant, _events(*aggregate_ids), max_payload_bytes=1 << 20, max_events=100)


async def test_each_append_function_looks_up_versions_by_the_aggregates_index(
    fresh_url: str, fresh: tuple[Chronik, str]
) -> None:
    chronik, tenant = fresh
    store = chronik.db.events
    assert isinstance(store, PostgresEventStore)
    plans: list[str] = []
    async with await psycopg.AsyncConnection.connect(fresh_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        for setting in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on",
            "SET client_min_messages = log",
        ):
            await conn.execute(setting)

        async def append(*appends: PendingAppend) -> None:
            outcomes, call = await store.append_in(conn, appends)
            assert call is not None and all(isinstance(o, list) for o in outcomes), outcomes
            store.committed(call)

        # The connection's first appends (PL/pgSQL plans them then), on a near-empty table.
        await append(_pending(tenant, "first"), _pending(tenant, "second"))
        for i in range(6):
            await append(_pending(tenant, f"one-{i}"))
            await append(_pending(tenant, f"many-{i}", f"many-{i}"))
            await append(_pending(tenant, f"group-{i}"), _pending(tenant, f"group-{i}"))
        # Then the table grows: 40,000 aggregates of the same type, from other connections.
        for start in range(0, 40_000, 10_000):
            await chronik.events.append(tenant, _events(*map(str, range(start, start + 10_000))))
        calls = {
            "chronik_append_one": [_pending(tenant, "7")],
            "chronik_append_many": [_pending(tenant, "8", "9")],
            "chronik_append(": [_pending(tenant, "10"), _pending(tenant, "11")],
        }
        for function, appends in calls.items():
            plans.clear()
            await append(*appends)
            text = "\n".join(plans)
            assert function in text, f"{function} did not run: {text}"
            lookups = [p for p in plans if "aggregate_version" in p and "events ev" in p]
            assert lookups, f"no version lookup among the plans of {function}: {text}"
            for plan in lookups:
                assert "events_aggregate_type" not in plan, plan
                assert "using events_aggregate on events" in plan, plan
