"""The native API: appends with expected versions and request ids, reading an event back, the
caller's identity, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from chronik.ids import is_ulid, new_ulid, new_ulids
from chronik.services import Chronik
from tests.api.helpers import (
    ORG,
    Headers,
    append,
    bearer,
    native_error,
    new_event,
    search,
)
from tests.conftest import surface_backend

backend = surface_backend()  # the contract suite covers storage on both backends


async def test_an_append_answers_the_stored_events(api: httpx.AsyncClient, owner: Headers) -> None:
    request_id = new_ulid()
    body = {
        "requestId": request_id,
        "events": [
            new_event("user", "u-1", "user.human.added", {"name": "Gigi"}),
            new_event("user", "u-1", "user.renamed", {"name": "Gia"}, revision=2),
            new_event("org", "o-1", "org.added", resourceOwner="org-2"),
        ],
    }

    response = await api.post("/v1/events", headers=owner, json=body)

    assert response.status_code == 200, response.text
    stored = response.json()["events"]
    assert [(e["aggregateType"], e["aggregateId"], e["aggregateVersion"]) for e in stored] == [
        ("user", "u-1", 1),
        ("user", "u-1", 2),
        ("org", "o-1", 1),
    ]
    assert [e["type"] for e in stored] == ["user.human.added", "user.renamed", "org.added"]
    assert [e["payload"] for e in stored] == [{"name": "Gigi"}, {"name": "Gia"}, {"n": 1}]
    assert [e["revision"] for e in stored] == [1, 2, 1]
    assert [e["resourceOwner"] for e in stored] == [ORG, ORG, "org-2"]
    assert {e["requestId"] for e in stored} == {request_id}
    assert all(is_ulid(e["locator"]) for e in stored)
    numbers = [int(e["sequence"]) for e in stored]
    assert all(isinstance(e["sequence"], str) for e in stored)
    assert numbers == sorted(set(numbers))
    assert all(re.fullmatch(r"\S+T\S+Z", e["creationDate"]) for e in stored)
    assert all(e["editor"]["service"] == "native-api" for e in stored)


async def test_the_stored_events_are_searchable(api: httpx.AsyncClient, owner: Headers) -> None:
    stored = await append(api, owner, new_event("user", "u-1"), new_event("user", "u-2"))

    found = await search(api, owner, {"asc": True})

    assert [e["sequence"] for e in found] == [e["sequence"] for e in stored]


async def test_snake_case_append_bodies_are_accepted(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    event = {"aggregate_type": "user", "aggregate_id": "u-1", "type": "user.added"}
    expected = [{"aggregate_type": "user", "aggregate_id": "u-1", "version": 0}]

    response = await api.post(
        "/v1/events", headers=owner, json={"events": [event], "expected_versions": expected}
    )

    assert response.status_code == 200, response.text
    assert response.json()["events"][0]["aggregateId"] == "u-1"


@pytest.mark.parametrize("version", [2, "exists"])
async def test_an_expected_version_that_holds_lets_the_append_through(
    api: httpx.AsyncClient, owner: Headers, version: int | str
) -> None:
    await append(api, owner, new_event("user", "u-1"), new_event("user", "u-1"))

    stored = await append(
        api,
        owner,
        new_event("user", "u-1", "user.removed"),
        expectedVersions=[{"aggregateType": "user", "aggregateId": "u-1", "version": version}],
    )

    assert stored[0]["aggregateVersion"] == 3


async def test_a_version_conflict_names_the_current_version_and_writes_nothing(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    before = await append(api, owner, new_event("user", "u-1"), new_event("user", "u-1"))
    body = {
        "events": [new_event("org", "o-1", "org.added"), new_event("user", "u-1", "user.removed")],
        "expectedVersions": [{"aggregateType": "user", "aggregateId": "u-1", "version": 1}],
    }

    response = await api.post("/v1/events", headers=owner, json=body)

    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "version 2" in message, message
    assert "1" in message
    assert response.json()["error"]["details"] == {
        "aggregateType": "user",
        "aggregateId": "u-1",
        "expectedVersion": 1,
        "currentVersion": 2,
    }
    found = await search(api, owner)
    assert [e["sequence"] for e in found] == [e["sequence"] for e in before][::-1]


@pytest.mark.parametrize("version", [0, "absent"])
async def test_expected_version_zero_or_absent_means_the_aggregate_must_be_new(
    api: httpx.AsyncClient, owner: Headers, version: int | str
) -> None:
    expect_new = [{"aggregateType": "user", "aggregateId": "u-1", "version": version}]
    await append(api, owner, new_event("user", "u-1"), expectedVersions=expect_new)

    again = await api.post(
        "/v1/events",
        headers=owner,
        json={"events": [new_event("user", "u-1")], "expectedVersions": expect_new},
    )

    assert again.status_code == 409
    assert len(await search(api, owner)) == 1


async def test_expected_version_exists_refuses_a_new_aggregate_and_writes_nothing(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    body = {
        "events": [new_event("org", "o-1", "org.added"), new_event("user", "u-1", "user.removed")],
        "expectedVersions": [{"aggregateType": "user", "aggregateId": "u-1", "version": "exists"}],
    }

    response = await api.post("/v1/events", headers=owner, json=body)

    assert "user/u-1 does not exist" in native_error(response, 409, "ABORTED")
    assert response.json()["error"]["details"]["expectedVersion"] == "exists"
    assert await search(api, owner) == []


async def test_an_expected_version_that_is_no_version_is_refused(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    for version in ("maybe", -1, None, 1.5, [1]):
        body = {
            "events": [new_event("user", "u-1")],
            "expectedVersions": [
                {"aggregateType": "user", "aggregateId": "u-1", "version": version}
            ],
        }
        response = await api.post("/v1/events", headers=owner, json=body)
        assert "expectedVersions.0.version" in native_error(response, 400, "INVALID_ARGUMENT")
    assert await search(api, owner) == []


async def test_correlation_causation_and_metadata_are_stored_and_read_back(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    [placed] = await append(
        api,
        owner,
        new_event("order", "o-1", "order.placed", correlationId="checkout-7", metadata={"ip": "x"}),
    )
    [paid] = await append(
        api,
        owner,
        new_event(
            "order",
            "o-1",
            "order.paid",
            correlation_id="checkout-7",
            causation_id=placed["locator"],
        ),
    )

    assert (placed["correlationId"], placed["causationId"]) == ("checkout-7", None)
    assert placed["metadata"] == {"ip": "x"}
    assert (paid["correlationId"], paid["causationId"]) == ("checkout-7", placed["locator"])
    assert paid["metadata"] == {}
    for stored in (placed, paid):
        read = await api.get(f"/v1/events/{stored['locator']}", headers=owner)
        assert read.json() == stored


async def test_an_event_without_metadata_answers_null_ids_and_an_empty_object(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    [stored] = await append(api, owner, new_event())

    assert (stored["correlationId"], stored["causationId"], stored["metadata"]) == (None, None, {})


async def test_bad_correlation_causation_or_metadata_is_refused(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    cases: list[tuple[str, object]] = [
        ("correlationId", ""),
        ("correlationId", "c" * 201),
        ("causationId", 7),
        ("metadata", [1]),
        ("metadata", "text"),
    ]
    for field, value in cases:
        response = await api.post(
            "/v1/events", headers=owner, json={"events": [{**new_event(), field: value}]}
        )
        assert f"events.0.{field}" in native_error(response, 400, "INVALID_ARGUMENT"), field
    assert await search(api, owner) == []


async def test_an_unknown_event_field_is_refused_by_name_and_nothing_is_written(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    body = {"events": [new_event("user", "u-1"), new_event("user", "u-2", correlationID="c-1")]}

    response = await api.post("/v1/events", headers=owner, json=body)

    assert "events.1.correlationID" in native_error(response, 400, "INVALID_ARGUMENT")
    assert await search(api, owner) == []


async def test_an_unknown_top_level_field_is_refused_by_name(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    body = {
        "events": [new_event()],
        "expectedVersion": [{"aggregateType": "user", "aggregateId": "u-1", "version": 3}],
    }

    response = await api.post("/v1/events", headers=owner, json=body)

    assert "expectedVersion:" in native_error(response, 400, "INVALID_ARGUMENT")
    assert await search(api, owner) == []


async def test_a_retried_append_with_the_same_locators_returns_the_same_events(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    locators = new_ulids(2)
    events = [new_event("user", "u-1", locator=locators[0]), new_event("user", "u-2")]
    events[1]["locator"] = locators[1]
    first = await append(api, owner, *events)

    retried = await append(api, owner, *events)

    assert retried == first
    assert [e["locator"] for e in first] == locators
    assert len(await search(api, owner)) == 2


async def test_concurrent_retries_of_one_append_write_it_once(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    locators = new_ulids(2)
    body = {
        "events": [
            new_event("user", "u-1", locator=locators[0]),
            new_event("user", "u-2", locator=locators[1]),
        ]
    }

    answers = await asyncio.gather(
        *[api.post("/v1/events", headers=owner, json=body) for _ in range(5)]
    )

    assert [r.status_code for r in answers] == [200] * 5
    assert len({r.text for r in answers}) == 1
    assert len(await search(api, owner)) == 2


async def test_of_concurrent_appends_expecting_one_version_exactly_one_wins(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    body = {
        "events": [new_event("user", "u-1")],
        "expectedVersions": [{"aggregateType": "user", "aggregateId": "u-1", "version": 0}],
    }

    answers = await asyncio.gather(
        *[api.post("/v1/events", headers=owner, json=body) for _ in range(5)]
    )

    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    assert len(await search(api, owner)) == 1


async def test_a_locator_may_not_be_reused_for_another_event(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    locator = new_ulid()
    first = await append(api, owner, new_event("user", "u-1", locator=locator))

    response = await api.post(
        "/v1/events",
        headers=owner,
        json={
            "events": [
                new_event("user", "u-3", locator=new_ulid()),
                new_event("user", "u-1", locator=locator),
            ]
        },
    )

    assert "already used" in native_error(response, 409, "ABORTED")
    found = await search(api, owner)
    assert [e["sequence"] for e in found] == [first[0]["sequence"]]


async def test_an_event_can_be_read_back_by_its_locator(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    [stored] = await append(api, owner, new_event("user", "u-1", payload={"a": [1, 2]}))

    response = await api.get(f"/v1/events/{stored['locator']}", headers=owner)

    assert response.status_code == 200, response.text
    assert response.json() == stored


async def test_an_unknown_locator_is_not_found(api: httpx.AsyncClient, owner: Headers) -> None:
    await append(api, owner, new_event())

    for locator in (new_ulid(), "nonsense"):
        response = await api.get(f"/v1/events/{locator}", headers=owner)
        native_error(response, 404, "NOT_FOUND")


async def test_me_describes_the_calling_token(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str
) -> None:
    headers = await bearer(chronik, tenant, "EVENTS_READER", "ORG_OWNER_VIEWER")

    response = await api.get("/v1/me", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "tenantId": tenant,
        "organisationId": ORG,
        "roles": ["EVENTS_READER", "ORG_OWNER_VIEWER"],
        "permissions": ["events.list", "events.read", "org.action.read", "org.flow.read"],
    }


async def test_me_needs_no_permission_but_a_token(
    api: httpx.AsyncClient, org_viewer: Headers
) -> None:
    assert (await api.get("/v1/me", headers=org_viewer)).status_code == 200
    native_error(await api.get("/v1/me"), 401, "UNAUTHENTICATED")


async def test_healthz_answers_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_schema_version(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert isinstance(body["schemaVersion"], int) and body["schemaVersion"] >= 1


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(re.escape(name) + r"(?:\{(.*)\})? (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


async def test_metrics_count_requests_by_route_template(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    [stored] = await append(api, owner, new_event())
    for _ in range(3):
        await api.get(f"/v1/events/{stored['locator']}", headers=owner)
    await api.get(f"/event/{tenant}/events/{new_ulid()}", headers=owner)
    await api.get("/openapi.json")
    await api.get("/no/such/route")

    text = (await api.get("/metrics")).text

    name = "chronik_http_requests_total"
    assert _sample(text, name, route="/v1/events/{locator}", method="GET", status="200") == 3
    assert _sample(text, name, route="/v1/events", method="POST", status="200") == 1
    socotra = "/event/{tenantLocator}/events/{locator}"
    assert _sample(text, name, route=socotra, method="GET", status="404") == 1
    assert _sample(text, name, route="/openapi.json", method="GET", status="200") == 1
    assert _sample(text, name, route="unmatched", method="GET", status="404") == 1
    assert f'locator="{stored["locator"]}"' not in text


async def test_metrics_count_the_appended_events(api: httpx.AsyncClient, owner: Headers) -> None:
    before = _sample((await api.get("/metrics")).text, "chronik_events_appended_total")
    await append(api, owner, new_event("user", "u-1"), new_event("user", "u-2"))
    await append(api, owner, new_event("user", "u-3"))
    await api.post("/v1/events", headers=owner, json={"events": []})

    after = _sample((await api.get("/metrics")).text, "chronik_events_appended_total")

    assert (before, after) == (0, 3)
