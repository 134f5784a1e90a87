"""The remote client's consumer groups against a real server: the embedded API's records and
errors over HTTP; each event to one consumer at a time; parked events replayed; another
tenant's groups not found."""

from __future__ import annotations

import asyncio

import pytest

from chronik.client import AsyncClient, Client
from chronik.client.groups import Handed
from chronik.errors import AlreadyExists, InvalidArgument, NotFound
from chronik.records import ConsumerGroup, GroupSettings, NewEvent
from chronik.services import Chronik
from tests.api.helpers import OTHER_ORG, bearer

SETTINGS = GroupSettings(event_types=("order.placed",), max_deliveries=3, retry_seconds=0)


def placed(*orders: str) -> list[NewEvent]:
    return [NewEvent(aggregate_type="order", aggregate_id=o, type="order.placed") for o in orders]


async def test_a_group_is_created_read_listed_and_deleted_as_embedded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        [before] = await remote.events.append(tenant, placed("o-0"))
        made = await remote.groups.create(tenant, "billing", SETTINGS, start="beginning")
        assert made == await chronik.groups.get(tenant, "billing")
        assert await remote.groups.get(tenant, "billing") == made
        with pytest.raises(AlreadyExists):
            await remote.groups.create(tenant, "billing")
        other = await remote.groups.create(tenant, "audit")
        assert other.settings == GroupSettings()
        assert {g.name for g in await remote.groups.find(tenant)} == {"billing", "audit"}

        status = await remote.groups.status(tenant, "billing")
        embedded = await chronik.groups.status(tenant, "billing")
        assert (status.group, status.position, status.head, status.lag) == (
            embedded.group,
            embedded.position,
            embedded.head,
            embedded.lag,
        )
        assert status.lag >= 1 and (status.in_flight, status.parked) == (0, 0)
        [handed] = await remote.groups.fetch(tenant, "billing", "a")
        assert handed == Handed(before, 1)
        assert (await remote.groups.status(tenant, "billing")).in_flight == 1
        assert await remote.groups.ack(tenant, "billing", [before.sequence, 10**9]) == [
            before.sequence
        ]

        await remote.groups.delete(tenant, "billing")
        with pytest.raises(NotFound):
            await remote.groups.get(tenant, "billing")
        with pytest.raises(NotFound):
            await remote.groups.delete(tenant, "billing")


async def test_two_consumers_never_get_the_same_event(
    tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        await remote.groups.create(tenant, "billing", SETTINGS)
        stored = await remote.events.append(tenant, placed(*(f"o-{n}" for n in range(12))))

        async def consume(consumer: str) -> list[int]:
            seen: list[int] = []
            while handed := await remote.groups.fetch(tenant, "billing", consumer, limit=2):
                sequences = [h.event.sequence for h in handed]
                seen += sequences
                await remote.groups.ack(tenant, "billing", sequences)
            return seen

        a, b = await asyncio.gather(consume("a"), consume("b"))
    assert not set(a) & set(b)
    assert sorted(a + b) == [e.sequence for e in stored]  # each once


async def test_a_parked_event_is_listed_replayed_and_removed(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        await remote.groups.create(tenant, "billing", SETTINGS)
        first, second = await remote.events.append(tenant, placed("o-1", "o-2"))
        handed = await remote.groups.fetch(tenant, "billing", "a", limit=2)
        assert [h.event for h in handed] == [first, second]
        parked = await remote.groups.nack(
            tenant, "billing", [first.sequence, second.sequence], action="park", reason="no stock"
        )
        assert parked == [first.sequence, second.sequence]
        assert await remote.groups.fetch(tenant, "billing", "a") == []

        found = await remote.groups.parked(tenant, "billing")
        assert [(p.sequence, p.failure_count, p.error) for p in found] == [
            (first.sequence, 1, "no stock"),
            (second.sequence, 1, "no stock"),
        ]
        assert found == await chronik.groups.parked(tenant, "billing")  # the same records
        assert (await remote.groups.status(tenant, "billing")).parked == 2

        assert await remote.groups.replay(tenant, "billing", first.sequence) == 1
        [again] = await remote.groups.fetch(tenant, "billing", "b")
        assert again == Handed(first, 2)
        await remote.groups.nack(tenant, "billing", [first.sequence])  # retry, at once
        [retried] = await remote.groups.fetch(tenant, "billing", "b")
        assert retried == Handed(first, 3)

        await remote.groups.delete_parked(tenant, "billing", second.sequence)
        assert await remote.groups.parked(tenant, "billing") == []
        with pytest.raises(NotFound):
            await remote.groups.replay(tenant, "billing")
        with pytest.raises(NotFound):
            await remote.groups.delete_parked(tenant, "billing", second.sequence)


async def test_bad_input_is_invalid_argument(tenant: str, web: str, owner_token: str) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        with pytest.raises(InvalidArgument):
            await remote.groups.create(tenant, "billing", GroupSettings(max_deliveries=0))
        await remote.groups.create(tenant, "billing")
        with pytest.raises(InvalidArgument):
            await remote.groups.fetch(tenant, "billing", "a", limit=0)
        with pytest.raises(InvalidArgument):
            await remote.groups.fetch(tenant, "billing", "")
        with pytest.raises(InvalidArgument):
            await remote.groups.ack(tenant, "billing", [])
        with pytest.raises(InvalidArgument):
            await remote.groups.nack(tenant, "billing", [0])


async def test_another_tenants_group_is_not_found(
    chronik: Chronik, tenant: str, other_tenant: str, web: str, owner_token: str
) -> None:
    header = await bearer(chronik, other_tenant, "IAM_OWNER", organisation_id=OTHER_ORG)
    async with (
        AsyncClient(web, token=owner_token) as remote,
        AsyncClient(web, token=header["Authorization"].removeprefix("Bearer ")) as stranger,
    ):
        await remote.groups.create(tenant, "billing", SETTINGS)
        [event] = await remote.events.append(tenant, placed("o-1"))
        await remote.groups.fetch(tenant, "billing", "a")
        await remote.groups.nack(tenant, "billing", [event.sequence], action="park")
        with pytest.raises(NotFound):
            await stranger.groups.get(other_tenant, "billing")
        with pytest.raises(NotFound):
            await stranger.groups.fetch(other_tenant, "billing", "x")
        with pytest.raises(NotFound):
            await stranger.groups.replay(other_tenant, "billing")
        with pytest.raises(NotFound):
            await stranger.groups.delete(other_tenant, "billing")
        assert await stranger.groups.find(other_tenant) == []
        with pytest.raises(InvalidArgument, match="belongs to tenant"):
            await stranger.groups.get(tenant, "billing")
    assert len(await chronik.groups.parked(tenant, "billing")) == 1


async def test_the_blocking_client_has_the_group_calls(
    tenant: str, web: str, owner_token: str
) -> None:
    def use() -> tuple[ConsumerGroup, list[Handed], list[int]]:
        with Client(web, token=owner_token, timeout=5.0) as remote:
            made = remote.groups.create(tenant, "billing", SETTINGS)
            remote.events.append(tenant, placed("o-1"))
            handed = remote.groups.fetch(tenant, "billing", "a", wait_seconds=1.0)
            acked = remote.groups.ack(tenant, "billing", [h.event.sequence for h in handed])
            with pytest.raises(NotFound):
                remote.groups.status(tenant, "nothing")
            return made, handed, acked

    made, handed, acked = await asyncio.to_thread(use)  # the server runs on this loop
    assert made.name == "billing"
    assert [h.event.aggregate_id for h in handed] == ["o-1"]
    assert acked == [handed[0].event.sequence]
