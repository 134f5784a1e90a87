"""A view's rows over the native API: ``GET /v1/views/{name}/rows`` (pages, prefix, paging
token) and ``GET /v1/views/{name}/rows/{key}``, the position they reflect, read-your-writes
with ``minSequence``, permissions, other tenants, ugly inputs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from chronik.records import Event, NewEvent
from chronik.services import Chronik
from chronik.views import Registry, Rows, View, ViewRunner
from tests.api.helpers import Headers, append, native_error, new_event


async def put_row(event: Event, rows: Rows) -> None:
    rows.put(event.payload["key"], event.payload["value"])


VIEW = View(name="settings", handler=put_row, event_types=("row.put",))


async def run(chronik: Chronik, tenant: str) -> None:
    """Run the view as another process would (this one's Views service does not run it)."""
    registry = Registry()
    registry.add(VIEW)
    await ViewRunner(chronik.db, registry, owner="elsewhere").catch_up(VIEW, tenant)


async def keep(chronik: Chronik, tenant: str, rows: dict[str, Any]) -> int:
    """Store ``rows`` through the view and run it; the tenant's head."""
    await chronik.events.append(
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
    await run(chronik, tenant)
    return await chronik.events.head(tenant)


@pytest.fixture
async def stored(chronik: Chronik, tenant: str) -> int:
    """``settings`` holds five rows in ``tenant``; it is not registered in this process."""
    return await keep(
        chronik,
        tenant,
        {"theme": "dark", "user:1": {"n": 1}, "user:2": [2], "user:3/x": None, "zé ro": 0},
    )


def rows_url(*parts: str, view: str = "settings") -> str:
    return "/".join(
        ["/v1/views", quote(view, safe=""), "rows", *(quote(p, safe="") for p in parts)]
    )


async def test_rows_answer_a_page_with_the_position_they_reflect(
    api: httpx.AsyncClient, viewer: Headers, stored: int
) -> None:
    response = await api.get(rows_url(), headers=viewer)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": [
            {"key": "theme", "value": "dark"},
            {"key": "user:1", "value": {"n": 1}},
            {"key": "user:2", "value": [2]},
            {"key": "user:3/x", "value": None},
            {"key": "zé ro", "value": 0},
        ],
        "position": str(stored),
    }


async def test_pages_follow_their_paging_token_within_the_prefix(
    api: httpx.AsyncClient, viewer: Headers, stored: int
) -> None:
    first = await api.get(rows_url(), params={"prefix": "user:", "pageSize": 2}, headers=viewer)
    assert first.status_code == 200, first.text
    token = first.json()["pagingToken"]

    last = await api.get(rows_url(), params={"pagingToken": token, "pageSize": 2}, headers=viewer)

    assert [r["key"] for r in first.json()["rows"]] == ["user:1", "user:2"]
    assert last.json() == {"rows": [{"key": "user:3/x", "value": None}], "position": str(stored)}


async def test_one_row_is_read_by_its_key(
    api: httpx.AsyncClient, viewer: Headers, stored: int
) -> None:
    for key, value in [("user:3/x", None), ("zé ro", 0), ("user:1", {"n": 1})]:
        response = await api.get(rows_url(key), headers=viewer)
        assert response.status_code == 200, (key, response.text)
        assert response.json() == {"key": key, "value": value, "position": str(stored)}


async def test_a_missing_row_is_404(api: httpx.AsyncClient, viewer: Headers, stored: int) -> None:
    message = native_error(await api.get(rows_url("user:"), headers=viewer), 404, "NOT_FOUND")
    assert message == "view 'settings' has no row 'user:'"


async def test_an_unknown_view_is_404(api: httpx.AsyncClient, viewer: Headers) -> None:
    for url in (rows_url(view="nothing"), rows_url("k", view="nothing")):
        message = native_error(await api.get(url, headers=viewer), 404, "NOT_FOUND")
        assert message == "view 'nothing' not found"


async def test_another_tenants_rows_are_never_visible(
    api: httpx.AsyncClient, stranger: Headers, stored: int
) -> None:
    for url in (rows_url(), rows_url("theme")):
        native_error(await api.get(url, headers=stranger), 404, "NOT_FOUND")


async def test_a_registered_view_shows_another_tenant_only_its_own_rows(
    api: httpx.AsyncClient, chronik: Chronik, stranger: Headers, other_tenant: str, stored: int
) -> None:
    chronik.views.registry.add(VIEW)
    await keep(chronik, other_tenant, {"mine": 1})

    response = await api.get(rows_url(), headers=stranger)

    assert [r["key"] for r in response.json()["rows"]] == ["mine"]


