"""Tenants placed across PostgreSQL databases: where new tenants go, that each tenant's rows
live in its database only, and moves (with writers and readers on other nodes, interrupted,
called off) that lose and duplicate nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.conftest import BACKENDS, _reset_postgres, own_database, unavailable
from tests.contract.test_views import Clock, counting_view, runner_for, seen

from chronik.errors import FailedPrecondition, InvalidArgument, TenantMoved, Unavailable
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.storage.placement import PlacedDatabase
from chronik.storage.postgres import placement as pg

TABLES = ("events", *pg.RECORDS)


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str, str]]:
    if "postgres" not in BACKENDS:
        unavailable("tenant placement needs PostgreSQL (CHRONIK_TEST_BACKENDS lacks postgres)")
    with (
        own_database("chronik_dir") as directory,
        own_database("chronik_a") as a,
        own_database("chronik_b") as b,
    ):
        yield directory, a, b


@pytest.fixture(scope="module")
def second_server() -> Iterator[str]:
    """A PostgreSQL server of this module's own (initdb and pg_ctl of the installed one, on a
    free port), to move tenants between servers; the URL of its database ``postgres``."""
    pg_config = shutil.which("pg_config")
    bindir = Path(
        subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if pg_config
        else "/nonexistent"
    )
    if not (bindir / "initdb").exists():
        unavailable("no initdb to start a second PostgreSQL server (pg_config --bindir)")
    data = tempfile.mkdtemp(prefix="chronik-pg2-", dir="/tmp")
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
        shutil.chown(data, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    initdb = [str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]
    subprocess.run([*as_owner, *initdb], check=True, capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", data]
    subprocess.run([*pg_ctl, "-w", "-l", f"{data}/log", "-o", options, "start"], check=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def placed_settings(databases: tuple[str, str, str]) -> Settings:
    for url in databases:
        _reset_postgres(url)
    directory, a, b = databases
    return Settings(
        database_url=directory,
        tenant_databases=(a, b),
        follow_poll_seconds=0.05,
        placement_cache_seconds=0.2,
        tenant_move_wait_seconds=20,
    )


@pytest.fixture
async def node(placed_settings: Settings) -> AsyncIterator[Chronik]:
    async with await Chronik.open(placed_settings) as opened:
        yield opened


def placed(chronik: Chronik) -> PlacedDatabase:
    assert isinstance(chronik.db, PlacedDatabase)
    return chronik.db


def rows(url: str, tenant_id: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tenant in every table of the database at ``url``, without its
    (database-local) tenant key."""
    found: dict[str, list[tuple[object, ...]]] = {}
    with psycopg.connect(url) as conn:
        key = conn.execute("SELECT key FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
        for table in TABLES:
            if key is None:
                found[table] = []
                continue
            query = sql.SQL("SELECT * FROM {} WHERE tenant_key = %s").format(sql.Identifier(table))
            cur = conn.execute(query, (key[0],))
            names = [c.name for c in cur.description or ()]
            found[table] = sorted(
                (tuple(v for n, v in zip(names, r, strict=True) if n != "tenant_key") for r in cur),
                key=repr,
            )
    return found


def events(n: int, name: str = "o") -> list[NewEvent]:
    return [
        NewEvent(aggregate_type="order", aggregate_id=f"{name}{i % 3}", type="order.placed")
        for i in range(n)
    ]


async def test_new_tenants_go_to_the_database_holding_the_fewest(
    databases: tuple[str, str, str], node: Chronik
) -> None:
    directory, a, b = databases
    first = await node.tenants.create("first")
    second = await node.tenants.create("second")
    third = await node.tenants.create("third")
    where = await node.placements()
    assert [where[t.id] for t in (first, second, third)] == [
        pg.identity(a),
        pg.identity(b),
        pg.identity(a),
    ]
    for tenant in (first, second):
        await node.events.append(tenant.id, events(3, tenant.name))
    # Each tenant's events are in its database only; the directory holds none.
    assert len(rows(a, first.id)["events"]) == 3 and rows(b, first.id)["events"] == []
    assert len(rows(b, second.id)["events"]) == 3 and rows(a, second.id)["events"] == []
    assert rows(directory, first.id)["events"] == rows(directory, second.id)["events"] == []
    # Names are unique across the databases: the directory holds every tenant.
    with pytest.raises(Exception, match="exists"):
        await node.tenants.create("second")
    assert [t.name for t in await node.tenants.list()] == ["first", "second", "third"]


async def test_a_node_not_given_the_tenant_databases_cannot_write_a_placed_tenant(
    placed_settings: Settings, node: Chronik
) -> None:
    tenant = await node.tenants.create("acme")
    lone = dataclasses.replace(placed_settings, tenant_databases=())
    async with await Chronik.open(lone) as wrong:
        with pytest.raises(TenantMoved, match="--tenant-databases"):
            await wrong.events.append(tenant.id, events(1))
    assert await node.events.head(tenant.id) == 0


async def test_tenants_from_before_placement_stay_in_the_directory_until_moved(
    databases: tuple[str, str, str], placed_settings: Settings
) -> None:
    directory, a, _ = databases
    lone = dataclasses.replace(placed_settings, tenant_databases=())
    async with await Chronik.open(lone) as before:
        old = await before.tenants.create("old")
        stored = await before.events.append(old.id, events(4))
    async with await Chronik.open(placed_settings) as node:
        assert (await node.placements())[old.id] == pg.identity(directory)
        assert [e.locator for e in await node.db.events.read_after(old.id, 0, 10)] == [
            e.locator for e in stored
        ]
        moved = await node.move_tenant("old", a)
        assert (moved.outcome, moved.events) == ("moved", 4)
        assert (await node.placements())[old.id] == pg.identity(a)
        assert rows(directory, old.id)["events"] == []
        await node.events.append(old.id, events(1))
        assert await node.events.head(old.id) == 5


async def test_a_move_carries_every_row_of_the_tenant_and_its_views_go_on(
    databases: tuple[str, str, str], node: Chronik
) -> None:
    _, a, b = databases
    tenant = (await node.tenants.create("acme")).id
    other = (await node.tenants.create("globex")).id
    assert (await node.placements())[tenant] == pg.identity(a)
    await node.events.append(tenant, events(5))
    await node.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id="u1", type="user.added")] * 3
    )
    clock = Clock()
    view = counting_view()
    runner = runner_for(node, view, clock)
    await runner.catch_up(view, tenant)
    await runner.release()
    before = rows(a, tenant)
    assert before["view_rows"] and before["view_positions"] and before["event_names"]

    moved = await node.move_tenant(tenant, pg.identity(b))

    assert (moved.source, moved.target, moved.events) == (pg.identity(a), pg.identity(b), 8)
    assert rows(b, tenant) == before
    assert all(found == [] for found in rows(a, tenant).values())
    assert (await node.placements())[other] == pg.identity(b)  # others stay where they were
    # The log and the view go on from where they were.
    more = await node.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id="u2", type="user.added")]
    )
    assert more[0].sequence == 9
    await runner_for(node, view, clock, owner="after-the-move").catch_up(view, tenant)
    assert await seen(node, tenant) == [6, 7, 8, 9]


