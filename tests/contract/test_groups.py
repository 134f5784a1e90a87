"""Consumer groups on every backend: competing consumers never get one event at once,
acknowledgements end an event, what is not acknowledged in time or is nacked comes again,
and what keeps failing is parked, where operators list, replay and remove it."""

from __future__ import annotations

import asyncio

import pytest

from chronik.errors import AlreadyExists, InvalidArgument, NotFound
from chronik.records import GroupSettings, NewEvent
from chronik.services import Chronik

QUICK = GroupSettings(
    event_types=("order.placed",), ack_timeout_seconds=0.2, max_deliveries=3, retry_seconds=0.1
)


async def place(
    chronik: Chronik, tenant: str, count: int, event_type: str = "order.placed"
) -> None:
    await chronik.events.append(
        tenant,
        [
            NewEvent(aggregate_type="order", aggregate_id=f"o{n}", type=event_type)
            for n in range(count)
        ],
    )


async def test_competing_consumers_share_the_new_events_in_order(
    chronik: Chronik, tenant: str
) -> None:
    await place(chronik, tenant, 2)  # before the group: not handed out
    await chronik.groups.create(tenant, "billing", QUICK)
    await place(chronik, tenant, 5)
    await place(chronik, tenant, 1, "order.cancelled")
    first = await chronik.groups.fetch(tenant, "billing", "a", limit=3)
    second = await chronik.groups.fetch(tenant, "billing", "b", limit=10)
    assert [h.event.aggregate_id for h in first] == ["o0", "o1", "o2"]
    assert [h.event.aggregate_id for h in second] == ["o3", "o4"]
    assert {h.deliveries for h in first + second} == {1}
    assert await chronik.groups.fetch(tenant, "billing", "c") == []
    acked = await chronik.groups.ack(tenant, "billing", [h.event.sequence for h in first + second])
    assert len(acked) == 5
    await asyncio.sleep(0.3)  # past the acknowledgement timeout: nothing comes back
    assert await chronik.groups.fetch(tenant, "billing", "c") == []
    status = await chronik.groups.status(tenant, "billing")
    assert (status.in_flight, status.parked) == (0, 0)
    assert status.position == second[-1].event.sequence


async def test_what_is_not_acknowledged_in_time_goes_to_the_next_consumer_then_parks(
    chronik: Chronik, tenant: str
) -> None:
    await chronik.groups.create(tenant, "billing", QUICK)
    await place(chronik, tenant, 1)
    (lent,) = await chronik.groups.fetch(tenant, "billing", "a")
    assert await chronik.groups.fetch(tenant, "billing", "b") == []  # still a's
    for deliveries in (2, 3):
        await asyncio.sleep(0.25)
        (again,) = await chronik.groups.fetch(tenant, "billing", "b")
        assert (again.event.sequence, again.deliveries) == (lent.event.sequence, deliveries)
    await asyncio.sleep(0.25)
    assert await chronik.groups.fetch(tenant, "billing", "b") == []  # parked now
    (parked,) = await chronik.groups.parked(tenant, "billing")
    assert (parked.sequence, parked.failure_count) == (lent.event.sequence, 3)
    assert "not acknowledged within 0.2 s" in parked.error
    assert (await chronik.groups.status(tenant, "billing")).parked == 1

    assert await chronik.groups.replay(tenant, "billing") == 1
    (replayed,) = await chronik.groups.fetch(tenant, "billing", "c")
    assert replayed.event.sequence == lent.event.sequence
    assert await chronik.groups.ack(tenant, "billing", [replayed.event.sequence]) == [
        replayed.event.sequence
    ]
    assert await chronik.groups.parked(tenant, "billing") == []
    with pytest.raises(NotFound):
        await chronik.groups.replay(tenant, "billing")


