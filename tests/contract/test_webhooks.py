"""Webhooks on every backend, against a real receiver on 127.0.0.1: order, signatures,
retries by strategy, diversion, suspension, resend and delete, the address rules, and a
node that dies mid-delivery."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import msgspec
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from tests.receiver import Receiver, receiving

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
from chronik.webhooks import WebhookChange, WebhookRunner

T = TypeVar("T")
FAST = RetryStrategy(retries=2, interval_seconds=0.05, pattern="linear")


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[Chronik]:
    """A Chronik that may deliver to 127.0.0.1, with short leases and timeouts."""
    opened = await Chronik.open(
        dataclasses.replace(
            settings,
            webhook_allowed_hosts=("127.0.0.1",),
            webhook_timeout_seconds=0.5,
            follow_poll_seconds=0.05,
            view_lease_seconds=2.0,
        )
    )
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


async def append(chronik: Chronik, tenant: str, *types: str, aggregate: str = "p1") -> None:
    for event_type in types:
        await chronik.events.append(
            tenant, [NewEvent(aggregate_type="policy", aggregate_id=aggregate, type=event_type)]
        )


async def eventually(read: Callable[[], Awaitable[T]], seconds: float = 5.0) -> T:
    """What ``read`` answers once it is truthy (deliveries commit after the receiver saw
    them)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (found := await read()) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polls the store
        await asyncio.sleep(0.02)
    return found


def definition(url: str, **handling: object) -> WebhookDefinition:
    return WebhookDefinition(
        name="policies",
        endpoint=Endpoint(url=url, hmac_enabled=True),
        failure_handling=FailureHandling(**handling),  # type: ignore[arg-type]
        event_types=("policy.issued", "policy.changed"),
    )


async def test_delivers_new_events_of_its_types_in_order_signed(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    await append(hub, tenant, "policy.issued")  # before the webhook: not sent
    hook = await hub.webhooks.create(tenant, definition(receiver.url()))
    assert hook.definition.endpoint.secret is not None
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued", "policy.cancelled", "policy.changed")
    await hub.events.append(
        tenant, [NewEvent(aggregate_type="policy", aggregate_id="p2", type="policy.changed")]
    )
    got = await receiver.wait_for(3)
    assert [d.json["type"] for d in got] == ["policy.issued", "policy.changed", "policy.changed"]
    stored = await hub.events.get(tenant, got[-1].json["locator"])
    assert got[-1].json == {
        "locator": stored.locator,
        "userLocator": stored.editor_user_id,
        "requestId": stored.request_id,
        "timestamp": stored.created_at.isoformat(timespec="microseconds")[:-6] + "Z",
        "type": "policy.changed",
        "data": {},
    }
    verifier = Verifier(hook.definition.endpoint.secret)
    for delivery in got:
        verifier.verify(delivery.body, delivery.headers)  # raises when the signature is wrong
        assert delivery.headers["webhook-id"] == delivery.json["locator"]
    forged = {**got[0].headers, "webhook-id": got[1].headers["webhook-id"]}
    with pytest.raises(Exception, match="signature"):
        verifier.verify(got[0].body, forged)
    await asyncio.sleep(0.2)
    assert len(receiver.received()) == 3


async def test_failures_are_retried_by_the_strategy_then_diverted(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(
        tenant, definition(receiver.url(), retry_strategy=FAST, divert=True)
    )
    receiver.answers = [503, 503, 503]  # the first attempt and both retries
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued", "policy.changed")
    got = await receiver.wait_for(4)
    assert [d.json["type"] for d in got] == ["policy.issued"] * 3 + ["policy.changed"]
    assert len({d.headers["webhook-id"] for d in got[:3]}) == 1  # one id, at least once
    diverted = await eventually(lambda: hub.webhooks.diverted(tenant, hook.locator))
    assert [(d.event_locator, d.failure_trigger, d.failure_count) for d in diverted] == [
        (got[0].json["locator"], "503", 3)
    ]
    assert diverted[0].request_locator == got[0].json["requestId"]
    assert "503" in diverted[0].failure_message
    one = await hub.webhooks.diverted_event(tenant, hook.locator, diverted[0].event_locator)
    assert one == diverted[0]

    receiver.answers = [500]
    with pytest.raises(DeliveryFailed, match="500"):
        await hub.webhooks.resend(tenant, hook.locator, one.event_locator)
    again = await hub.webhooks.diverted_event(tenant, hook.locator, one.event_locator)
    assert (again.failure_trigger, again.failure_count) == ("500", 4)
    await hub.webhooks.resend(tenant, hook.locator, one.event_locator)
    assert await hub.webhooks.diverted(tenant, hook.locator) == []
    assert receiver.types()[-1] == "policy.issued"
    with pytest.raises(NotFound):
        await hub.webhooks.resend(tenant, hook.locator, one.event_locator)


async def test_without_divert_a_failed_event_is_dropped_and_delivery_goes_on(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url()))
    receiver.answers = [500]
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued", "policy.changed")
    assert [d.json["type"] for d in await receiver.wait_for(2)] == [
        "policy.issued",
        "policy.changed",
    ]
    assert await hub.webhooks.diverted(tenant, hook.locator) == []


async def test_a_status_that_is_no_trigger_counts_as_delivered(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(
        tenant, definition(receiver.url(), triggers=("503",), divert=True, retry_strategy=FAST)
    )
    receiver.answers = [404, 503, 503, 503]
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued", "policy.changed")
    got = await receiver.wait_for(4)
    assert [d.json["type"] for d in got] == ["policy.issued"] + ["policy.changed"] * 3
    diverted = await eventually(lambda: hub.webhooks.diverted(tenant, hook.locator))
    assert [(d.failure_trigger, d.event_locator) for d in diverted] == [
        ("503", got[1].json["locator"])
    ]


async def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url(), divert=True))
    receiver.delay = 1.0  # the timeout is 0.5 s
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued")
    diverted = await eventually(lambda: hub.webhooks.diverted(tenant, hook.locator))
    assert [d.failure_trigger for d in diverted] == ["timeout"]
    assert "0.5 s" in diverted[0].failure_message


