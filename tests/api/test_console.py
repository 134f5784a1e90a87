"""The console's pages as HTML (what a browser test does not reach: refusals, stale forms,
read-only roles, other tenants): sign-in sets a strict cookie, every write needs the form's
CSRF token, and a page shows only what the token's roles allow."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chronik.records import (
    Endpoint,
    Event,
    FailureHandling,
    NewEvent,
    Schedule,
    TimeRule,
    WebhookDefinition,
)
from chronik.schedules import Scheduler
from chronik.services import Chronik
from chronik.settings import Settings
from chronik.views import Backoff, Rows, View, ViewRunner
from tests.api.helpers import Headers
from tests.receiver import receiving, receiving_settings


@pytest.fixture
async def poisoned(chronik: Chronik, tenant: str) -> int:
    """The view ``mailer`` gave up on one event: its sequence."""
    bad: set[int] = set()

    async def mailer(event: Event, rows: Rows) -> None:
        if event.sequence in bad:
            raise RuntimeError("SMTP said 554")

    view = View(name="mailer", handler=mailer, max_failures=2, backoff=Backoff(first=0, longest=0))
    chronik.views.registry.add(view)
    stored = await chronik.events.append(
        tenant, [NewEvent(aggregate_type="user", aggregate_id=f"u{i}", type="t") for i in range(3)]
    )
    bad.add(stored[1].sequence)
    runner = ViewRunner(chronik.db, chronik.views.registry, owner="test")
    for _ in range(3):
        await runner.catch_up(view, tenant)
    await runner.release()
    return stored[1].sequence


async def signed_in(api: httpx.AsyncClient, headers: Headers) -> httpx.AsyncClient:
    token = headers["Authorization"].removeprefix("Bearer ")
    answer = await api.post("/console/sign-in", data={"token": token})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("/console/overview")
    return api


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found[1]


async def test_sign_in_sets_a_strict_cookie_and_a_bad_token_is_refused(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    assert (await api.get("/console/")).headers["location"].endswith("/console/sign-in")
    page = await api.get("/console/sign-in")
    assert page.status_code == 200 and 'type="password"' in page.text
    refused = await api.post("/console/sign-in", data={"token": "chr_nope"})
    assert refused.status_code == 401 and "not valid" in refused.text
    token = owner["Authorization"].removeprefix("Bearer ")
    answer = await api.post("/console/sign-in", data={"token": token})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    overview = await api.get("/console/overview")
    assert overview.status_code == 200
    assert overview.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in overview.headers["content-security-policy"]
    signed_out = await api.post("/console/sign-out", data={"csrf": csrf(overview)})
    assert signed_out.status_code == 303
    assert (await api.get("/console/overview")).headers["location"].endswith("/sign-in")


async def test_the_overview_counts_failed_events_and_the_retry_clears_them(
    api: httpx.AsyncClient, owner: Headers, poisoned: int, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    overview = await api.get("/console/overview")
    assert '<strong id="failed-total">1</strong>' in overview.text
    failed = await api.get("/console/views/mailer/failed")
    assert f'<td class="num">{poisoned}</td>' in failed.text and "SMTP said 554" in failed.text
    confirm = await api.get("/console/views/mailer/retry-all")
    assert "Retry all 1 failed events of mailer now?" in confirm.text
    removed = await api.post(
        f"/console/views/mailer/failed/{poisoned}/remove", data={"csrf": csrf(failed)}
    )
    assert removed.status_code == 303
    assert await chronik.views.all_failed(tenant, view="mailer") == []
    overview = await api.get("/console/overview")
    assert '<strong id="failed-total">0</strong>' in overview.text


async def test_a_post_without_the_forms_token_changes_nothing(
    api: httpx.AsyncClient, owner: Headers, poisoned: int, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    for data in ({}, {"csrf": "0" * 64}, {"csrf": "é" * 64}):
        refused = await api.post(f"/console/views/mailer/failed/{poisoned}/remove", data=data)
        assert refused.status_code == 403 and "stale or not ours" in refused.text
    assert len(await chronik.views.all_failed(tenant, view="mailer")) == 1
    api.cookies.clear()
    anonymous = await api.post(f"/console/views/mailer/failed/{poisoned}/remove", data={})
    assert anonymous.status_code == 303
    assert len(await chronik.views.all_failed(tenant, view="mailer")) == 1


async def test_a_read_only_role_sees_no_form_that_writes_and_cannot_post_one(
    api: httpx.AsyncClient, viewer: Headers, poisoned: int, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, viewer)
    for path in ("/console/views", "/console/views/mailer/failed"):
        page = await api.get(path)
        assert page.status_code == 200
        assert "Retry" not in page.text and "Remove" not in page.text and "Pause" not in page.text
    for confirm in ("/console/views/mailer/retry-all", "/console/views/mailer/reset"):
        page = await api.get(confirm)
        assert page.status_code == 403 and "<form method" not in page.text
    page = await api.get("/console/overview")
    refused = await api.post(
        f"/console/views/mailer/failed/{poisoned}/retry", data={"csrf": csrf(page)}
    )
    assert refused.status_code == 403 and "may not change" in refused.text
    assert len(await chronik.views.all_failed(tenant, view="mailer")) == 1


async def test_another_tenant_sees_none_of_this_tenants_failed_events(
    api: httpx.AsyncClient, stranger: Headers, poisoned: int
) -> None:
    """The view runs in every tenant (it is registered in the process); its failure in the
    first tenant shows nowhere in the other."""
    await signed_in(api, stranger)
    assert '<strong id="failed-total">0</strong>' in (await api.get("/console/overview")).text
    failed = await api.get("/console/views/mailer/failed")
    assert "No failed events." in failed.text and "SMTP" not in failed.text
    refused = await api.post(
        f"/console/views/mailer/failed/{poisoned}/remove", data={"csrf": csrf(failed)}
    )
    assert refused.status_code == 404


async def test_a_quit_job_shows_on_the_overview_and_is_resumed_or_deleted(
    api: httpx.AsyncClient, owner: Headers, chronik: Chronik, tenant: str
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    for name in ("renewal", "reminder"):
        await chronik.schedules.create(
            Schedule(
                tenant_id=tenant,
                name=name,
                group="policy",
                event_type="policy.due",
                rule=TimeRule(kind="once", at=soon),
            )
        )

    async def refuse(schedule: Schedule, event: NewEvent) -> NewEvent:
        raise RuntimeError("the flow refused it")

    once = dataclasses.replace(chronik.settings, schedule_max_failures=1)
    await Scheduler(chronik.db, once, clock=lambda: soon, hooks=[refuse]).tick()

    await signed_in(api, owner)
    overview = await api.get("/console/overview")
    assert '<strong id="jobs-quit" class="attention">2</strong>' in overview.text
    quit_jobs = await api.get("/console/jobs", params={"state": "quit"})
    assert "policy/renewal" in quit_jobs.text and "the flow refused it" in quit_jobs.text
    form = {"csrf": csrf(quit_jobs), "group": "policy", "name": "renewal"}
    assert (await api.post("/console/jobs/resume", data=form)).status_code == 303
    await Scheduler(chronik.db, chronik.settings, clock=lambda: soon + timedelta(seconds=1)).tick()
    deleted = await api.post("/console/jobs/delete", data={**form, "name": "reminder"})
    assert deleted.status_code == 303
    assert "No failed jobs." in (await api.get("/console/jobs")).text
    gone = await api.post("/console/jobs/resume", data=form)
    assert gone.status_code == 404 and "has no failed job" in gone.text
    assert (await api.get("/console/jobs", params={"state": "later"})).status_code == 400


async def test_events_are_found_by_filter_paged_and_shown_whole(
    api: httpx.AsyncClient,
    owner: Headers,
    org_owner: Headers,
    stranger: Headers,
    chronik: Chronik,
    tenant: str,
) -> None:
    stored = await chronik.events.append(
        tenant,
        [
            NewEvent(aggregate_type="order", aggregate_id=f"o{n}", type="order.placed")
            for n in range(55)
        ]
        + [
            NewEvent(
                aggregate_type="user",
                aggregate_id="u-1",
                type="user.renamed",
                payload={"name": "Ada <b>"},
            )
        ],
    )
    await signed_in(api, owner)
    renamed = await api.get("/console/events", params={"eventTypes": "user.renamed, nope"})
    cell = '<td class="keep">{}</td>'.format
    assert renamed.text.count(cell("user.renamed")) == 1
    assert cell("order.placed") not in renamed.text
    newest = await api.get("/console/events")
    assert newest.text.count(cell("order.placed")) == 49  # newest first: the rename, 49 orders
    older = re.search(r'href="(/console/events\?page=[^"]+)" rel="next"', newest.text)
    assert older, newest.text
    rest = await api.get(older[1].replace("&amp;", "&"))
    assert rest.text.count(cell("order.placed")) == 6 and 'rel="next"' not in rest.text
    detail = await api.get(f"/console/events/{stored[-1].locator}")
    assert "&#34;name&#34;: &#34;Ada &lt;b&gt;&#34;" in detail.text  # escaped, pretty-printed
    assert detail.text.count("/console/events/") >= 55  # the request's other events
    assert (await api.get("/console/events", params={"page": "forged"})).status_code == 400

    api.cookies.clear()
    await signed_in(api, stranger)
    assert (await api.get(f"/console/events/{stored[-1].locator}")).status_code == 404
    assert "No events match." in (await api.get("/console/events")).text
    api.cookies.clear()
    await signed_in(api, org_owner)  # actions and flows only
    assert (await api.get("/console/events")).status_code == 403


async def test_an_owner_issues_a_token_shown_once_and_revokes_it(
    api: httpx.AsyncClient, owner: Headers, viewer: Headers, chronik: Chronik, tenant: str
) -> None:
    await signed_in(api, owner)
    page = await api.get("/console/tokens")
    before = len(await chronik.tokens.list(tenant))
    refused = await api.post("/console/tokens/issue", data={"name": "ci", "role": "EVENTS_READER"})
    assert refused.status_code == 403 and len(await chronik.tokens.list(tenant)) == before
    issued = await api.post(
        "/console/tokens/issue",
        data={"csrf": csrf(page), "name": "ci", "role": "EVENTS_READER"},
    )
    found = re.search(r'<pre id="issued">([^<]+)</pre>', issued.text)
    assert found, issued.text
    bearer = found[1]
    record = next(r for r in await chronik.tokens.list(tenant) if r.name == "ci")
    assert record.roles == ("EVENTS_READER",)
    assert bearer not in (await api.get("/console/tokens")).text  # shown once
    bad = await api.post("/console/tokens/issue", data={"csrf": csrf(page), "role": "GOD"})
    assert bad.status_code == 400 and "needs a name" in bad.text
    revoked = await api.post(f"/console/tokens/{record.id}/revoke", data={"csrf": csrf(page)})
    assert revoked.status_code == 303
    api.cookies.clear()
    assert (await api.post("/console/sign-in", data={"token": bearer})).status_code == 401

    await signed_in(api, viewer)
    assert "/console/tokens" not in (await api.get("/console/overview")).text
    assert (await api.get("/console/tokens")).status_code == 403


async def test_the_overview_lists_webhooks_for_who_may_read_them(
    api: httpx.AsyncClient, owner: Headers, org_owner: Headers, chronik: Chronik, tenant: str
) -> None:
    await chronik.webhooks.create(
        tenant,
        WebhookDefinition(name="crm-feed", endpoint=Endpoint(url="https://93.184.215.14/hook")),
    )
    await signed_in(api, owner)
    overview = await api.get("/console/overview")
    assert "crm-feed" in overview.text and "<h2>Webhooks</h2>" in overview.text
    api.cookies.clear()
    await signed_in(api, org_owner)
    assert "crm-feed" not in (await api.get("/console/overview")).text


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Webhooks of this module may deliver to the receiver on 127.0.0.1."""
    return receiving_settings(database_url)