async def test_nack_retries_after_a_while_or_parks_at_once(chronik: Chronik, tenant: str) -> None:
    await chronik.groups.create(tenant, "billing", QUICK)
    await place(chronik, tenant, 2)
    retried, parked = await chronik.groups.fetch(tenant, "billing", "a")
    assert await chronik.groups.nack(
        tenant, "billing", [retried.event.sequence], reason="the ledger is locked"
    ) == [retried.event.sequence]
    assert await chronik.groups.nack(
        tenant, "billing", [parked.event.sequence], action="park", reason="bad amount"
    ) == [parked.event.sequence]
    assert await chronik.groups.fetch(tenant, "billing", "b") == []  # not due yet
    await asyncio.sleep(0.15)
    (again,) = await chronik.groups.fetch(tenant, "billing", "b")
    assert (again.event.sequence, again.deliveries) == (retried.event.sequence, 2)
    (kept,) = await chronik.groups.parked(tenant, "billing")
    assert (kept.sequence, kept.error) == (parked.event.sequence, "bad amount")
    await chronik.groups.delete_parked(tenant, "billing", kept.sequence)
    assert await chronik.groups.parked(tenant, "billing") == []
    assert await chronik.groups.ack(tenant, "billing", [kept.sequence]) == []  # not in flight


async def test_many_consumers_at_once_get_each_event_once(chronik: Chronik, tenant: str) -> None:
    await chronik.groups.create(
        tenant, "billing", GroupSettings(ack_timeout_seconds=60), start="beginning"
    )
    await place(chronik, tenant, 300)
    seen: list[int] = []

    async def consume(name: str) -> None:
        while handed := await chronik.groups.fetch(tenant, "billing", name, limit=7):
            seen.extend(h.event.sequence for h in handed)
            await chronik.groups.ack(tenant, "billing", [h.event.sequence for h in handed])

    await asyncio.gather(*(consume(f"c{n}") for n in range(6)))
    assert len(seen) == 300 and len(set(seen)) == 300


async def test_a_fetch_may_wait_for_the_next_event(chronik: Chronik, tenant: str) -> None:
    await chronik.groups.create(tenant, "billing", QUICK)
    waiting = asyncio.create_task(chronik.groups.fetch(tenant, "billing", "a", wait_seconds=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await place(chronik, tenant, 1)
    (handed,) = await asyncio.wait_for(waiting, 3)
    assert handed.event.type == "order.placed"


async def test_groups_are_per_tenant_and_checked(
    chronik: Chronik, tenant: str, other_tenant: str
) -> None:
    group = await chronik.groups.create(tenant, "billing", QUICK)
    with pytest.raises(AlreadyExists):
        await chronik.groups.create(tenant, "billing")
    for call in (
        chronik.groups.get(other_tenant, "billing"),
        chronik.groups.fetch(other_tenant, "billing", "a"),
        chronik.groups.delete(other_tenant, "billing"),
    ):
        with pytest.raises(NotFound):
            await call
    await place(chronik, other_tenant, 3)
    assert await chronik.groups.fetch(tenant, "billing", "a") == []
    for bad in (
        lambda: chronik.groups.create(tenant, "no spaces"),
        lambda: chronik.groups.create(tenant, "x", GroupSettings(max_deliveries=0)),
        lambda: chronik.groups.create(tenant, "x", GroupSettings(ack_timeout_seconds=0)),
        lambda: chronik.groups.fetch(tenant, "billing", "a", limit=0),
        lambda: chronik.groups.fetch(tenant, "billing", "", limit=1),
        lambda: chronik.groups.nack(tenant, "billing", [1], action="skip"),  # type: ignore[arg-type]
        lambda: chronik.groups.ack(tenant, "billing", [0]),
    ):
        with pytest.raises(InvalidArgument):
            await bad()
    assert group.view in {s.view for s in await chronik.db.views.states(tenant)}
    await chronik.groups.delete(tenant, "billing")
    assert await chronik.groups.find(tenant) == []
    assert group.view not in {s.view for s in await chronik.db.views.states(tenant)}
    again = await chronik.groups.create(tenant, "billing", QUICK)  # the name is free again
    assert again.name == "billing"
