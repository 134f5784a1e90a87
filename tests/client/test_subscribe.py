"""Live subscriptions through the remote client: the server's SSE stream as events, resumed
after a lost connection or a drop with nothing missed or repeated."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from chronik.client import AsyncClient, Client
from chronik.errors import PermissionDenied
from chronik.events import EventQuery
from chronik.records import Event, NewEvent
from chronik.services import Chronik
from tests.client.conftest import token

USERS = EventQuery(aggregate_types=("user",))


def ev(aggregate_id: str, aggregate_type: str = "user") -> NewEvent:
    return NewEvent(aggregate_type=aggregate_type, aggregate_id=aggregate_id, type="x.added")


class CutStream(httpx.AsyncByteStream):
    """The server's stream up to its first event, then half a frame and a lost connection
    (``then`` None), or ``then``'s frame and a clean end."""

    def __init__(self, inner: httpx.AsyncByteStream, then: bytes | None) -> None:
        self.inner = inner
        self.then = then

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            if b"data:" not in chunk:
                yield chunk
                continue
            end = chunk.index(b"\n\n", chunk.index(b"data:")) + 2
            if self.then is None:
                yield chunk[: end + 10]
                raise httpx.ReadError("connection reset")
            found = re.match(rb"id: (\d+)", chunk[chunk.index(b"id:") :])
            assert found is not None
            yield chunk[:end] + self.then.replace(b"<id>", found[1])
            return

    async def aclose(self) -> None:
        await self.inner.aclose()


class CutFirstStream(httpx.AsyncBaseTransport):
    """Cuts the first subscription's stream (see :class:`CutStream`) and records where each
    subscription resumed."""

    def __init__(self, then: bytes | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.then = then
        self.resumed: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v1/events/subscribe":
            return response
        self.resumed.append(request.headers.get("last-event-id"))
        if len(self.resumed) > 1:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=CutStream(response.stream, self.then),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


async def take(events: AsyncIterator[Event], n: int) -> list[Event]:
    return [await anext(events) for _ in range(n)]


async def test_a_subscription_gets_the_new_events_its_filters_match_in_order(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    await chronik.events.append(tenant, [ev("before")])
    async with AsyncClient(web, token=owner_token) as remote:
        events = remote.events.subscribe(tenant, USERS)
        first = asyncio.create_task(anext(events))
        while chronik.events.subscribers[0] == 0:
            assert not first.done()
            await asyncio.sleep(0.01)
        stored = await chronik.events.append(tenant, [ev("u1"), ev("o1", "org"), ev("u2")])
        got = [await first, await anext(events)]
        await events.aclose()
    assert got == [stored[0], stored[2]]


async def test_a_lost_connection_resumes_after_the_last_event_yielded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    start = await chronik.events.head(tenant)
    stored = await chronik.events.append(tenant, [ev("u1"), ev("u2"), ev("u3")])
    transport = CutFirstStream()
    async with AsyncClient(web, token=owner_token, transport=transport, backoff=0.01) as remote:
        events = remote.events.subscribe(tenant, USERS, after=start)
        got = await take(events, 1)
        stored += await chronik.events.append(tenant, [ev("u4"), ev("u5")])
        got += await take(events, 4)
        await events.aclose()
    assert got == stored
    assert transport.resumed == [str(start), str(stored[0].sequence)]


async def test_a_dropped_subscriber_resumes_after_the_last_event_yielded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    start = await chronik.events.head(tenant)
    stored = await chronik.events.append(tenant, [ev("u1"), ev("u2"), ev("u3")])
    transport = CutFirstStream(b'event: dropped\nid: <id>\ndata: {"after": "<id>"}\n\n')
    async with AsyncClient(web, token=owner_token, transport=transport, backoff=0.01) as remote:
        events = remote.events.subscribe(tenant, USERS, after=start)
        got = await take(events, 1)
        stored += await chronik.events.append(tenant, [ev("u4")])
        got += await take(events, 3)
        await events.aclose()
    assert got == stored
    assert transport.resumed == [str(start), str(stored[0].sequence)]


async def test_the_blocking_client_follows_as_an_iterator(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    start = await chronik.events.head(tenant)
    stored = await chronik.events.append(tenant, [ev("u1"), ev("o1", "org")])

    def use() -> tuple[list[Event], list[Event]]:
        with Client(web, token=owner_token, timeout=5.0) as remote:
            users = remote.events.subscribe(tenant, USERS, after=start)
            every = remote.events.follow(tenant, after=start)
            return [next(users)], [next(every), next(every)]

    users, every = await asyncio.to_thread(use)  # the server runs on this loop
    assert users == stored[:1]
    assert every == stored


async def test_a_token_without_events_read_is_refused_not_retried(
    chronik: Chronik, tenant: str, web: str
) -> None:
    viewer = await token(chronik, tenant, "ORG_OWNER_VIEWER")
    async with AsyncClient(web, token=viewer) as remote:
        with pytest.raises(PermissionDenied):
            await anext(remote.events.subscribe(tenant, after=0))
