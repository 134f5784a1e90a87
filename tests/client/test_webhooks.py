"""The remote client's webhook calls, against a fake of the native routes (``/v1/webhooks``,
as specified for the server's webhook API, which is not on this branch yet): what each
call sends, and the core records and errors it makes of the answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from chronik.client import AsyncClient, Client
from chronik.client.webhooks import UNKNOWN_TIME, Diverted, Retrying
from chronik.errors import DeliveryFailed, InvalidArgument, NotFound
from chronik.records import Endpoint, FailureHandling, RetryStrategy, WebhookDefinition
from chronik.webhooks import WebhookChange

TENANT = "t-1"
HOOK = "01JCZ0000000000000000000HK"
EVENT = "01JCZ0000000000000000000EV"
SUSPENDED_AT = "2026-12-01T10:00:00.000000Z"


def answer(definition: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A WebhookResponse for a CreateWebhookRequest (its endpoint with the server's defaults
    filled in)."""
    endpoint = {"hmacEnabled": False, "secureSsl": True, "tag": "", "headers": {}}
    return {
        "locator": HOOK,
        "name": definition["name"],
        "enabled": definition["enabled"],
        "endpoint": endpoint | definition["endpoint"],
        "failureHandling": definition["failureHandling"],
        "suspended": False,
        "suspendedAt": None,
        "eventTypes": definition["eventTypes"],
    } | more


