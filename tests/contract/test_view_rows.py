"""Reading a view's rows: pages by key, prefixes, the position the rows reflect, waiting for
a sequence (read your writes), tenant isolation; on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import own_database

from chronik.errors import Conflict, InvalidArgument, NotFound, ViewBehind
from chronik.records import Event, NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.views import Registry, Row, RowPage, Rows, Step, View, ViewRunner


async def put_row(event: Event, rows: Rows) -> None:
    """Each ``row.put`` event stores its payload's value under its payload's key."""
    rows.put(event.payload["key"], event.payload["value"])


def keeping(name: str = "settings", **options: Any) -> View:
    return View(name=name, handler=put_row, event_types=("row.put",), **options)


async def put(chronik: Chronik, tenant: str, rows: dict[str, Any]) -> int:
    """Append one ``row.put`` per row; the sequence of the last."""
    stored = await chronik.events.append(
        tenant,
        [
            NewEvent(
                aggregate_type="row",
                aggregate_id="r",
                type="row.put",
                payload={"key": key, "value": value},
            )
            for key, value in rows.items()
        ],
    )
    return stored[-1].sequence


def runner_of(chronik: Chronik, view: View) -> ViewRunner:
    """A runner of ``view`` this process's Views service does not know of (as another
    process's would be)."""
    registry = Registry()
    registry.add(view)
    return ViewRunner(chronik.db, registry, owner="elsewhere")


async def kept(chronik: Chronik, tenant: str, rows: dict[str, Any], view: View) -> int:
    """Store ``rows`` through ``view`` (registered in this process) and run it; the last
    sequence."""
    if view.name not in {v.name for v in chronik.views.registry}:
        chronik.views.registry.add(view)
    last = await put(chronik, tenant, rows) if rows else 0
    await runner_of(chronik, view).catch_up(view, tenant)
    return last


async def all_pages(chronik: Chronik, tenant: str, **query: Any) -> list[RowPage]:
    pages = [await chronik.views.rows(tenant, "settings", **query)]
    while pages[-1].paging_token:
        pages.append(
            await chronik.views.rows(
                tenant,
                "settings",
                paging_token=pages[-1].paging_token,
                page_size=query.get("page_size", 100),
            )
        )
    return pages


async def test_rows_come_in_pages_by_key_in_code_point_order(chronik: Chronik, tenant: str) -> None:
    keys = ["b", "a", "ä", "Z", "a/b", "é", "", "\U0001f600", "ab"]
    await kept(chronik, tenant, {k: i for i, k in enumerate(keys)}, keeping())

    pages = await all_pages(chronik, tenant, page_size=4)

    assert [[r.key for r in p.rows] for p in pages] == [
        ["", "Z", "a", "a/b"],
        ["ab", "b", "ä", "é"],
        ["\U0001f600"],
    ]
    assert [r.value for p in pages for r in p.rows] == [keys.index(k) for k in sorted(keys)]


async def test_a_last_full_page_has_no_paging_token(chronik: Chronik, tenant: str) -> None:
    await kept(chronik, tenant, {f"k{i}": i for i in range(4)}, keeping())

    pages = await all_pages(chronik, tenant, page_size=2)

    assert [len(p.rows) for p in pages] == [2, 2]
    assert pages[-1].paging_token == ""


async def test_a_prefix_reads_exactly_the_keys_that_start_with_it(
    chronik: Chronik, tenant: str
) -> None:
    keys = ["use", "user:", "user:1", "user:2/x", "user:\U0010ffff", "user;", "userx", "v"]
    await kept(chronik, tenant, dict.fromkeys(keys, True), keeping())

    pages = await all_pages(chronik, tenant, prefix="user:", page_size=2)

    assert [r.key for p in pages for r in p.rows] == [
        "user:",
        "user:1",
        "user:2/x",
        "user:\U0010ffff",
    ]


async def test_a_prefix_of_the_last_character_reads_to_the_end(
    chronik: Chronik, tenant: str
) -> None:
    keys = ["\U0010ffff", "\U0010ffffa", "\U0010ffff\U0010ffff", "\U0010fffe", "z"]
    await kept(chronik, tenant, dict.fromkeys(keys, 1), keeping())

    page = await chronik.views.rows(tenant, "settings", prefix="\U0010ffff")

    assert [r.key for r in page.rows] == ["\U0010ffff", "\U0010ffffa", "\U0010ffff\U0010ffff"]


async def test_a_paging_token_goes_on_with_its_own_prefix(chronik: Chronik, tenant: str) -> None:
    await kept(chronik, tenant, {"a1": 1, "a2": 2, "a3": 3, "b1": 4}, keeping())
    first = await chronik.views.rows(tenant, "settings", prefix="a", page_size=2)

    same = await chronik.views.rows(tenant, "settings", prefix="a", paging_token=first.paging_token)
    alone = await chronik.views.rows(tenant, "settings", paging_token=first.paging_token)

    assert [r.key for r in same.rows] == [r.key for r in alone.rows] == ["a3"]