async def test_a_move_under_load_loses_and_duplicates_nothing(
    databases: tuple[str, str, str], placed_settings: Settings, node: Chronik
) -> None:
    await _move_under_load(placed_settings, node, databases[1], databases[2])


async def test_a_move_to_another_server_and_back_under_load(
    databases: tuple[str, str, str], placed_settings: Settings, second_server: str
) -> None:
    _reset_postgres(second_server)
    settings = dataclasses.replace(placed_settings, tenant_databases=(databases[1], second_server))
    async with await Chronik.open(settings) as node:
        await _move_under_load(settings, node, databases[1], second_server)
        tenant = (await node.tenants.get("busy")).id
        head = await node.events.head(tenant)
        back = await node.move_tenant(tenant, databases[1])
        assert (back.outcome, back.events) == ("moved", head)
        assert rows(second_server, tenant)["events"] == []


async def _move_under_load(settings: Settings, node: Chronik, a: str, b: str) -> None:
    """Writers on two other nodes (each with its own cached placement) and a follower on a
    third keep going through a move from ``a`` to ``b``; every acknowledged event is in the
    target once, the tenant's sequence stays dense, and the follower saw each event once, in
    order."""
    tenant = (await node.tenants.create("busy")).id
    assert (await node.placements())[tenant] == pg.identity(a)
    await node.events.append(tenant, events(2000))
    writers = [await Chronik.open(settings, migrate=False) for _ in range(2)]
    follower = await Chronik.open(settings, migrate=False)
    acknowledged: list[str] = []
    followed: list[int] = []
    stop, under_way = asyncio.Event(), asyncio.Event()

    async def write(chronik: Chronik, name: str) -> None:
        i = 0
        while not stop.is_set():
            stored = await chronik.events.append(tenant, events(1 + i % 3, f"{name}{i}"))
            acknowledged.extend(e.locator for e in stored)
            if len(acknowledged) >= 200:
                under_way.set()
            i += 1

    async def follow() -> None:
        async for event in follower.events.follow(tenant, after=0):
            followed.append(event.sequence)

    try:
        reading = asyncio.create_task(follow())
        writing = [
            asyncio.create_task(write(chronik, f"w{n}-{k}"))
            for n, chronik in enumerate(writers)
            for k in range(3)
        ]
        await asyncio.wait_for(under_way.wait(), 30)
        moved = await node.move_tenant(tenant, b)
        copied_while_writing = moved.events - 2000
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*writing)
        head = await node.events.head(tenant)
        for _ in range(200):
            if followed and followed[-1] == head:
                break
            await asyncio.sleep(0.05)
        reading.cancel()
    finally:
        for chronik in (*writers, follower):
            await chronik.close()

    stored = await node.db.events.read_after(tenant, 0, 1_000_000)
    assert [e.sequence for e in stored] == list(range(1, head + 1))
    assert sorted(e.locator for e in stored[2000:]) == sorted(acknowledged)
    assert followed == list(range(1, head + 1))
    assert moved.outcome == "moved" and len(acknowledged) >= copied_while_writing >= 200
    assert rows(a, tenant)["events"] == []