async def test_suspend_stops_at_the_event_and_unsuspend_goes_on_from_it(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    with receiving() as alerts:
        hook = await hub.webhooks.create(
            tenant,
            definition(
                receiver.url(),
                retry_strategy=FAST,
                suspend=True,
                alert_endpoint=Endpoint(url=alerts.url("/alert")),
            ),
        )
        receiver.status = 500
        hub.start_webhooks()
        await append(hub, tenant, "policy.issued", "policy.changed")
        await receiver.wait_for(3)
        (alert,) = await alerts.wait_for(1, "/alert")
    assert alert.json["webhookLocator"] == hook.locator
    assert (alert.json["failureTrigger"], alert.json["suspended"]) == ("500", True)
    suspended = await eventually(lambda: suspended_webhook(hub, tenant, hook.locator))
    assert suspended is not None
    (listed,), done = await hub.webhooks.find(tenant, suspended=True)
    assert listed.locator == hook.locator and done
    await asyncio.sleep(0.3)
    assert receiver.types() == ["policy.issued"] * 3  # nothing after the suspension
    assert await hub.webhooks.diverted(tenant, hook.locator) == []

    receiver.status = 200
    await hub.webhooks.unsuspend(tenant, hook.locator)
    got = await receiver.wait_for(5)
    assert [d.json["type"] for d in got[3:]] == ["policy.issued", "policy.changed"]
    assert (await hub.webhooks.get(tenant, hook.locator)).suspended_at is None


async def test_divert_and_suspend_keeps_the_event_and_stops_after_it(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url(), divert=True, suspend=True))
    receiver.answers = [502]
    hub.start_webhooks()
    await append(hub, tenant, "policy.issued", "policy.changed")
    await receiver.wait_for(1)
    assert await eventually(lambda: suspended_webhook(hub, tenant, hook.locator))
    (diverted,) = await eventually(lambda: hub.webhooks.diverted(tenant, hook.locator))
    assert diverted.failure_trigger == "502"
    await hub.webhooks.unsuspend(tenant, hook.locator)
    got = await receiver.wait_for(2)
    assert [d.json["type"] for d in got] == ["policy.issued", "policy.changed"]
    await hub.webhooks.delete_diverted(tenant, hook.locator, diverted.event_locator)
    assert await hub.webhooks.diverted(tenant, hook.locator) == []


async def test_addresses_that_are_not_public_are_refused_unless_allowed(
    chronik: Chronik, tenant: str
) -> None:
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.0.1]/",
    ):
        with pytest.raises(InvalidArgument, match="not a public address"):
            await chronik.webhooks.create(tenant, definition(url))
    with pytest.raises(InvalidArgument, match="not a public address"):
        await chronik.webhooks.create(
            tenant,
            definition("http://93.184.215.14/", alert_endpoint=Endpoint(url="http://192.168.1.1/")),
        )
    for url in ("ftp://example.com/", "http://user:pw@93.184.215.14/", "not a url"):
        with pytest.raises(InvalidArgument, match="url"):
            await chronik.webhooks.create(tenant, definition(url))
    assert (await chronik.webhooks.find(tenant))[0] == []


async def test_the_allow_list_names_a_host_or_one_port_of_it(settings: Settings) -> None:
    from chronik.webhooks import Destinations

    only = Destinations(["127.0.0.1:8099"])
    assert await only.address("http://127.0.0.1:8099/x") == ("127.0.0.1", 8099)
    with pytest.raises(InvalidArgument, match="not a public address"):
        await only.address("http://127.0.0.1:8098/x")
    assert await Destinations(["127.0.0.1"]).address("http://127.0.0.1:1/") == ("127.0.0.1", 1)


