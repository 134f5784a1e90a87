"""The native search, ``POST /v1/events/_search``: ListEvents' filters in native names, native
events, and a paging token that alone continues the search."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import ORG, Headers, append, native_error, new_event

ACTION = {"name": "enrich", "script": "function enrich(ctx, api) {}", "timeout": "1s"}


async def native_search(
    api: httpx.AsyncClient, headers: Headers, body: dict[str, Any]
) -> dict[str, Any]:
    response = await api.post("/v1/events/_search", headers=headers, json=body)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def seed(api: httpx.AsyncClient, owner: Headers) -> list[dict[str, Any]]:
    return await append(
        api,
        owner,
        new_event("user", "u-1", "user.added", correlationId="signup-1"),
        new_event("user", "u-1", "user.renamed", resourceOwner="org-2"),
        new_event("org", "o-1", "org.added", correlationId="signup-1"),
        new_event("project", "p-1", "project.added", correlationId="signup-2"),
    )


def sequences(page: dict[str, Any]) -> list[str]:
    return [e["sequence"] for e in page["events"]]


async def test_a_search_answers_native_events_newest_first_and_a_paging_token(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    stored = await seed(api, owner)

    page = await native_search(api, owner, {})

    assert page["events"] == stored[::-1]
    assert isinstance(page["pagingToken"], str) and page["pagingToken"]


async def test_each_filter_in_native_names_finds_its_events(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    s = [e["sequence"] for e in await seed(api, owner)]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"eventTypes": ["user.added", "org.added"]}, [s[0], s[2]]),
        ({"aggregateTypes": ["user"]}, [s[0], s[1]]),
        ({"aggregateId": "p-1"}, [s[3]]),
        ({"resourceOwner": "org-2"}, [s[1]]),
        ({"editorUserId": "nobody"}, []),
        ({"correlationId": "signup-1"}, [s[0], s[2]]),
        ({"correlationId": "signup-1", "aggregateTypes": ["org"]}, [s[2]]),
        ({"sequence": s[1]}, [s[2], s[3]]),
        ({"sequence": int(s[2]), "asc": False}, [s[1], s[0]]),
        ({"limit": 2}, [s[0], s[1]]),
    ]
    for filters, expected in cases:
        page = await native_search(api, owner, {"asc": True, **filters})
        assert sequences(page) == expected, filters


async def test_the_editor_filter_finds_the_appending_token(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    stored = await seed(api, owner)
    editor = stored[0]["editor"]["userId"]

    page = await native_search(api, owner, {"editorUserId": editor, "asc": True})

    assert page["events"] == stored


async def test_time_filters_take_from_creation_date_or_range(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    stored = await seed(api, owner)
    at = stored[0]["creationDate"]

    assert (await native_search(api, owner, {"from": at, "asc": True}))["events"] == []
    assert (await native_search(api, owner, {"creationDate": at}))["events"] == []
    window = await native_search(api, owner, {"range": {"since": at}, "asc": True})
    assert window["events"] == stored
    assert (await native_search(api, owner, {"range": {"until": at}}))["events"] == []


async def test_more_than_one_time_filter_is_refused(api: httpx.AsyncClient, owner: Headers) -> None:
    at = "2026-01-01T00:00:00Z"
    for body in (
        {"from": at, "creationDate": at},
        {"from": at, "range": {"since": at}},
        {"creationDate": at, "range": {"until": at}},
    ):
        response = await api.post("/v1/events/_search", headers=owner, json=body)
        assert "only one of" in native_error(response, 400, "INVALID_ARGUMENT"), body


async def test_the_paging_token_alone_continues_until_an_empty_page(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    stored = await seed(api, owner)
    page = await native_search(api, owner, {"asc": True, "limit": 1, "correlationId": "signup-1"})
    seen = list(page["events"])
    while page["events"]:
        page = await native_search(api, owner, {"pagingToken": page["pagingToken"]})
        seen += page["events"]

    assert seen == [stored[0], stored[2]]
    assert page["pagingToken"], "the empty last page still carries a token"
    [later] = await append(api, owner, new_event("org", "o-2", correlationId="signup-1"))
    resumed = await native_search(api, owner, {"pagingToken": page["pagingToken"]})
    assert resumed["events"] == [later]


async def test_a_descending_search_pages_towards_older_events(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    stored = await seed(api, owner)
    page = await native_search(api, owner, {"limit": 3})
    rest = await native_search(api, owner, {"pagingToken": page["pagingToken"]})

    assert page["events"] + rest["events"] == stored[::-1]


async def test_a_paging_token_with_other_fields_is_refused_naming_them(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    await seed(api, owner)
    token = (await native_search(api, owner, {"limit": 1}))["pagingToken"]

    response = await api.post(
        "/v1/events/_search",
        headers=owner,
        json={"pagingToken": token, "limit": 1, "correlationId": "signup-1"},
    )

    message = native_error(response, 400, "INVALID_ARGUMENT")
    assert "give it alone" in message
    assert "correlationId, limit" in message


async def test_an_altered_paging_token_is_refused(api: httpx.AsyncClient, owner: Headers) -> None:
    await seed(api, owner)
    token = (await native_search(api, owner, {"limit": 1}))["pagingToken"]

    response = await api.post(
        "/v1/events/_search", headers=owner, json={"pagingToken": "A" + token[1:]}
    )

    assert "paging token is not valid" in native_error(response, 400, "INVALID_ARGUMENT")


async def test_another_tenants_paging_token_is_refused(
    api: httpx.AsyncClient, owner: Headers, stranger: Headers
) -> None:
    await append(api, stranger, new_event())
    token = (await native_search(api, stranger, {}))["pagingToken"]

    response = await api.post("/v1/events/_search", headers=owner, json={"pagingToken": token})

    native_error(response, 400, "INVALID_ARGUMENT")


async def test_a_search_never_sees_another_tenants_events(
    api: httpx.AsyncClient, owner: Headers, stranger: Headers
) -> None:
    await seed(api, stranger)
    [mine] = await append(api, owner, new_event("user", "u-1", correlationId="signup-1"))

    for filters in ({}, {"correlationId": "signup-1"}, {"aggregateId": "u-1"}):
        assert (await native_search(api, owner, filters))["events"] == [mine], filters


async def test_chronik_records_are_left_out_unless_include_system(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    [mine] = await append(api, owner, new_event())
    created = await api.post("/management/v1/actions", headers=owner, json=ACTION)
    assert created.status_code == 200, created.text

    assert (await native_search(api, owner, {}))["events"] == [mine]
    everything = await native_search(api, owner, {"includeSystem": True, "asc": True})
    assert everything["events"][0] == mine
    assert {e["aggregateType"] for e in everything["events"][1:]} == {
        "chronik.action",
        "chronik.action_name",
    }


async def test_an_unknown_field_is_refused_by_name(api: httpx.AsyncClient, owner: Headers) -> None:
    response = await api.post("/v1/events/_search", headers=owner, json={"eventType": "user.added"})

    assert "eventType:" in native_error(response, 400, "INVALID_ARGUMENT")


async def test_ugly_filters_are_refused_in_the_native_error_format(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    for body in (
        {"limit": -1},
        {"limit": 10**9},
        {"sequence": "many"},
        {"eventTypes": "user.added"},
        {"eventTypes": [""]},
        {"correlationId": "c" * 201},
        {"aggregateTypes": ["t"] * 11},
        {"range": {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}},
        {"from": "yesterday"},
        {"asc": "maybe"},
        {"pagingToken": 7},
    ):
        response = await api.post("/v1/events/_search", headers=owner, json=body)
        native_error(response, 400, "INVALID_ARGUMENT")


async def test_searching_needs_the_events_read_permission(
    api: httpx.AsyncClient, org_owner: Headers, reader: Headers, owner: Headers
) -> None:
    stored = await append(api, owner, new_event())

    refused = await api.post("/v1/events/_search", headers=org_owner, json={})

    native_error(refused, 403, "PERMISSION_DENIED")
    assert (await native_search(api, reader, {}))["events"] == stored
    assert stored[0]["resourceOwner"] == ORG
