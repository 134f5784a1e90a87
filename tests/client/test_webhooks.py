"""The remote client's webhook calls against a real server delivering to a real receiver on
127.0.0.1: the embedded API's records and errors, over HTTP; the secret shown on create only;
another tenant's webhooks not found."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import msgspec
import pytest

from chronik.client import AsyncClient, Client
from chronik.errors import DeliveryFailed, InvalidArgument, NotFound
from chronik.records import (
    Endpoint,
    FailureHandling,
    NewEvent,
    RetryStrategy,
    Webhook,
    WebhookDefinition,
)
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.webhooks import WebhookChange
from tests.api.helpers import OTHER_ORG, bearer
from tests.receiver import Receiver, receiving, receiving_settings

T = TypeVar("T")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The server may deliver to 127.0.0.1 (the receiver) and gives up on it quickly."""
    return receiving_settings(database_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


@pytest.fixture
async def delivering(chronik: Chronik) -> Chronik:
    """The server's Chronik delivering its webhooks (until it closes)."""
    chronik.start_webhooks()
    return chronik


def orders(url: str, **handling: object) -> WebhookDefinition:
    return WebhookDefinition(
        name="orders",
        endpoint=Endpoint(url=url, hmac_enabled=True, headers={"X-Team": ["a", "b"]}),
        failure_handling=FailureHandling(**handling),  # type: ignore[arg-type]
        event_types=("order.placed",),
    )


def placed(order: str = "o-1") -> NewEvent:
    return NewEvent(aggregate_type="order", aggregate_id=order, type="order.placed")


def hidden(hook: Webhook) -> WebhookDefinition:
    """The definition as every answer but a create's shows it: no secret."""
    endpoint = msgspec.structs.replace(hook.definition.endpoint, secret=None)
    return msgspec.structs.replace(hook.definition, endpoint=endpoint)


async def eventually(read: Callable[[], Awaitable[T]], seconds: float = 5.0) -> T:
    """What ``read`` answers once it is truthy (delivery runs in the background)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (found := await read()) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls over HTTP
        await asyncio.sleep(0.02)
    return found


async def test_a_webhook_is_created_read_changed_and_deleted_as_embedded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    definition = orders(
        "http://127.0.0.1:9/hook",
        triggers=("5xx", "timeout"),
        retry_strategy=RetryStrategy(retries=2, interval_seconds=5.0, pattern="linear"),
        divert=True,
    )
    async with AsyncClient(web, token=owner_token) as remote:
        made = await remote.webhooks.create(tenant, definition)
        assert (made.tenant_id, made.active) == (tenant, True)
        secret = made.definition.endpoint.secret
        assert secret is not None and secret.startswith("whsec_")  # on create only
        stored = await chronik.webhooks.get(tenant, made.locator)
        assert made.definition == stored.definition
        got = await remote.webhooks.get(tenant, made.locator)
        assert got.definition == hidden(stored) and got.suspended_at is None

        change = WebhookChange(
            enabled=False,
            endpoint={"secure_ssl": False, "headers": {"X-Team": ["c"]}},
            add_triggers=["4xx"],
            remove_retry_strategy=True,
            remove_event_types=["order.placed"],
            add_event_types=["order.paid"],
        )
        changed = await remote.webhooks.update(tenant, made.locator, change)
        assert changed.definition == hidden(await chronik.webhooks.get(tenant, made.locator))
        endpoint = changed.definition.endpoint
        assert (endpoint.secure_ssl, endpoint.headers) == (False, {"X-Team": ["c"]})
        assert changed.definition.failure_handling.triggers == ("5xx", "timeout", "4xx")
        assert changed.definition.failure_handling.retry_strategy is None
        assert changed.definition.event_types == ("order.paid",)
        renewed = await remote.webhooks.update(
            tenant, made.locator, WebhookChange(endpoint={"secret": None})
        )
        assert renewed.definition.endpoint.secret not in (None, secret)  # a new one, shown once

        other = await remote.webhooks.create(tenant, orders("http://127.0.0.1:9/other"))
        hooks, last = await remote.webhooks.find(tenant, enabled=False)
        assert ([h.locator for h in hooks], last) == ([made.locator], True)
        hooks, last = await remote.webhooks.find(tenant, event_types=["order.placed"], count=1)
        assert [h.locator for h in hooks] == [other.locator]

        status = await remote.webhooks.status(tenant, made.locator)
        assert (status.locator, status.retrying, status.diverted) == (made.locator, None, 0)
        assert status.lag == status.head - status.position >= 0

        await remote.webhooks.delete(tenant, made.locator)
        with pytest.raises(NotFound):
            await remote.webhooks.get(tenant, made.locator)
        with pytest.raises(InvalidArgument):
            await remote.webhooks.create(tenant, orders("ftp://127.0.0.1/hook"))


async def test_a_retried_event_shows_in_the_status_with_its_sequence(
    delivering: Chronik, tenant: str, web: str, owner_token: str, receiver: Receiver
) -> None:
    receiver.status = 503
    retried = RetryStrategy(retries=5, interval_seconds=60.0, pattern="linear")
    async with AsyncClient(web, token=owner_token) as remote:
        hook = await remote.webhooks.create(tenant, orders(receiver.url(), retry_strategy=retried))
        [event] = await remote.events.append(tenant, [placed()])

        async def retrying() -> object:
            return (await remote.webhooks.status(tenant, hook.locator)).retrying

        await eventually(retrying)
        status = await remote.webhooks.status(tenant, hook.locator)
    assert status.retrying is not None
    assert (status.retrying.sequence, status.retrying.failure_count) == (event.sequence, 1)
    assert status.retrying.retry_at is not None and status.head >= event.sequence


async def test_a_diverted_event_is_listed_resent_and_deleted(
    delivering: Chronik, tenant: str, web: str, owner_token: str, receiver: Receiver
) -> None:
    receiver.status = 500
    async with AsyncClient(web, token=owner_token) as remote:
        hook = await remote.webhooks.create(tenant, orders(receiver.url(), divert=True))
        first, second = await remote.events.append(tenant, [placed("o-1"), placed("o-2")])

        async def two() -> list[object]:
            found = await remote.webhooks.diverted(tenant, hook.locator)
            return list(found) if len(found) == 2 else []

        await eventually(two)
        diverted = await remote.webhooks.diverted(tenant, hook.locator)
        assert [d.event_locator for d in diverted] == [first.locator, second.locator]
        one = await remote.webhooks.diverted_event(tenant, hook.locator, first.locator)
        assert one == diverted[0] and one.failure_trigger == "500"
        assert (await remote.webhooks.status(tenant, hook.locator)).diverted == 2

        sent = len(receiver.received())
        with pytest.raises(DeliveryFailed):
            await remote.webhooks.resend(tenant, hook.locator, first.locator)
        assert len(receiver.received()) == sent + 1  # a refused resend is not repeated
        receiver.status = 200
        await remote.webhooks.resend(tenant, hook.locator, first.locator)
        await remote.webhooks.delete_diverted(tenant, hook.locator, second.locator)
        assert await remote.webhooks.diverted(tenant, hook.locator) == []
        with pytest.raises(NotFound):
            await remote.webhooks.diverted_event(tenant, hook.locator, second.locator)


async def test_a_suspended_webhook_is_unsuspended(
    delivering: Chronik, tenant: str, web: str, owner_token: str, receiver: Receiver
) -> None:
    receiver.answers = [500]
    async with AsyncClient(web, token=owner_token) as remote:
        hook = await remote.webhooks.create(tenant, orders(receiver.url(), suspend=True))
        await remote.events.append(tenant, [placed()])

        async def suspended() -> object:
            return (await remote.webhooks.get(tenant, hook.locator)).suspended_at

        assert await eventually(suspended)
        resumed = await remote.webhooks.unsuspend(tenant, hook.locator)
    assert resumed.suspended_at is None and resumed.active
    await receiver.wait_for(2)  # delivery goes on from the event it stopped at


async def test_another_tenants_webhook_is_not_found(
    chronik: Chronik, tenant: str, other_tenant: str, web: str, owner_token: str
) -> None:
    header = await bearer(chronik, other_tenant, "IAM_OWNER", organisation_id=OTHER_ORG)
    async with (
        AsyncClient(web, token=owner_token) as remote,
        AsyncClient(web, token=header["Authorization"].removeprefix("Bearer ")) as stranger,
    ):
        hook = await remote.webhooks.create(tenant, orders("http://127.0.0.1:9/hook"))
        with pytest.raises(NotFound):
            await stranger.webhooks.get(other_tenant, hook.locator)
        with pytest.raises(NotFound):
            await stranger.webhooks.delete(other_tenant, hook.locator)
        assert await stranger.webhooks.find(other_tenant) == ([], True)
        with pytest.raises(InvalidArgument, match="belongs to tenant"):
            await stranger.webhooks.get(tenant, hook.locator)
    assert (await chronik.webhooks.get(tenant, hook.locator)).locator == hook.locator


async def test_the_blocking_client_has_the_webhook_calls(
    tenant: str, web: str, owner_token: str
) -> None:
    def use() -> tuple[Webhook, list[Webhook]]:
        with Client(web, token=owner_token, timeout=5.0) as remote:
            made = remote.webhooks.create(tenant, orders("http://127.0.0.1:9/hook"))
            hooks, _ = remote.webhooks.find(tenant)
            remote.webhooks.delete(tenant, made.locator)
            with pytest.raises(NotFound):
                remote.webhooks.status(tenant, made.locator)
            return made, hooks

    made, hooks = await asyncio.to_thread(use)  # the server runs on this loop
    assert [h.locator for h in hooks] == [made.locator]