async def test_a_paging_token_with_another_prefix_is_refused(chronik: Chronik, tenant: str) -> None:
    await kept(chronik, tenant, {"a1": 1, "a2": 2}, keeping())
    first = await chronik.views.rows(tenant, "settings", prefix="a", page_size=1)

    with pytest.raises(InvalidArgument) as raised:
        await chronik.views.rows(tenant, "settings", prefix="b", paging_token=first.paging_token)
    assert raised.value.details == {"field": "prefix"}


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t + "A",
        lambda t: t[:-1],
        lambda t: t[:-1] + ("B" if t[-1] != "B" else "C"),
        lambda t: t + "=",
        lambda t: "not a token",
        lambda t: "é" + t,
    ],
    ids=["longer", "shorter", "changed", "padded", "garbage", "not-ascii"],
)
async def test_an_altered_paging_token_is_refused(
    chronik: Chronik, tenant: str, alter: Any
) -> None:
    await kept(chronik, tenant, {"a1": 1, "a2": 2, "a3": 3}, keeping())
    token = (await chronik.views.rows(tenant, "settings", page_size=1)).paging_token

    with pytest.raises(InvalidArgument) as raised:
        await chronik.views.rows(tenant, "settings", paging_token=alter(token))
    assert raised.value.details == {"field": "pagingToken"}


async def test_a_paging_token_of_another_view_is_refused(chronik: Chronik, tenant: str) -> None:
    await kept(chronik, tenant, {"a1": 1, "a2": 2}, keeping())
    await kept(chronik, tenant, {}, keeping("other"))
    token = (await chronik.views.rows(tenant, "settings", page_size=1)).paging_token

    with pytest.raises(InvalidArgument):
        await chronik.views.rows(tenant, "other", paging_token=token)


async def test_one_row_is_read_by_its_key(chronik: Chronik, tenant: str) -> None:
    last = await kept(
        chronik, tenant, {"theme": {"dark": True}, "themes": [1], "them": None}, keeping()
    )

    assert await chronik.views.row(tenant, "settings", "theme") == Row(
        "theme", {"dark": True}, last
    )
    assert (await chronik.views.row(tenant, "settings", "them")).value is None


async def test_a_missing_key_is_not_found(chronik: Chronik, tenant: str) -> None:
    await kept(chronik, tenant, {"themes": 1}, keeping())

    with pytest.raises(NotFound, match="has no row 'theme'"):
        await chronik.views.row(tenant, "settings", "theme")


async def test_an_unknown_view_is_not_found(chronik: Chronik, tenant: str) -> None:
    with pytest.raises(NotFound, match="view 'nothing' not found"):
        await chronik.views.rows(tenant, "nothing")
    with pytest.raises(NotFound, match="view 'nothing' not found"):
        await chronik.views.row(tenant, "nothing", "k", min_sequence=1, wait_seconds=30)


async def test_a_registered_view_that_never_ran_has_no_rows_at_position_0(
    chronik: Chronik, tenant: str
) -> None:
    chronik.views.registry.add(keeping())

    assert await chronik.views.rows(tenant, "settings") == RowPage(rows=[], position=0)


async def test_rows_of_a_view_this_process_does_not_register_are_readable(
    chronik: Chronik, tenant: str
) -> None:
    view = keeping()
    last = await put(chronik, tenant, {"k": "v"})
    await runner_of(chronik, view).catch_up(view, tenant)

    assert (await chronik.views.rows(tenant, "settings")).rows == [Row("k", "v", last)]


async def test_the_position_is_the_one_the_rows_reflect(chronik: Chronik, tenant: str) -> None:
    """Between batches, a page tells the position of the batch its rows came from."""

    async def count(event: Event, rows: Rows) -> None:
        rows.put("count", await rows.get("count", 0) + 1)
        rows.put("last", event.sequence)

    view = View(name="settings", handler=count, batch=2)
    chronik.views.registry.add(view)
    sequences = [
        e.sequence
        for e in await chronik.events.append(
            tenant, [NewEvent(aggregate_type="a", aggregate_id="1", type="t") for _ in range(5)]
        )
    ]
    runner = runner_of(chronik, view)

    for handled in (2, 4, 5):
        assert await runner.step(view, tenant) is Step.PROGRESSED
        page = await chronik.views.rows(tenant, "settings")
        assert page.position == sequences[handled - 1]
        assert {r.key: r.value for r in page.rows} == {"count": handled, "last": page.position}
        assert all(r.position == page.position for r in page.rows)


