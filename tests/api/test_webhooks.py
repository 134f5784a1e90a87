"""Webhooks over HTTP: Socotra's Webhooks and Diverted Events APIs and their native mirror
(the same bodies and answers), delivering to a real receiver on 127.0.0.1; secrets shown
once; bad input, other tenants, missing tokens and permissions refused in each surface's
format."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from chronik.api import create_app
from chronik.services import Chronik
from chronik.settings import Settings
from tests.api.helpers import Headers, append, bearer, new_event, surface_error
from tests.receiver import Receiver, receiving, receiving_settings

T = TypeVar("T")
CAP = 16 * 1024
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
WEBHOOK_KEYS = {
    "locator",
    "name",
    "enabled",
    "endpoint",
    "failureHandling",
    "suspended",
    "suspendedAt",
    "eventTypes",
}
ENDPOINT_KEYS = {"url", "hmacEnabled", "secret", "secureSsl", "tag", "headers"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app's Chronik may deliver to 127.0.0.1 (the receiver), gives up on it quickly,
    and takes bodies of at most ``CAP`` bytes."""
    return receiving_settings(database_url, max_body_bytes=CAP)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


@pytest.fixture
async def delivering(chronik: Chronik) -> Chronik:
    """The app's Chronik delivering its webhooks (until it closes)."""
    chronik.start_webhooks()
    return chronik


@dataclass(frozen=True)
class Surface:
    """Where one surface serves webhooks: ``base`` (create, and each webhook under it) and
    ``listing``; its error format and the status a create answers."""

    name: str
    base: str
    listing: str
    created: int

    def hook(self, locator: str, *rest: str) -> str:
        return "/".join([self.base, locator, *rest])


def socotra(tenant: str) -> Surface:
    base = f"/event/{tenant}/webhooks"
    return Surface("socotra", base, f"{base}/list", 200)


NATIVE = Surface("native", "/v1/webhooks", "/v1/webhooks", 201)


@pytest.fixture(params=["socotra", "native"])
def surface(request: pytest.FixtureRequest, tenant: str) -> Surface:
    return socotra(tenant) if request.param == "socotra" else NATIVE


def body(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "policies",
        "enabled": True,
        "endpoint": {"url": url, "hmacEnabled": True},
        "eventTypes": [],
        **extra,
    }


async def create(
    api: httpx.AsyncClient, headers: Headers, surface: Surface, **fields: Any
) -> dict[str, Any]:
    fields.setdefault("url", "http://127.0.0.1:9/hook")
    response = await api.post(surface.base, headers=headers, json=body(**fields))
    assert response.status_code == surface.created, response.text
    made: dict[str, Any] = response.json()
    return made


