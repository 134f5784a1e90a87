"""The services of :class:`~chronik.client.AsyncClient`: the embedded API's calls, over
HTTP, where the native API has them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import msgspec

from chronik.client import sse, wire
from chronik.errors import Conflict, ViewBehind
from chronik.ids import new_ulid
from chronik.records import (
    Event,
    EventQuery,
    ExpectedVersion,
    FailedEvent,
    NewEvent,
    Page,
    Row,
    RowPage,
    ViewStatus,
)

if TYPE_CHECKING:
    from chronik.client.core import AsyncClient


class RemoteEvents:
    """The log, as :class:`~chronik.events.EventLog` offers it."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def append(
        self,
        tenant_id: str,
        events: Sequence[NewEvent],
        *,
        expected: Iterable[ExpectedVersion] = (),
        request_id: str | None = None,
    ) -> list[Event]:
        """Append ``events`` atomically and return them as stored. The request id (a new
        ULID unless given) makes a retry safe: the server returns the events the first
        attempt stored and stores nothing more, so a network failure is retried."""
        await self._client.check_tenant(tenant_id)
        body = {
            "requestId": request_id or new_ulid(),
            "events": [wire.new_event(e) for e in events],
            "expectedVersions": [wire.expected(x) for x in expected],
        }
        found = await self._client.call("POST", "/v1/events", json=body, safe=True)
        return [wire.event(e) for e in found["events"]]

    async def get(self, tenant_id: str, locator: str) -> Event:
        await self._client.check_tenant(tenant_id)
        path = f"/v1/events/{quote(locator, safe='')}"
        return wire.event(await self._client.call("GET", path, safe=True))

    async def _page(self, body: dict[str, Any]) -> Page:
        found = await self._client.call("POST", "/v1/events/_search", json=body, safe=True)
        return Page([wire.event(e) for e in found["events"]], found["pagingToken"])

    async def search(self, tenant_id: str, query: EventQuery) -> Page:
        """One page of ZITADEL ListEvents semantics."""
        await self._client.check_tenant(tenant_id)
        return await self._page(wire.query(query))

    async def stream(
        self,
        tenant_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        event_type: str | None = None,
        page_size: int | None = None,
        system: bool = False,
    ) -> Page:
        """The first page of the event stream, in sequence order, from ``start`` (inclusive)
        to ``end`` (exclusive); Chronik's own records only when ``system``."""
        query = EventQuery(
            asc=True,
            limit=page_size or 0,
            since=start,
            until=end,
            event_types=(event_type,) if event_type else (),
            system=system,
        )
        return await self.search(tenant_id, query)

    async def next_page(self, tenant_id: str, paging_token: str) -> Page:
        """The page after the one ``paging_token`` came with (the same filters)."""
        await self._client.check_tenant(tenant_id)
        return await self._page({"pagingToken": paging_token})

    async def pages(self, tenant_id: str, query: EventQuery) -> AsyncIterator[Page]:
        """Every page of ``query``, fetched as the caller gets to it, up to the first
        empty one (not yielded)."""
        page = await self.search(tenant_id, query)
        while page.events:
            yield page
            page = await self.next_page(tenant_id, page.paging_token)

    async def all(self, tenant_id: str, query: EventQuery) -> AsyncIterator[Event]:
        """Every event ``query`` finds, a page at a time."""
        async for page in self.pages(tenant_id, query):
            for event in page.events:
                yield event

    async def subscribe(
        self, tenant_id: str, query: EventQuery | None = None, *, after: int | None = None
    ) -> AsyncGenerator[Event, None]:
        """Every event of ``tenant_id`` that ``query``'s filters match (ordering, limit,
        sequence and time bounds are the subscription's own) after sequence ``after`` (by
        default the head, so new events only), in sequence order, forever.

        A lost connection (a network failure, a server restart, a 502/503/504, or the server
        dropping a subscriber that fell behind) is reopened after the last event yielded,
        so nothing is missed or repeated, after a backoff that doubles from the client's
        ``backoff`` up to ``max_backoff`` seconds and starts again once a connection holds.
        Other errors (a bad filter, a token without ``events.read``) are raised."""
        await self._client.check_tenant(tenant_id)
        query = EventQuery() if query is None else query
        params = wire.subscription(query)
        if after is None:
            # Where the head is now, as a sequence: a reconnection before the first event
            # must resume from there, not from the head it would find then.
            last = msgspec.structs.replace(
                query, asc=False, limit=1, sequence=0, creation_date=None, since=None, until=None
            )
            found = (await self.search(tenant_id, last)).events
            after = found[0].sequence if found else 0
        failures = 0
        while True:
            headers = {"Last-Event-ID": str(after)}
            try:
                async with self._client.stream(
                    "/v1/events/subscribe", params=params, headers=headers
                ) as response:
                    status = response.status_code
                    if status != 200 and status not in wire.RETRIED_STATUSES:
                        await response.aread()
                        raise wire.error(status, _json(response.text), response.text)
                    if status == 200:
                        failures = 0
                        parser = sse.Parser()
                        async for line in response.aiter_lines():
                            message = parser.line(line)
                            if message is None:
                                continue
                            if message.event == "dropped":
                                break  # the server gave up on this connection: resume
                            if message.event == "message":
                                event = wire.event(json.loads(message.data))
                                after = event.sequence
                                yield event
            except httpx.TransportError:
                pass
            await self._client.pause(failures)
            failures += 1

    async def follow(self, tenant_id: str, *, after: int = 0) -> AsyncGenerator[Event, None]:
        """Every event of ``tenant_id`` after sequence ``after`` (Chronik's own records
        too), forever: :meth:`subscribe` without filters, from ``after``."""
        async for event in self.subscribe(tenant_id, EventQuery(system=True), after=after):
            yield event


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class RemoteViews:
    """The operators' verbs on views and their failed events, as
    :class:`~chronik.views.Views` offers them."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def statuses(self, tenant_id: str) -> list[ViewStatus]:
        """Every view the server knows in the tenant, with its position, lag and state
        (:attr:`~chronik.records.ViewStatus.activity`), by database and name."""
        await self._client.check_tenant(tenant_id)
        found = await self._client.call("GET", "/v1/views", safe=True)
        return [wire.view_status(tenant_id, v) for v in found["views"]]

    async def failed(
        self, tenant_id: str, *, view: str | None = None, min_failures: int = 0, limit: int = 100
    ) -> list[FailedEvent]:
        """The first ``limit`` failed events, by view and sequence."""
        await self._client.check_tenant(tenant_id)
        params: dict[str, Any] = {"minFailures": min_failures, "pageSize": limit}
        if view is not None:
            params["view"] = view
        found = await self._client.call("GET", "/v1/failed-events", params=params, safe=True)
        return [wire.failed_event(tenant_id, f) for f in found["failedEvents"]]

    async def retry(self, tenant_id: str, view: str, sequence: int | None = None) -> int:
        """Run one failed event (or every one) of ``view`` through it again now; how many
        were scheduled."""
        await self._client.check_tenant(tenant_id)
        path = f"/v1/views/{quote(view, safe='')}"
        path += "/_retry" if sequence is None else f"/failed-events/{sequence}/_retry"
        found = await self._client.call("POST", path, safe=False)
        return int(found["scheduled"])

    async def remove_failed(self, tenant_id: str, view: str, sequence: int) -> None:
        await self._client.check_tenant(tenant_id)
        path = f"/v1/views/{quote(view, safe='')}/failed-events/{sequence}"
        await self._client.call("DELETE", path, safe=False)

    async def _control(self, tenant_id: str, view: str, action: str) -> None:
        await self._client.check_tenant(tenant_id)
        await self._client.call("POST", f"/v1/views/{quote(view, safe='')}/_{action}", safe=True)

    async def reset(self, tenant_id: str, view: str) -> None:
        """Rebuild ``view`` from sequence 0: its rows and failed events are cleared."""
        await self._control(tenant_id, view, "reset")

    async def pause(self, tenant_id: str, view: str) -> None:
        await self._control(tenant_id, view, "pause")

    async def resume(self, tenant_id: str, view: str) -> None:
        await self._control(tenant_id, view, "resume")

    async def rows(
        self,
        tenant_id: str,
        view: str,
        *,
        prefix: str = "",
        page_size: int = 100,
        paging_token: str | None = None,
        min_sequence: int = 0,
        wait_seconds: float = 5.0,
    ) -> RowPage:
        """A page of ``view``'s rows whose keys start with ``prefix``, by key, and the
        position they reflect; once the view has reached ``min_sequence``, waiting up to
        ``wait_seconds`` before :class:`~chronik.errors.ViewBehind`."""
        await self._client.check_tenant(tenant_id)
        params: dict[str, Any] = {
            "prefix": prefix,
            "pageSize": page_size,
            "minSequence": min_sequence,
            "waitSeconds": wait_seconds,
        }
        if paging_token:
            params["pagingToken"] = paging_token
        path = f"/v1/views/{quote(view, safe='')}/rows"
        with _behind(view):
            found = await self._client.call(
                "GET", path, params=params, safe=True, wait=wait_seconds
            )
        position = int(found["position"])
        return RowPage(
            rows=[Row(r["key"], r["value"], position) for r in found["rows"]],
            position=position,
            paging_token=found.get("pagingToken") or "",
        )

    async def row(
        self,
        tenant_id: str,
        view: str,
        key: str,
        *,
        min_sequence: int = 0,
        wait_seconds: float = 5.0,
    ) -> Row:
        """The row of ``view`` at ``key`` (:class:`~chronik.errors.NotFound` when there is
        none), waiting for ``min_sequence`` as :meth:`rows` does."""
        await self._client.check_tenant(tenant_id)
        params = {"minSequence": min_sequence, "waitSeconds": wait_seconds}
        path = f"/v1/views/{quote(view, safe='')}/rows/{quote(key, safe='')}"
        with _behind(view):
            found = await self._client.call(
                "GET", path, params=params, safe=True, wait=wait_seconds
            )
        return Row(found["key"], found["value"], int(found["position"]))


@contextlib.contextmanager
def _behind(view: str) -> Iterator[None]:
    """The server's 409 on a read that waited for a view in vain, as the embedded
    :class:`~chronik.errors.ViewBehind` (the view's name is not in the answer)."""
    try:
        yield
    except Conflict as exc:
        if "min_sequence" not in exc.details:
            raise
        position, wanted = int(exc.details["position"]), int(exc.details["min_sequence"])
        raise ViewBehind(view, position, wanted) from None
