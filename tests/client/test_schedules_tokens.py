"""The remote client's schedules and tokens against a real server: the embedded API's
answers and errors, over HTTP; another tenant's objects (views' too) are not found."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from chronik.client import AsyncClient, Client
from chronik.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from chronik.records import Schedule, TimeRule
from chronik.services import Chronik
from tests.api.helpers import OTHER_ORG, bearer, failed_events
from tests.api.test_schedules import fire
from tests.client.conftest import token

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
VIEW = "iam_members"  # failed_events' view


def renewal(tenant: str, name: str = "renewal", **changes: object) -> Schedule:
    schedule = Schedule(
        tenant_id=tenant,
        name=name,
        group="policy",
        event_type="policy.renewal.due",
        payload={"policy": "P-1"},
        policy_locator="P-1",
        rule=TimeRule(kind="once", at=SOON),
    )
    return msgspec.structs.replace(schedule, **changes)


@pytest.fixture
async def stranger_token(chronik: Chronik, other_tenant: str) -> str:
    """IAM_OWNER of another tenant."""
    header = await bearer(chronik, other_tenant, "IAM_OWNER", organisation_id=OTHER_ORG)
    return header["Authorization"].removeprefix("Bearer ")


async def test_schedules_are_created_read_and_changed_as_embedded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        created = await remote.schedules.create(renewal(tenant))
        stored = await chronik.schedules.get(tenant, "policy", "renewal")
        assert created == msgspec.structs.replace(stored, owner=None, lease_until=None)
        assert created.state(datetime.now(UTC)) == "NORMAL"
        assert await remote.schedules.get(tenant, "policy", "renewal") == created
        with pytest.raises(AlreadyExists):
            await remote.schedules.create(renewal(tenant))
        paused = await remote.schedules.pause(tenant, "policy", "renewal")
        assert paused.state(datetime.now(UTC)) == "PAUSED"
        assert not (await remote.schedules.resume(tenant, "policy", "renewal")).paused
        later = renewal(tenant, rule=TimeRule(kind="interval", at=SOON, every_seconds=60))
        replaced = await remote.schedules.replace(later)
        assert replaced.rule == (await chronik.schedules.get(tenant, "policy", "renewal")).rule
        await remote.schedules.create(renewal(tenant, "other", group="misc", policy_locator=None))
        assert [s.name for s in await remote.schedules.find(tenant, group="policy")] == ["renewal"]
        assert len(await remote.schedules.find_all(tenant)) == 2
        await remote.schedules.delete(tenant, "policy", "renewal")
        with pytest.raises(NotFound):
            await remote.schedules.get(tenant, "policy", "renewal")
        with pytest.raises(InvalidArgument):
            await remote.schedules.create(renewal(tenant, "bad", misfire="sometimes"))


async def test_failed_jobs_are_listed_resumed_and_deleted(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        await remote.schedules.create(renewal(tenant, "a"))
        await remote.schedules.create(renewal(tenant, "b"))
        await fire(chronik, SOON, broken={"a", "b"})
        jobs = await remote.schedules.failed_jobs(tenant, state="queued")
        assert jobs == await chronik.schedules.failed_jobs(tenant)
        refused = "the flow refused it"
        assert [(j.name, j.error) for j in jobs] == [("a", refused), ("b", refused)]
        await remote.schedules.resume_failed(tenant, "policy", "a")
        await remote.schedules.delete_failed(tenant, "policy", "b")
        with pytest.raises(NotFound):
            await remote.schedules.delete_failed(tenant, "policy", "b")
        assert await remote.schedules.failed_jobs(tenant, state="quit") == []


async def test_tokens_are_issued_listed_and_revoked_as_embedded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    async with AsyncClient(web, token=owner_token) as remote:
        record, secret = await remote.tokens.issue(tenant, ["EVENTS_READER"], name="reports")
        assert record == await chronik.tokens.get(tenant, record.id)
        assert record.id in {t.id for t in await remote.tokens.list(tenant)}
        async with AsyncClient(web, token=secret, retries=0) as issued:
            assert (await issued.me())["roles"] == ["EVENTS_READER"]
            with pytest.raises(PermissionDenied):
                await issued.tokens.list(tenant)
            await remote.tokens.revoke(tenant, record.id)
            with pytest.raises(Unauthenticated):
                await issued.me()
        assert (await remote.tokens.get(tenant, record.id)).revoked_at is not None
        with pytest.raises(NotFound):
            await remote.tokens.revoke(tenant, record.id)


async def test_a_token_may_not_grant_more_than_its_holder(
    chronik: Chronik, tenant: str, web: str
) -> None:
    reader_and_owner = await token(chronik, tenant, "IAM_OWNER_VIEWER", "IAM_OWNER")
    viewer = await token(chronik, tenant, "IAM_OWNER_VIEWER")
    async with (
        AsyncClient(web, token=reader_and_owner) as remote,
        AsyncClient(web, token=viewer) as other,
    ):
        await remote.tokens.issue(tenant, ["EVENTS_READER"], name="fine")
        with pytest.raises(PermissionDenied):
            await other.tokens.issue(tenant, ["EVENTS_READER"], name="not an owner")


async def test_another_tenants_objects_are_not_found(
    chronik: Chronik, tenant: str, web: str, owner_token: str, stranger_token: str
) -> None:
    await failed_events(chronik, tenant, 1)
    async with AsyncClient(web, token=owner_token) as remote:
        await remote.schedules.create(renewal(tenant))
        record, _ = await remote.tokens.issue(tenant, ["EVENTS_READER"], name="mine")
    async with AsyncClient(web, token=stranger_token) as stranger:
        theirs = await stranger.tenant_id()
        with pytest.raises(NotFound):
            await stranger.schedules.get(theirs, "policy", "renewal")
        with pytest.raises(NotFound):
            await stranger.schedules.delete(theirs, "policy", "renewal")
        with pytest.raises(NotFound):
            await stranger.tokens.get(theirs, record.id)
        with pytest.raises(NotFound):
            await stranger.tokens.revoke(theirs, record.id)
        with pytest.raises(NotFound):
            await stranger.views.row(theirs, VIEW, "u0")
        with pytest.raises(NotFound):
            await stranger.views.retry(theirs, VIEW)
        assert await stranger.views.failed(theirs) == []
        with pytest.raises(InvalidArgument, match="belongs to tenant"):
            await stranger.schedules.get(tenant, "policy", "renewal")
    assert (await chronik.tokens.get(tenant, record.id)).revoked_at is None


async def test_the_blocking_client_has_the_operators_calls(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    await failed_events(chronik, tenant, 1)

    def use() -> tuple[list[str], Schedule, int]:
        with Client(web, token=owner_token, timeout=5.0) as remote:
            views = [s.state.view for s in remote.views.statuses(tenant)]
            created = remote.schedules.create(renewal(tenant))
            remote.tokens.issue(tenant, ["EVENTS_READER"], name="sync")
            with pytest.raises(NotFound):
                remote.schedules.get(tenant, "policy", "nothing")
            return views, created, len(remote.tokens.list(tenant))

    views, created, tokens = await asyncio.to_thread(use)  # the server runs on this loop
    assert VIEW in views
    assert created.name == "renewal" and tokens == 2