async def fetch(api: httpx.AsyncClient, headers: Headers, path: str, **params: Any) -> Any:
    response = await api.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def eventually(read: Callable[[], Awaitable[T]], seconds: float = 5.0) -> T:
    """What ``read`` answers once it is truthy (delivery runs in the background)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (found := await read()) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls over HTTP
        await asyncio.sleep(0.02)
    return found


# -- round trips -----------------------------------------------------------------------------


async def test_a_create_answers_the_webhook_with_its_secrets_and_later_answers_hide_them(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    alert = {"url": "http://127.0.0.1:9/alert", "hmacEnabled": True, "tag": "ops"}
    made = await create(
        api,
        owner,
        surface,
        failureHandling={
            "triggers": ["5xx", "404"],
            "alertEndpoint": alert,
            "retryStrategy": {"intervalSeconds": 2, "pattern": "linear"},
            "divert": True,
        },
    )
    assert set(made) == WEBHOOK_KEYS and set(made["endpoint"]) == ENDPOINT_KEYS
    assert made["endpoint"]["secret"].startswith("whsec_")
    handling = made["failureHandling"]
    assert handling["alertEndpoint"]["secret"].startswith("whsec_")
    assert handling["retryStrategy"] == {"retries": 3, "intervalSeconds": 2, "pattern": "linear"}
    assert (handling["triggers"], handling["divert"], handling["suspend"]) == (
        ["5xx", "404"],
        True,
        False,
    )

    got = await fetch(api, owner, surface.hook(made["locator"]))
    listed = await fetch(api, owner, surface.listing)
    assert listed["items"] == [got]
    hidden = {**made, "endpoint": {**made["endpoint"], "secret": None}}
    hidden["failureHandling"]["alertEndpoint"]["secret"] = None
    assert got == hidden


async def test_a_create_without_failure_handling_takes_the_core_defaults(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    made = await create(api, owner, surface, endpoint={"url": "http://127.0.0.1:9/h"})
    assert made["endpoint"] == {
        "url": "http://127.0.0.1:9/h",
        "hmacEnabled": False,
        "secret": None,
        "secureSsl": True,
        "tag": "",
        "headers": {},
    }
    assert made["failureHandling"] == {
        "triggers": ["4xx", "5xx", "timeout"],
        "divert": False,
        "suspend": False,
    }
    assert (made["suspended"], made["suspendedAt"], made["eventTypes"]) == (False, None, [])


async def test_the_list_filters_and_pages(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    a = await create(api, owner, surface, name="a", eventTypes=["policy.issued"])
    b = await create(api, owner, surface, name="b", enabled=False)
    c = await create(api, owner, surface, name="c", eventTypes=["claim.filed"])

    async def locators(**params: Any) -> tuple[list[str], bool]:
        found = await fetch(api, owner, surface.listing, **params)
        return [h["locator"] for h in found["items"]], found["listCompleted"]

    assert await locators() == ([a["locator"], b["locator"], c["locator"]], True)
    assert await locators(name="b") == ([b["locator"]], True)
    assert await locators(enabled="false") == ([b["locator"]], True)
    assert await locators(active="true", suspended="false") == ([a["locator"], c["locator"]], True)
    # b delivers every type: it is among the webhooks delivering policy.issued
    assert await locators(eventTypes=["policy.issued", "x"]) == ([a["locator"], b["locator"]], True)
    assert await locators(count=2) == ([a["locator"], b["locator"]], False)
    assert await locators(offset=2, count=2) == ([c["locator"]], True)


async def test_an_update_changes_only_what_is_given_and_shows_only_a_new_secret(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    made = await create(api, owner, surface, eventTypes=["a", "b"])
    path = surface.hook(made["locator"])

    async def patch(change: dict[str, Any]) -> dict[str, Any]:
        response = await api.patch(path, headers=owner, json=change)
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    renamed = await patch(
        {
            "name": "renamed",
            "endpoint": {"tag": "t", "headers": {"X-Team": ["ops"]}},
            "failureHandling": {
                "addTriggers": ["404"],
                "removeTriggers": ["timeout"],
                "retryStrategy": {"retries": 2, "intervalSeconds": 1, "pattern": "exponential"},
            },
            "removeEventTypes": ["a"],
            "addEventTypes": ["c"],
        }
    )
    assert renamed["name"] == "renamed" and renamed["enabled"] is True
    assert renamed["endpoint"]["secret"] is None  # unchanged, so not shown
    assert (renamed["endpoint"]["tag"], renamed["endpoint"]["headers"]) == (
        "t",
        {"X-Team": ["ops"]},
    )
    assert renamed["failureHandling"]["triggers"] == ["4xx", "5xx", "404"]
    assert renamed["failureHandling"]["retryStrategy"]["retries"] == 2
    assert renamed["eventTypes"] == ["b", "c"]

    rotated = await patch({"endpoint": {"secret": None}, "eventTypes": ["z"]})
    assert rotated["endpoint"]["secret"].startswith("whsec_")
    assert rotated["endpoint"]["secret"] != made["endpoint"]["secret"]
    assert rotated["eventTypes"] == ["z"]

    plain = await patch({"failureHandling": {"removeRetryStrategy": True}, "enabled": False})
    assert plain["endpoint"]["secret"] is None
    assert "retryStrategy" not in plain["failureHandling"]
    assert plain["enabled"] is False
    assert await fetch(api, owner, path) == plain


async def test_unsuspend_and_delete_answer_as_socotra_says(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    made = await create(api, owner, surface)
    path = surface.hook(made["locator"])
    unsuspended = await api.patch(f"{path}/unsuspend", headers=owner)
    assert unsuspended.status_code == 200
    assert unsuspended.json() == {**made, "endpoint": {**made["endpoint"], "secret": None}}

    deleted = await api.delete(path, headers=owner)
    assert deleted.status_code == 204 and deleted.content == b""
    surface_error(surface.name, await api.get(path, headers=owner), 404)
    surface_error(surface.name, await api.delete(path, headers=owner), 404)
    assert (await fetch(api, owner, surface.listing))["items"] == []


async def test_the_list_route_is_not_taken_for_a_locator(
    api: httpx.AsyncClient, owner: Headers, tenant: str
) -> None:
    assert await fetch(api, owner, f"/event/{tenant}/webhooks/list") == {
        "listCompleted": True,
        "items": [],
    }


# -- delivery --------------------------------------------------------------------------------


async def test_a_webhook_made_over_http_delivers_signed_events_to_its_receiver(
    api: httpx.AsyncClient, owner: Headers, tenant: str, delivering: Chronik, receiver: Receiver
) -> None:
    made = await create(
        api,
        owner,
        socotra(tenant),
        url=receiver.url(),
        endpoint={"url": receiver.url(), "hmacEnabled": True, "headers": {"X-Team": ["ops"]}},
        eventTypes=["policy.issued"],
    )
    await append(api, owner, new_event("policy", "p1", "policy.changed"))
    await append(api, owner, new_event("policy", "p1", "policy.issued"))

    (got,) = await receiver.wait_for(1)
    assert got.json["type"] == "policy.issued"
    assert got.headers["x-team"] == "ops"
    Verifier(made["endpoint"]["secret"]).verify(got.body, got.headers)


async def test_diverted_events_are_listed_fetched_resent_and_deleted(
    api: httpx.AsyncClient,
    owner: Headers,
    surface: Surface,
    delivering: Chronik,
    receiver: Receiver,
) -> None:
    receiver.status = 503
    made = await create(
        api,
        owner,
        surface,
        endpoint={"url": receiver.url()},
        failureHandling={"divert": True},
    )
    diverted_path = surface.hook(made["locator"], "diverted")
    stored = await append(api, owner, new_event(type="a"), new_event(type="b"))

    async def diverted() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await fetch(api, owner, diverted_path)
        return found if len(found) == 2 else []

    first, second = await eventually(diverted)
    assert [first["eventLocator"], second["eventLocator"]] == [e["locator"] for e in stored]
    assert first["requestLocator"] == stored[0]["requestId"]
    assert first["failureTrigger"] == "503" and "503" in first["failureMessage"]
    assert RFC3339_UTC.fullmatch(first["failureTimestamp"])
    assert await fetch(api, owner, f"{diverted_path}/{first['eventLocator']}") == first
    assert await fetch(api, owner, diverted_path, offset=1, count=1) == [second]

    refused = await api.post(f"{diverted_path}/{first['eventLocator']}/resend", headers=owner)
    assert "did not take" in surface_error_502(surface, refused)
    receiver.status = 200
    resent = await api.post(f"{diverted_path}/{first['eventLocator']}/resend", headers=owner)
    assert (resent.status_code, resent.json()) == (200, {})
    deleted = await api.delete(f"{diverted_path}/{second['eventLocator']}", headers=owner)
    assert deleted.status_code == 204
    assert await fetch(api, owner, diverted_path) == []
    for gone in (first, second):
        path = f"{diverted_path}/{gone['eventLocator']}"
        surface_error(surface.name, await api.get(path, headers=owner), 404)


def surface_error_502(surface: Surface, response: httpx.Response) -> str:
    """A 502 in the surface's format (the receiver refused a resend); its message."""
    assert response.status_code == 502, response.text
    answer = response.json()
    if surface.name == "socotra":
        assert answer["httpStatus"] == 502
        message: str = answer["message"]
    else:
        assert answer["error"]["code"] == "UNAVAILABLE"
        message = answer["error"]["message"]
    return message


