"""The console's events page and live tail as HTML and as a stream: a creation-time range
narrows the search and a bad time is a 400 that says why; the tail streams the rows of new
events of the session's tenant that match its filters, refuses a caller without a session
or without ``events.read``, and ends once the session is no longer valid."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chronik.records import NewEvent
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import Headers
from tests.api.test_console import signed_in
from tests.api.test_subscribe import GUARD, Stream

TYPE_CELL = '<td class="keep">{}</td>'.format


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, follow_poll_seconds=0.05, subscribe_heartbeat_seconds=0.2
    )


def _event(event_type: str, aggregate_id: str = "o-1") -> NewEvent:
    return NewEvent(aggregate_type="order", aggregate_id=aggregate_id, type=event_type)


def _minute(at: datetime) -> str:
    """``at`` as a ``datetime-local`` field sends it (UTC, to the second)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def test_a_time_range_narrows_the_search(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    early = await chronik.events.append(tenant, [_event("order.placed")])
    late = await chronik.events.append(tenant, [_event("order.shipped")])
    await signed_in(api, owner)
    # Creation times are microseconds apart: bound the range at the second event exactly.
    split = late[0].created_at
    before = await api.get("/console/events", params={"until": split.isoformat()})
    assert before.status_code == 200
    assert TYPE_CELL("order.placed") in before.text
    assert TYPE_CELL("order.shipped") not in before.text
    after = await api.get(
        "/console/events", params={"from": split.isoformat(), "eventTypes": "order.shipped"}
    )
    assert TYPE_CELL("order.shipped") in after.text and TYPE_CELL("order.placed") not in after.text
    later = _minute(early[0].created_at + timedelta(hours=1))
    assert "No events match." in (await api.get("/console/events", params={"from": later})).text
    earlier = _minute(early[0].created_at - timedelta(hours=1))
    both = await api.get("/console/events", params={"from": earlier, "until": later})
    assert TYPE_CELL("order.placed") in both.text and TYPE_CELL("order.shipped") in both.text
    assert f'value="{earlier}"' in both.text  # the form keeps what was asked


async def test_a_bad_time_is_a_400_that_says_why(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    await chronik.events.append(tenant, [_event("order.placed")])
    await signed_in(api, owner)
    bad = await api.get("/console/events", params={"from": "yesterday"})
    assert bad.status_code == 400
    assert "From is not a date and time such as 2026-12-05T09:30" in bad.text
    assert TYPE_CELL("order.placed") not in bad.text
    backwards = await api.get(
        "/console/events", params={"from": "2026-12-05T10:00", "until": "2026-12-05T09:00"}
    )
    assert backwards.status_code == 400 and "Until must be later than From." in backwards.text
    odd = await api.get("/console/events", params={"until": "0001-01-01T00:00+01:00"})
    assert odd.status_code == 400 and "Until is not a date and time" in odd.text


@asynccontextmanager
async def _tail(http: httpx.AsyncClient, **params: str) -> AsyncIterator[Stream]:
    async with http.stream("GET", "/console/events/tail/stream", params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        await stream.live()
        yield stream


@pytest.fixture
async def http(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=GUARD) as client:
        yield client


async def test_the_tail_streams_new_matching_rows_of_its_tenant_only(
    http: httpx.AsyncClient,
    owner: Headers,
    chronik: Chronik,
    tenant: str,
    other_tenant: str,
) -> None:
    await chronik.events.append(tenant, [_event("order.placed", "before")])
    await signed_in(http, owner)
    page = await http.get("/console/events/tail", params={"eventTypes": "order.shipped"})
    assert page.status_code == 200
    stream_url = re.search(r'data-stream="([^"]+)"', page.text)
    assert stream_url and stream_url[1] == "/console/events/tail/stream?eventTypes=order.shipped"
    async with _tail(http, eventTypes="order.shipped") as stream:
        await chronik.events.append(other_tenant, [_event("order.shipped", "theirs")])
        await chronik.events.append(tenant, [_event("order.placed", "unwanted")])
        shipped = await chronik.events.append(tenant, [_event("order.shipped", "<o-2>")])
        (message,) = await stream.events(1)
    assert message.id == str(shipped[0].sequence)
    (row,) = message.data
    assert row.startswith("<tr>") and row.endswith("</tr>")
    assert TYPE_CELL("order.shipped") in row and "order/&lt;o-2&gt;" in row
    assert f'href="/console/events/{shipped[0].locator}"' in row


async def test_the_tail_refuses_a_caller_without_a_session_or_the_permission(
    http: httpx.AsyncClient, org_owner: Headers
) -> None:
    anonymous = await http.get("/console/events/tail/stream")
    assert anonymous.status_code == 401
    assert (await http.get("/console/events/tail")).status_code == 303
    await signed_in(http, org_owner)  # actions and flows only
    refused = await http.get("/console/events/tail/stream")
    assert refused.status_code == 403 and "may not read events" in refused.text
    assert (await http.get("/console/events/tail")).status_code == 403


async def test_the_tail_refuses_filters_the_search_refuses(
    http: httpx.AsyncClient, owner: Headers
) -> None:
    await signed_in(http, owner)
    many = ",".join(f"t{n}" for n in range(31))
    page = await http.get("/console/events/tail", params={"eventTypes": many})
    assert page.status_code == 400 and "at most 30 entries" in page.text
    stream = await http.get("/console/events/tail/stream", params={"eventTypes": many})
    assert stream.status_code == 400


async def test_the_tail_ends_once_its_token_is_revoked(
    http: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    record, token = await chronik.tokens.issue(tenant, ["IAM_OWNER"])
    await signed_in(http, {"Authorization": f"Bearer {token}"})
    async with _tail(http) as stream:
        await chronik.tokens.revoke(tenant, record.id)
        while (message := await stream.next()) is not None and message.event != "ended":
            pass
        assert message is not None and "sign in again" in message.json()["message"]
        assert await stream.next() is None
