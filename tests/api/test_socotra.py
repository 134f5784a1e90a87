"""Socotra's Events API: one event, the events of a request, and the event stream with its
paging token (seed 002)."""

from __future__ import annotations

from typing import Any

import httpx

from chronik.ids import new_ulid
from chronik.services import Chronik
from tests.api.helpers import Headers, append, new_event, socotra_error
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends


def events_path(tenant: str, rest: str) -> str:
    return f"/event/{tenant}/events/{rest}"


async def stream(
    api: httpx.AsyncClient, headers: Headers, tenant: str, **params: str | int
) -> dict[str, Any]:
    """One page of ``GET …/events/list``; it must succeed."""
    response = await api.get(events_path(tenant, "list"), headers=headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def read_all(
    api: httpx.AsyncClient, headers: Headers, tenant: str, **params: str | int
) -> tuple[list[str], list[int]]:
    """Every locator of a stream by following its tokens, and the size of each page."""
    page = await stream(api, headers, tenant, **params)
    locators, sizes = [], []
    for _ in range(50):
        sizes.append(len(page["events"]))
        locators += [e["locator"] for e in page["events"]]
        if not page["events"]:
            return locators, sizes
        page = await stream(api, headers, tenant, pagingToken=page["pagingToken"])
    raise AssertionError("the stream never ended")


async def test_an_event_reads_exactly_as_socotra_returns_it(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    payload = {"policyLocator": "p-1", "amount": 12.5, "lines": [{"n": 1}]}
    [stored] = await append(api, owner, new_event("policy", "p-1", "policy.issued", payload))

    response = await api.get(events_path(tenant, stored["locator"]), headers=owner)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "locator": stored["locator"],
        "userLocator": stored["editor"]["userId"],
        "requestId": stored["requestId"],
        "timestamp": stored["creationDate"],
        "type": "policy.issued",
        "data": payload,
    }


async def test_an_unknown_locator_is_not_found(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    await append(api, owner, new_event())

    for locator in ["not-a-locator", new_ulid(), "x" * 300]:
        response = await api.get(events_path(tenant, locator), headers=owner)
        assert response.status_code == 404, locator
        socotra_error(response, 404)


async def test_the_events_of_a_request_come_back_in_append_order(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    request_id = new_ulid()
    await append(api, owner, new_event("user", "u-0", "user.human.added"))
    stored = await append(
        api,
        owner,
        new_event("user", "u-2", "user.human.added"),
        new_event("user", "u-1", "user.human.added"),
        new_event("user", "u-2", "user.removed"),
        requestId=request_id,
    )
    await append(api, owner, new_event("user", "u-3", "user.human.added"))

    response = await api.get(events_path(tenant, f"request/{request_id}"), headers=owner)

    assert response.status_code == 200, response.text
    found = response.json()
    assert [e["locator"] for e in found] == [e["locator"] for e in stored]
    assert {e["requestId"] for e in found} == {request_id}
    assert [e["type"] for e in found] == ["user.human.added", "user.human.added", "user.removed"]


async def test_an_append_without_a_request_id_gets_one(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    stored = await append(api, owner, new_event("user", "u-1"), new_event("user", "u-2"))
    request_id = stored[0]["requestId"]

    response = await api.get(events_path(tenant, f"request/{request_id}"), headers=owner)

    assert {e["requestId"] for e in stored} == {request_id}
    assert [e["locator"] for e in response.json()] == [e["locator"] for e in stored]


async def test_an_unknown_request_answers_an_empty_list(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    await append(api, owner, new_event())

    for request_id in [new_ulid(), "nonsense"]:
        response = await api.get(events_path(tenant, f"request/{request_id}"), headers=owner)
        assert response.status_code == 200, response.text
        assert response.json() == []


async def test_the_stream_lists_every_event_oldest_first(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    first = await append(api, owner, new_event("user", "u-1"), new_event("user", "u-2"))
    second = await append(api, owner, new_event("org", "o-1", "org.added"))

    page = await stream(api, owner, tenant)

    assert set(page) == {"pagingToken", "events"}
    assert [e["locator"] for e in page["events"]] == [e["locator"] for e in first + second]
    assert set(page["events"][0]) == {
        "locator",
        "userLocator",
        "requestId",
        "timestamp",
        "type",
        "data",
    }


async def test_start_timestamp_is_inclusive_and_end_timestamp_exclusive(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    stored = []
    for i in range(4):
        stored += await append(api, owner, new_event("user", f"u-{i}"))
    times = [e["creationDate"] for e in stored]
    assert times == sorted(set(times)), "each append has its own time"

    page = await stream(api, owner, tenant, startTimestamp=times[1], endTimestamp=times[3])

    assert [e["locator"] for e in page["events"]] == [e["locator"] for e in stored[1:3]]


async def test_type_keeps_only_events_of_that_type(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    stored = await append(
        api,
        owner,
        new_event("user", "u-1", "user.human.added"),
        new_event("user", "u-1", "user.removed"),
        new_event("user", "u-2", "user.human.added"),
    )

    page = await stream(api, owner, tenant, type="user.human.added")
    prefix = await stream(api, owner, tenant, type="user")

    assert [e["locator"] for e in page["events"]] == [stored[0]["locator"], stored[2]["locator"]]
    assert prefix["events"] == []


async def test_page_size_cuts_the_page(api: httpx.AsyncClient, owner: Headers, tenant: str) -> None:
    stored = await append(api, owner, *[new_event("user", f"u-{i}") for i in range(5)])

    page = await stream(api, owner, tenant, pageSize=2)

    assert [e["locator"] for e in page["events"]] == [e["locator"] for e in stored[:2]]


async def test_an_empty_stream_still_has_a_paging_token(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    page = await stream(api, owner, tenant)

    assert page["events"] == []
    assert isinstance(page["pagingToken"], str) and page["pagingToken"]


async def test_paging_through_the_stream_returns_each_event_once(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    wanted = []
    for i in range(7):
        stored = await append(
            api,
            owner,
            new_event("user", f"u-{i}", "user.human.added"),
            new_event("org", f"o-{i}", "org.added"),
        )
        wanted.append(stored[0]["locator"])

    locators, sizes = await read_all(api, owner, tenant, type="user.human.added", pageSize=3)

    assert locators == wanted
    assert sizes == [3, 3, 1, 0]


async def test_the_last_paging_token_picks_up_events_appended_later(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    await append(api, owner, new_event("user", "u-1"))
    first = await stream(api, owner, tenant)
    last = await stream(api, owner, tenant, pagingToken=first["pagingToken"])
    assert last["events"] == []

    later = await append(api, owner, new_event("user", "u-2"))
    polled = await stream(api, owner, tenant, pagingToken=last["pagingToken"])

    assert [e["locator"] for e in polled["events"]] == [later[0]["locator"]]


async def test_a_paging_token_with_a_filter_is_refused(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    token = (await stream(api, owner, tenant))["pagingToken"]

    extras: list[dict[str, str | int]] = [
        {"startTimestamp": "2024-01-01T00:00:00Z"},
        {"endTimestamp": "2999-01-01T00:00:00Z"},
        {"type": "user.human.added"},
        {"pageSize": 5},
    ]
    for extra in extras:
        response = await api.get(
            events_path(tenant, "list"), headers=owner, params={"pagingToken": token, **extra}
        )
        assert response.status_code == 400, extra
        assert "pagingToken" in socotra_error(response, 400)


async def test_an_altered_paging_token_is_refused(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    await append(api, owner, *[new_event("user", f"u-{i}") for i in range(3)])
    token = (await stream(api, owner, tenant, pageSize=1))["pagingToken"]
    body, mac = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    altered = [f"{flipped}.{mac}", f"{body}.{mac[::-1]}", token[:-3], "x", "a.b", "!!!.???"]

    for bad in altered:
        response = await api.get(
            events_path(tenant, "list"), headers=owner, params={"pagingToken": bad}
        )
        socotra_error(response, 400)


async def test_a_page_size_above_the_maximum_is_refused(
    api: httpx.AsyncClient, owner: Headers, tenant: str, chronik: Chronik
) -> None:
    maximum = chronik.settings.search_max_limit

    at_max = await api.get(events_path(tenant, "list"), headers=owner, params={"pageSize": maximum})
    above = await api.get(
        events_path(tenant, "list"), headers=owner, params={"pageSize": maximum + 1}
    )

    assert at_max.status_code == 200
    socotra_error(above, 400)