async def test_a_suspended_webhook_shows_it_and_unsuspends(
    api: httpx.AsyncClient, owner: Headers, tenant: str, delivering: Chronik, receiver: Receiver
) -> None:
    receiver.status = 500
    hooks = socotra(tenant)
    made = await create(
        api, owner, hooks, endpoint={"url": receiver.url()}, failureHandling={"suspend": True}
    )
    await append(api, owner, new_event())

    async def suspended() -> dict[str, Any] | None:
        got: dict[str, Any] = await fetch(api, owner, hooks.hook(made["locator"]))
        return got if got["suspended"] else None

    shown = await eventually(suspended)
    assert shown is not None and RFC3339_UTC.fullmatch(shown["suspendedAt"])
    listed = await fetch(api, owner, hooks.listing, suspended="true")
    assert [h["locator"] for h in listed["items"]] == [made["locator"]]
    receiver.status = 200
    again = await api.patch(hooks.hook(made["locator"], "unsuspend"), headers=owner)
    assert (again.json()["suspended"], again.json()["suspendedAt"]) == (False, None)
    await receiver.wait_for(2)


async def test_the_native_status_tells_where_delivery_stands(
    api: httpx.AsyncClient, owner: Headers, delivering: Chronik, receiver: Receiver
) -> None:
    made = await create(api, owner, NATIVE, endpoint={"url": receiver.url()})
    await append(api, owner, new_event())
    await receiver.wait_for(1)

    async def caught_up() -> dict[str, Any] | None:
        status: dict[str, Any] = await fetch(api, owner, NATIVE.hook(made["locator"], "status"))
        return status if status["lag"] == 0 else None

    status = await eventually(caught_up)
    assert status is not None
    assert set(status) == {"locator", "position", "head", "lag", "retrying", "diverted", "node"}
    assert status["locator"] == made["locator"]
    assert status["position"] == status["head"] and int(status["head"]) > 0
    assert (status["retrying"], status["diverted"]) == (None, 0)