async def test_min_sequence_reads_the_appended_write(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, owner: Headers, stored: int
) -> None:
    [event] = await append(
        api, owner, new_event("row", "r", "row.put", {"key": "theme", "value": "light"})
    )
    query = {"minSequence": event["sequence"], "waitSeconds": 30}

    page, row, _ = await asyncio.gather(
        api.get(rows_url(), params={**query, "prefix": "theme"}, headers=owner),
        api.get(rows_url("theme"), params=query, headers=owner),
        run(chronik, tenant),
    )

    assert page.json() == {
        "rows": [{"key": "theme", "value": "light"}],
        "position": event["sequence"],
    }
    assert row.json() == {"key": "theme", "value": "light", "position": event["sequence"]}


async def test_a_view_behind_min_sequence_in_time_is_409_with_its_position(
    api: httpx.AsyncClient, owner: Headers, stored: int
) -> None:
    [event] = await append(
        api, owner, new_event("row", "r", "row.put", {"key": "theme", "value": "light"})
    )
    query = {"minSequence": event["sequence"], "waitSeconds": 0}

    for url in (rows_url(), rows_url("theme")):
        response = await api.get(url, params=query, headers=owner)
        native_error(response, 409, "ABORTED")
        assert response.json()["error"]["details"] == {
            "position": str(stored),
            "minSequence": event["sequence"],
        }


async def test_reading_rows_needs_iam_read(
    api: httpx.AsyncClient, reader: Headers, stored: int
) -> None:
    for url in (rows_url(), rows_url("theme")):
        native_error(await api.get(url, headers=reader), 403, "PERMISSION_DENIED")
        native_error(await api.get(url), 401, "UNAUTHENTICATED")
        native_error(
            await api.get(url, headers={"Authorization": "Bearer nope"}), 401, "UNAUTHENTICATED"
        )


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": "0"},
        {"pageSize": "1001"},
        {"pageSize": "1.5"},
        {"pageSize": "ten"},
        {"waitSeconds": "-1"},
        {"waitSeconds": "31"},
        {"waitSeconds": "nan"},
        {"waitSeconds": "inf"},
        {"waitSeconds": "soon"},
        {"minSequence": "-1"},
        {"minSequence": str(2**63)},
        {"minSequence": "x"},
        {"pagingToken": "garbage"},
        {"pagingToken": "é"},
        {"pagingToken": "A" * 8193},
        {"prefix": "p" * 2001},
    ],
    ids=lambda params: "-".join(f"{k}={v[:12]}" for k, v in params.items()),
)
async def test_ugly_queries_are_400(
    api: httpx.AsyncClient, viewer: Headers, stored: int, params: dict[str, str]
) -> None:
    response = await api.get(rows_url(), params=params, headers=viewer)
    native_error(response, 400, "INVALID_ARGUMENT")
    if set(params) <= {"minSequence", "waitSeconds"}:  # the only ones a row's read takes
        response = await api.get(rows_url("theme"), params=params, headers=viewer)
        native_error(response, 400, "INVALID_ARGUMENT")


async def test_a_paging_token_is_refused_with_another_prefix_or_view_or_altered(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, viewer: Headers, stored: int
) -> None:
    first = await api.get(rows_url(), params={"pageSize": 1}, headers=viewer)
    token = first.json()["pagingToken"]
    chronik.views.registry.add(View(name="other", handler=put_row))

    for url, params in [
        (rows_url(), {"pagingToken": token, "prefix": "user:"}),
        (rows_url(view="other"), {"pagingToken": token}),
        (rows_url(), {"pagingToken": token + "A"}),
        (rows_url(), {"pagingToken": token[:-1]}),
    ]:
        response = await api.get(url, params=params, headers=viewer)
        native_error(response, 400, "INVALID_ARGUMENT")


async def test_a_nul_in_a_name_or_key_is_never_a_server_error(
    api: httpx.AsyncClient, viewer: Headers, stored: int, backend: str
) -> None:
    """PostgreSQL cannot hold a NUL in a text (400); SQLite can, and has no such row (404)."""
    for url in (rows_url(view="a\x00b"), rows_url("a\x00b"), rows_url() + "?prefix=%00"):
        response = await api.get(url, headers=viewer)
        if backend == "postgres":
            native_error(response, 400, "INVALID_ARGUMENT")
        elif "prefix" in url:
            assert response.json() == {"rows": [], "position": str(stored)}
        else:
            native_error(response, 404, "NOT_FOUND")
