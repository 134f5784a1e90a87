"""Live subscriptions (``GET /v1/events/subscribe``) against the app served by uvicorn on
loopback, read by a streaming httpx client: events arrive once each, in order, filtered and of
the token's tenant only; a subscriber resumes after a dropped connection with nothing missed or
repeated; a slow one is dropped with where to resume; streams end when the server shuts down."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chronik.cli.connections import GuardedConfig
from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import Headers, append, native_error, new_event

BOUND = 20
"""The subscriber queue bound of these tests."""
GUARD = 10.0
"""How long a read waits before the test fails instead of hanging (not a timing assertion)."""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        follow_poll_seconds=0.05,
        subscribe_heartbeat_seconds=0.2,
        subscribe_queue_events=BOUND,
    )


@dataclass
class Served:
    server: uvicorn.Server
    base: str


Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(app: FastAPI) -> Serve:
    """Serves the app as ``chronik serve`` does (uvicorn with Chronik's connection guard) on a
    free loopback port."""

    @asynccontextmanager
    async def served(max_connections: int = 100) -> AsyncIterator[Served]:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        config = GuardedConfig(
            app,
            header_timeout=10.0,
            max_connections=max_connections,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=30,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            assert not task.done(), "uvicorn stopped before it started"
            await asyncio.sleep(0.01)
        try:
            yield Served(server, f"http://127.0.0.1:{listener.getsockname()[1]}")
        finally:
            server.should_exit = True
            await task
            listener.close()

    return served


@pytest.fixture
async def web(serve: Serve) -> AsyncIterator[str]:
    async with serve() as served:
        yield served.base


@dataclass
class Message:
    """One SSE event, or a comment (``comment`` set, the rest empty)."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comment: str | None = None

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class Stream:
    """The messages of one open subscription, read as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> Message | None:
        """The next message; ``None`` once the stream ended."""
        message = Message()
        async with asyncio.timeout(GUARD):
            async for line in self._lines:
                if line.startswith(":"):
                    return Message(comment=line[1:].strip())
                if not line:
                    if message.data or message.event:
                        return message
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    message.id = value
                elif name == "event":
                    message.event = value
                elif name == "data":
                    message.data.append(value)
        return None

    async def live(self) -> None:
        """Read up to the ``: live`` comment: from now on appends reach this subscriber."""
        while (message := await self.next()) is not None:
            if message.comment == "live":
                return
            assert message.comment is not None, message
        raise AssertionError("the stream ended before it went live")

    async def events(self, count: int) -> list[Message]:
        """The next ``count`` events, heartbeats passed over."""
        got: list[Message] = []
        async with asyncio.timeout(GUARD):
            while len(got) < count:
                message = await self.next()
                assert message is not None, f"the stream ended after {got}"
                if message.comment is None:
                    got.append(message)
        return got


@asynccontextmanager
async def subscribe(
    base: str,
    headers: Headers,
    *,
    live: bool = True,
    client: httpx.AsyncClient | None = None,
    path: str = "/v1/events/subscribe",
    **params: Any,
) -> AsyncIterator[Stream]:
    async with (
        (
            httpx.AsyncClient(base_url=base, timeout=GUARD) if client is None else _kept(client)
        ) as http,
        http.stream("GET", path, headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        if live:
            await stream.live()
        yield stream


@asynccontextmanager
async def _kept(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield client


@pytest.fixture
async def http(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=GUARD) as client:
        yield client


async def test_new_events_arrive_in_order_as_the_native_api_writes_them(
    web: str, http: httpx.AsyncClient, owner: Headers
) -> None:
    await append(http, owner, new_event(aggregate_id="before"))
    async with subscribe(web, owner) as stream:
        stored = await append(http, owner, new_event(aggregate_id="u-1"), new_event("org", "o-1"))
        stored += await append(http, owner, new_event(aggregate_id="u-2", correlationId="c"))
        got = await stream.events(3)
    assert [m.id for m in got] == [e["sequence"] for e in stored]
    assert [m.json() for m in got] == stored
    assert all(m.event is None for m in got)


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"eventTypes": ["org.added", "user.removed"]}, ["o-1", "u-3"]),
    ({"aggregateTypes": "org"}, ["o-1"]),
    ({"aggregateId": "u-2"}, ["u-2"]),
    ({"resourceOwner": "org-x"}, ["u-2"]),
    ({"correlation_id": "flow-1"}, ["u-3"]),
    ({"includeSystem": "false"}, ["u-1", "o-1", "u-2", "u-3"]),
]


async def test_filters_pass_only_the_events_they_match(
    web: str, http: httpx.AsyncClient, owner: Headers
) -> None:
    async with AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(subscribe(web, owner, **f)) for f, _ in FILTERS]
        await append(
            http,
            owner,
            new_event(aggregate_id="u-1"),
            new_event("org", "o-1", "org.added"),
            new_event(aggregate_id="u-2", resourceOwner="org-x"),
            new_event(aggregate_id="u-3", type="user.removed", correlationId="flow-1"),
        )
        # A last event every filter matches tells that nothing else is coming.
        await append(
            http,
            owner,
            new_event("org", "u-2", "user.removed", resourceOwner="org-x", correlationId="flow-1"),
        )
        for stream, (params, wanted) in zip(streams, FILTERS, strict=True):
            got = await stream.events(len(wanted) + 1)
            assert [m.json()["aggregateId"] for m in got] == [*wanted, "u-2"], params


async def test_chronik_records_arrive_only_with_include_system(
    web: str, http: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    async with (
        subscribe(web, owner) as users,
        subscribe(web, owner, includeSystem="true") as everything,
    ):
        await chronik.events.append_own(
            tenant, [NewEvent(aggregate_type="chronik.test", aggregate_id="x", type="made")]
        )
        await append(http, owner, new_event(aggregate_id="last"))
        assert [m.json()["aggregateType"] for m in await users.events(1)] == ["user"]
        got = await everything.events(2)
        assert [m.json()["aggregateType"] for m in got] == ["chronik.test", "user"]


async def test_another_tenants_events_never_arrive(
    web: str, http: httpx.AsyncClient, owner: Headers, stranger: Headers
) -> None:
    async with subscribe(web, owner) as mine, subscribe(web, stranger) as theirs:
        await append(http, stranger, new_event(aggregate_id="theirs"))
        await append(http, owner, new_event(aggregate_id="mine"))
        assert [m.json()["aggregateId"] for m in await mine.events(1)] == ["mine"]
        assert [m.json()["aggregateId"] for m in await theirs.events(1)] == ["theirs"]


@pytest.mark.parametrize("how", ["Last-Event-ID", "after"])
async def test_a_resumed_subscription_misses_and_repeats_nothing(
    web: str, http: httpx.AsyncClient, owner: Headers, how: str
) -> None:
    async with subscribe(web, owner) as stream:
        first = await append(http, owner, new_event(aggregate_id="a"), new_event(aggregate_id="b"))
        got = await stream.events(2)
    last = got[-1].id
    assert last is not None
    missed = await append(http, owner, *(new_event(aggregate_id=f"m-{i}") for i in range(3)))
    params: dict[str, Any]
    headers, params = (
        ({**owner, "Last-Event-ID": last}, {}) if how != "after" else (owner, {"after": last})
    )
    async with subscribe(web, headers, live=False, **params) as stream:
        got += await stream.events(3)
        await stream.live()
        later = await append(http, owner, new_event(aggregate_id="later"))
        got += await stream.events(1)
    stored = first + missed + later
    assert [m.id for m in got] == [e["sequence"] for e in stored]


async def test_a_closed_subscription_leaves_nothing_behind(
    web: str, http: httpx.AsyncClient, owner: Headers, chronik: Chronik
) -> None:
    async with subscribe(web, owner), subscribe(web, owner):
        assert chronik.events.subscribers == (2, 0)
    # The server notices each disconnection on its own time: poll for it.
    async with asyncio.timeout(GUARD):
        while chronik.events.subscribers != (0, 0):  # noqa: ASYNC110 - nothing to wait on
            await asyncio.sleep(0.01)
    metrics = (await http.get("/metrics")).text
    assert "chronik_subscribers 0.0" in metrics


async def test_a_quiet_stream_gets_heartbeat_comments(web: str, owner: Headers) -> None:
    async with subscribe(web, owner) as stream:
        assert await stream.next() == Message(comment="keep-alive")
        assert await stream.next() == Message(comment="keep-alive")


async def test_a_slow_subscriber_is_dropped_with_where_to_resume(
    web: str, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    # A small receive window, so that the server's sends block soon once this client stops
    # reading.
    small = httpx.AsyncHTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])
    payload = {"blob": "x" * 20_000}
    stored = []
    async with (
        httpx.AsyncClient(base_url=web, timeout=GUARD, transport=small) as slow,
        subscribe(web, owner, client=slow) as stream,
    ):
        for i in range(15):
            stored += await chronik.events.append(
                tenant,
                [NewEvent(aggregate_type="user", aggregate_id=f"u-{i}", type="t", payload=payload)]
                * BOUND,
            )
        got = []
        while (message := await stream.next()) is not None:
            if message.comment is None:
                got.append(message)
    *events, dropped = got
    assert dropped.event == "dropped"
    after = dropped.json()["after"]
    assert after == dropped.id == (events[-1].id if events else after)
    assert [m.id for m in events] == [str(e.sequence) for e in stored[: len(events)]]
    async with subscribe(web, owner, live=False, after=after) as resumed:
        rest = await resumed.events(len(stored) - len(events))
    assert [m.id for m in events + rest] == [str(e.sequence) for e in stored]
    assert chronik.events.subscribers[1] == 1


async def test_no_token_is_a_native_401_not_a_stream(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/events/subscribe")
    native_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


BAD: list[tuple[Headers, dict[str, Any]]] = [
    ({"Last-Event-ID": "twelve"}, {}),
    ({"Last-Event-ID": str(2**63)}, {}),
    ({}, {"after": "-1"}),
    ({}, {"after": ["1", "2"]}),
    ({}, {"aggregateTypes": ""}),
    ({}, {"eventTypes": [f"t{i}" for i in range(31)]}),
    ({}, {"aggregateId": "x" * 201}),
    ({}, {"includeSystem": "maybe"}),
    ({}, {"sequence": "3"}),
]


async def test_bad_filters_or_resume_points_are_native_400s_not_streams(
    http: httpx.AsyncClient, owner: Headers
) -> None:
    for headers, params in BAD:
        response = await http.get(
            "/v1/events/subscribe", headers={**owner, **headers}, params=params
        )
        native_error(response, 400, "INVALID_ARGUMENT")


async def test_a_token_without_events_read_is_refused(
    http: httpx.AsyncClient, org_viewer: Headers
) -> None:
    response = await http.get("/v1/events/subscribe", headers=org_viewer)
    native_error(response, 403, "PERMISSION_DENIED")


async def test_shutdown_ends_open_streams(serve: Serve, owner: Headers) -> None:
    async with serve() as served, subscribe(served.base, owner) as stream:
        served.server.should_exit = True
        while (message := await stream.next()) is not None:
            assert message.comment == "keep-alive"


async def test_open_streams_count_against_the_connection_cap(serve: Serve, owner: Headers) -> None:
    async with (
        serve(max_connections=2) as served,
        subscribe(served.base, owner),
        subscribe(served.base, owner),
        httpx.AsyncClient(base_url=served.base) as http,
    ):
        assert (await http.get("/healthz")).status_code == 503


async def test_the_socotra_stream_with_accept_event_stream_is_live(
    web: str, http: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    sse = {**owner, "Accept": "text/event-stream"}
    path = f"/event/{tenant}/events/list"
    async with subscribe(web, sse, path=path, type="user.human.added") as stream:
        stored = await append(
            http, owner, new_event(type="user.removed"), new_event(aggregate_id="u-2")
        )
        (got,) = await stream.events(1)
    assert got.id == stored[1]["sequence"]
    answer = await http.get(f"{path[: -len('list')]}{stored[1]['locator']}", headers=owner)
    assert got.json() == answer.json()


async def test_the_socotra_live_stream_refuses_paging(
    http: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    response = await http.get(
        f"/event/{tenant}/events/list",
        headers={**owner, "Accept": "text/event-stream"},
        params={"pageSize": "10"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["httpStatus"] == 400