async def test_the_native_status_shows_the_event_being_retried(
    api: httpx.AsyncClient, owner: Headers, delivering: Chronik, receiver: Receiver
) -> None:
    receiver.status = 503
    made = await create(
        api,
        owner,
        NATIVE,
        endpoint={"url": receiver.url()},
        failureHandling={"retryStrategy": {"retries": 1, "intervalSeconds": 600}},
    )
    (stored,) = await append(api, owner, new_event())

    async def retrying() -> dict[str, Any] | None:
        status = await fetch(api, owner, NATIVE.hook(made["locator"], "status"))
        shown: dict[str, Any] | None = status["retrying"]
        return shown

    shown = await eventually(retrying)
    assert shown is not None
    assert set(shown) == {"eventSequence", "failureCount", "error", "retryAt"}
    assert (shown["eventSequence"], shown["failureCount"]) == (stored["sequence"], 1)
    assert shown["error"].startswith("503: ") and RFC3339_UTC.fullmatch(shown["retryAt"])


# -- refusals --------------------------------------------------------------------------------

BAD_CREATES: list[Any] = [
    {"name": 5, "endpoint": {"url": "http://127.0.0.1:9/"}},
    {"name": "x"},
    {"name": "x", "endpoint": {"url": 7}},
    {"name": "x", "endpoint": "http://127.0.0.1:9/"},
    {"name": "x", "enabled": "maybe", "endpoint": {"url": "http://127.0.0.1:9/"}},
    {"name": "x\u0000", "endpoint": {"url": "http://127.0.0.1:9/"}},
    {"name": "", "endpoint": {"url": "http://127.0.0.1:9/"}},
    {"name": "x" * 201, "endpoint": {"url": "http://127.0.0.1:9/"}},
    {"name": "x", "endpoint": {"url": "ftp://127.0.0.1/"}},
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/", "headers": {"X-A": "v"}}},
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/", "headers": {"X\u0000": ["v"]}}},
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/", "headers": {"Host": ["v"]}}},
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/", "secret": "plain"}},
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/"}, "eventTypes": "a"},
    {
        "name": "x",
        "endpoint": {"url": "http://127.0.0.1:9/"},
        "failureHandling": {"retryStrategy": {"pattern": "cubic"}},
    },
    {
        "name": "x",
        "endpoint": {"url": "http://127.0.0.1:9/"},
        "failureHandling": {"retryStrategy": {"retries": 11}},
    },
    {
        "name": "x",
        "endpoint": {"url": "http://127.0.0.1:9/"},
        "failureHandling": {"retryStrategy": {"intervalSeconds": -1}},
    },
    {"name": "x", "endpoint": {"url": "http://127.0.0.1:9/"}, "failureHandling": {"triggers": []}},
    {
        "name": "x",
        "endpoint": {"url": "http://127.0.0.1:9/"},
        "failureHandling": {"triggers": ["3xx"]},
    },
    {
        "name": "x",
        "endpoint": {"url": "http://127.0.0.1:9/"},
        "failureHandling": {"alertEndpoint": {"url": "gopher://x"}},
    },
    [],
    "text",
    None,
]