async def test_diverted_deliveries_are_resent_or_deleted(
    api: httpx.AsyncClient, owner: Headers, viewer: Headers, chronik: Chronik, tenant: str
) -> None:
    with receiving() as receiver:
        hook = await chronik.webhooks.create(
            tenant,
            WebhookDefinition(
                name="crm-feed",
                endpoint=Endpoint(url=receiver.url()),
                failure_handling=FailureHandling(divert=True),
            ),
        )
        receiver.status = 503
        chronik.start_webhooks()
        await chronik.events.append(
            tenant, [NewEvent(aggregate_type="o", aggregate_id=f"o{n}", type="t") for n in range(2)]
        )
        for _ in range(250):
            if len(await chronik.webhooks.diverted(tenant, hook.locator)) == 2:
                break
            await asyncio.sleep(0.02)
        await signed_in(api, owner)
        path = f"/console/webhooks/{hook.locator}/diverted"
        page = await api.get(path)
        assert '<span id="diverted-count">2</span>' in page.text and "503" in page.text
        first, second = await chronik.webhooks.diverted(tenant, hook.locator)
        act = f"{path}/{first.event_locator}"
        refused = await api.post(f"{act}/resend", data={"csrf": csrf(page)})
        assert refused.status_code == 502 and "did not take the event" in refused.text
        receiver.status = 200
        assert (await api.post(f"{act}/resend", data={"csrf": csrf(page)})).status_code == 303
        deleted = await api.post(f"{path}/{second.event_locator}/delete", data={"csrf": csrf(page)})
        assert deleted.status_code == 303
        assert "No diverted events." in (await api.get(path)).text
        assert [d.json["locator"] for d in receiver.received()][-1] == first.event_locator

    api.cookies.clear()
    await signed_in(api, viewer)  # may read and list, not resend or delete
    page = await api.get(path)
    assert page.status_code == 200 and "Resend" not in page.text


async def test_a_malformed_parameter_or_unknown_page_is_a_console_page_not_json(
    api: httpx.AsyncClient, owner: Headers
) -> None:
    await signed_in(api, owner)
    for path, status in (("/console/jobs?start=many", 400), ("/console/no-such-page", 404)):
        page = await api.get(path)
        assert page.status_code == status
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Refused</h1>" in page.text and "Traceback" not in page.text
    assert (await api.get("/console/static/nothing.css")).status_code == 404
    huge = await api.post("/console/jobs/resume", data={"csrf": "x", "name": "n" * 70_000})
    assert huge.status_code == 413 and "over 64 KiB" in huge.text