async def test_a_tenant_reads_only_its_own_rows(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    view = keeping()
    await kept(chronik, tenant, {"mine": 1}, view)
    await kept(chronik, other_tenant, {"theirs": 2}, view)

    assert [r.key for r in (await chronik.views.rows(tenant, "settings")).rows] == ["mine"]
    with pytest.raises(NotFound):
        await chronik.views.row(tenant, "settings", "theirs")


async def test_a_view_only_another_tenant_ran_is_unknown_to_a_tenant(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    view = keeping()
    await put(chronik, other_tenant, {"theirs": 2})
    await runner_of(chronik, view).catch_up(view, other_tenant)

    with pytest.raises(NotFound):
        await chronik.views.rows(tenant, "settings")


async def test_a_token_of_another_tenant_reads_only_this_tenant(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    view = keeping()
    await kept(chronik, tenant, {"a": 1, "c": 3}, view)
    await kept(chronik, other_tenant, {"a": 1, "b": 2}, view)
    token = (await chronik.views.rows(other_tenant, "settings", page_size=1)).paging_token

    page = await chronik.views.rows(tenant, "settings", paging_token=token)

    assert [(r.key, r.value) for r in page.rows] == [("c", 3)]


async def test_a_read_waits_until_the_view_reaches_min_sequence(
    chronik: Chronik, tenant: str
) -> None:
    """The view runs in "another process" (a runner the Views service does not know): the
    read sees its stored position move."""
    view = keeping()
    await kept(chronik, tenant, {"theme": "light"}, view)
    written = await put(chronik, tenant, {"theme": "dark"})

    page, row, _ = await asyncio.gather(
        chronik.views.rows(tenant, "settings", min_sequence=written, wait_seconds=30),
        chronik.views.row(tenant, "settings", "theme", min_sequence=written, wait_seconds=30),
        runner_of(chronik, view).catch_up(view, tenant),
    )

    assert page.rows == [Row("theme", "dark", written)] and page.position == written
    assert row == Row("theme", "dark", written)


async def test_a_read_waits_on_the_runner_of_its_own_process(chronik: Chronik, tenant: str) -> None:
    view = keeping()
    await kept(chronik, tenant, {}, view)
    written = await put(chronik, tenant, {"theme": "dark"})
    runner = chronik.views.runner = runner_of(chronik, view)

    row, _ = await asyncio.gather(
        chronik.views.row(tenant, "settings", "theme", min_sequence=written, wait_seconds=30),
        runner.catch_up(view, tenant),
    )

    assert row == Row("theme", "dark", written)


async def test_a_view_behind_min_sequence_in_time_is_a_conflict_with_its_position(
    chronik: Chronik, tenant: str
) -> None:
    view = keeping()
    reached = await kept(chronik, tenant, {"theme": "light"}, view)
    written = await put(chronik, tenant, {"theme": "dark"})

    with pytest.raises(ViewBehind) as raised:
        await chronik.views.rows(tenant, "settings", min_sequence=written, wait_seconds=0)
    assert isinstance(raised.value, Conflict)
    assert (raised.value.position, raised.value.min_sequence) == (reached, written)
    assert raised.value.details == {"position": str(reached), "min_sequence": str(written)}


async def test_a_paused_view_never_reaches_min_sequence(chronik: Chronik, tenant: str) -> None:
    view = keeping()
    await kept(chronik, tenant, {}, view)
    await chronik.views.pause(tenant, "settings")
    written = await put(chronik, tenant, {"theme": "dark"})
    await runner_of(chronik, view).catch_up(view, tenant)

    with pytest.raises(ViewBehind):
        await chronik.views.row(tenant, "settings", "theme", min_sequence=written, wait_seconds=0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 0}, "pageSize"),
        ({"page_size": 1001}, "pageSize"),
        ({"min_sequence": -1}, "minSequence"),
        ({"wait_seconds": -1}, "waitSeconds"),
        ({"wait_seconds": float("nan")}, "waitSeconds"),
        ({"wait_seconds": float("inf")}, "waitSeconds"),
        ({"prefix": "\ud800"}, "prefix"),
    ],
)
async def test_a_read_that_cannot_be_answered_is_an_invalid_argument(
    chronik: Chronik, tenant: str, query: dict[str, Any], field: str
) -> None:
    chronik.views.registry.add(keeping())

    with pytest.raises(InvalidArgument) as raised:
        await chronik.views.rows(tenant, "settings", **query)
    assert raised.value.details == {"field": field}


async def test_a_key_with_an_unpaired_surrogate_is_an_invalid_argument(
    chronik: Chronik, tenant: str
) -> None:
    chronik.views.registry.add(keeping())

    with pytest.raises(InvalidArgument):
        await chronik.views.row(tenant, "settings", "\udfff")


@pytest.fixture
def icu_database_url() -> Iterator[str]:
    """A PostgreSQL database whose collation (ICU's en-US) does not compare by code point:
    "a" < "ä" < "a-b" < "ab" < "b" < "B"."""
    with own_database(
        "chronik_icu",
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
    ) as url:
        yield url


async def test_keys_compare_by_code_point_whatever_the_postgres_collation(
    icu_database_url: str,
) -> None:
    keys = ["a", "B", "-z", "ä", "b", "a-b", "ab"]
    async with await Chronik.open(Settings(database_url=icu_database_url)) as chronik:
        tenant = (await chronik.tenants.create("acme")).id
        await kept(chronik, tenant, dict.fromkeys(keys, 1), keeping())

        pages = await all_pages(chronik, tenant, page_size=3)
        prefixed = await chronik.views.rows(tenant, "settings", prefix="a")

    assert [r.key for p in pages for r in p.rows] == sorted(keys)
    assert [r.key for r in prefixed.rows] == ["a", "a-b", "ab"]
