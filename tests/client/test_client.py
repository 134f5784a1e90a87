"""The remote client against a real server: the embedded API's answers and errors, over
HTTP, with retries that store nothing twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chronik.client import AsyncClient, Client
from chronik.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from chronik.events import EventQuery
from chronik.ids import new_ulid
from chronik.records import ExpectedVersion, NewEvent
from chronik.services import Chronik
from tests.client.conftest import token


def ev(aggregate_id: str = "u1", type: str = "user.added", **payload: object) -> NewEvent:
    return NewEvent(aggregate_type="user", aggregate_id=aggregate_id, type=type, payload=payload)


async def test_append_get_and_search_answer_as_the_embedded_api(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        stored = await remote.events.append(
            tenant,
            [ev("u1", name="Ada"), ev("u2")],
            expected=[ExpectedVersion("user", "u1", "absent")],
        )
        assert stored == await chronik.events.of_request(tenant, stored[0].request_id)
        assert await remote.events.get(tenant, stored[1].locator) == stored[1]
        query = EventQuery(asc=True, event_types=("user.added",))
        page = await remote.events.search(tenant, query)
        assert page.events == (await chronik.events.search(tenant, query)).events
        assert stored[0].created_at.tzinfo is not None


async def test_pages_are_fetched_lazily_to_the_end(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    for i in range(5):
        await chronik.events.append(tenant, [ev(f"u{i}")])
    async with AsyncClient(web, token=owner_token) as remote:
        pages = [p async for p in remote.events.pages(tenant, EventQuery(asc=True, limit=2))]
        every = [e async for e in remote.events.all(tenant, EventQuery(asc=True, limit=2))]
    assert [len(p.events) for p in pages] == [2, 2, 1]
    assert [e.aggregate_id for e in every] == [f"u{i}" for i in range(5)]


async def test_errors_are_the_embedded_api_errors(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    reader = await token(chronik, tenant, "EVENTS_READER")
    async with (
        AsyncClient(web, token=owner_token) as remote,
        AsyncClient(web, token=reader) as read_only,
        AsyncClient(web, token="nope", retries=0) as stranger,
    ):
        with pytest.raises(NotFound):
            await remote.events.get(tenant, new_ulid())
        with pytest.raises(InvalidArgument) as bad:
            await remote.events.append(
                tenant, [NewEvent(aggregate_type="chronik.action", aggregate_id="a", type="x")]
            )
        assert bad.value.details["field"] == "events[0].aggregateType"
        await remote.events.append(tenant, [ev("u1")])
        with pytest.raises(Conflict) as stale:
            await remote.events.append(
                tenant, [ev("u1")], expected=[ExpectedVersion("user", "u1", 0)]
            )
        assert stale.value.details["current_version"] == 1
        with pytest.raises(PermissionDenied):
            await read_only.events.append(tenant, [ev("u2")])
        with pytest.raises(Unauthenticated):
            await stranger.me()
        with pytest.raises(InvalidArgument, match="belongs to tenant"):
            await remote.events.get("another-tenant", new_ulid())


async def test_a_repeated_request_id_stores_the_append_once(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    request = new_ulid()
    async with AsyncClient(web, token=owner_token) as remote:
        first = await remote.events.append(tenant, [ev("u1"), ev("u1")], request_id=request)
        again = await remote.events.append(tenant, [ev("u1"), ev("u1")], request_id=request)
    assert again == first
    assert len((await chronik.events.search(tenant, EventQuery())).events) == 2


class DropFirstAnswer(httpx.AsyncBaseTransport):
    """Sends every request to the server, but loses the answer of the first append: as a
    connection that breaks after the server stored it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.appends = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/v1/events":
            self.appends += 1
            if self.appends == 1:
                await response.aread()
                raise httpx.ReadError("connection reset", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_an_append_whose_answer_was_lost_is_retried_and_stored_once(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    transport = DropFirstAnswer()
    async with AsyncClient(web, token=owner_token, transport=transport, backoff=0.01) as remote:
        stored = await remote.events.append(tenant, [ev("u1"), ev("u2")])
    assert transport.appends == 2
    assert (await chronik.events.search(tenant, EventQuery(asc=True))).events == stored


async def test_a_server_that_cannot_be_reached_is_unavailable_after_the_retries() -> None:
    from chronik.errors import Unavailable

    async with AsyncClient(
        "http://127.0.0.1:9", token="t", retries=2, backoff=0.01, timeout=1.0
    ) as remote:
        with pytest.raises(Unavailable, match="3 times"):
            await remote.me()


async def test_the_blocking_client_has_the_same_calls(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    def use() -> tuple[list[str], list[str]]:
        with Client(web, token=owner_token, timeout=5.0) as remote:
            assert remote.tenant_id() == tenant
            stored = remote.events.append(tenant, [ev("u1"), ev("u2"), ev("u3")])
            with pytest.raises(NotFound):
                remote.events.get(tenant, new_ulid())
            every = remote.events.all(tenant, EventQuery(asc=True, limit=2))
            return [e.locator for e in stored], [e.locator for e in every]

    stored, every = await asyncio.to_thread(use)  # the server runs on this loop
    assert every == stored


async def test_failed_events_of_no_view_are_none_and_an_unknown_view_is_not_found(
    tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        assert await remote.views.failed(tenant) == []
        with pytest.raises(NotFound):
            await remote.views.retry(tenant, "no-such-view")
        with pytest.raises(NotFound):
            await remote.views.reset(tenant, "no-such-view")
