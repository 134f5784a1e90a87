"""The remote client's view calls against a real server: statuses, rows and the operators'
verbs answer and change as the embedded API's."""

from __future__ import annotations

import pytest

from chronik.client import AsyncClient
from chronik.errors import NotFound, ViewBehind
from chronik.records import ViewStatus
from chronik.services import Chronik
from tests.api.helpers import failed_events

VIEW = "iam_members"  # failed_events' view


def shown(statuses: list[ViewStatus]) -> list[tuple[str, str, int, int, int, str]]:
    """What a status tells an operator (the embedded one also has the lease it was read
    from, which the native API does not show)."""
    return [
        (s.state.view, s.state.database, s.state.position, s.lag, s.failed, s.activity)
        for s in statuses
    ]


async def status_of(chronik: Chronik, tenant: str) -> ViewStatus:
    [status] = [s for s in await chronik.views.statuses(tenant) if s.state.view == VIEW]
    return status


async def test_view_statuses_and_rows_answer_as_the_embedded_api(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    await failed_events(chronik, tenant, 2)
    async with AsyncClient(web, token=owner_token) as remote:
        assert shown(await remote.views.statuses(tenant)) == shown(
            await chronik.views.statuses(tenant)
        )
        assert await remote.views.rows(tenant, VIEW, page_size=1) == await chronik.views.rows(
            tenant, VIEW, page_size=1
        )
        assert await remote.views.row(tenant, VIEW, "u0") == await chronik.views.row(
            tenant, VIEW, "u0"
        )
        with pytest.raises(NotFound):
            await remote.views.row(tenant, VIEW, "nobody")


async def test_a_read_that_waits_in_vain_for_a_view_is_view_behind(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    [_, last] = await failed_events(chronik, tenant, 2)
    async with AsyncClient(web, token=owner_token) as remote:
        with pytest.raises(ViewBehind) as behind:
            await remote.views.rows(tenant, VIEW, min_sequence=last + 10, wait_seconds=0.1)
    assert (behind.value.position, behind.value.min_sequence) == (last, last + 10)


async def test_operators_verbs_change_the_view_as_embedded(
    chronik: Chronik, tenant: str, web: str, owner_token: str
) -> None:
    first, second = await failed_events(chronik, tenant, 2)
    async with AsyncClient(web, token=owner_token) as remote:
        await remote.views.pause(tenant, VIEW)
        assert (await status_of(chronik, tenant)).activity == "paused"
        await remote.views.resume(tenant, VIEW)
        await remote.views.remove_failed(tenant, VIEW, first)
        assert [f.sequence for f in await remote.views.failed(tenant)] == [second]
        assert await remote.views.retry(tenant, VIEW) == 1
        await remote.views.reset(tenant, VIEW)
        assert (await status_of(chronik, tenant)).state.position == 0