@pytest.mark.parametrize("step", ["copy_events", "copy_records", "clear"])
async def test_an_interrupted_move_is_finished_by_running_it_again(
    databases: tuple[str, str, str],
    placed_settings: Settings,
    node: Chronik,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    """The mover dies while copying the events (writes go on), after fencing the source
    (writes wait), or after the cutover (the source's rows are left behind)."""
    _, a, b = databases
    tenant = (await node.tenants.create("acme")).id
    stored = await node.events.append(tenant, events(30))
    before = rows(a, tenant)
    real = getattr(pg, step)
    calls = 0

    async def die(*args: object) -> object:
        nonlocal calls
        calls += 1
        if step == "copy_events":  # a third of the events copied
            source, target, tenant_id, _, batch = args
            await real(source, target, tenant_id, 10, batch)
        elif step == "clear" and calls == 1:  # (wiping the target before the copy)
            return await real(*args)
        raise ConnectionError("the mover died")

    monkeypatch.setattr(pg, step, die)
    with pytest.raises(ConnectionError):
        await placed(node).move(tenant, b, batch=4, grace_seconds=0)
    monkeypatch.setattr(pg, step, real)

    assert [e.locator for e in await node.db.events.read_after(tenant, 0, 100)] == [
        e.locator for e in stored
    ]  # reads go on
    short = dataclasses.replace(placed_settings, tenant_move_wait_seconds=0.3)
    async with await Chronik.open(short, migrate=False) as impatient:
        if step == "copy_records":
            with pytest.raises(Unavailable, match="being moved"):
                await impatient.events.append(tenant, events(1))
        else:
            await impatient.events.append(tenant, events(1))

    moved = await placed(node).move(tenant, b, batch=4, grace_seconds=0)

    assert moved.outcome == ("already there" if step == "clear" else "moved")
    after = rows(b, tenant)
    assert len(after["events"]) == 30 if step == "copy_records" else 31
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert all(found == [] for found in rows(a, tenant).values())
    assert (await node.placements())[tenant] == pg.identity(b)
    assert await node.events.head(tenant) == len(after["events"])


async def test_a_move_under_way_can_be_called_off(
    databases: tuple[str, str, str], node: Chronik, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, a, b = databases
    tenant = (await node.tenants.create("acme")).id
    await node.events.append(tenant, events(5))

    async def crash(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the mover died")

    with monkeypatch.context() as patched:
        patched.setattr(pg, "copy_records", crash)
        with pytest.raises(ConnectionError):
            await node.move_tenant(tenant, b)
    assert (await node.placements())[tenant] == f"{pg.identity(a)} -> {pg.identity(b)}"
    with pytest.raises(FailedPrecondition, match="finish that move"):
        await node.move_tenant(tenant, placed(node).home)

    called_off = await node.move_tenant(tenant, a)

    assert called_off.outcome == "abandoned"
    assert (await node.placements())[tenant] == pg.identity(a)
    await node.events.append(tenant, events(1))  # the source takes writes again
    assert await node.events.head(tenant) == 6
    assert all(found == [] for found in rows(b, tenant).values())


async def test_moves_refuse_what_is_not_a_tenant_database_and_a_second_mover(
    databases: tuple[str, str, str], node: Chronik
) -> None:
    acme = await node.tenants.create("acme")
    async with placed(node).directory.mover(acme.id):  # another process is moving it
        with pytest.raises(FailedPrecondition, match="another process is moving"):
            await node.move_tenant("acme", databases[2])
    with pytest.raises(InvalidArgument, match="not one of this node's databases"):
        await node.move_tenant("acme", "postgresql://postgres@127.0.0.1:5432/elsewhere")
    with pytest.raises(Exception, match="not found"):
        await node.move_tenant("nobody", placed(node).home)


async def test_placement_takes_postgresql_databases_only(placed_settings: Settings) -> None:
    wrong = dataclasses.replace(placed_settings, tenant_databases=("sqlite:///x.db",))
    with pytest.raises(InvalidArgument, match="PostgreSQL databases only"):
        await Chronik.open(wrong)
    malformed = dataclasses.replace(placed_settings, tenant_databases=("postgresql://[bad",))
    with pytest.raises(InvalidArgument, match="not a PostgreSQL URL"):
        await Chronik.open(malformed)
    plain = dataclasses.replace(placed_settings, tenant_databases=())
    async with await Chronik.open(plain) as lone:
        with pytest.raises(FailedPrecondition, match="--tenant-databases"):
            await lone.move_tenant("default", "x")
