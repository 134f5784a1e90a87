"""Tenant isolation on every endpoint: a token of one tenant never sees another tenant's
events, not even by naming their locators, request ids or paging tokens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chronik.ids import new_ulid
from tests.api.helpers import Headers, append, new_event, search, surface_error

Appended = list[dict[str, Any]]


@pytest.fixture
async def theirs(api: httpx.AsyncClient, owner: Headers) -> Appended:
    """Tenant A's events (``owner`` is A's token; ``stranger`` is B's)."""
    return await append(
        api,
        owner,
        new_event("user", "u-1", "user.human.added"),
        new_event("secret", "s-1", "secret.kept", {"pin": 1234}),
        requestId=new_ulid(),
    )


@pytest.fixture
async def mine(api: httpx.AsyncClient, stranger: Headers) -> Appended:
    """Tenant B's own events."""
    return await append(api, stranger, new_event("org", "o-9", "org.added"))


async def test_a_zitadel_search_sees_only_the_callers_events(
    api: httpx.AsyncClient, stranger: Headers, theirs: Appended, mine: Appended
) -> None:
    everything = await search(api, stranger, {"asc": True})
    by_their_aggregate = await search(api, stranger, {"aggregateId": "u-1"})
    by_their_type = await search(api, stranger, {"eventTypes": ["secret.kept"]})
    by_their_editor = await search(api, stranger, {"editorUserId": theirs[0]["editor"]["userId"]})
    below_their_sequence = await search(api, stranger, {"sequence": theirs[-1]["sequence"]})

    assert [e["sequence"] for e in everything] == [e["sequence"] for e in mine]
    assert by_their_aggregate == by_their_type == by_their_editor == []
    assert all(e["aggregate"]["type"]["type"] == "org" for e in below_their_sequence)


async def test_the_type_catalogues_list_only_the_callers_types(
    api: httpx.AsyncClient, stranger: Headers, theirs: Appended, mine: Appended
) -> None:
    events = await api.post("/admin/v1/events/types/_search", headers=stranger, json={})
    aggregates = await api.post("/admin/v1/aggregates/types/_search", headers=stranger, json={})

    assert [t["type"] for t in events.json()["eventTypes"]] == ["org.added"]
    assert [t["type"] for t in aggregates.json()["aggregateTypes"]] == ["org"]


async def test_another_tenants_locator_is_not_found_on_socotra(
    api: httpx.AsyncClient, stranger: Headers, other_tenant: str, theirs: Appended
) -> None:
    response = await api.get(
        f"/event/{other_tenant}/events/{theirs[0]['locator']}", headers=stranger
    )

    socotra_message = surface_error("socotra", response, 404)
    assert "secret" not in socotra_message


async def test_another_tenants_locator_is_not_found_on_the_native_api(
    api: httpx.AsyncClient, stranger: Headers, theirs: Appended
) -> None:
    for event in theirs:
        response = await api.get(f"/v1/events/{event['locator']}", headers=stranger)
        surface_error("native", response, 404)


async def test_another_tenant_in_the_socotra_path_is_not_found(
    api: httpx.AsyncClient, stranger: Headers, tenant: str, theirs: Appended
) -> None:
    for rest in [theirs[1]["locator"], f"request/{theirs[0]['requestId']}", "list"]:
        response = await api.get(f"/event/{tenant}/events/{rest}", headers=stranger)
        surface_error("socotra", response, 404, rest)
        assert "pin" not in response.text


async def test_an_unknown_tenant_in_the_socotra_path_reads_like_another_tenants(
    api: httpx.AsyncClient, stranger: Headers, tenant: str, theirs: Appended
) -> None:
    foreign = await api.get(f"/event/{tenant}/events/list", headers=stranger)
    unknown = await api.get(
        "/event/00000000-0000-4000-8000-000000000000/events/list", headers=stranger
    )

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json().keys() == unknown.json().keys()


async def test_another_tenants_request_id_answers_an_empty_list(
    api: httpx.AsyncClient, stranger: Headers, other_tenant: str, theirs: Appended
) -> None:
    response = await api.get(
        f"/event/{other_tenant}/events/request/{theirs[0]['requestId']}", headers=stranger
    )

    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_another_tenant_reusing_a_request_id_does_not_join_the_request(
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    tenant: str,
    other_tenant: str,
    theirs: Appended,
) -> None:
    request_id = theirs[0]["requestId"]
    ours = await append(api, stranger, new_event("org", "o-1", "org.added"), requestId=request_id)

    for_them = await api.get(f"/event/{tenant}/events/request/{request_id}", headers=owner)
    for_us = await api.get(f"/event/{other_tenant}/events/request/{request_id}", headers=stranger)

    assert [e["locator"] for e in for_them.json()] == [e["locator"] for e in theirs]
    assert [e["locator"] for e in for_us.json()] == [e["locator"] for e in ours]


async def test_the_socotra_stream_holds_only_the_callers_events(
    api: httpx.AsyncClient,
    stranger: Headers,
    other_tenant: str,
    theirs: Appended,
    mine: Appended,
) -> None:
    everything = await api.get(f"/event/{other_tenant}/events/list", headers=stranger)
    their_type = await api.get(
        f"/event/{other_tenant}/events/list", headers=stranger, params={"type": "secret.kept"}
    )

    assert [e["locator"] for e in everything.json()["events"]] == [e["locator"] for e in mine]
    assert their_type.json()["events"] == []


async def test_another_tenants_paging_token_is_refused(
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    tenant: str,
    other_tenant: str,
    theirs: Appended,
    mine: Appended,
) -> None:
    page = await api.get(f"/event/{tenant}/events/list", headers=owner, params={"pageSize": 1})
    token = page.json()["pagingToken"]

    response = await api.get(
        f"/event/{other_tenant}/events/list", headers=stranger, params={"pagingToken": token}
    )

    surface_error("socotra", response, 400)
    assert theirs[1]["locator"] not in response.text


async def test_aggregates_of_the_same_name_are_separate_per_tenant(
    api: httpx.AsyncClient, stranger: Headers, theirs: Appended
) -> None:
    expect_new = [{"aggregateType": "user", "aggregateId": "u-1", "version": 0}]

    [stored] = await append(
        api, stranger, new_event("user", "u-1", "user.human.added"), expectedVersions=expect_new
    )

    assert stored["aggregateVersion"] == 1


async def test_another_tenants_locators_do_not_return_their_events_on_append(
    api: httpx.AsyncClient, stranger: Headers, theirs: Appended
) -> None:
    retry = {"events": [new_event("user", "u-1", locator=e["locator"]) for e in theirs]}

    response = await api.post("/v1/events", headers=stranger, json=retry)

    assert response.status_code in (400, 404, 409), response.text
    assert "pin" not in response.text and "secret" not in response.text
    assert await search(api, stranger) == []


async def test_me_names_the_tokens_own_tenant(
    api: httpx.AsyncClient, stranger: Headers, other_tenant: str
) -> None:
    response = await api.get("/v1/me", headers=stranger)

    assert response.json()["tenantId"] == other_tenant
