"""The console's schedules and failed jobs as HTML: lists with their filters, paging and
empty states, one schedule's next firings, pause and resume, bulk actions on failed jobs
behind a page that says how many; and what refuses: stale forms, read-only roles, other
tenants."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chronik.api.console import paging
from chronik.records import NewEvent, Schedule, TimeRule
from chronik.schedules import Scheduler, TenantEvent
from chronik.services import Chronik
from tests.api.helpers import Headers
from tests.api.test_console import csrf, signed_in

SOON = datetime.now(UTC) + timedelta(hours=1)
QUIT = (("policy", "renewal"), ("policy", "reminder"), ("billing", "invoice"))


def _schedule(tenant: str, group: str, name: str, rule: TimeRule) -> Schedule:
    return Schedule(tenant_id=tenant, name=name, group=group, event_type="due", rule=rule)


@pytest.fixture
async def quit_jobs(chronik: Chronik, tenant: str) -> None:
    """Three schedules whose firing quit (the flow refused it, once being the maximum)."""
    for group, name in QUIT:
        await chronik.schedules.create(
            _schedule(tenant, group, name, TimeRule(kind="once", at=SOON))
        )

    async def refuse(schedule: Schedule, event: NewEvent) -> NewEvent:
        raise RuntimeError("the flow refused it")

    once = dataclasses.replace(chronik.settings, schedule_max_failures=1)
    await Scheduler(chronik.db, once, clock=lambda: SOON, hooks=[refuse]).tick()


def _rows(page: httpx.Response) -> list[str]:
    """The schedules a list shows, as group/name."""
    return re.findall(r'/console/schedules/[^/"]+/[^"]+">([^<]+)</a>', page.text)


async def test_schedules_are_listed_filtered_and_paged(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    assert "No schedules." in (await api.get("/console/schedules")).text
    events = [TenantEvent(schedule_id="s00", event_type_id="t", event_time=SOON)]
    events += [
        TenantEvent(schedule_id=f"t{n:02}", event_type_id="t", event_time=SOON) for n in range(54)
    ]
    await chronik.schedules.schedule_tenant_events(tenant, events)
    every = TimeRule(kind="interval", every_seconds=5400, at=SOON)
    await chronik.schedules.create(_schedule(tenant, "ops", "Nightly-Backup", every))
    await chronik.schedules.pause(tenant, "ops", "Nightly-Backup")

    first = await api.get("/console/schedules")
    assert _rows(first)[:2] == ["ops/Nightly-Backup", "tenant/s00"] and len(_rows(first)) == 50
    assert "every 1 h 30 min from" in first.text and "PAUSED" in first.text
    more = re.search(r'href="/console/schedules\?([^"]+)" rel="next"', first.text)
    assert more, first.text
    rest = await api.get(f"/console/schedules?{more[1].replace('&amp;', '&')}")
    assert len(_rows(rest)) == 6 and 'rel="next"' not in rest.text

    assert len(_rows(await api.get("/console/schedules", params={"group": "tenant"}))) == 50
    found = await api.get("/console/schedules", params={"q": "backup"})
    assert _rows(found) == ["ops/Nightly-Backup"]
    paused = await api.get("/console/schedules", params={"state": "paused"})
    assert _rows(paused) == ["ops/Nightly-Backup"]
    none = await api.get("/console/schedules", params={"q": "backup", "state": "active"})
    assert _rows(none) == [] and "No schedules match." in none.text
    assert (await api.get("/console/schedules", params={"state": "asleep"})).status_code == 400


async def test_a_schedule_shows_its_definition_and_next_firings(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    weekdays = TimeRule(kind="cron", cron="0 9 * * MON-FRI", at=start, repeat_limit=7)
    await chronik.schedules.create(_schedule(tenant, "ops", "standup", weekdays))
    await signed_in(api, owner)
    page = await api.get("/console/schedules/ops/standup")
    assert page.status_code == 200
    assert "cron 0 9 * * MON-FRI in UTC from 2030-01-07T09:00:00.000000Z, at most 7 times" in (
        page.text
    )
    upcoming = re.findall(r"<li>([^<]+)</li>", page.text)
    days = [7, 8, 9, 10, 11, 14, 15]  # seven weekdays from Monday the 7th
    assert upcoming == [f"2030-01-{d:02}T09:00:00.000000Z" for d in days]
    assert '<h2>Failed job</h2>\n\n<p class="muted">None.</p>' in page.text
    missing = await api.get("/console/schedules/ops/nothing")
    assert missing.status_code == 404 and "not found" in missing.text


async def test_pause_and_resume_change_the_schedule(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    every = TimeRule(kind="interval", every_seconds=60, at=SOON)
    await chronik.schedules.create(_schedule(tenant, "ops", "ping", every))
    await signed_in(api, owner)
    listed = await api.get("/console/schedules", params={"group": "ops"})
    assert 'aria-label="Pause ops/ping"' in listed.text
    form = {"csrf": csrf(listed), "back": "/schedules?group=ops"}
    paused = await api.post("/console/schedules/ops/ping/pause", data=form)
    assert paused.headers["location"] == "/console/schedules?group=ops"
    assert (await chronik.schedules.get(tenant, "ops", "ping")).paused
    page = await api.get("/console/schedules/ops/ping")
    assert "None of these fires while the schedule is paused." in page.text
    resumed = await api.post("/console/schedules/ops/ping/resume", data={"csrf": csrf(page)})
    assert resumed.headers["location"] == "/console/schedules/ops/ping"
    assert not (await chronik.schedules.get(tenant, "ops", "ping")).paused
    elsewhere = await api.post(
        "/console/schedules/ops/ping/pause", data={**form, "back": "//evil.example/"}
    )
    assert elsewhere.headers["location"] == "/console/schedules/ops/ping"


async def test_a_schedules_failed_job_shows_on_its_page_and_is_resumed_there(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, owner)
    page = await api.get("/console/schedules/policy/renewal")
    assert "the flow refused it" in page.text and "ERROR" in page.text
    back = "/schedules/policy/renewal"
    form = {"csrf": csrf(page), "group": "policy", "name": "renewal", "back": back}
    resumed = await api.post("/console/jobs/resume", data=form)
    assert resumed.headers["location"] == f"/console{back}"
    assert chronik.schedules.state_of(await chronik.schedules.get(tenant, *QUIT[0])) == "NORMAL"


async def test_bulk_resume_says_how_many_then_resumes_them(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, owner)
    listed = await api.get("/console/jobs", params={"state": "quit", "q": "POLICY/"})
    assert listed.text.count("the flow refused it") == 2
    link = '/console/jobs/resume-all?state=quit&amp;q=POLICY%2F">Resume all quit jobs matching'
    assert link in listed.text
    confirm = await api.get("/console/jobs/resume-all", params={"state": "quit", "q": "POLICY/"})
    assert "Resume all 2 quit jobs matching &#39;POLICY/&#39;?" in confirm.text
    action = re.search(r'<form method="post" action="([^"]+)"', confirm.text)
    assert action, confirm.text
    done = await api.post(action[1].replace("&amp;", "&"), data={"csrf": csrf(confirm)})
    assert done.headers["location"] == "/console/jobs?state=quit&q=POLICY%2F&resumed=2"
    states = [chronik.schedules.state_of(await chronik.schedules.get(tenant, *k)) for k in QUIT]
    assert states == ["NORMAL", "NORMAL", "ERROR"]
    assert "Resumed 2." in (await api.get(done.headers["location"])).text


async def test_bulk_delete_says_how_many_then_deletes_them(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, owner)
    confirm = await api.get("/console/jobs/delete-all", params={"state": "quit"})
    assert "Delete all 3 quit jobs? Their schedules stay as they are." in confirm.text
    done = await api.post("/console/jobs/delete-all?state=quit", data={"csrf": csrf(confirm)})
    assert done.headers["location"] == "/console/jobs?state=quit&deleted=3"
    assert await chronik.schedules.failed_jobs(tenant) == []
    assert "No quit jobs." in (await api.get("/console/jobs", params={"state": "quit"})).text
    nothing = await api.get("/console/jobs/delete-all", params={"state": "quit"})
    assert (
        "There are no quit jobs." in nothing.text
        and 'method="post" action="/console/jobs' not in (nothing.text)
    )


async def test_a_stale_form_changes_nothing(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, owner)
    stale = {"csrf": "0" * 64, "group": "policy", "name": "renewal"}
    for path in (
        "/console/jobs/resume-all",
        "/console/jobs/delete-all",
        "/console/jobs/resume",
        "/console/schedules/policy/renewal/pause",
    ):
        refused = await api.post(path, data=stale)
        assert refused.status_code == 403 and "stale or not ours" in refused.text
    assert len(await chronik.schedules.failed_jobs(tenant, state="quit")) == 3
    assert not (await chronik.schedules.get(tenant, "policy", "renewal")).paused


async def test_a_reader_sees_no_form_that_writes_and_cannot_post_one(
    api: httpx.AsyncClient, viewer: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, viewer)
    for path in ("/console/schedules", "/console/schedules/policy/renewal", "/console/jobs"):
        page = await api.get(path)
        assert page.status_code == 200 and "renewal" in page.text
        assert page.text.count('method="post"') == 1  # signing out
        assert "Resume" not in page.text and "Pause" not in page.text
    assert (await api.get("/console/jobs/resume-all")).status_code == 403
    refused = await api.post("/console/jobs/resume-all", data={"csrf": csrf(page)})
    assert refused.status_code == 403 and "may not change" in refused.text
    assert len(await chronik.schedules.failed_jobs(tenant, state="quit")) == 3


async def test_another_tenant_gets_404_and_sees_none_of_them(
    api: httpx.AsyncClient, stranger: Headers, chronik: Chronik, tenant: str, quit_jobs: None
) -> None:
    await signed_in(api, stranger)
    assert "No schedules." in (await api.get("/console/schedules")).text
    assert "No failed jobs." in (await api.get("/console/jobs")).text
    page = await api.get("/console/schedules/policy/renewal")
    assert page.status_code == 404 and "refused" not in page.text
    token = csrf(page)
    form = {"csrf": token, "group": "policy", "name": "renewal"}
    assert (await api.post("/console/schedules/policy/renewal/pause", data=form)).status_code == 404
    assert (await api.post("/console/jobs/resume", data=form)).status_code == 404
    bulk = await api.post("/console/jobs/resume-all", data={"csrf": token})
    assert bulk.headers["location"] == "/console/jobs?resumed=0"
    assert len(await chronik.schedules.failed_jobs(tenant, state="quit")) == 3


async def test_a_token_without_events_read_is_refused(
    api: httpx.AsyncClient, org_owner: Headers
) -> None:
    await signed_in(api, org_owner)
    for path in ("/console/schedules", "/console/schedules/policy/renewal", "/console/jobs"):
        refused = await api.get(path)
        assert refused.status_code == 403 and "may not see schedules" in refused.text
    assert "/console/schedules" not in (await api.get("/console/overview")).text


async def test_a_search_page_reads_a_bounded_number_of_rows_and_goes_on_from_there() -> None:
    rows = list(range(5000))
    read: list[int] = []

    async def fetch(offset: int, count: int) -> Sequence[int]:
        read.append(len(rows[offset : offset + count]))
        return rows[offset : offset + count]

    pages = []
    start, more = 0, True
    while more:
        read.clear()
        found = await paging.page_of(fetch, lambda n: n % 1000 == 999, start)
        assert sum(read) <= paging.SCAN
        pages.append(found.rows)
        start, more = found.read_to, found.more
    assert pages == [[999, 1999], [2999, 3999], [4999]]
