"""The console's live tail in Chromium: an event appended through the API appears as a row,
and while paused new events are counted and held, then shown on resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.acceptance.server import Server
from tests.browser.console import sign_in

pytestmark = pytest.mark.xdist_group("browser")


def _append(server: Server, token: str, aggregate_id: str) -> None:
    event = {"aggregateType": "parcel", "aggregateId": aggregate_id, "type": "parcel.tailed"}
    with server.client(token) as client:
        answer = client.post("/v1/events", json={"events": [event]})
        assert answer.status_code == 200, answer.text


def test_the_tail_shows_new_events_and_holds_them_while_paused(
    browser: Browser, console_server: tuple[Server, Path]
) -> None:
    server, _ = console_server
    token = (server.data / "bootstrap-token").read_text().strip()
    page = sign_in(browser, server, token)
    page.get_by_role("link", name="Events").click()
    page.get_by_label("Event types").fill("parcel.tailed")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Live tail with these filters").click()
    status = page.get_by_role("status")
    expect(status).to_have_text("Live: following the log.")
    rows = page.locator("#tail tbody tr")

    _append(server, token, "p-1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("parcel/p-1")

    page.get_by_role("button", name="Pause").click()
    _append(server, token, "p-2")
    expect(status).to_have_text("1 new while paused")
    expect(rows).to_have_count(1)

    page.get_by_role("button", name="Resume").click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("parcel/p-2")
    expect(status).to_have_text("Live: following the log.")
