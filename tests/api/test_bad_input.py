"""Bad input on every surface: each is refused in the surface's own format, none crashes
the server (500), and none writes anything."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chronik.api import create_app
from chronik.ids import new_ulid
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import Headers, append, new_event, search, surface_error

SEARCH = "/admin/v1/events/_search"
CATALOGUES = ["/admin/v1/events/types/_search", "/admin/v1/aggregates/types/_search"]
CAP = 1024


@pytest.fixture
async def before(api: httpx.AsyncClient, owner: Headers) -> list[str]:
    """One event already in the log; its sequences, newest first."""
    await append(api, owner, new_event("user", "u-0"))
    return [e["sequence"] for e in await search(api, owner)]


async def assert_nothing_written(api: httpx.AsyncClient, owner: Headers, before: list[str]) -> None:
    assert [e["sequence"] for e in await search(api, owner)] == before


@pytest.fixture
async def small_api(settings: Settings, chronik: Chronik) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that takes bodies of at most ``CAP`` bytes."""
    app = create_app(dataclasses.replace(settings, max_body_bytes=CAP), chronik=chronik)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


NOT_AN_OBJECT = [b"{", b"not json", b"\xff\xfe", b"[]", b"[{}]", b'"text"', b"42", b"null"]


async def test_a_zitadel_body_that_is_not_a_json_object_is_refused(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    for content in NOT_AN_OBJECT:
        for path in [SEARCH, *CATALOGUES]:
            response = await api.post(path, headers=owner, content=content)
            surface_error("zitadel", response, 400, (path, content))
    await assert_nothing_written(api, owner, before)


async def test_a_native_body_that_is_not_a_json_object_is_refused(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    for content in [*NOT_AN_OBJECT, b"", b"  \n"]:
        response = await api.post("/v1/events", headers=owner, content=content)
        surface_error("native", response, 400, content)
    await assert_nothing_written(api, owner, before)


BAD_SEARCHES: list[dict[str, Any]] = [
    {"limit": "abc"},
    {"limit": -1},
    {"limit": 1.5},
    {"sequence": "abc"},
    {"sequence": -1},
    {"sequence": 2**64},
    {"eventTypes": "x"},
    {"eventTypes": [1]},
    {"eventTypes": [""]},
    {"aggregateTypes": {"a": 1}},
    {"asc": "maybe"},
    {"asc": 2},
    {"aggregateId": 5},
    {"aggregateId": "x" * 201},
    {"aggregateId": "a\u0000b"},
    {"eventTypes": ["user\u0000"]},
    {"creationDate": "yesterday"},
    {"creationDate": "2024-02-30T00:00:00Z"},
    {"creationDate": "0001-01-01T00:00:00+01:00"},
    {"from": "9999-12-31T23:59:59-01:00"},
    {"range": "2024"},
    {"range": {"since": "nope"}},
    {"range": {"until": "0001-01-01T00:00:00+05:00"}},
    {"range": {"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}},
    {"from": "2024-01-01T00:00:00Z", "range": {"until": "2024-01-01T00:00:00Z"}},
    {"creationDate": "2024-01-01T00:00:00"},
    {"asc": "true"},
]
"""What grpc-gateway refuses too: a timestamp needs its offset, a bool is no string, and
``from`` and ``range`` are one oneof."""

PROTOJSON_ACCEPTS: list[dict[str, Any]] = [
    {"eventTypes": None},
    {"creationDate": "2024-01-01T00:00:00Z", "from": "2024-01-01T00:00:00Z"},
    {"limit": "5", "sequence": 0, "unknownField": [1]},
]
"""``null`` is the default; ``from`` wins over the deprecated ``creationDate`` outside the
oneof; 64-bit and 32-bit integers may be strings; unknown fields are ignored."""


async def test_what_protojson_accepts_is_accepted(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    for body in PROTOJSON_ACCEPTS:
        response = await api.post(SEARCH, headers=owner, json=body)
        assert response.status_code == 200, (body, response.text)


async def test_a_bad_zitadel_search_is_an_invalid_argument(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    for body in BAD_SEARCHES:
        response = await api.post(SEARCH, headers=owner, json=body)
        surface_error("zitadel", response, 400, body)
    await assert_nothing_written(api, owner, before)


async def test_a_sequence_beyond_int64_is_above_every_event(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    huge = 2**64 - 1

    below = await search(api, owner, {"sequence": huge})
    above = await search(api, owner, {"sequence": str(huge), "asc": True})

    assert [e["sequence"] for e in below] == before
    assert above == []


def _event(**changes: Any) -> dict[str, Any]:
    event = new_event()
    for key, value in changes.items():
        if value is ...:
            del event[key]
        else:
            event[key] = value
    return event


BAD_APPENDS: list[dict[str, Any]] = [
    {"events": []},
    {"events": "x"},
    {"events": None},
    {"events": [None]},
    {"events": [{}]},
    {"requestId": new_ulid()},
    {"events": [_event(payload="x")]},
    {"events": [_event(payload=[1, 2])]},
    {"events": [_event(payload=None)]},
    {"events": [_event(aggregateId="x" * 201)]},
    {"events": [_event(aggregateType="x" * 201)]},
    {"events": [_event(type="x" * 201)]},
    {"events": [_event(resourceOwner="x" * 201)]},
    {"events": [_event(aggregateId="")]},
    {"events": [_event(type=...)]},
    {"events": [_event(aggregateId=7)]},
    {"events": [_event(aggregateId="a\u0000b")]},
    {"events": [_event(payload={"text": "a\u0000b"})]},
    {"events": [_event(payload={"a\u0000": 1})]},
    {"events": [_event(revision=-1)]},
    {"events": [_event(revision="abc")]},
    {"events": [_event(locator="not-a-ulid")]},
    {"events": [_event(locator=new_ulid()), _event()]},
    {"events": [_event(locator="01ARZ3NDEKTSV4RRFFQ69G5FAV")] * 2},
    {"events": [_event()], "requestId": "not-a-ulid"},
    {"events": [_event()], "requestId": 12},
    {"events": [_event()], "expectedVersions": "x"},
    {"events": [_event()], "expectedVersions": [{"aggregateType": "user"}]},
    {
        "events": [_event()],
        "expectedVersions": [{"aggregateType": "user", "aggregateId": "u-1", "version": -1}],
    },
    {
        "events": [_event()],
        "expectedVersions": [
            {"aggregateType": "user", "aggregateId": "u-1", "version": 1},
            {"aggregateType": "user", "aggregateId": "u-1", "version": 2},
        ],
    },
]


async def test_a_bad_append_is_an_invalid_argument_and_writes_nothing(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    for body in BAD_APPENDS:
        response = await api.post("/v1/events", headers=owner, json=body)
        surface_error("native", response, 400, body)
    await assert_nothing_written(api, owner, before)


async def test_a_payload_number_that_is_not_finite_is_refused(
    api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    body = b'{"events": [{"aggregateType": "a", "aggregateId": "b", "type": "c", "payload": '

    for payload in [b'{"x": NaN}', b'{"x": [Infinity]}', b'{"x": -Infinity}', b'{"x": 1E+400}']:
        response = await api.post("/v1/events", headers=owner, content=body + payload + b"}]}")
        surface_error("native", response, 400, payload)
    await assert_nothing_written(api, owner, before)


async def test_payload_text_that_merely_looks_suspect_is_kept(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    payload = {"a": "NaN", "b": "\\u0000", "c": "Infinity", "d": 0.5, "e": 10**400}

    [stored] = await append(api, owner, new_event(payload=payload))
    [found] = await search(api, owner)

    assert stored["payload"] == found["payload"] == payload


async def test_a_payload_over_the_limit_is_refused(
    api: httpx.AsyncClient, owner: Headers, before: list[str], chronik: Chronik
) -> None:
    limit = chronik.settings.max_payload_bytes
    body = {"events": [new_event(), new_event(payload={"blob": "x" * limit})]}

    response = await api.post("/v1/events", headers=owner, json=body)

    assert str(limit) in surface_error("native", response, 400)
    await assert_nothing_written(api, owner, before)


BAD_STREAMS: list[dict[str, str | int]] = [
    {"pageSize": 0},
    {"pageSize": -1},
    {"pageSize": "abc"},
    {"pageSize": ""},
    {"pageSize": 10**30},
    {"startTimestamp": "yesterday"},
    {"endTimestamp": "2024-13-01T00:00:00Z"},
    {"startTimestamp": "0001-01-01T00:00:00+01:00"},
    {"endTimestamp": "9999-12-31T23:59:59-01:00"},
    {"startTimestamp": "2024-02-01T00:00:00Z", "endTimestamp": "2024-01-01T00:00:00Z"},
    {"type": "x" * 201},
    {"type": "a\u0000b"},
    {"pagingToken": "x" * 9000},
]


async def test_bad_stream_parameters_are_refused(
    api: httpx.AsyncClient, owner: Headers, tenant: str, before: list[str]
) -> None:
    for params in BAD_STREAMS:
        response = await api.get(f"/event/{tenant}/events/list", headers=owner, params=params)
        surface_error("socotra", response, 400, params)
    await assert_nothing_written(api, owner, before)


async def test_odd_locators_in_paths_are_not_found(
    api: httpx.AsyncClient, owner: Headers, tenant: str, before: list[str]
) -> None:
    for odd in ["a%00b", "%ff", "x" * 2000, new_ulid().lower(), "..%2f..%2fetc"]:
        socotra = await api.get(f"/event/{tenant}/events/{odd}", headers=owner)
        native = await api.get(f"/v1/events/{odd}", headers=owner)
        request = await api.get(f"/event/{tenant}/events/request/{odd}", headers=owner)
        surface_error("socotra", socotra, 404)
        surface_error("native", native, 404)
        assert request.status_code in (200, 404), request.text
    await assert_nothing_written(api, owner, before)


def _over_cap() -> dict[str, Any]:
    return {"events": [new_event(payload={"blob": "x" * CAP})]}


async def test_a_body_over_the_size_cap_is_refused_as_too_large(
    small_api: httpx.AsyncClient, owner: Headers, tenant: str, before: list[str]
) -> None:
    for surface, method, path in [
        ("zitadel", "POST", SEARCH),
        ("zitadel", "POST", CATALOGUES[0]),
        ("socotra", "GET", f"/event/{tenant}/events/list"),
        ("native", "POST", "/v1/events"),
        ("native", "POST", "/v1/nothing"),
    ]:
        response = await small_api.request(method, path, headers=owner, json=_over_cap())
        assert str(CAP) in surface_error(surface, response, 413, path)
    await assert_nothing_written(small_api, owner, before)


async def test_a_streamed_body_over_the_size_cap_is_refused_as_too_large(
    small_api: httpx.AsyncClient, owner: Headers, before: list[str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"events": [{"aggregateType": "a", "aggregateId": "b", "type": "c", '
        for _ in range(4):
            yield b'"payload": {"blob": "' + b"x" * (CAP // 2) + b'"}, '
        yield b"}]}"

    for path in ["/v1/events", SEARCH]:
        response = await small_api.post(path, headers=owner, content=chunks())
        surface = "native" if path.startswith("/v1") else "zitadel"
        surface_error(surface, response, 413)
    await assert_nothing_written(small_api, owner, before)


async def test_a_body_at_the_size_cap_is_taken(
    small_api: httpx.AsyncClient, owner: Headers
) -> None:
    event = new_event(payload={"blob": ""})
    bare = len(httpx.Request("POST", "/", json={"events": [event]}).content)
    event["payload"]["blob"] = "x" * (CAP - bare)
    content = httpx.Request("POST", "/", json={"events": [event]}).content
    assert len(content) == CAP

    response = await small_api.post(
        "/v1/events", headers={**owner, "Content-Type": "application/json"}, content=content
    )

    assert response.status_code == 200, response.text


async def test_an_unknown_route_is_not_found_in_the_surface_format(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    for surface, path in [
        ("zitadel", "/admin/v1/nothing"),
        ("zitadel", "/admin/v1/events/types"),
        ("zitadel", "/management/v1/nothing"),
        ("socotra", f"/event/{tenant}/nothing"),
        ("socotra", f"/event/{tenant}/events/a/b/c"),
        ("native", "/v1/nothing"),
        ("native", "/nothing"),
    ]:
        for method in ("GET", "POST"):
            response = await api.request(method, path, headers=owner)
            surface_error(surface, response, 404, (method, path))
        surface_error(surface, await api.get(path), 404, path)


async def test_a_wrong_method_is_refused_in_the_surface_format(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    zitadel = await api.get(SEARCH, headers=owner)
    socotra = await api.post(f"/event/{tenant}/events/list", headers=owner)
    native = await api.delete("/v1/events", headers=owner)

    surface_error("zitadel", zitadel, 405)
    surface_error("socotra", socotra, 405)
    surface_error("native", native, 405)