async def test_a_node_killed_mid_delivery_loses_nothing(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url()))
    receiver.delay = 0.3
    first = WebhookRunner(hub.db, hub.webhooks.deliverer, lease_seconds=1.0, poll_seconds=0.05)
    task = asyncio.create_task(first.run())
    await append(hub, tenant, "policy.issued", "policy.changed")
    await receiver.wait_for(1)
    # Killed: its tasks stop where they are, and its lease is not given back.
    for _, delivering in first._tasks.values():
        delivering.cancel()
    task.cancel()
    first.views.release = _nothing  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await task
    receiver.delay = 0.0
    second = WebhookRunner(hub.db, hub.webhooks.deliverer, lease_seconds=1.0, poll_seconds=0.05)
    task = asyncio.create_task(second.run())
    try:
        got = await receiver.wait_for(3)
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    types = [d.json["type"] for d in receiver.received()]
    assert types[0] == "policy.issued" and types[-1] == "policy.changed"
    assert types.count("policy.changed") == 1  # after the takeover, in order
    ids = [d.headers["webhook-id"] for d in got if d.json["type"] == "policy.issued"]
    assert len(set(ids)) == 1  # a second delivery of the first carries the same id
    status = await hub.webhooks.status(tenant, hook.locator)
    assert status.lag == 0


async def suspended_webhook(chronik: Chronik, tenant: str, locator: str) -> Webhook | None:
    found = await chronik.webhooks.get(tenant, locator)
    return found if found.suspended_at is not None else None


async def _nothing() -> None:
    return None


async def test_update_changes_what_is_given_and_keeps_the_rest(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url()))
    secret = hook.definition.endpoint.secret
    changed = await hub.webhooks.update(
        tenant,
        hook.locator,
        WebhookChange(
            name="renamed",
            add_triggers=["timeout", "429"],
            remove_triggers=["4xx"],
            retry_strategy=FAST,
            add_event_types=["policy.cancelled"],
            remove_event_types=["policy.issued"],
            endpoint={"tag": "crm"},
        ),
    )
    d = changed.definition
    assert d.name == "renamed" and d.endpoint.tag == "crm" and d.endpoint.secret == secret
    assert d.failure_handling.triggers == ("5xx", "timeout", "429")
    assert d.failure_handling.retry_strategy == FAST
    assert d.event_types == ("policy.changed", "policy.cancelled")
    again = await hub.webhooks.update(
        tenant, hook.locator, WebhookChange(remove_retry_strategy=True, enabled=False)
    )
    assert again.definition.failure_handling.retry_strategy is None
    assert not again.definition.enabled and not again.active
    assert msgspec.to_builtins(await hub.webhooks.get(tenant, hook.locator)) == (
        msgspec.to_builtins(again)
    )
    with pytest.raises(InvalidArgument, match="triggers"):
        await hub.webhooks.update(
            tenant, hook.locator, WebhookChange(remove_triggers=["5xx", "timeout", "429"])
        )
    with pytest.raises(InvalidArgument, match="retries"):
        await hub.webhooks.update(
            tenant, hook.locator, WebhookChange(retry_strategy=RetryStrategy(retries=11))
        )


async def test_another_tenants_webhook_is_not_found(
    hub: Chronik, tenant: str, other_tenant: str, receiver: Receiver
) -> None:
    hook = await hub.webhooks.create(tenant, definition(receiver.url()))
    for call in (
        hub.webhooks.get(other_tenant, hook.locator),
        hub.webhooks.delete(other_tenant, hook.locator),
        hub.webhooks.unsuspend(other_tenant, hook.locator),
        hub.webhooks.diverted(other_tenant, hook.locator),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await hub.webhooks.find(other_tenant))[0] == []
    hub.start_webhooks()
    await append(hub, other_tenant, "policy.issued")
    await append(hub, tenant, "policy.changed")
    got = await receiver.wait_for(1)
    assert [d.json["type"] for d in got] == ["policy.changed"]
    await hub.webhooks.delete(tenant, hook.locator)
    with pytest.raises(NotFound):
        await hub.webhooks.get(tenant, hook.locator)
    assert hook.view not in {s.view for s in await hub.db.views.states(tenant)}


async def test_the_address_is_checked_again_before_each_delivery(
    hub: Chronik, tenant: str, receiver: Receiver
) -> None:
    """A webhook made while its host was allowed reaches nothing once it no longer is (as a
    name that comes to resolve to a private address would not)."""
    from chronik.webhooks import Deliverer, Destinations

    hook = await hub.webhooks.create(tenant, definition(receiver.url(), divert=True))
    strict = Deliverer(Destinations([]), timeout=0.5)
    runner = WebhookRunner(hub.db, strict, poll_seconds=0.05)
    task = asyncio.create_task(runner.run())
    try:
        await append(hub, tenant, "policy.issued")
        (diverted,) = await eventually(lambda: hub.webhooks.diverted(tenant, hook.locator))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await strict.close()
    assert receiver.received() == []
    assert diverted.failure_trigger == "timeout"
    assert "127.0.0.1, which is not a public address" in diverted.failure_message
