"""The console's failed jobs in Chromium: an operator starts from the overview's count of
quit jobs, resumes one, and watches the count drop once the schedule fired."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from chronik.records import FailedJob, Schedule, TimeRule
from chronik.schedules import ScheduleRecord
from chronik.settings import Settings
from chronik.sync import SyncChronik
from tests.acceptance.server import Server
from tests.browser.console import sign_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def quit_server(console_server: tuple[Server, Path]) -> Server:
    """The console's browser server, its tenant holding one quit job."""
    return with_quit_job(console_server[0])


def with_quit_job(server: Server) -> Server:
    """``server`` with one quit job in its default tenant,
    ``billing/invoice``: restored as a backup carries it (a firing quits only after five
    failures spread over minutes), beside the running server as a second process."""
    due = datetime.now(UTC) - timedelta(minutes=1)
    settings = Settings(
        data_dir=server.data, database_url=server.database_url or "", create_database=False
    )
    with SyncChronik.open(settings) as chronik:
        tenant = chronik.default_tenant().id
        schedule = Schedule(
            tenant_id=tenant,
            name="invoice",
            group="billing",
            event_type="invoice.due",
            rule=TimeRule(kind="once", at=due),
            next_fire_at=due,
            error=True,
        )
        job = FailedJob(
            tenant_id=tenant,
            name="invoice",
            group="billing",
            failure_count=5,
            state="quit",
            error="the flow refused it",
            created_at=due,
            updated_at=due,
        )
        assert chronik.schedules.restore(tenant, ScheduleRecord(schedule=schedule, failed_job=job))
    return server


def test_an_operator_resumes_a_quit_job_and_the_count_drops(
    browser: Browser, quit_server: Server
) -> None:
    page = sign_in(browser, quit_server, (quit_server.data / "bootstrap-token").read_text().strip())
    expect(page.locator("#jobs-quit")).to_have_text("1")

    page.get_by_role("link", name="Quit (waiting for you)").click()
    expect(page.get_by_role("heading", name="Quit jobs")).to_be_visible()
    expect(page.locator("pre")).to_have_text("the flow refused it")

    page.get_by_role("button", name="Resume billing/invoice").click()
    deadline = time.monotonic() + 10
    while page.locator("#jobs-count").inner_text() != "0" and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        page.reload()
    expect(page.get_by_text("No quit jobs.")).to_be_visible()
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#jobs-quit")).to_have_text("0")