def native_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class FakeServer:
    """The native webhook routes over one webhook, recording every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.hook: dict[str, Any] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/v1/me":
            return httpx.Response(200, json={"tenantId": TENANT, "roles": ["IAM_OWNER"]})
        if (method, path) == ("POST", "/v1/webhooks"):
            body = json.loads(request.content)
            self.hook = answer(body)
            if body["endpoint"].get("hmacEnabled") and "secret" not in body["endpoint"]:
                self.hook["endpoint"]["secret"] = "whsec_made"
            return httpx.Response(201, json=self.hook)
        mine = path == "/v1/webhooks" or path.startswith(f"/v1/webhooks/{HOOK}")
        if self.hook is None or not mine:
            return native_error(404, "NOT_FOUND", f"webhook {path!r} not found")
        endpoint = {k: v for k, v in self.hook["endpoint"].items() if k != "secret"}
        shown = self.hook | {"endpoint": endpoint}  # the secret is shown on create only
        rest = path.removeprefix(f"/v1/webhooks/{HOOK}")
        match method, rest:
            case "GET", "/v1/webhooks":
                return httpx.Response(200, json={"listCompleted": True, "items": [shown]})
            case ("GET", "") | ("PATCH", ""):
                return httpx.Response(200, json=shown)
            case "PATCH", "/unsuspend":
                return httpx.Response(200, json=shown | {"suspended": False})
            case "DELETE", "":
                return httpx.Response(204)
            case "GET", "/status":
                retrying = {
                    "eventSequence": "8",
                    "failureCount": 2,
                    "error": "503 Service Unavailable",
                    "retryAt": "2026-12-01T10:01:00Z",
                }
                return httpx.Response(
                    200,
                    json={
                        "locator": HOOK,
                        "position": "7",
                        "head": "12",
                        "lag": 5,
                        "retrying": retrying,
                        "diverted": 1,
                        "node": None,
                    },
                )
            case "GET", "/diverted":
                return httpx.Response(200, json=[diverted()])
            case "GET", _ if rest == f"/diverted/{EVENT}":
                return httpx.Response(200, json=diverted())
            case "DELETE", _ if rest == f"/diverted/{EVENT}":
                return httpx.Response(204)
            case "POST", _ if rest == f"/diverted/{EVENT}/resend":
                return native_error(502, "UNAVAILABLE", "the receiver answered 500")
        return native_error(404, "NOT_FOUND", "no such event")


def diverted() -> dict[str, Any]:
    return {
        "eventLocator": EVENT,
        "requestLocator": "01JCZ0000000000000000000RQ",
        "failureMessage": "Internal Server Error",
        "failureTimestamp": "2026-12-01T09:59:00.000000Z",
        "failureTrigger": "500",
    }


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def transport(server: FakeServer) -> httpx.MockTransport:
    return httpx.MockTransport(server.handle)


DEFINITION = WebhookDefinition(
    name="orders",
    endpoint=Endpoint(
        url="https://hooks.example.com/in", hmac_enabled=True, headers={"X-Team": ["a", "b"]}
    ),
    failure_handling=FailureHandling(
        triggers=("5xx", "timeout"),
        alert_endpoint=Endpoint(url="https://alerts.example.com/"),
        retry_strategy=RetryStrategy(retries=2, interval_seconds=5.0, pattern="linear"),
        divert=True,
    ),
    event_types=("order.placed",),
)


def sent(server: FakeServer) -> Iterator[tuple[str, str, Any]]:
    for r in server.requests:
        if r.url.path != "/v1/me":
            yield r.method, r.url.path, json.loads(r.content) if r.content else None


async def test_a_definition_is_sent_as_a_create_request_and_read_back_as_records(
    server: FakeServer, transport: httpx.MockTransport
) -> None:
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        hook = await remote.webhooks.create(TENANT, DEFINITION)
        again = await remote.webhooks.get(TENANT, HOOK)
    [(method, path, body), _] = sent(server)
    assert (method, path) == ("POST", "/v1/webhooks")
    assert body == {
        "name": "orders",
        "enabled": True,
        "endpoint": {
            "url": "https://hooks.example.com/in",
            "hmacEnabled": True,
            "secureSsl": True,
            "tag": "",
            "headers": {"X-Team": ["a", "b"]},
        },
        "failureHandling": {
            "triggers": ["5xx", "timeout"],
            "divert": True,
            "suspend": False,
            "alertEndpoint": {
                "url": "https://alerts.example.com/",
                "hmacEnabled": False,
                "secureSsl": True,
                "tag": "",
                "headers": {},
            },
            "retryStrategy": {"retries": 2, "intervalSeconds": 5.0, "pattern": "linear"},
        },
        "eventTypes": ["order.placed"],
    }
    assert (hook.locator, hook.tenant_id, hook.active) == (HOOK, TENANT, True)
    assert hook.definition.endpoint.secret == "whsec_made"  # on create only
    without_secret = msgspec.structs.replace(hook.definition.endpoint, secret=None)
    assert again.definition == msgspec.structs.replace(DEFINITION, endpoint=without_secret)
    assert again.created_at == again.updated_at == UNKNOWN_TIME  # the answer does not say


async def test_a_change_sends_only_what_it_gives(
    server: FakeServer, transport: httpx.MockTransport
) -> None:
    change = WebhookChange(
        enabled=False,
        endpoint={"secure_ssl": False, "headers": {"X-Team": ["c"]}},
        add_triggers=["4xx"],
        remove_retry_strategy=True,
        suspend=True,
        remove_event_types=["order.placed"],
    )
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        await remote.webhooks.create(TENANT, DEFINITION)
        await remote.webhooks.update(TENANT, HOOK, change)
    method, path, body = list(sent(server))[-1]
    assert (method, path) == ("PATCH", f"/v1/webhooks/{HOOK}")
    assert body == {
        "enabled": False,
        "endpoint": {"secureSsl": False, "headers": {"X-Team": ["c"]}},
        "failureHandling": {"addTriggers": ["4xx"], "removeRetryStrategy": True, "suspend": True},
        "removeEventTypes": ["order.placed"],
    }


async def test_find_sends_its_filters_and_answers_the_page_and_whether_it_is_the_last(
    server: FakeServer, transport: httpx.MockTransport
) -> None:
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        await remote.webhooks.create(TENANT, DEFINITION)
        hooks, last = await remote.webhooks.find(
            TENANT, count=10, enabled=True, suspended=False, event_types=["a", "b"]
        )
    assert [h.locator for h in hooks] == [HOOK] and last
    query = server.requests[-1].url.query.decode()
    assert query == "offset=0&count=10&enabled=true&suspended=false&eventTypes=a&eventTypes=b"


async def test_status_and_diverted_events_are_read_with_their_numbers_as_numbers(
    transport: httpx.MockTransport,
) -> None:
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        await remote.webhooks.create(TENANT, DEFINITION)
        status = await remote.webhooks.status(TENANT, HOOK)
        listed = await remote.webhooks.diverted(TENANT, HOOK)
        one = await remote.webhooks.diverted_event(TENANT, HOOK, EVENT)
        await remote.webhooks.delete_diverted(TENANT, HOOK, EVENT)
        unsuspended = await remote.webhooks.unsuspend(TENANT, HOOK)
        await remote.webhooks.delete(TENANT, HOOK)
    at = datetime(2026, 12, 1, 10, 1, tzinfo=UTC)
    assert (status.position, status.head, status.lag, status.diverted) == (7, 12, 5, 1)
    assert status.retrying == Retrying(8, 2, "503 Service Unavailable", at)
    assert listed == [one] and isinstance(one, Diverted)
    assert (one.failure_trigger, one.failure_timestamp.tzinfo) == ("500", UTC)
    assert unsuspended.suspended_at is None


async def test_a_refused_resend_is_delivery_failed_and_is_not_repeated(
    server: FakeServer, transport: httpx.MockTransport
) -> None:
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        await remote.webhooks.create(TENANT, DEFINITION)
        with pytest.raises(DeliveryFailed, match="answered 500"):
            await remote.webhooks.resend(TENANT, HOOK, EVENT)
    resends = [r for r in server.requests if r.url.path.endswith("/resend")]
    assert len(resends) == 1


async def test_an_unknown_webhook_is_not_found_and_another_tenant_refused(
    transport: httpx.MockTransport,
) -> None:
    async with AsyncClient("http://chronik", token="t", transport=transport) as remote:
        with pytest.raises(NotFound):
            await remote.webhooks.get(TENANT, HOOK)
        with pytest.raises(InvalidArgument, match="belongs to tenant"):
            await remote.webhooks.get("another", HOOK)


def test_the_blocking_client_has_the_webhook_calls(transport: httpx.MockTransport) -> None:
    with Client("http://chronik", token="t", transport=transport) as remote:
        hook = remote.webhooks.create(TENANT, DEFINITION)
        hooks, _ = remote.webhooks.find(TENANT)
        with pytest.raises(DeliveryFailed):
            remote.webhooks.resend(TENANT, HOOK, EVENT)
    assert [h.locator for h in hooks] == [hook.locator]