async def test_bad_creates_are_refused_in_the_surfaces_format_and_make_nothing(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    for bad in BAD_CREATES:
        response = await api.post(surface.base, headers=owner, json=bad)
        surface_error(surface.name, response, 400, bad)
    for content in (b"", b"{", b"\xff"):
        response = await api.post(surface.base, headers=owner, content=content)
        surface_error(surface.name, response, 400, content)
    assert (await fetch(api, owner, surface.listing))["items"] == []


async def test_bad_updates_and_queries_are_refused_and_change_nothing(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    made = await create(api, owner, surface)
    path = surface.hook(made["locator"])
    for bad in [
        {"failureHandling": {"retryStrategy": {"pattern": "cubic"}}},
        {"failureHandling": {"addTriggers": ["3xx"]}},
        {"failureHandling": {"removeTriggers": ["4xx", "5xx", "timeout"]}},
        {"endpoint": {"url": "not a url"}},
        {"endpoint": {"headers": {"Webhook-Id": ["x"]}}},
        {"name": "\u0000"},
        {"addEventTypes": "a"},
        {"enabled": [True]},
        [],
    ]:
        surface_error(surface.name, await api.patch(path, headers=owner, json=bad), 400, bad)
    bad_queries: list[dict[str, Any]] = [
        {"count": 0},
        {"count": 1001},
        {"offset": -1},
        {"enabled": "maybe"},
        {"name": "a\u0000"},
        {"eventTypes": ["a", "\u0000"]},
    ]
    for params in bad_queries:
        response = await api.get(surface.listing, headers=owner, params=params)
        surface_error(surface.name, response, 400, params)
    response = await api.get(f"{path}/diverted", headers=owner, params={"count": "x"})
    surface_error(surface.name, response, 400)
    assert await fetch(api, owner, path) == {
        **made,
        "endpoint": {**made["endpoint"], "secret": None},
    }


async def test_an_oversized_body_is_refused_with_413(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    huge = body("http://127.0.0.1:9/", name="x" * (CAP + 1))
    surface_error(surface.name, await api.post(surface.base, headers=owner, json=huge), 413)


async def test_an_address_that_is_not_public_is_refused_naming_the_problem(
    api: httpx.AsyncClient, owner: Headers, surface: Surface
) -> None:
    for url in ("http://10.1.2.3/hook", "http://localhost:9/hook"):
        response = await api.post(surface.base, headers=owner, json=body(url))
        assert "which is not a public address" in surface_error(surface.name, response, 400, url)


async def test_without_the_allow_list_127_0_0_1_is_refused(
    settings: Settings, owner: Headers, tenant: str
) -> None:
    strict = dataclasses.replace(settings, webhook_allowed_hosts=())
    opened = await Chronik.open(strict)
    try:
        transport = httpx.ASGITransport(app=create_app(strict, chronik=opened))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            url = "http://127.0.0.1:9/hook"
            response = await client.post(f"/event/{tenant}/webhooks", headers=owner, json=body(url))
            message = surface_error("socotra", response, 400)
            assert "endpoint.url: 127.0.0.1 resolves to 127.0.0.1" in message
            assert "not a public address" in message
            response = await client.post(
                "/v1/webhooks",
                headers=owner,
                json=body("http://8.8.8.8/", failureHandling={"alertEndpoint": {"url": url}}),
            )
            assert "alertEndpoint.url" in surface_error("native", response, 400)
    finally:
        await opened.close()


def every_route(surface: Surface, locator: str, event: str) -> list[tuple[str, str]]:
    hook = surface.hook(locator)
    diverted = f"{hook}/diverted"
    return [
        ("POST", surface.base),
        ("GET", surface.listing),
        ("GET", hook),
        ("PATCH", hook),
        ("PATCH", f"{hook}/unsuspend"),
        ("DELETE", hook),
        ("GET", diverted),
        ("GET", f"{diverted}/{event}"),
        ("POST", f"{diverted}/{event}/resend"),
        ("DELETE", f"{diverted}/{event}"),
    ]


@pytest.fixture
async def event_locator(api: httpx.AsyncClient, owner: Headers) -> str:
    (stored,) = await append(api, owner, new_event())
    locator: str = stored["locator"]
    return locator


async def test_another_tenants_webhooks_are_not_found(
    api: httpx.AsyncClient,
    owner: Headers,
    stranger: Headers,
    surface: Surface,
    tenant: str,
    other_tenant: str,
    event_locator: str,
) -> None:
    made = await create(api, owner, surface)
    routes = every_route(surface, made["locator"], event_locator)
    if surface.name == "socotra":  # the stranger's own tenant, with our locators
        routes += every_route(socotra(other_tenant), made["locator"], event_locator)[2:]
    for method, path in routes:
        if path.endswith(("/webhooks", "/list")):
            continue  # the stranger's own list and create (of the caller's tenant)
        response = await api.request(method, path, headers=stranger, json={"name": "x"})
        surface_error(surface.name, response, 404, (method, path))
    assert (await fetch(api, owner, surface.hook(made["locator"])))["name"] == "policies"
    if surface.name == "socotra":  # our tenant in the path, the stranger's token
        response = await api.get(surface.listing, headers=stranger)
        surface_error("socotra", response, 404)
        response = await api.post(surface.base, headers=stranger, json=body("http://8.8.8.8/"))
        surface_error("socotra", response, 404)


async def test_a_missing_or_wrong_token_is_refused_with_401(
    api: httpx.AsyncClient, owner: Headers, surface: Surface, event_locator: str
) -> None:
    made = await create(api, owner, surface)
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic eDp5"}):
        for method, path in every_route(surface, made["locator"], event_locator):
            response = await api.request(method, path, headers=headers)
            surface_error(surface.name, response, 401, (method, path, headers))


async def test_the_viewer_reads_and_lists_but_changes_nothing(
    api: httpx.AsyncClient,
    owner: Headers,
    viewer: Headers,
    surface: Surface,
    event_locator: str,
) -> None:
    made = await create(api, owner, surface)
    routes = every_route(surface, made["locator"], event_locator)
    for method, path in routes:
        response = await api.request(method, path, headers=viewer, json=body("http://8.8.8.8/"))
        if method == "GET":
            assert response.status_code in (200, 404), (path, response.text)
        else:
            surface_error(surface.name, response, 403, (method, path))
    assert len((await fetch(api, owner, surface.listing))["items"]) == 1


async def test_a_role_without_the_webhook_permissions_is_refused_with_403(
    api: httpx.AsyncClient, chronik: Chronik, tenant: str, surface: Surface, event_locator: str
) -> None:
    writer = await bearer(chronik, tenant, "EVENTS_WRITER", "ORG_OWNER")
    for method, path in every_route(surface, "01ARZ3NDEKTSV4RRFFQ69G5FAV", event_locator):
        response = await api.request(method, path, headers=writer, json=body("http://8.8.8.8/"))
        message = surface_error(surface.name, response, 403, (method, path))
        assert "webhooks." in message or "diverted-events." in message
